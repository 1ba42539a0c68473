"""The end-of-run summary as plain lines (pure: no pytest objects), readable at 80 columns."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .compare import Comparison
from .cost import cost_summary
from .gate import GateResult
from .results import RowResult
from .trust_report import paired_difference_text, summary_lines
from .vocabulary import (
    OVERALL,
    OVERALL_RATING,
    error_total,
    fmt_ci,
    fmt_delta,
    fmt_pct,
    fmt_seconds,
    judge_of,
    metric_label,
    rate_base,
    rate_metrics,
)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def metric_rows(metrics: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(name, pass rate, CI, rated, errors) rows: overall first, then each judge and check,
    then the retrieval averages."""
    rows = []
    for label, name in rate_metrics(metrics):
        judge = judge_of(name)
        if name == OVERALL:
            errors = error_total(metrics)
        elif judge is not None:
            errors = int(metrics.get(f"judge/{judge}/error_count") or 0)
            if metrics.get(name) is None and not errors:
                continue  # nothing rated (not run or not applicable): the NOT RUN line says why
        elif metrics.get(name) is None:
            continue
        else:  # a retrieval average: no rating count or interval
            rows.append((label, fmt_pct(metrics.get(name)), "", "", ""))
            continue
        base = rate_base(name)
        rows.append(
            (
                label,
                fmt_pct(metrics.get(name)),
                fmt_ci(metrics.get(f"{base}/ci_low"), metrics.get(f"{base}/ci_high"), brackets=True),
                str(metrics.get(f"{base}/count") or 0),
                str(errors),
            )
        )
    return rows


def bounds_lines(metrics: Mapping[str, Any], gated: Sequence[str] = ()) -> list[str]:
    """For the overall rate and the rates in ``gated`` (metrics a threshold names), when rows
    are unassessed: the pass rate if every unassessed row failed, and if every one passed
    (what the gate decides on)."""
    out = []
    for key, value in metrics.items():
        if not key.endswith("/rating/unassessed_count") or not value:
            continue
        base = key[: -len("/unassessed_count")]
        if base != OVERALL_RATING and f"{base}/percentage" not in gated:
            continue
        low = metrics.get(f"{base}/pessimistic_percentage")
        high = metrics.get(f"{base}/optimistic_percentage")
        label = "overall" if base == OVERALL_RATING else judge_of(f"{base}/percentage") or base
        out.append(
            f"  {label}: {value} unassessed; pass rate between {fmt_pct(low)} (all failed) and "
            f"{fmt_pct(high)} (all passed)"
        )
    return out


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths[0] = min(widths[0], 34)
    out = []
    for r in [header, *rows]:
        cells = [_clip(r[0], widths[0]).ljust(widths[0])]
        cells += [r[i].rjust(widths[i]) for i in range(1, len(r))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def not_run_lines(results: Sequence[RowResult], width: int = 80) -> list[str]:
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for result in results:
        for a in result.assessments:
            if a.not_run and a.skipped:
                counts[a.judge] += 1
                reasons[a.skipped] += 1
    if not counts:
        return []
    detail = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    reason = reasons.most_common(1)[0][0]
    reason = reason[:1].upper() + reason[1:]
    text = f"NOT RUN: {sum(counts.values())} LLM-judged assessment(s) ({detail}). {reason}"
    return textwrap.wrap(
        text,
        width=max(40, width - 2),
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def render(
    *,
    results: Sequence[RowResult],
    metrics: Mapping[str, Any],
    suite_metrics: Mapping[str, Mapping[str, Any]],
    gate: GateResult,
    artifact: str | None,
    cache: Mapping[str, Any] | None = None,
    judge_calls: int | None = None,
    comparison: Comparison | None = None,
    extra_files: Sequence[str] = (),
    verbose: int = 0,
    width: int = 80,
) -> list[str]:
    lines: list[str] = []
    by_suite: dict[str, list[RowResult]] = {}
    for r in results:
        by_suite.setdefault(r.suite, []).append(r)
    header = ("", "pass rate", "95% CI", "rated", "errors")
    for name, rows in by_suite.items():
        m = suite_metrics.get(name, {})
        status: Counter[str] = Counter(r.status for r in rows)
        parts = [
            f"{status[s]} {label}"
            for s, label in (
                ("pass", "passed"),
                ("fail", "failed"),
                ("error", "error(s)"),
                ("skipped", "not evaluated"),
            )
            if status[s]
        ]
        lines.append(f"suite {name}: {len(rows)} row(s) — " + ", ".join(parts))
        lines += _table(metric_rows(m), header)
        lines += bounds_lines(m, [c.metric for c in gate.checks])
        extras = []
        if m.get("agent/latency_seconds/p50") is not None:
            extras.append(
                "latency p50/p90/p99 "
                + "/".join(
                    fmt_seconds(m.get(f"agent/latency_seconds/{p}")) for p in ("p50", "p90", "p99")
                )
            )
        if m.get("agent/total_token_count/average") is not None:
            extras.append(f"app tokens/row {float(m['agent/total_token_count/average']):.0f}")
        if m.get("judge/total_token_count/sum"):
            extras.append(f"judge tokens {int(m['judge/total_token_count/sum'])}")
        cost = cost_summary(m)
        if cost is not None:
            extras.append(cost)
        if extras:
            lines.append("  " + "; ".join(extras))
        lines += summary_lines(m)  # error bars, power, calibration against human labels
    if gate.checks:
        lines.append("thresholds:")
        for check in gate.checks:
            actual = "no data" if check.actual is None else f"{check.actual:.4g}"
            bounds = ""
            if check.bounds is not None and check.unassessed:
                low, high = check.bounds
                bounds = f"; {low:.4g}–{high:.4g} with {check.unassessed} unassessed"
            lines.append(
                f"  [{check.status.upper():>7}] {check.scope}: {check.threshold.describe()} "
                f"(actual {actual}{bounds})"
            )
    if gate.errors:
        lines.append(f"evaluation errors: {gate.errors} (allowed {gate.errors_allowed})")
    lines += not_run_lines(results, width)
    failing = [r for r in results if r.status == "fail"]
    if failing:
        limit = len(failing) if verbose > 0 else 5
        lines.append(f"failing rows ({len(failing)}):")
        for r in failing[:limit]:
            cause = r.root_cause
            why = f"{r.root_cause_label}: {cause.rationale or ''}" if cause else ""
            lines.append("  " + _clip(f"{r.suite}::{r.request_id} — {why}", width - 2))
        if len(failing) > limit:
            lines.append(f"  … {len(failing) - limit} more (-v shows all; see the results table)")
    erroring = [r for r in results if r.status == "error"]
    for r in erroring[: 5 if verbose <= 0 else len(erroring)]:
        lines.append("  " + _clip(f"ERROR {r.suite}::{r.request_id} — {r.errors[0]}", width - 2))
    if cache is not None or judge_calls is not None:
        parts = []
        if judge_calls is not None:
            parts.append(f"{judge_calls} judge call(s)")
        if cache is not None and cache.get("mode") != "off":
            parts.append(
                f"cache {cache.get('mode')}: {cache.get('hits', 0)} hit(s), "
                f"{cache.get('misses', 0)} miss(es)"
            )
            if cache.get("corrupt"):
                parts.append(f"{cache['corrupt']} corrupt entr(ies) ignored")
        if parts:
            lines.append("judge: " + "; ".join(parts))
    if comparison is not None:
        lines += baseline_lines(comparison, verbose=verbose, width=width)
    for note in gate.notes:
        lines.append(f"note: {note}")
    if artifact:
        lines.append(f"results: {artifact}" + "".join(f", {name}" for name in extra_files))
    lines.append(gate.line)
    return lines


def _unassessed_note(comparison: Comparison) -> str:
    """``; 11 row(s) unassessed now: 0.0%-78.6%`` when rows of this run have no verdict."""
    values = {m.name: m.new for m in comparison.metrics}
    count = values.get(f"{OVERALL_RATING}/unassessed_count")
    low = values.get(f"{OVERALL_RATING}/pessimistic_percentage")
    high = values.get(f"{OVERALL_RATING}/optimistic_percentage")
    if not count or low is None or high is None:
        return ""
    return f"; {count:.0f} row(s) unassessed now: {fmt_pct(low)}–{fmt_pct(high)}"


def baseline_lines(comparison: Comparison, *, verbose: int = 0, width: int = 80) -> list[str]:
    paired = comparison.paired
    lines = [
        f"baseline: {comparison.verdict.summary or 'compared'}"
        + (f"; paired test p={paired.p_one_sided:.3g}" if paired.b + paired.c else "")
    ]
    overall = next((m for m in comparison.metrics if m.name == OVERALL), None)
    if overall is not None and overall.old is not None and overall.new is not None:
        lines.append(
            f"  {metric_label(OVERALL)} {fmt_pct(overall.old)} -> {fmt_pct(overall.new)} "
            f"({fmt_delta(OVERALL, overall.new - overall.old)})"
            + _unassessed_note(comparison)
        )
    difference = paired_difference_text(paired.to_dict())
    if difference is not None:
        lines.append(f"  {difference}")
    regressions = comparison.regressions
    limit = len(regressions) if verbose > 0 else 5
    for change in regressions[:limit]:
        flip = change.flipped_to_no[0] if change.flipped_to_no else None
        why = f"{flip.name}: {flip.rationale or ''}" if flip else change.new_status or ""
        lines.append(
            "  " + _clip(f"REGRESSED {change.suite}::{change.request_id} — {why}", width - 2)
        )
    if len(regressions) > limit:
        lines.append(f"  … {len(regressions) - limit} more regressions (-v shows all)")
    for note in comparison.verdict.notes[:3]:
        lines.append("  note: " + _clip(note, width - 10))
    lines.append(comparison.verdict.line)
    return lines
