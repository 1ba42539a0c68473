"""The run as Markdown: for ``$GITHUB_STEP_SUMMARY`` and ``summary.md`` in the results directory.

:func:`render_markdown` gives the verdict line, the metric table (with the baseline's values when
a :class:`~pytest_genai_eval.compare.Comparison` is given), threshold checks, the baseline gate,
the regressed rows with the judge that flipped and its rationale, and the top failing rows.

Every piece of text that comes from a run (requests, responses, rationales, suite and judge
names) is escaped: HTML special characters become entities and Markdown syntax characters are
backslash-escaped, so a response cannot add links, images or markup to a CI summary page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .artifacts import _atomic_write
from .compare import Comparison, MetricDelta, RowChange
from .conversation_report import markdown_lines
from .document import RunDocument, ThresholdCheckRecord, Verdict, as_document
from .metrics import compute_metrics
from .results import RowResult, request_text
from .tool_calls import calls_of, format_calls
from .trust_report import calibration_markdown, error_bar_text, paired_difference_text
from .vocabulary import (
    error_total,
    fmt_ci,
    fmt_delta,
    fmt_number,
    fmt_pct,
    rate_base,
    rate_metrics,
)

__all__ = (
    "SUMMARY_NAME",
    "append_step_summary",
    "md_escape",
    "render_comparison_markdown",
    "render_markdown",
    "request_text",
    "write_markdown",
)

SUMMARY_NAME = "summary.md"
TOP_FAILING = 10
CLIP = 240

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_ICONS: Mapping[str, str] = MappingProxyType(
    {
        "passed": "✅",
        "failed": "❌",
        "errors": "⚠️",
        "incomplete": "⚠️",
        "empty": "➖",
        "incompatible": "⚠️",
    }
)


# ---- shared helpers (also used by the HTML report) ----------------------------------------------
def md_escape(text: Any, limit: int | None = CLIP) -> str:
    """Untrusted text as one Markdown table cell / inline span: whitespace collapsed, clipped,
    ``&`` and ``<`` as entities (no HTML tags), Markdown syntax (emphasis, links, code, table
    pipes) backslash-escaped."""
    value = " ".join(str(text).split())
    if limit is not None and len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    value = value.replace("&", "&amp;").replace("<", "&lt;")
    return _MD_SPECIAL.sub(r"\\\1", value)


def _ci(metrics: Mapping[str, Any], name: str) -> str:
    base = rate_base(name)
    return fmt_ci(metrics.get(f"{base}/ci_low"), metrics.get(f"{base}/ci_high"))


def _count(metrics: Mapping[str, Any], name: str) -> str:
    if not name.endswith("/percentage"):
        return ""
    value = metrics.get(f"{rate_base(name)}/count")
    return "" if value is None else str(int(value))


def _p(value: float) -> str:
    return f"{value:.3g}" if value >= 0.001 else f"{value:.2e}"


def _row_ref(suite: str, request_id: str) -> str:
    return md_escape(f"{suite}::{request_id}", 120)


# ---- sections -----------------------------------------------------------------------------------
def _metric_table(metrics: Mapping[str, Any], comparison: Comparison | None) -> list[str]:
    deltas: dict[str, MetricDelta] = (
        {m.name: m for m in comparison.metrics} if comparison is not None else {}
    )
    header = "| | pass rate | 95% CI | rated |"
    rule = "|---|---:|---:|---:|"
    if comparison is not None:
        header += " baseline | change |"
        rule += "---:|---:|"
    lines = [header, rule]
    for label, name in rate_metrics(metrics):
        cells = [
            md_escape(label, 60),
            fmt_pct(metrics.get(name)),
            _ci(metrics, name),
            _count(metrics, name),
        ]
        if comparison is not None:
            delta = deltas.get(name)
            cells += [
                fmt_pct(delta.old if delta else None),
                fmt_delta(name, delta.delta if delta else None, typographic=True),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _extras(metrics: Mapping[str, Any]) -> str | None:
    parts = []
    if metrics.get("agent/latency_seconds/p50") is not None:
        values = [metrics.get(f"agent/latency_seconds/{p}") for p in ("p50", "p90", "p99")]
        parts.append(
            "latency p50/p90/p99 "
            + " / ".join("—" if v is None else f"{float(v):.2f}s" for v in values)
        )
    if metrics.get("agent/total_token_count/average") is not None:
        parts.append(f"app tokens/row {float(metrics['agent/total_token_count/average']):.0f}")
    if metrics.get("judge/total_token_count/sum"):
        parts.append(f"judge tokens {int(metrics['judge/total_token_count/sum'])}")
    errors = error_total(metrics)
    if errors:
        parts.append(f"evaluation errors {errors}")
    return " · ".join(parts) if parts else None


def _threshold_table(checks: Sequence[ThresholdCheckRecord]) -> list[str]:
    if not checks:
        return []
    lines = [
        "",
        "### Thresholds",
        "",
        "| | scope | threshold | actual | bounds (unassessed rows) |",
        "|---|---|---|---:|---|",
    ]
    for check in checks:
        icon = {"pass": "✅", "fail": "❌", "undecidable": "❔"}.get(check.status, "➖")
        lines.append(
            f"| {icon} {md_escape(check.status, 20)} | {md_escape(check.scope, 60)} | "
            f"{md_escape(check.threshold, 80)} | "
            f"{fmt_number(check.actual, missing='no data')} | {_bounds(check)} |"
        )
    return lines


def _bounds(check: ThresholdCheckRecord) -> str:
    """``0.7–0.9 (2)``: the rate if every unassessed row failed, if every one passed."""
    if not check.unassessed or check.pessimistic is None or check.optimistic is None:
        return ""
    return f"{fmt_number(check.pessimistic)}–{fmt_number(check.optimistic)} ({check.unassessed})"


def _regressions(changes: Sequence[RowChange]) -> list[str]:
    if not changes:
        return []
    lines = [
        "",
        f"### Regressions: {len(changes)} row(s) passed in the baseline and fail now",
        "",
        "| row | judge | rationale |",
        "|---|---|---|",
    ]
    for change in changes:
        flips = change.flipped_to_no or change.flips
        if not flips:
            lines.append(f"| {_row_ref(change.suite, change.request_id)} | | |")
        for flip in flips:
            lines.append(
                f"| {_row_ref(change.suite, change.request_id)} | {md_escape(flip.name, 60)} | "
                f"{md_escape(flip.rationale or '')} |"
            )
    return lines


def render_comparison_markdown(comparison: Comparison, *, heading: str = "###") -> str:
    """The baseline gate on its own: verdict, paired test, rules, incompatibilities, counts."""
    verdict = comparison.verdict
    icon = _ICONS.get(verdict.status, "")
    counts = comparison.counts()
    paired = comparison.paired
    lines = [
        f"{heading} {icon} Baseline: {verdict.status.upper()}",
        "",
        md_escape(verdict.line, 600),
        "",
        f"{counts['regression']} regression(s) · {counts['fix']} fix(es) · "
        f"{counts['new']} new · {counts['removed']} removed · "
        f"{counts['response_changed']} response(s) changed",
        "",
        f"Paired rows: {paired.paired}; b (pass → fail) = {paired.b}, c (fail → pass) = "
        f"{paired.c}; one-sided exact McNemar p = {_p(paired.p_one_sided)}",
    ]
    difference = paired_difference_text(paired.to_dict())
    if difference is not None:
        lines += ["", difference[:1].upper() + difference[1:]]
    if comparison.incompatible:
        lines += ["", "**Incompatible baseline:**", ""]
        lines += [f"- {md_escape(p, 400)}" for p in comparison.incompatible]
    if comparison.checks:
        lines += ["", "| | rule | detail |", "|---|---|---|"]
        for check in comparison.checks:
            mark = {"pass": "✅", "fail": "❌"}.get(check.status, "➖")
            lines.append(
                f"| {mark} | {md_escape(check.rule, 40)} | {md_escape(check.detail, 400)} |"
            )
    return "\n".join(lines) + "\n"


def _failing(rows: Sequence[RowResult], limit: int) -> list[str]:
    failing = [r for r in rows if r.status == "fail"]
    if not failing:
        return []
    shown = failing[:limit]
    title = f"### Failing rows ({len(failing)})"
    if len(failing) > limit:
        title = f"### Failing rows (top {limit} of {len(failing)})"
    calls = any(_tool_calls_cell(r) for r in shown)
    header = "| row | request | root cause | rationale |" + (" tool calls |" if calls else "")
    lines = ["", title, "", header, "|---|---|---|---|" + ("---|" if calls else "")]
    for r in shown:
        cause = r.root_cause
        lines.append(
            f"| {_row_ref(r.suite, r.request_id)} | {md_escape(request_text(r.row), 100)} | "
            f"{md_escape(r.root_cause_label or '', 60)} | "
            f"{md_escape((cause.rationale if cause else '') or '')} |"
            + (f" {_tool_calls_cell(r)} |" if calls else "")
        )
    return lines + markdown_lines(shown, md_escape)


def _tool_calls_cell(row: RowResult) -> str:
    """``expected: a(x=1) · actual: b(q="…")`` (escaped), or "" for a row without tool calls."""
    expected = calls_of(row.row.get("expected_tool_calls"))
    actual = calls_of(row.tool_calls)
    if expected is None and actual is None:
        return ""
    parts = [] if expected is None else [f"expected: {format_calls(expected, 80)}"]
    parts.append(f"actual: {format_calls(actual, 80)}")
    return md_escape(" · ".join(parts), 300)


def render_markdown(
    document: RunDocument | Mapping[str, Any],
    rows: Sequence[RowResult],
    comparison: Comparison | None = None,
    *,
    top_failing: int = TOP_FAILING,
) -> str:
    """The run summary as GitHub-flavoured Markdown."""
    doc = as_document(document)
    verdict = doc.verdict or Verdict()
    status = verdict.status
    metrics = doc.metrics or compute_metrics(rows)
    line = verdict.line or f"genai gate: {status.upper()}"
    icon = _ICONS.get(status)
    lines = [
        f"## {icon + ' ' if icon else ''}GenAI evaluation: {md_escape(status.upper(), 40)}",
        "",
        f"**{md_escape(line, 600)}**",
    ]
    reasons, notes = verdict.reasons, verdict.notes
    if reasons or notes:
        lines.append("")
        lines += [f"- {md_escape(r, 600)}" for r in reasons]
        lines += [f"- note: {md_escape(n, 600)}" for n in notes]
    if comparison is not None:
        lines += ["", f"**{md_escape(comparison.verdict.line, 600)}**"]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    model = doc.judge_model
    facts = [
        f"{len(rows)} row(s): "
        + ", ".join(
            f"{counts[s]} {label}"
            for s, label in (
                ("pass", "passed"),
                ("fail", "failed"),
                ("error", "error(s)"),
                ("skipped", "not evaluated"),
            )
            if counts.get(s)
        )
    ]
    if model:
        facts.append(f"judge `{str(model).replace('`', '')}`")
    if doc.duration_seconds is not None:
        facts.append(f"{doc.duration_seconds:.1f}s")
    lines += ["", " · ".join(facts), ""]
    lines += _metric_table(metrics, comparison)
    extra = _extras(metrics)
    bars = error_bar_text(metrics)  # trust_report.py: error bars, power, judge calibration
    if bars is not None:
        lines += ["", f"Error bars: {md_escape(bars, 600)}"]
    lines += calibration_markdown(metrics)
    if extra:
        lines += ["", extra]
    lines += _threshold_table(verdict.checks)
    if comparison is not None:
        lines += ["", render_comparison_markdown(comparison).rstrip("\n")]
        lines += _regressions(comparison.regressions)
    lines += _failing(rows, top_failing)
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- writing ------------------------------------------------------------------------------------
def write_markdown(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (e.g. ``results_dir / SUMMARY_NAME``)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, text.encode("utf-8"))
    return target


def append_step_summary(text: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append ``text`` to the file named by ``$GITHUB_STEP_SUMMARY`` (GitHub Actions); returns
    its path, or None when the variable is unset. The file is GitHub's, so this appends."""
    env = os.environ if environ is None else environ
    name = env.get("GITHUB_STEP_SUMMARY")
    if not name:
        return None
    path = Path(name)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    return path
