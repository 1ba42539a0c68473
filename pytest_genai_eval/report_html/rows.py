"""The per-row table: each row's request, response (with a word diff against the baseline),
expected answer, expected and actual tool calls side by side, retrieved context and every
judge's rating and rationale, with the filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..compare import Comparison, RowChange
from ..conversation_report import transcript_html
from ..results import Assessment, RowResult, request_text
from ..tool_calls import calls_of, format_call
from ..vocabulary import number
from .diff import word_diff
from .formatting import e
from .trust import assessment_notes_html

__all__ = ("MAX_ROWS_SHOWN", "rows_section")

MAX_ROWS_SHOWN = 2000
RESULT_SHOWN = 300  # characters of a tool result shown under its call


def _assessment_item(a: Assessment, change: RowChange | None) -> str:
    pill: str
    if a.rating in ("yes", "no"):
        pill, css, li = str(a.rating), str(a.rating), f"j-{a.rating}"
    elif a.error:
        pill, css, li = "error", "error", "j-error"
    else:
        pill, css, li = "skipped", "skipped", "j-skip"
    detail = a.rationale or a.error or a.skipped or ""
    was = ""
    if change is not None:
        for flip in change.flips:
            if flip.name == a.name:
                was = f' <span class="was">(baseline: {e(flip.old_rating or "not rated")})</span>'
    value = ""
    if a.value is not None and number(a.value) is not None:
        value = f' <span class="muted">{e(f"{a.value:.3g}")}</span>'
    kind = "" if a.kind == "llm" else f' <span class="muted">({e(a.kind)})</span>'
    notes = assessment_notes_html(a.details, a.rating)  # human label, flake rate, pass@k
    notes = f'<div class="notes">{notes}</div>' if notes else ""
    if li == "j-skip":
        return (
            f'<li class="{li}"><span class="pill {css}">{pill}</span> {e(a.name)}{kind}'
            f" — {e(detail)}{notes}</li>"
        )
    return (
        f'<li class="{li}"><span class="pill {css}">{pill}</span> <b>{e(a.name)}</b>{kind}{value}'
        f"{was}{notes}" + (f'<div class="why">{e(detail)}</div>' if detail else "") + "</li>"
    )


def _context_html(context: Any) -> str:
    if not isinstance(context, list) or not context:
        return ""
    items = []
    for chunk in context:
        if isinstance(chunk, Mapping):
            uri, content = chunk.get("doc_uri"), chunk.get("content")
        else:
            uri, content = chunk, None
        items.append(
            "<li>"
            + (f'<div class="uri">{e(uri)}</div>' if uri else "")
            + (f'<div class="text">{e(content)}</div>' if content else "")
            + "</li>"
        )
    return (
        f"<details><summary>retrieved context ({len(context)})</summary>"
        f"<ol>{''.join(items)}</ol></details>"
    )


def _expected_html(row: Mapping[str, Any]) -> str:
    """Ground truth and guidelines of a row, each that is present."""
    parts = []
    facts = row.get("expected_facts")
    if isinstance(facts, list) and facts:
        parts.append(
            '<div class="label">expected facts</div><ul class="facts">'
            + "".join(f"<li>{e(f)}</li>" for f in facts)
            + "</ul>"
        )
    expected = row.get("expected_response")
    if expected:
        parts.append(
            f'<div class="label">expected response</div><div class="text">{e(expected)}</div>'
        )
    guidelines = row.get("guidelines")
    items: list[str] = []
    if isinstance(guidelines, list):
        items = [f"<li>{e(g)}</li>" for g in guidelines]
    elif isinstance(guidelines, Mapping):
        items = [
            f"<li><b>{e(k)}</b>: {e('; '.join(map(str, v)) if isinstance(v, list) else v)}</li>"
            for k, v in guidelines.items()
        ]
    if items:
        parts.append(
            '<div class="label">guidelines</div><ul class="facts">' + "".join(items) + "</ul>"
        )
    return "".join(parts)


def _call_cell(call: Mapping[str, Any] | None, *, result: bool) -> str:
    if call is None:
        return '<td class="none">—</td>'
    text = f"<code>{e(format_call(call, 200))}</code>"
    value = call.get("result")
    if result and value is not None:
        shown = str(value)
        if len(shown) > RESULT_SHOWN:
            shown = shown[:RESULT_SHOWN] + "…"
        text += f'<div class="result">→ {e(shown)}</div>'
    return f"<td>{text}</td>"


def _tool_calls_html(r: RowResult) -> str:
    """Expected and actual tool calls side by side, by position; a row whose tool names
    differ is marked. Empty for a row without tool calls."""
    expected = calls_of(r.row.get("expected_tool_calls"))
    actual = calls_of(r.tool_calls)
    if expected is None and actual is None:
        return ""
    made = actual or []
    head = "<tr><th>#</th>" + ("<th>expected</th>" if expected is not None else "")
    head += "<th>actual</th></tr>"
    body = []
    for index in range(max(len(expected or []), len(made))):
        want = expected[index] if expected is not None and index < len(expected) else None
        got = made[index] if index < len(made) else None
        differs = expected is not None and (
            want is None or got is None or want.get("name") != got.get("name")
        )
        cells = f"<td>{index + 1}</td>"
        if expected is not None:
            cells += _call_cell(want, result=False)
        cells += _call_cell(got, result=True)
        marked = ' class="differs"' if differs else ""
        body.append(f"<tr{marked}>{cells}</tr>")
    if not body:
        span = 3 if expected is not None else 2
        body.append(
            f'<tr><td colspan="{span}" class="none">no tool call expected or made</td></tr>'
        )
    return (
        '<div class="label">tool calls</div>'
        f'<table class="calls"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
    )


_SEVERITY: Mapping[str, int] = MappingProxyType({"fail": 0, "error": 1, "skipped": 2, "pass": 3})


def _row_html(r: RowResult, change: RowChange | None) -> str:
    status = r.status
    change_attr = ""
    badges = [f'<span class="pill {status}">{e(status)}</span>']
    if change is not None:
        if change.kind in ("regression", "fix", "new", "changed"):
            label = {
                "regression": "regression",
                "fix": "fixed",
                "new": "new row",
                "changed": f"was {change.old_status}",
            }[change.kind]
            badges.append(f'<span class="pill {change.kind}">{e(label)}</span>')
            change_attr = change.kind
        if change.response_changed:
            badges.append('<span class="pill resp">response changed</span>')
            change_attr = change_attr or "response"
    response_html: str
    if r.app_error:
        response_html = f'<div class="text err">app error: {e(r.app_error)}</div>'
    elif r.response is None and r.tool_calls:
        response_html = (
            '<div class="text"><span class=muted>(no final answer: the agent only called '
            "tools)</span></div>"
        )
    else:
        response_html = f'<div class="text">{e(r.response) if r.response is not None else "<span class=muted>(none)</span>"}</div>'
    if change is not None and change.response_changed:
        response_html += (
            "<details open><summary>change vs baseline</summary>"
            f'<div class="diff">{word_diff(change.old_response, change.new_response)}</div>'
            "</details>"
        )
    order = {"no": 0, "error": 1, "yes": 2}
    assessments = sorted(
        r.assessments,
        key=lambda a: order.get(a.rating or ("error" if a.error else ""), 3),
    )
    not_applicable = [
        a for a in assessments if a.not_applicable
    ]
    judges = "".join(_assessment_item(a, change) for a in assessments if a not in not_applicable)
    if not_applicable:
        names = ", ".join(a.name for a in not_applicable)
        judges += f'<li class="j-skip">not applicable: {e(names)}</li>'
    judges = judges or '<li class="j-skip">no assessments</li>'
    return (
        f'<tr class="row st-{e(status)}" data-status="{e(status)}" data-change="{e(change_attr)}"'
        f' data-suite="{e(r.suite)}" data-request-id="{e(r.request_id)}">'
        f"<td>{'<br>'.join(badges)}</td>"
        f'<td><div class="rid">{e(r.request_id)}</div><div class="suite">{e(r.suite)}</div></td>'
        f'<td><div class="label">request</div><div class="text">{e(request_text(r.row))}</div>'
        f"{_expected_html(r.row)}"
        f'<div class="label">response</div>{response_html}'
        f"{_tool_calls_html(r)}"
        f"{transcript_html(r)}"
        f"{_context_html(r.retrieved_context)}</td>"
        f'<td><ul class="judges">{judges}</ul></td></tr>'
    )


def rows_section(rows: Sequence[RowResult], comparison: Comparison | None) -> str:
    changes = comparison.by_key() if comparison is not None else {}
    ordered = sorted(
        rows,
        key=lambda r: (
            0 if (c := changes.get(r.key)) is not None and c.kind == "regression" else 1,
            _SEVERITY.get(r.status, 4),
        ),
    )
    failing = sum(1 for r in rows if r.status in ("fail", "error"))
    changed = sum(
        1
        for c in changes.values()
        if c.kind in ("regression", "fix", "new", "changed") or c.response_changed
    )
    controls = (
        '<div class="controls" role="group" aria-label="row filters">'
        f'<label><input type="checkbox" id="only-failures"> failing rows only ({failing})</label>'
    )
    if comparison is not None:
        controls += (
            f'<label><input type="checkbox" id="only-changed"> changed vs baseline only '
            f"({changed})</label>"
        )
    controls += (
        '<input type="search" id="row-search" placeholder="filter rows by text…" '
        'aria-label="filter rows by text">'
        f'<span class="muted">showing <b id="shown-count">{{listed}}</b> of {len(rows)}</span>'
        "</div>"
    )
    # A browser page with tens of thousands of rows helps nobody: every failing, erroring or
    # changed row is shown, then passing rows up to MAX_ROWS_SHOWN; the tables have them all.
    important = sum(
        1
        for r in rows
        if r.status in ("fail", "error")
        or ((c := changes.get(r.key)) is not None and (c.kind != "unchanged" or c.response_changed))
    )
    shown = ordered[: max(MAX_ROWS_SHOWN, important)]
    omitted = len(rows) - len(shown)
    body = "".join(_row_html(r, changes.get(r.key)) for r in shown)
    controls = controls.replace("{listed}", str(len(shown)))
    note = (
        f'<p class="muted">{omitted} passing, unchanged row(s) are not listed on this page; '
        "every row is in eval_results.csv and eval_results.jsonl.</p>"
        if omitted
        else ""
    )
    return (
        f'<h2 id="rows">Rows ({len(rows)})</h2>'
        + note
        + controls
        + '<table id="rows-table"><colgroup><col class="c-status"><col class="c-id"><col>'
        '<col class="c-judges"></colgroup><thead><tr><th>status</th><th>row</th>'
        "<th>request · response · context</th><th>judges</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
        '<p id="no-rows-shown" class="muted" hidden>No rows match the filters.</p>'
    )
