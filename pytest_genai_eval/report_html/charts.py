"""The report's inline SVG charts: pass rate per judge with Wilson intervals (and the baseline
and thresholds), the latency distribution, and the overall pass rate over the run history."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..compare import Comparison
from ..document import RunDocument
from ..history import HistoryRun
from ..results import RowResult
from ..stats import percentile
from ..vocabulary import OVERALL, fmt_pct, number, rate_metrics
from .formatting import _short_time, e

__all__ = ("charts_section", "latency_chart", "pass_rate_chart", "trend_chart")


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{e(label)}">{body}</svg>'
    )


def _threshold_values(document: RunDocument, suites: Sequence[str]) -> dict[str, float]:
    """Run-level pass-rate thresholds by metric (the lowest ``>=`` value when several apply);
    a suite's own thresholds count too when the run has only that suite."""
    scopes = {"run", *suites} if len(suites) == 1 else {"run"}
    out: dict[str, float] = {}
    for check in document.verdict.checks if document.verdict is not None else []:
        if check.scope not in scopes or check.value is None or check.op not in (">=", ">"):
            continue
        if check.metric.endswith("/percentage"):
            out[check.metric] = min(check.value, out.get(check.metric, check.value))
    return out


def pass_rate_chart(
    metrics: Mapping[str, Any],
    thresholds: Mapping[str, float],
    comparison: Comparison | None,
) -> str:
    """Horizontal bars: pass rate per judge with its Wilson interval; the baseline's rate as a
    hollow diamond, a pass-rate threshold as a dashed line."""
    entries = [
        (label, name)
        for label, name in rate_metrics(metrics)
        if number(metrics.get(name)) is not None
    ]
    if not entries:
        return '<p class="empty-chart">No rated rows.</p>'
    baseline = {m.name: m.old for m in comparison.metrics} if comparison is not None else {}
    left, right, row_h, top = 190, 70, 30, 8
    width = 620
    plot = width - left - right
    height = top + row_h * len(entries) + 26
    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + plot * tick
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" '
            f'y2="{top + row_h * len(entries)}"/>'
            f'<text class="small" x="{x:.1f}" y="{height - 8}" text-anchor="middle">'
            f"{int(tick * 100)}%</text>"
        )
    for index, (label, name) in enumerate(entries):
        y = top + index * row_h
        rate = number(metrics.get(name)) or 0.0
        base = name[: -len("/percentage")]
        low, high = number(metrics.get(f"{base}/ci_low")), number(metrics.get(f"{base}/ci_high"))
        count = number(metrics.get(f"{base}/count"))
        limit = thresholds.get(name)
        color = "#218bff" if limit is None else "#1a7f37" if rate >= limit - 1e-12 else "#cf222e"
        shown = label if len(label) <= 26 else label[:25] + "…"
        ci_text = f" (95% CI {fmt_pct(low)}–{fmt_pct(high)})" if low is not None else ""
        n_text = f", n={int(count)}" if count is not None else ""
        parts.append(
            f"<g><title>{e(label)}: {fmt_pct(rate)}{ci_text}{n_text}</title>"
            f'<text x="{left - 10}" y="{y + 15}" text-anchor="end">{e(shown)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{plot:.1f}" height="16" fill="#eff2f5" rx="3"/>'
            f'<rect x="{left}" y="{y + 4}" width="{plot * rate:.1f}" height="16" '
            f'fill="{color}" fill-opacity="0.8" rx="3"/>'
        )
        if low is not None and high is not None:
            x1, x2 = left + plot * low, left + plot * high
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y + 12}" x2="{x2:.1f}" y2="{y + 12}" '
                f'stroke="#1f2328" stroke-width="1.5"/>'
                f'<line x1="{x1:.1f}" y1="{y + 6}" x2="{x1:.1f}" y2="{y + 18}" '
                f'stroke="#1f2328" stroke-width="1.5"/>'
                f'<line x1="{x2:.1f}" y1="{y + 6}" x2="{x2:.1f}" y2="{y + 18}" '
                f'stroke="#1f2328" stroke-width="1.5"/>'
            )
        old = number(baseline.get(name))
        if old is not None:
            bx = left + plot * old
            parts.append(
                f'<path d="M{bx:.1f} {y + 5} l6 7 l-6 7 l-6 -7 z" fill="#ffffff" '
                f'stroke="#0969da" stroke-width="1.8"><title>baseline {fmt_pct(old)}</title></path>'
            )
        if limit is not None and 0.0 <= limit <= 1.0:
            tx = left + plot * limit
            parts.append(
                f'<line x1="{tx:.1f}" y1="{y + 1}" x2="{tx:.1f}" y2="{y + 23}" stroke="#cf222e" '
                f'stroke-width="1.5" stroke-dasharray="3 2"><title>threshold {fmt_pct(limit)}'
                f"</title></line>"
            )
        parts.append(f'<text x="{width - right + 12}" y="{y + 16}">{fmt_pct(rate)}</text></g>')
    legend = "Bars: pass rate; whiskers: 95% Wilson interval"
    if baseline:
        legend += "; ◇ the baseline's pass rate"
    if thresholds:
        legend += "; dashed red line: threshold (bar green when met, red when missed)"
    svg = _svg(width, height, "".join(parts), "pass rate per judge with 95% Wilson intervals")
    return f'{svg}<div class="legend">{e(legend)}.</div>'


def latency_chart(rows: Sequence[RowResult]) -> str:
    """A histogram of the app's per-row latency with p50 and p90 marked."""
    values = sorted(
        float(r.latency_seconds)
        for r in rows
        if r.latency_seconds is not None and math.isfinite(r.latency_seconds)
    )
    if not values:
        return (
            '<p class="empty-chart">No latency recorded (the rows carried precomputed '
            "responses, or the app was not timed).</p>"
        )
    low, high = values[0], values[-1]
    bins = max(1, min(20, math.ceil(math.sqrt(len(values)))))
    span = high - low
    if span <= 0:
        bins, span = 1, max(high, 1e-9) * 0.2 or 1.0
        low = max(0.0, low - span / 2)
    width_bin = span / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / width_bin))] += 1
    left, right, top, bottom = 40, 16, 24, 34
    width, height = 620, 230
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts)
    parts = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>'
    ]
    for tick in sorted({0, math.ceil(peak / 2), peak}):
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>'
            f'<text class="small" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    bar_w = plot_w / bins
    for index, count in enumerate(counts):
        if not count:
            continue
        h = plot_h * count / peak
        x = left + index * bar_w
        start, end = low + index * width_bin, low + (index + 1) * width_bin
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(1.0, bar_w - 2):.1f}" '
            f'height="{h:.1f}" fill="#0969da" fill-opacity="0.75">'
            f"<title>{start:.2f}s–{end:.2f}s: {count} row(s)</title></rect>"
        )
    for tick in range(5):
        value = low + span * tick / 4
        x = left + plot_w * tick / 4
        parts.append(
            f'<text class="small" x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{value:.2f}s</text>"
        )
    for name, q, dash in (("p50", 50, "4 3"), ("p90", 90, "2 2")):
        mark = percentile(values, q)
        if mark is None:
            continue
        x = left + plot_w * (mark - low) / span
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 10}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="#cf222e" stroke-width="1.5" stroke-dasharray="{dash}"/>'
            f'<text class="small" x="{x + 4:.1f}" y="{top - 4}">{name} {mark:.2f}s</text>'
        )
    parts.append(
        f'<text class="small" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
        f'text-anchor="middle">latency per row (seconds) · {len(values)} row(s)</text>'
    )
    return _svg(width, height, "".join(parts), "latency distribution")


def _trend_points(
    document: RunDocument, history: Sequence[HistoryRun]
) -> list[tuple[str, float, str, str]]:
    """(when, overall pass rate, status, tooltip) oldest first; this run appended unless the
    history already holds it (same start time, finish time and duration)."""
    points = []
    identity = (document.started_at, document.finished_at, document.duration_seconds)
    seen_current = False
    for run in sorted(history, key=lambda r: r.id):
        rate = run.metric(OVERALL)
        if run.started_at and (run.started_at, run.finished_at, run.duration_seconds) == identity:
            seen_current = True
        if rate is None:
            continue
        commit = f" · {run.git_commit[:8]}" if run.git_commit else ""
        branch = f" ({run.git_branch})" if run.git_branch else ""
        tip = f"{_short_time(run.when)}{commit}{branch}: {fmt_pct(rate)} · {run.status or '?'}"
        points.append((_short_time(run.when), rate, run.status or "", tip))
    current = number(document.metrics.get(OVERALL))
    if not seen_current and current is not None:
        status = document.verdict.status if document.verdict is not None else ""
        when = _short_time(document.started_at)
        points.append((when, current, status, f"this run ({when}): {fmt_pct(current)}"))
    return points


def trend_chart(document: RunDocument, history: Sequence[HistoryRun]) -> str:
    """The overall pass rate over the recorded runs (oldest left), one point per run."""
    points = _trend_points(document, history)
    if len(points) < 2:
        return (
            f'<p class="empty-chart">Not enough history for a trend ({len(points)} run(s) '
            "recorded). Runs are recorded in the history database (--genai-history-db).</p>"
        )
    left, right, top, bottom = 44, 20, 16, 36
    width, height = 1220, 230
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>'
            f'<text class="small" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{int(tick * 100)}%</text>"
        )
    step = plot_w / (len(points) - 1)
    coords = [(left + i * step, top + plot_h * (1 - p[1])) for i, p in enumerate(points)]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}" for i, (x, y) in enumerate(coords))
    parts.append(f'<path d="{path}" fill="none" stroke="#0969da" stroke-width="2"/>')
    colors = {"passed": "#1a7f37", "failed": "#cf222e", "empty": "#59636e"}
    radius = 4 if len(points) <= 60 else 2
    for (x, y), (_when, _rate, status, tip) in zip(coords, points, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" '
            f'fill="{colors.get(status, "#9a6700")}"><title>{e(tip)}</title></circle>'
        )
    parts.append(
        f'<text class="small" x="{left}" y="{height - 14}">{e(points[0][0])}</text>'
        f'<text class="small" x="{left + plot_w}" y="{height - 14}" text-anchor="end">'
        f"{e(points[-1][0])}</text>"
        f'<text class="small" x="{left + plot_w / 2:.1f}" y="{height - 2}" '
        f'text-anchor="middle">overall pass rate · {len(points)} run(s)</text>'
    )
    return _svg(width, height, "".join(parts), "overall pass rate over the run history")


def charts_section(
    document: RunDocument,
    metrics: Mapping[str, Any],
    rows: Sequence[RowResult],
    comparison: Comparison | None,
    history: Sequence[HistoryRun],
) -> str:
    """The charts section: the pass-rate, latency and trend charts, each in its figure."""
    suites = sorted({r.suite for r in rows})
    thresholds = _threshold_values(document, suites)
    figures = (
        ("rates", "Pass rate per judge", pass_rate_chart(metrics, thresholds, comparison)),
        ("latency", "Latency distribution", latency_chart(rows)),
        ("trend", "Overall pass rate over time", trend_chart(document, history)),
    )
    return (
        '<h2 id="charts">Charts</h2><div class="charts">'
        + "".join(
            f'<figure id="chart-{key}"><figcaption>{e(title)}</figcaption>{body}</figure>'
            for key, title, body in figures
        )
        + "</div>"
    )
