"""The baseline comparison section: the gate's verdict, row tallies, the paired test, the rules
and the key metrics side by side."""

from __future__ import annotations

from ..compare import Comparison, MetricDelta, metric_label
from ..vocabulary import (
    APP_ERRORS,
    JUDGE_ERRORS,
    fmt_ci,
    fmt_pct,
    fmt_value,
    rate_base,
    rate_metrics,
)
from .formatting import _delta_text, _short_time, e
from .trust import comparison_baseline_html

__all__ = ("baseline_section",)


def _baseline_metrics(comparison: Comparison) -> list[MetricDelta]:
    by_name = {m.name: m for m in comparison.metrics}
    names = [name for _label, name in rate_metrics(by_name)]
    names += [
        "agent/latency_seconds/p50",
        "agent/latency_seconds/p90",
        "agent/total_token_count/average",
        APP_ERRORS,
        JUDGE_ERRORS,
    ]
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def _bounds(name: str, current: dict[str, float | None]) -> str:
    """`` (0.0–78.6% with 11 unassessed)`` for a rate whose rows are unassessed in this run."""
    base = rate_base(name)
    count = current.get(f"{base}/unassessed_count")
    low = current.get(f"{base}/pessimistic_percentage")
    high = current.get(f"{base}/optimistic_percentage")
    if not count or low is None or high is None:
        return ""
    text = f"{fmt_pct(low)}–{fmt_pct(high)} with {count:.0f} unassessed"
    return f" <span class=muted>({e(text)})</span>"


def baseline_section(comparison: Comparison) -> str:
    verdict = comparison.verdict
    counts = comparison.counts()
    paired = comparison.paired
    status = verdict.status
    css = {"passed": "passed", "failed": "failed"}.get(status, "incompatible")
    reasons = "".join(f"<li>{e(r)}</li>" for r in verdict.reasons)
    notes = "".join(f'<li class="muted">{e(n)}</li>' for n in verdict.notes)
    source = comparison.baseline.get("source") or ""
    when = _short_time(comparison.baseline.get("started_at"))
    summary = (
        f'<p><span class="badge {css}">{e(status.upper())}'
        f"{' (not gated)' if status == 'incompatible' else ''}</span> "
        f"{e(verdict.summary)}</p>"
        f'<p class="muted">Baseline from {e(when)}'
        + (f" · <span class=mono>{e(source)}</span>" if source else "")
        + "</p>"
        + (f"<ul>{reasons}{notes}</ul>" if reasons or notes else "")
    )
    tally = (
        f'<p><span class="pill regression">{counts["regression"]} regression(s)</span> '
        f'<span class="pill fix">{counts["fix"]} fix(es)</span> '
        f'<span class="pill new">{counts["new"]} new</span> '
        f'<span class="pill removed">{counts["removed"]} removed</span> '
        f'<span class="pill resp">{counts["response_changed"]} response(s) changed</span></p>'
        f"<p>Paired rows (pass/fail in both runs): {paired.paired}; "
        f"b (pass → fail) = {paired.b}, c (fail → pass) = {paired.c}; "
        f"one-sided exact McNemar p = {paired.p_one_sided:.4g}</p>"
        + comparison_baseline_html(comparison)  # paired difference, pairwise preference
    )
    rules = "".join(
        f'<tr><td><span class="pill {"pass" if c.passed else "fail" if c.passed is False else "nodata"}">'
        f"{e(c.status)}</span></td><td>{e(c.rule)}</td><td>{e(c.detail)}</td></tr>"
        for c in comparison.checks
    )
    rules_html = (
        "<h3>Rules</h3><table><thead><tr><th>status</th><th>rule</th><th>detail</th></tr>"
        f"</thead><tbody>{rules}</tbody></table>"
        if rules
        else ""
    )
    current = {m.name: m.new for m in comparison.metrics}
    deltas = []
    for m in _baseline_metrics(comparison):
        text, cls = _delta_text(m)
        color = {"bad": "var(--fail)", "good": "var(--pass)"}.get(cls, "var(--muted)")
        old_ci = (
            f" <span class=muted>{fmt_ci(*m.old_ci, brackets=True)}</span>"
            if m.old_ci
            else ""
        )
        new_ci = (
            f" <span class=muted>{fmt_ci(*m.new_ci, brackets=True)}</span>"
            if m.new_ci
            else ""
        )
        deltas.append(
            f"<tr><td>{e(metric_label(m.name))}</td>"
            f'<td class="num">{e(fmt_value(m.name, m.old))}{old_ci}</td>'
            f'<td class="num">{e(fmt_value(m.name, m.new))}{new_ci}{_bounds(m.name, current)}</td>'
            f'<td class="num" style="color:{color}">{e(text)}</td></tr>'
        )
    metrics_html = (
        '<h3>Metrics</h3><table><thead><tr><th>metric</th><th class="num">baseline</th>'
        '<th class="num">this run</th><th class="num">change</th></tr></thead><tbody>'
        + "".join(deltas)
        + "</tbody></table>"
    )
    incompatible = ""
    if comparison.incompatible:
        incompatible = (
            "<h3>Incompatible baseline</h3><ul>"
            + "".join(f"<li>{e(p)}</li>" for p in comparison.incompatible)
            + "</ul>"
        )
    removed = comparison.removed_rows
    removed_html = ""
    if removed:
        removed_html = (
            f"<details><summary>{len(removed)} row(s) only in the baseline</summary><ul>"
            + "".join(
                f"<li>{e(r.suite)}::{e(r.request_id)} (was {e(r.old_status)})</li>" for r in removed
            )
            + "</ul></details>"
        )
    return (
        '<h2 id="baseline">Baseline comparison</h2>'
        + summary
        + tally
        + incompatible
        + f'<div class="two"><div>{rules_html}</div><div>{metrics_html}</div></div>'
        + removed_html
    )
