"""The run as one self-contained HTML file.

:func:`render_html` builds a single page with inline CSS, inline SVG charts and a few lines of
vanilla JavaScript; it loads nothing from anywhere (a Content-Security-Policy of
``default-src 'none'`` enforces it), so it can be archived as a CI artifact and opened offline.

Sections: the verdict with its reasons and threshold checks; the baseline gate when a
:class:`~pytest_genai_eval.compare.Comparison` is given; per-judge pass rates with Wilson
intervals (SVG); the latency distribution (SVG histogram); the overall pass rate over the run
history (SVG line); and the per-row table (request, response, retrieved context, each judge's
rating and rationale, the change against the baseline with a word diff of the response),
filterable to failing rows and by text.

Everything taken from a run is untrusted (responses, requests, rationales, even suite and judge
names) and goes through :func:`html.escape`; nothing from a run is placed in a script.
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .artifacts import _atomic_write
from .compare import Comparison, MetricDelta, RowChange, metric_label
from .history import HistoryRun
from .metrics import compute_metrics
from .report_md import rate_metrics
from .results import Assessment, RowResult, request_text
from .stats import percentile

__all__ = ("REPORT_NAME", "render_html", "word_diff", "write_html")

REPORT_NAME = "report.html"
MAX_ROWS_SHOWN = 2000
OVERALL = "response/overall_assessment/rating/percentage"
_DIFF_TOKEN_LIMIT = 6000

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_CSS = """
:root {
  --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5; --skip: #59636e; --skip-bg: #eff2f5;
  --accent: #0969da; --accent-bg: #ddf4ff;
}
* { box-sizing: border-box; }
html { font-size: 14px; }
body {
  margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Liberation Sans", Arial,
    sans-serif;
}
main { max-width: 1280px; margin: 0 auto; padding: 0 24px 48px; }
h1 { font-size: 1.6rem; margin: 0; }
h2 { font-size: 1.15rem; margin: 32px 0 10px; padding-bottom: 6px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 0 0 8px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas,
  monospace; font-size: 0.92em; }
.muted { color: var(--muted); }
.verdict { border-bottom: 1px solid var(--line); }
.verdict .inner { max-width: 1280px; margin: 0 auto; padding: 20px 24px; }
.verdict .top { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; }
.verdict.passed, .verdict.empty { background: var(--pass-bg); }
.verdict.failed { background: var(--fail-bg); }
.verdict.errors, .verdict.incomplete, .verdict.unknown { background: var(--warn-bg); }
.verdict .line { font-family: ui-monospace, Menlo, Consolas, monospace; margin: 8px 0 0; }
.verdict ul { margin: 8px 0 0; padding-left: 20px; }
.badge { display: inline-block; font-weight: 700; letter-spacing: .04em; border-radius: 6px;
  padding: 4px 10px; color: #fff; font-size: 0.95rem; }
.badge.passed, .badge.empty { background: var(--pass); }
.badge.failed { background: var(--fail); }
.badge.errors, .badge.incomplete, .badge.incompatible, .badge.unknown { background: var(--warn); }
dl.meta { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 12px 0 0; }
dl.meta div { display: flex; gap: 6px; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px;
  margin-top: 20px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  background: var(--panel); }
.card .k { color: var(--muted); font-size: 0.85rem; }
.card .v { font-size: 1.35rem; font-weight: 650; }
.card .s { color: var(--muted); font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px;
  border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; font-size: 0.9rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pill { display: inline-block; border-radius: 999px; padding: 0 8px; font-size: 0.8rem;
  font-weight: 600; line-height: 1.6; white-space: nowrap; }
.pill.pass, .pill.yes { background: var(--pass-bg); color: var(--pass); }
.pill.fail, .pill.no, .pill.regression { background: var(--fail-bg); color: var(--fail); }
.pill.error, .pill.changed { background: var(--warn-bg); color: var(--warn); }
.pill.skipped, .pill.removed, .pill.unchanged, .pill.nodata { background: var(--skip-bg);
  color: var(--skip); }
.pill.fix, .pill.new, .pill.resp { background: var(--accent-bg); color: var(--accent); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
#chart-trend { grid-column: 1 / -1; }
figure .legend { color: var(--muted); font-size: 0.82rem; margin-top: 4px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.empty-chart { color: var(--muted); padding: 24px 0; text-align: center; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 22px; align-items: center;
  padding: 10px 12px; background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; margin-bottom: 10px; position: sticky; top: 0; z-index: 2; }
.controls label { display: inline-flex; gap: 6px; align-items: center; cursor: pointer; }
.controls input[type=search] { padding: 4px 8px; border: 1px solid var(--line);
  border-radius: 6px; min-width: 240px; font: inherit; }
#rows-table td { font-size: 0.93rem; }
#rows-table col.c-status { width: 110px; }
#rows-table col.c-id { width: 170px; }
#rows-table col.c-judges { width: 34%; }
tr.row.st-fail td:first-child { box-shadow: inset 4px 0 0 var(--fail); }
tr.row.st-error td:first-child { box-shadow: inset 4px 0 0 var(--warn); }
tr.row.st-pass td:first-child { box-shadow: inset 4px 0 0 var(--pass); }
tr.row.st-skipped td:first-child { box-shadow: inset 4px 0 0 var(--skip); }
.rid { font-weight: 600; word-break: break-word; }
.suite { color: var(--muted); font-size: 0.85rem; word-break: break-word; }
.label { color: var(--muted); font-size: 0.78rem; text-transform: uppercase;
  letter-spacing: .04em; margin-top: 6px; }
.label:first-child { margin-top: 0; }
.text { white-space: pre-wrap; word-break: break-word; max-height: 18em; overflow: auto; }
.text.err { color: var(--fail); }
.facts { margin: 2px 0 0; padding-left: 18px; }
details { margin-top: 6px; }
details summary { cursor: pointer; color: var(--accent); font-size: 0.88rem; }
details ol { margin: 4px 0 0; padding-left: 20px; }
.uri { color: var(--muted); font-size: 0.82rem; word-break: break-all; }
ul.judges { list-style: none; margin: 0; padding: 0; }
ul.judges li { margin: 0 0 6px; }
ul.judges li.j-skip { color: var(--muted); font-size: 0.86rem; }
ul.judges .why { margin: 2px 0 0 2px; white-space: pre-wrap; word-break: break-word; }
ul.judges .was { color: var(--muted); font-size: 0.82rem; }
.diff { white-space: pre-wrap; word-break: break-word; border-left: 3px solid var(--line);
  padding-left: 8px; max-height: 18em; overflow: auto; }
.diff del { background: var(--fail-bg); color: var(--fail); }
.diff ins { background: var(--pass-bg); color: var(--pass); text-decoration: none; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
@media (max-width: 900px) { .two { grid-template-columns: 1fr; } }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85rem; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Liberation Sans",
  Arial, sans-serif; font-size: 12px; fill: #1f2328; }
svg .axis { stroke: #d1d9e0; stroke-width: 1; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .small { font-size: 11px; fill: #59636e; }
"""

_JS = """
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
  var onlyFailures = document.getElementById("only-failures");
  var onlyChanged = document.getElementById("only-changed");
  var search = document.getElementById("row-search");
  var shown = document.getElementById("shown-count");
  var empty = document.getElementById("no-rows-shown");
  function apply() {
    var query = search ? search.value.trim().toLowerCase() : "";
    var count = 0;
    rows.forEach(function (tr) {
      var status = tr.getAttribute("data-status");
      var show = true;
      if (onlyFailures && onlyFailures.checked && status !== "fail" && status !== "error") {
        show = false;
      }
      if (show && onlyChanged && onlyChanged.checked && !tr.getAttribute("data-change")) {
        show = false;
      }
      if (show && query && tr.textContent.toLowerCase().indexOf(query) === -1) {
        show = false;
      }
      tr.hidden = !show;
      if (show) { count += 1; }
    });
    if (shown) { shown.textContent = String(count); }
    if (empty) { empty.hidden = count !== 0; }
  }
  if (onlyFailures) {
    if (window.location.hash === "#failures") { onlyFailures.checked = true; }
    onlyFailures.addEventListener("change", apply);
  }
  if (onlyChanged) { onlyChanged.addEventListener("change", apply); }
  if (search) { search.addEventListener("input", apply); }
  apply();
})();
"""


# ---- small helpers ------------------------------------------------------------------------------
def e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _pct(value: Any, digits: int = 1) -> str:
    number = _num(value)
    return "—" if number is None else f"{100 * number:.{digits}f}%"


def _secs(value: Any) -> str:
    number = _num(value)
    return "—" if number is None else f"{number:.2f}s"


def _short_time(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "—"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.strftime("%Y-%m-%d %H:%M")


def _fmt_metric(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name.endswith("/percentage") or (
        name.startswith("retrieval/") and name.endswith("/average")
    ):
        return _pct(value)
    if name.startswith("agent/latency_seconds/"):
        return _secs(value)
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.4g}"


def _delta_text(delta: MetricDelta) -> tuple[str, str]:
    """(text, css class: good/bad/flat) of a metric's change."""
    if delta.delta is None:
        return "—", "flat"
    if abs(delta.delta) < 1e-12:
        return "±0", "flat"
    worse = delta.worsening or 0.0
    cls = (
        "flat"
        if abs(delta.delta) < 1e-12 or delta.direction == "none"
        else ("bad" if worse > 0 else "good")
    )
    if delta.name.endswith("/percentage"):
        text = f"{100 * delta.delta:+.1f} pts"
    elif delta.name.startswith("agent/latency_seconds/"):
        text = f"{delta.delta:+.2f}s"
    else:
        text = f"{delta.delta:+.4g}"
    return text.replace("-", "−"), cls


# ---- word diff ----------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(old: str | None, new: str | None) -> str:
    """HTML of a word-level diff: removed words in ``<del>``, added words in ``<ins>``, all text
    escaped. Very long texts are shown as old and new without alignment."""
    a = _TOKEN.findall(old or "")
    b = _TOKEN.findall(new or "")
    if len(a) + len(b) > _DIFF_TOKEN_LIMIT:
        return f"<del>{e(old or '')}</del><ins>{e(new or '')}</ins>"
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(e("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(f"<del>{e(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{e(''.join(b[j1:j2]))}</ins>")
    return "".join(out)


# ---- charts -------------------------------------------------------------------------------------
def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{e(label)}">{body}</svg>'
    )


def _threshold_values(document: Mapping[str, Any], suites: Sequence[str]) -> dict[str, float]:
    """Run-level pass-rate thresholds by metric (the lowest ``>=`` value when several apply);
    a suite's own thresholds count too when the run has only that suite."""
    scopes = {"run", *suites} if len(suites) == 1 else {"run"}
    out: dict[str, float] = {}
    for check in _mapping(document.get("verdict")).get("checks") or []:
        if not isinstance(check, Mapping) or check.get("scope") not in scopes:
            continue
        metric = str(check.get("metric") or "")
        text = str(check.get("threshold") or "")
        match = re.search(r">=?\s*([0-9.]+)\s*$", text)
        if metric.endswith("/percentage") and match:
            value = float(match.group(1))
            out[metric] = min(value, out.get(metric, value))
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
        if _num(metrics.get(name)) is not None
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
        rate = _num(metrics.get(name)) or 0.0
        base = name[: -len("/percentage")]
        low, high = _num(metrics.get(f"{base}/ci_low")), _num(metrics.get(f"{base}/ci_high"))
        count = _num(metrics.get(f"{base}/count"))
        limit = thresholds.get(name)
        color = "#218bff" if limit is None else "#1a7f37" if rate >= limit - 1e-12 else "#cf222e"
        shown = label if len(label) <= 26 else label[:25] + "…"
        ci_text = f" (95% CI {_pct(low)}–{_pct(high)})" if low is not None else ""
        n_text = f", n={int(count)}" if count is not None else ""
        parts.append(
            f"<g><title>{e(label)}: {_pct(rate)}{ci_text}{n_text}</title>"
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
        old = _num(baseline.get(name))
        if old is not None:
            bx = left + plot * old
            parts.append(
                f'<path d="M{bx:.1f} {y + 5} l6 7 l-6 7 l-6 -7 z" fill="#ffffff" '
                f'stroke="#0969da" stroke-width="1.8"><title>baseline {_pct(old)}</title></path>'
            )
        if limit is not None and 0.0 <= limit <= 1.0:
            tx = left + plot * limit
            parts.append(
                f'<line x1="{tx:.1f}" y1="{y + 1}" x2="{tx:.1f}" y2="{y + 23}" stroke="#cf222e" '
                f'stroke-width="1.5" stroke-dasharray="3 2"><title>threshold {_pct(limit)}'
                f"</title></line>"
            )
        parts.append(f'<text x="{width - right + 12}" y="{y + 16}">{_pct(rate)}</text></g>')
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
    document: Mapping[str, Any], history: Sequence[HistoryRun]
) -> list[tuple[str, float, str, str]]:
    """(when, overall pass rate, status, tooltip) oldest first; this run appended unless the
    history already holds it (same start time, finish time and duration)."""
    points = []
    started = document.get("started_at")
    identity = (started, document.get("finished_at"), _num(document.get("duration_seconds")))
    seen_current = False
    for run in sorted(history, key=lambda r: r.id):
        rate = run.metric(OVERALL)
        if run.started_at and (run.started_at, run.finished_at, run.duration_seconds) == identity:
            seen_current = True
        if rate is None:
            continue
        commit = f" · {run.git_commit[:8]}" if run.git_commit else ""
        branch = f" ({run.git_branch})" if run.git_branch else ""
        tip = f"{_short_time(run.when)}{commit}{branch}: {_pct(rate)} · {run.status or '?'}"
        points.append((_short_time(run.when), rate, run.status or "", tip))
    current = _num(_mapping(document.get("metrics")).get(OVERALL))
    if not seen_current and current is not None:
        status = str(_mapping(document.get("verdict")).get("status") or "")
        when = _short_time(started)
        points.append((when, current, status, f"this run ({when}): {_pct(current)}"))
    return points


def trend_chart(document: Mapping[str, Any], history: Sequence[HistoryRun]) -> str:
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


# ---- sections -----------------------------------------------------------------------------------
def _header(document: Mapping[str, Any], rows: Sequence[RowResult]) -> str:
    verdict = _mapping(document.get("verdict"))
    status = str(verdict.get("status") or "unknown")
    css = status if status in ("passed", "failed", "errors", "incomplete", "empty") else "unknown"
    css = "errors" if status in ("undecidable", "interrupted") else css
    line = verdict.get("line") or f"genai gate: {status.upper()}"
    reasons = [str(r) for r in verdict.get("reasons") or []]
    notes = [str(n) for n in verdict.get("notes") or []]
    items = "".join(f"<li>{e(r)}</li>" for r in reasons)
    items += "".join(f'<li class="muted">note: {e(n)}</li>' for n in notes)
    judge = _mapping(_mapping(document.get("config")).get("judge"))
    suites = sorted({r.suite for r in rows} | set(_mapping(document.get("suites"))))
    meta = [
        ("started", _short_time(document.get("started_at"))),
        ("duration", _secs(document.get("duration_seconds"))),
        ("judge model", judge.get("model") or "none"),
        ("suites", ", ".join(suites) or "—"),
        ("rows", str(len(rows))),
    ]
    if document.get("complete") is False:
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


def _cards(metrics: Mapping[str, Any], rows: Sequence[RowResult]) -> str:
    counts = {s: 0 for s in ("pass", "fail", "error", "skipped")}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    low = metrics.get("response/overall_assessment/rating/ci_low")
    high = metrics.get("response/overall_assessment/rating/ci_high")
    ci = f"95% CI {_pct(low, 0)}–{_pct(high, 0)}" if low is not None else "no rated rows"
    errors = int(metrics.get("app/error_count") or 0) + int(metrics.get("judge/error_count") or 0)
    cards = [
        ("overall pass rate", _pct(metrics.get(OVERALL)), ci),
        ("rows", str(len(rows)), f"{counts['pass']} passed · {counts['fail']} failed"),
        ("evaluation errors", str(errors), f"{counts['error']} row(s) not assessed"),
        (
            "latency p50 / p90",
            f"{_secs(metrics.get('agent/latency_seconds/p50'))} / "
            f"{_secs(metrics.get('agent/latency_seconds/p90'))}",
            f"p99 {_secs(metrics.get('agent/latency_seconds/p99'))}",
        ),
    ]
    tokens = _num(metrics.get("agent/total_token_count/average"))
    judge_tokens = _num(metrics.get("judge/total_token_count/sum"))
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


def _thresholds(document: Mapping[str, Any]) -> str:
    checks = [
        c for c in _mapping(document.get("verdict")).get("checks") or [] if isinstance(c, Mapping)
    ]
    if not checks:
        return (
            '<h2 id="thresholds">Thresholds</h2><p class="muted">No thresholds: every failing '
            "row fails the build (strict).</p>"
        )
    body = []
    for check in checks:
        status = str(check.get("status") or "")
        css = {"pass": "pass", "fail": "fail"}.get(status, "nodata")
        actual = _num(check.get("actual"))
        low, high = _num(check.get("pessimistic")), _num(check.get("optimistic"))
        unassessed = _num(check.get("unassessed")) or 0
        bounds = (
            f"{low:.4g}–{high:.4g} ({unassessed:.0f} unassessed)"
            if unassessed and low is not None and high is not None
            else ""
        )
        body.append(
            f'<tr><td><span class="pill {css}">{e(status)}</span></td>'
            f"<td>{e(check.get('scope'))}</td><td><code>{e(check.get('threshold'))}</code></td>"
            f'<td class="num">{"no data" if actual is None else e(f"{actual:.4g}")}</td>'
            f'<td class="num">{e(bounds)}</td>'
            f'<td class="muted">{e(check.get("origin") or "")}</td></tr>'
        )
    return (
        '<h2 id="thresholds">Thresholds</h2><table><thead><tr><th>status</th><th>scope</th>'
        '<th>threshold</th><th class="num">actual</th><th class="num">bounds</th>'
        "<th>set in</th></tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _baseline_metrics(comparison: Comparison) -> list[MetricDelta]:
    by_name = {m.name: m for m in comparison.metrics}
    names = [name for _label, name in rate_metrics(by_name)]
    names += [
        "agent/latency_seconds/p50",
        "agent/latency_seconds/p90",
        "agent/total_token_count/average",
        "app/error_count",
        "judge/error_count",
    ]
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def _baseline(comparison: Comparison) -> str:
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
    deltas = []
    for m in _baseline_metrics(comparison):
        text, cls = _delta_text(m)
        color = {"bad": "var(--fail)", "good": "var(--pass)"}.get(cls, "var(--muted)")
        old_ci = (
            f" <span class=muted>[{_pct(m.old_ci[0], 0)}–{_pct(m.old_ci[1], 0)}]</span>"
            if m.old_ci
            else ""
        )
        new_ci = (
            f" <span class=muted>[{_pct(m.new_ci[0], 0)}–{_pct(m.new_ci[1], 0)}]</span>"
            if m.new_ci
            else ""
        )
        deltas.append(
            f"<tr><td>{e(metric_label(m.name))}</td>"
            f'<td class="num">{e(_fmt_metric(m.name, m.old))}{old_ci}</td>'
            f'<td class="num">{e(_fmt_metric(m.name, m.new))}{new_ci}</td>'
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


def _charts(
    document: Mapping[str, Any],
    metrics: Mapping[str, Any],
    rows: Sequence[RowResult],
    comparison: Comparison | None,
    history: Sequence[HistoryRun],
) -> str:
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
    if a.value is not None and _num(a.value) is not None:
        value = f' <span class="muted">{e(f"{a.value:.3g}")}</span>'
    kind = "" if a.kind == "llm" else f' <span class="muted">({e(a.kind)})</span>'
    if li == "j-skip":
        return (
            f'<li class="{li}"><span class="pill {css}">{pill}</span> {e(a.name)}{kind}'
            f" — {e(detail)}</li>"
        )
    return (
        f'<li class="{li}"><span class="pill {css}">{pill}</span> <b>{e(a.name)}</b>{kind}{value}'
        f"{was}" + (f'<div class="why">{e(detail)}</div>' if detail else "") + "</li>"
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
        f"{_context_html(r.retrieved_context)}</td>"
        f'<td><ul class="judges">{judges}</ul></td></tr>'
    )


def _rows_section(rows: Sequence[RowResult], comparison: Comparison | None) -> str:
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


# ---- the page -----------------------------------------------------------------------------------
def render_html(
    document: Mapping[str, Any],
    rows: Sequence[RowResult],
    *,
    comparison: Comparison | None = None,
    history: Sequence[HistoryRun] = (),
) -> str:
    """The report page for one run (``document`` as in ``evaluation_results.json``; its
    ``metrics`` are used when present, else computed from ``rows``). ``history``: runs from
    :meth:`HistoryStore.runs` (any order; this run is added to the trend unless present)."""
    recorded = document.get("metrics")
    metrics: Mapping[str, Any] = (
        recorded if isinstance(recorded, Mapping) else compute_metrics(rows)
    )
    status = str(_mapping(document.get("verdict")).get("status") or "unknown")
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        _cards(metrics, rows),
        _thresholds(document),
    ]
    if comparison is not None:
        sections.append(_baseline(comparison))
    sections.append(_charts(document, metrics, rows, comparison, history))
    sections.append(_rows_section(rows, comparison))
    sections.append(
        f"<footer>Generated by pytest-genai-eval on {e(generated)}. Self-contained page: it "
        "loads nothing from the network.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>GenAI evaluation — {e(status.upper())}</title>"
        f"<style>{_CSS}</style></head><body>"
        + _header(document, rows)
        + "<main>"
        + "".join(sections)
        + f"</main><script>{_JS}</script></body></html>\n"
    )


def write_html(path: Path | str, text: str) -> Path:
    """Write the page atomically (readers never see half a file); parents are created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(target, text.encode("utf-8"))
    return target
