"""The top of the report: the verdict header, the summary cards and the threshold checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..document import RunDocument, Verdict
from ..results import RowResult
from ..vocabulary import (
    OVERALL,
    OVERALL_RATING,
    error_total,
    fmt_ci,
    fmt_number,
    fmt_pct,
    fmt_seconds,
    number,
)
from .formatting import _short_time, e

__all__ = ("summary_cards", "thresholds_section", "verdict_header")


def verdict_header(document: RunDocument, rows: Sequence[RowResult]) -> str:
    verdict = document.verdict or Verdict()
    status = verdict.status
    css = status if status in ("passed", "failed", "errors", "incomplete", "empty") else "unknown"
    css = "errors" if status in ("undecidable", "interrupted") else css
    line = verdict.line or f"genai gate: {status.upper()}"
    items = "".join(f"<li>{e(r)}</li>" for r in verdict.reasons)
    items += "".join(f'<li class="muted">note: {e(n)}</li>' for n in verdict.notes)
    suites = sorted({r.suite for r in rows} | set(document.suites))
    meta = [
        ("started", _short_time(document.started_at)),
        ("duration", fmt_seconds(document.duration_seconds)),
        ("judge model", document.judge_model or "none"),
        ("suites", ", ".join(suites) or "—"),
        ("rows", str(len(rows))),
    ]
    if document.complete is False:
        meta.append(("complete", "no (interrupted)"))
    meta_html = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in meta)
    return (
        f'<header class="verdict {css}" id="verdict"><div class="inner">'
        f'<div class="top"><span class="badge {css}">{e(status.upper())}</span>'
        f"<h1>GenAI evaluation</h1></div>"
        f'<p class="line">{e(line)}</p>'
        + (f"<ul>{items}</ul>" if items else "")
        + f'<dl class="meta">{meta_html}</dl></div></header>'
    )


def summary_cards(metrics: Mapping[str, Any], rows: Sequence[RowResult]) -> str:
    counts = {s: 0 for s in ("pass", "fail", "error", "skipped")}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    interval = fmt_ci(metrics.get(f"{OVERALL_RATING}/ci_low"), metrics.get(f"{OVERALL_RATING}/ci_high"))
    ci = f"95% CI {interval}" if interval else "no rated rows"
    unassessed = number(metrics.get(f"{OVERALL_RATING}/unassessed_count")) or 0
    if unassessed:  # the rate counts the rated rows only: show what the gate decides on
        low = fmt_pct(metrics.get(f"{OVERALL_RATING}/pessimistic_percentage"))
        high = fmt_pct(metrics.get(f"{OVERALL_RATING}/optimistic_percentage"))
        ci = f"{low}–{high} with {unassessed:.0f} unassessed · {ci}"
    errors = error_total(metrics)
    cards = [
        ("overall pass rate", fmt_pct(metrics.get(OVERALL)), ci),
        ("rows", str(len(rows)), f"{counts['pass']} passed · {counts['fail']} failed"),
        ("evaluation errors", str(errors), f"{counts['error']} row(s) not assessed"),
        (
            "latency p50 / p90",
            f"{fmt_seconds(metrics.get('agent/latency_seconds/p50'))} / "
            f"{fmt_seconds(metrics.get('agent/latency_seconds/p90'))}",
            f"p99 {fmt_seconds(metrics.get('agent/latency_seconds/p99'))}",
        ),
    ]
    tokens = number(metrics.get("agent/total_token_count/average"))
    judge_tokens = number(metrics.get("judge/total_token_count/sum"))
    cards.append(
        (
            "app tokens / row",
            "—" if tokens is None else f"{tokens:.0f}",
            "judge tokens " + ("—" if judge_tokens is None else f"{judge_tokens:.0f}"),
        )
    )
    return (
        '<section class="cards" aria-label="summary">'
        + "".join(
            f'<div class="card"><div class="k">{e(k)}</div><div class="v">{e(v)}</div>'
            f'<div class="s">{e(s)}</div></div>'
            for k, v, s in cards
        )
        + "</section>"
    )


def thresholds_section(document: RunDocument) -> str:
    checks = document.verdict.checks if document.verdict is not None else []
    if not checks:
        return (
            '<h2 id="thresholds">Thresholds</h2><p class="muted">No thresholds: every failing '
            "row fails the build (strict).</p>"
        )
    body = []
    for check in checks:
        css = {"pass": "pass", "fail": "fail"}.get(check.status, "nodata")
        low, high = check.pessimistic, check.optimistic
        bounds = (
            f"{fmt_number(low)}–{fmt_number(high)} ({check.unassessed} unassessed)"
            if check.unassessed and low is not None and high is not None
            else ""
        )
        body.append(
            f'<tr><td><span class="pill {css}">{e(check.status)}</span></td>'
            f"<td>{e(check.scope)}</td><td><code>{e(check.threshold)}</code></td>"
            f'<td class="num">{e(fmt_number(check.actual, missing="no data"))}</td>'
            f'<td class="num">{e(bounds)}</td>'
            f'<td class="muted">{e(check.origin)}</td></tr>'
        )
    return (
        '<h2 id="thresholds">Thresholds</h2><table><thead><tr><th>status</th><th>scope</th>'
        '<th>threshold</th><th class="num">actual</th><th class="num">bounds</th>'
        "<th>set in</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )
