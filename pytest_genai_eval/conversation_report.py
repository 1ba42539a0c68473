"""A conversation row as its transcript with per-turn verdicts, for the reports: the text under
a failing item (``verdict.py``), the Markdown summary (``report_md.py``) and the HTML report
(``report_html/rows.py``)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from .results import Assessment, RowResult, TurnResult

__all__ = ["markdown_lines", "simulation_note", "transcript_html", "transcript_lines"]

TEXT_LIMIT = 300  # characters of one message in the terminal and Markdown
_MARKS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "skipped": "SKIP"}


def _clip(text: str | None, limit: int) -> str:
    if text is None:
        return "(no answer)"
    text = " ".join(text.split())
    return (
        text
        if len(text) <= limit
        else text[:limit].rstrip() + f" … [{len(text) - limit} more chars]"
    )


def _noteworthy(turn: TurnResult) -> list[Assessment]:
    """A turn's failing and erroring assessments, failures first."""
    return [a for a in turn.assessments if a.failed] + [a for a in turn.assessments if a.error]


def _passed_names(turn: TurnResult) -> list[str]:
    return [a.name for a in turn.assessments if a.rating == "yes"]


def simulation_note(result: RowResult) -> str | None:
    """``simulated user: goal reached after 3 turn(s)`` (or why it stopped), or None."""
    sim = result.simulation
    if not sim:
        return None
    turns = sim.get("turns", len(result.turns or []))
    stopped = sim.get("stopped")
    if stopped == "goal_reached":
        return f"simulated user: goal reached after {turns} turn(s)"
    if stopped == "max_turns":
        return f"simulated user: goal not reached within max_turns ({sim.get('max_turns')})"
    if stopped == "not_run":
        return "simulated user: not run (no judge endpoint)"
    if stopped == "app_error":
        return f"simulated user: stopped by an app error after {turns} turn(s)"
    return f"simulated user: failed after {turns} turn(s)"


def transcript_lines(result: RowResult, indent: str = "  ") -> list[str]:
    """The transcript as text lines, each turn with its verdict and what failed on it."""
    turns = result.turns or []
    lines = [f"{indent}conversation ({len(turns)} turn(s)):"]
    note = simulation_note(result)
    if note:
        lines.append(f"{indent}  {note}")
    for turn in turns:
        who = "user (simulated)" if turn.simulated else "user"
        lines.append(f"{indent}  turn {turn.index} [{_MARKS[turn.status]}]")
        lines.append(f"{indent}    {who}: {_clip(turn.request, TEXT_LIMIT)}")
        lines.append(f"{indent}    assistant: {_clip(turn.response, TEXT_LIMIT)}")
        for a in _noteworthy(turn):
            mark = "FAIL" if a.failed else "ERROR"
            lines.append(
                f"{indent}    [{mark}] {a.name}: {_clip(a.rationale or a.error, TEXT_LIMIT)}"
            )
        passed = _passed_names(turn)
        if passed:
            lines.append(f"{indent}    [PASS] {', '.join(passed)}")
    return lines


def markdown_lines(rows: Sequence[RowResult], escape: Callable[[str, int], str]) -> list[str]:
    """Transcripts of the failing conversation rows: one table per row, a line per turn."""
    failing = [r for r in rows if r.status == "fail" and r.turns]
    lines: list[str] = []
    for r in failing:
        note = simulation_note(r)
        title = f"#### Conversation {escape(f'{r.suite}::{r.request_id}', 120)}"
        lines += ["", title + (f" ({escape(note, 120)})" if note else ""), ""]
        lines += ["| turn | user | assistant | verdict |", "|---|---|---|---|"]
        for turn in r.turns or []:
            verdict = f"**{turn.status}**"
            bad = _noteworthy(turn)
            if bad:
                why = "; ".join(f"{a.name}: {a.rationale or a.error or ''}" for a in bad)
                verdict += ": " + escape(why, 300)
            user = ("(simulated) " if turn.simulated else "") + turn.request
            lines.append(
                f"| {turn.index} | {escape(user, 200)} | {escape(turn.response or '', 200)} | "
                f"{verdict} |"
            )
    return lines


def _pill(status: str) -> str:
    return f'<span class="pill {html.escape(status)}">{html.escape(status)}</span>'


def transcript_html(result: RowResult) -> str:
    """The transcript for the per-row table, each turn with its verdict and its judges; empty
    for a single-turn row."""
    if result.turns is None:
        return ""
    e = html.escape
    note = simulation_note(result)
    parts = [f'<div class="label">conversation ({len(result.turns)} turns)</div>']
    if note:
        parts.append(f'<div class="muted">{e(note)}</div>')
    for turn in result.turns:
        who = "user (simulated)" if turn.simulated else "user"
        items = []
        for a in turn.assessments:
            if a.not_applicable:
                continue
            status = a.rating or ("error" if a.error else "skipped")
            why = a.rationale or a.error or a.skipped or ""
            items.append(
                f"<li>{_pill(status)} <b>{e(a.name)}</b>"
                + (f'<div class="why">{e(why)}</div>' if why else "")
                + "</li>"
            )
        answer = (
            e(turn.response) if turn.response is not None else '<span class="muted">(none)</span>'
        )
        parts.append(
            f'<div class="turn" data-turn="{turn.index}">'
            f'<div class="label">turn {turn.index} {_pill(turn.status)}</div>'
            f'<div class="text"><b>{e(who)}:</b> {e(turn.request)}</div>'
            f'<div class="text"><b>assistant:</b> {answer}</div>'
            + (f'<ul class="judges">{"".join(items)}</ul>' if items else "")
            + "</div>"
        )
    return "".join(parts)
