"""The metric vocabulary: names, kinds, parsing, labels, and how values and changes are shown.

Metric names follow Mosaic AI Agent Evaluation (``response/llm_judged/<judge>/rating/percentage``,
``agent/latency_seconds/p90``, ...). Every module that names, reads or shows a metric (the gate,
the comparison, the terminal summary, the Markdown and HTML reports, the CLI) uses this module,
so a metric reads the same everywhere.

Kinds: a **rate** is a share in [0, 1] (pass rates and their bounds and intervals, retrieval
precision and recall, judge agreement), shown as a percentage, its changes in points; a **cost**
is latency (seconds), tokens or estimated cost (``cost.py``), lower is better; a **count** is
everything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "ALIASES",
    "APP_ERRORS",
    "CHUNK_RELEVANCE_PRECISION",
    "DOCUMENT_RECALL",
    "ERRORS",
    "FLAKE_RATE",
    "JUDGED_PREFIXES",
    "JUDGE_ERRORS",
    "MIN_DETECTABLE_DROP",
    "OVERALL",
    "OVERALL_BASE",
    "OVERALL_RATING",
    "PREFIXES",
    "RATE_SUFFIX",
    "STALE_LABELS",
    "TOOL_CALL_AVERAGES",
    "TOOL_CALL_COUNT",
    "TOOL_CALL_PREFIX",
    "TURN_COUNT",
    "Direction",
    "MetricKind",
    "bound_names",
    "error_total",
    "fmt_ci",
    "fmt_delta",
    "fmt_margin",
    "fmt_number",
    "fmt_pct",
    "fmt_seconds",
    "fmt_value",
    "judge_of",
    "labelled_metric",
    "metric_direction",
    "metric_kind",
    "metric_label",
    "number",
    "parse_rate",
    "rate_base",
    "rate_metrics",
    "rate_name",
]

MetricKind = Literal["rate", "cost", "count"]
Direction = Literal["higher", "lower", "none"]

# ---- names ------------------------------------------------------------------------------------
OVERALL_BASE = "response/overall_assessment"
OVERALL_RATING = f"{OVERALL_BASE}/rating"
OVERALL = f"{OVERALL_RATING}/percentage"
RATE_SUFFIX = "/rating/percentage"

# Assessment kind -> metric prefix of its rates.
PREFIXES: Mapping[str, str] = MappingProxyType(
    {"llm": "response/llm_judged", "check": "response/check", "python": "response/custom"}
)
# The tool-call judge's family: tool_call_correctness is a check on rows with
# expected_tool_calls and an LLM judge on the others, one pass rate over both.
TOOL_CALL_PREFIX = "response/tool_call"
JUDGED_PREFIXES: tuple[str, ...] = (*PREFIXES.values(), TOOL_CALL_PREFIX)
_FAMILIES = "|".join(p.split("/", 1)[1] for p in JUDGED_PREFIXES)
_RATE = re.compile(rf"^response/({_FAMILIES})/(.+)/rating/percentage$")

CHUNK_RELEVANCE_PRECISION = "retrieval/llm_judged/chunk_relevance/precision/average"
DOCUMENT_RECALL = "retrieval/ground_truth/document_recall/average"
APP_ERRORS = "app/error_count"
JUDGE_ERRORS = "judge/error_count"
ERRORS = "errors"  # the threshold name for app + judge errors
LATENCY = "agent/latency_seconds"
TOOL_CALL_COUNT = "agent/tool_call_count/average"
TURN_COUNT = "conversation/turn_count/average"  # turns per conversation row
# Error bars and power (stats.py, error_bars.py), flakiness across repeats, human labels.
MIN_DETECTABLE_DROP = f"{OVERALL_RATING}/min_detectable_drop"
FLAKE_RATE = "judge/flake_rate"
STALE_LABELS = "judge/stale_label_count"
_TOOL_CALL_BASE = f"{TOOL_CALL_PREFIX}/tool_call_correctness"
# Tool-call precision, recall and F1 against expected_tool_calls (averages over rows).
TOOL_CALL_AVERAGES: tuple[str, ...] = tuple(
    f"{_TOOL_CALL_BASE}/{key}/average" for key in ("precision", "recall", "f1")
)

# Threshold and max-drop names -> metric names.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "overall": OVERALL,
        "pass_rate": OVERALL,
        "latency_avg": f"{LATENCY}/average",
        "latency_p50": f"{LATENCY}/p50",
        "latency_p90": f"{LATENCY}/p90",
        "latency_p99": f"{LATENCY}/p99",
        "latency_max": f"{LATENCY}/max",
        "tokens": "agent/total_token_count/average",
        "tokens_avg": "agent/total_token_count/average",
        "tokens_sum": "agent/total_token_count/sum",
        "judge_tokens": "judge/total_token_count/sum",
        "cost_avg": "agent/estimated_cost/average",
        "cost_sum": "agent/estimated_cost/sum",
        "judge_cost": "judge/estimated_cost/sum",
        "flaky": "judge/flaky_count",
        "flake_rate": FLAKE_RATE,
        "min_detectable_drop": MIN_DETECTABLE_DROP,
        "chunk_relevance": CHUNK_RELEVANCE_PRECISION,
        "document_recall": DOCUMENT_RECALL,
        "tool_call_precision": TOOL_CALL_AVERAGES[0],
        "tool_call_recall": TOOL_CALL_AVERAGES[1],
        "tool_call_f1": TOOL_CALL_AVERAGES[2],
        "tool_call_count": TOOL_CALL_COUNT,
        "turn_count": TURN_COUNT,
    }
)

_LABELS: Mapping[str, str] = MappingProxyType(
    {
        OVERALL: "overall pass rate",
        f"{LATENCY}/average": "latency average",
        f"{LATENCY}/p50": "latency p50",
        f"{LATENCY}/p90": "latency p90",
        f"{LATENCY}/p99": "latency p99",
        f"{LATENCY}/max": "latency max",
        "agent/total_token_count/average": "app tokens per row",
        "agent/total_token_count/sum": "app tokens total",
        "judge/total_token_count/sum": "judge tokens total",
        "agent/estimated_cost/average": "app cost per row (estimated)",
        "agent/estimated_cost/sum": "app cost total (estimated)",
        "judge/estimated_cost/sum": "judge cost total (estimated)",
        APP_ERRORS: "app errors",
        JUDGE_ERRORS: "judge errors",
        CHUNK_RELEVANCE_PRECISION: "chunk relevance precision",
        DOCUMENT_RECALL: "document recall",
        TOOL_CALL_AVERAGES[0]: "tool call precision",
        TOOL_CALL_AVERAGES[1]: "tool call recall",
        TOOL_CALL_AVERAGES[2]: "tool call F1",
        TOOL_CALL_COUNT: "tool calls per row",
        TURN_COUNT: "turns per conversation",
        MIN_DETECTABLE_DROP: "smallest detectable drop",
        FLAKE_RATE: "flaky share of repeated rows",
        STALE_LABELS: "stale human labels",
    }
)


# ---- parsing ----------------------------------------------------------------------------------
def parse_rate(name: str) -> tuple[str, str] | None:
    """``response/<family>/<judge>/rating/percentage`` -> ``(family, judge)``, else None."""
    match = _RATE.match(name)
    return (match.group(1), match.group(2)) if match else None


def labelled_metric(name: str) -> str | None:
    """A threshold on a judge's agreement with human labels: ``kappa/<judge>`` ->
    ``judge/<judge>/cohen_kappa``, ``human_agreement/<judge>`` -> ``judge/<judge>/human_agreement``;
    None for any other name."""
    for prefix, metric in (("kappa/", "cohen_kappa"), ("human_agreement/", "human_agreement")):
        if name.startswith(prefix) and len(name) > len(prefix):
            return f"judge/{name[len(prefix):]}/{metric}"
    return None


def bound_names(metric: str) -> tuple[str, str, str] | None:
    """``(unassessed count, pessimistic, optimistic)`` metric names of a metric the gate decides
    on bounds (pass rates; agreement and kappa with human labels), else None."""
    if metric.endswith(RATE_SUFFIX):
        base = rate_base(metric)
        return (
            f"{base}/unassessed_count",
            f"{base}/pessimistic_percentage",
            f"{base}/optimistic_percentage",
        )
    if metric.startswith("judge/") and metric.endswith(("/cohen_kappa", "/human_agreement")):
        judge = metric.rsplit("/", 1)[0]
        return (
            f"{judge}/human_label_unassessed_count",
            f"{metric}_pessimistic",
            f"{metric}_optimistic",
        )
    return None


def rate_name(family: str, judge: str) -> str:
    return f"response/{family}/{judge}{RATE_SUFFIX}"


def judge_of(name: str) -> str | None:
    """The judge or check a pass-rate metric belongs to, or None."""
    parsed = parse_rate(name)
    return parsed[1] if parsed else None


def rate_base(name: str) -> str:
    """``.../rating/percentage`` -> ``.../rating`` (where its count, interval and bounds live)."""
    return name[: -len("/percentage")] if name.endswith("/percentage") else name


def _is_rate(name: str) -> bool:
    return name.endswith(
        (
            "/rating/percentage",
            "/rating/pessimistic_percentage",
            "/rating/optimistic_percentage",
            "/rating/ci_low",
            "/rating/ci_high",
            "/precision/average",
            "/recall/average",
            "/f1/average",
            "/agreement/average",
            "/rating/standard_error",
            "/rating/clt_ci_low",
            "/rating/clt_ci_high",
            "/rating/min_detectable_drop",
            "/human_agreement",
            "/human_agreement_pessimistic",
            "/human_agreement_optimistic",
        )
    ) or name == FLAKE_RATE or (name.startswith("retrieval/") and name.endswith("/average"))


def metric_kind(name: str) -> MetricKind:
    if _is_rate(name):
        return "rate"
    if name.startswith(f"{LATENCY}/") or "token_count/" in name or "/estimated_cost/" in name:
        return "cost"
    return "count"


def metric_direction(name: str) -> Direction:
    """Which way is better: ``"higher"`` (rates, scores, passes), ``"lower"`` (costs, errors,
    failures, flaky rows, root causes, unassessed rows) or ``"none"`` (plain counts)."""
    if name.endswith(("/standard_error", "/min_detectable_drop")) or name == FLAKE_RATE:
        return "lower"  # narrower error bars, finer power, fewer flaky rows
    if name.endswith(("/cohen_kappa", "/cohen_kappa_pessimistic", "/cohen_kappa_optimistic")):
        return "higher"
    if metric_kind(name) == "rate" or name.endswith("/score/average") or name == "rows/pass_count":
        return "higher"
    if metric_kind(name) == "cost" or name == "judge/flaky_count":
        return "lower"
    if name.endswith(("error_count", "unassessed_count")) or name in ("rows/fail_count", STALE_LABELS):
        return "lower"
    if name.startswith(f"{OVERALL_BASE}/root_cause/") and name.endswith("/count"):
        return "lower"
    return "none"


def metric_label(name: str) -> str:
    """A short, readable name: ``overall pass rate``, ``correctness pass rate``, ``latency
    p90``, or the name itself."""
    if name in _LABELS:
        return _LABELS[name]
    judge = judge_of(name)
    return f"{judge} pass rate" if judge else name


def rate_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, metric name)`` for a pass-rate table: overall first, then each judge and check
    by name (checks and custom judges marked), then the retrieval and tool-call averages
    present."""
    out = [("overall", OVERALL)]
    found = sorted({parsed for key in metrics if (parsed := parse_rate(key))}, key=lambda p: p[1])
    for family, judge in found:
        label = judge if family in ("llm_judged", "tool_call") else f"{judge} ({family})"
        out.append((label, rate_name(family, judge)))
    out += [
        (metric_label(key), key)
        for key in (CHUNK_RELEVANCE_PRECISION, DOCUMENT_RECALL, *TOOL_CALL_AVERAGES)
        if key in metrics
    ]
    return out


def error_total(metrics: Mapping[str, Any]) -> int:
    """App errors plus judge errors: what the ``errors`` threshold counts."""
    return int(metrics.get(APP_ERRORS) or 0) + int(metrics.get(JUDGE_ERRORS) or 0)


# ---- values -----------------------------------------------------------------------------------
def number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, NaN, bools, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def fmt_pct(value: Any, digits: int = 1, missing: str = "—") -> str:
    n = number(value)
    return missing if n is None else f"{100 * n:.{digits}f}%"


def fmt_seconds(value: Any, missing: str = "—") -> str:
    n = number(value)
    return missing if n is None else f"{n:.2f}s"


def fmt_number(value: Any, missing: str = "—") -> str:
    n = number(value)
    return missing if n is None else f"{n:.4g}"


def fmt_value(name: str, value: Any, missing: str = "—") -> str:
    """A metric's value as people read it: rates as percentages, latency in seconds, counts
    as integers."""
    n = number(value)
    if n is None:
        return missing
    kind = metric_kind(name)
    if kind == "rate":
        return fmt_pct(n)
    if name.startswith(f"{LATENCY}/"):
        return fmt_seconds(n)
    return f"{int(n)}" if n.is_integer() else f"{n:.4g}"


def fmt_ci(low: Any, high: Any, *, brackets: bool = False) -> str:
    """``52–92%`` (or ``[52–92%]``); empty when the interval is unknown."""
    lo, hi = number(low), number(high)
    if lo is None or hi is None:
        return ""
    text = f"{100 * lo:.0f}–{100 * hi:.0f}%"
    return f"[{text}]" if brackets else text


def fmt_delta(name: str, delta: Any, *, typographic: bool = False) -> str:
    """A change: rates in points (``+2.5 pts``), latency in seconds, others as numbers.
    ``typographic``: a true minus sign and ``±0.0`` for no change (HTML, Markdown)."""
    d = number(delta)
    if d is None:
        return "—"
    rate = metric_kind(name) == "rate"
    latency = name.startswith(f"{LATENCY}/")
    shown = 100 * d if rate else d  # what the text below shows, to its last digit
    if typographic and abs(shown) < (0.05 if rate else 0.005 if latency else 1e-12):
        return "±0.0 pts" if rate else "±0.00s" if latency else "±0"
    if rate:
        text = f"{100 * d:+.1f} pts"
    elif latency:
        text = f"{d:+.2f}s"
    else:
        text = f"{d:+.4g}"
    return text.replace("-", "−") if typographic else text


def fmt_margin(name: str, margin: float) -> str:
    """A tolerated change: ``5 points`` for rates, ``0.5s`` for latency, the number otherwise."""
    if metric_kind(name) == "rate":
        return f"{100 * margin:.4g} points"
    return f"{margin:.4g}s" if name.startswith(f"{LATENCY}/") else f"{margin:.4g}"
