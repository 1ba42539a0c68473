"""Aggregate metrics over row results, named like Mosaic AI Agent Evaluation's metrics.

``compute_metrics`` turns a list of :class:`RowResult` into a flat ``{name: value}`` mapping, e.g.
``response/llm_judged/correctness/rating/percentage``, ``agent/latency_seconds/p90``,
``retrieval/llm_judged/chunk_relevance/precision/average``. A metric whose input is absent
(no rated rows, no latency recorded...) is present with the value ``None``.

Every rate ``<base>/rating/percentage`` counts the rated rows only (``yes / (yes + no)``, as Agent
Evaluation does). Rows that could not be assessed (an app error, a judge error, a row deadline)
are counted in ``<base>/rating/unassessed_count`` and bound the rate:
``<base>/rating/pessimistic_percentage`` assumes every unassessed row failed,
``<base>/rating/optimistic_percentage`` that every one passed. The gate decides thresholds on
these bounds, so an outage can never move a verdict. An app error (or a row that hit its
deadline) leaves every judge of its suite unassessed on that row.

Judge panels and repeats add ``judge/<name>/agreement/average`` (mean share of votes agreeing
with the final rating, only for assessments that were voted on) and ``judge/flaky_count`` (rows
with at least one assessment whose votes disagreed; always present). Numeric custom judges add
``<prefix>/<name>/score/average``.

Agents: ``agent/tool_call_count/average`` over the rows whose output carries tool calls, and
``response/tool_call/tool_call_correctness/precision|recall|f1/average`` over the rows compared
with ``expected_tool_calls`` (numbers a built-in judge puts in its details, declared by its
catalog entry's ``averages``). Each is present only when some row has it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_genai_eval.calibration import calibration_metrics
from pytest_genai_eval.cost import PriceTable, cost_metrics
from pytest_genai_eval.error_bars import error_bar_metrics
from pytest_genai_eval.judge_catalog import builtin
from pytest_genai_eval.results import Assessment, RowResult
from pytest_genai_eval.stats import percentile, wilson_interval
from pytest_genai_eval.vocabulary import (
    APP_ERRORS,
    FLAKE_RATE,
    JUDGE_ERRORS,
    OVERALL_BASE,
    PREFIXES,
    TOOL_CALL_COUNT,
    TURN_COUNT,
    metric_direction,
)

__all__ = (
    "MetricValue",
    "assessment_prefix",
    "compute_metrics",
    "detail_columns",
    "is_flaky",
    "metric_direction",
    "per_suite_metrics",
    "retrieval_value_column",
    "score_column",
)

MetricValue = float | int | None

def assessment_prefix(assessment: Assessment) -> str:
    """Metric/column prefix for an assessment: ``response/llm_judged`` / ``response/check`` /
    ``response/custom`` by kind, or the judge's own prefix (the retrieval judges)."""
    meta = builtin(assessment.judge)
    if meta is not None and meta.prefix is not None:
        return meta.prefix
    return PREFIXES.get(assessment.kind, PREFIXES["python"])


def retrieval_value_column(assessment: Assessment) -> str | None:
    """Per-row numeric column of a judge whose metric averages a per-row value
    (``.../chunk_relevance/precision``, ``.../document_recall``), or ``None``."""
    meta = builtin(assessment.judge)
    if meta is None or meta.value is None:
        return None
    column = f"{assessment_prefix(assessment)}/{assessment.name}"
    return f"{column}/{meta.value}" if meta.value else column


def detail_columns(assessment: Assessment) -> dict[str, float]:
    """Per-row numeric columns from an assessment's details, for the built-in judges that
    declare them (``averages``): ``response/tool_call/tool_call_correctness/precision`` -> 1.0."""
    meta = builtin(assessment.judge)
    if meta is None or not meta.averages:
        return {}
    base = f"{assessment_prefix(assessment)}/{assessment.name}"
    out: dict[str, float] = {}
    for key in meta.averages:
        value = assessment.details.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[f"{base}/{key}"] = float(value)
    return out


def is_flaky(assessment: Assessment) -> bool:
    """True when the assessment was voted on (panel/repeat) and the votes disagreed."""
    return bool(assessment.details.get("flaky"))


def score_column(assessment: Assessment) -> str | None:
    """Per-row numeric score column of a non-retrieval assessment that has a value (numeric
    custom judges): ``<prefix>/<name>/score``; None otherwise."""
    if _is_retrieval(assessment) or assessment.value is None:
        return None
    return f"{assessment_prefix(assessment)}/{assessment.name}/score"


def _is_retrieval(assessment: Assessment) -> bool:
    return retrieval_value_column(assessment) is not None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass
class _RatingTally:
    yes: int = 0
    no: int = 0


def _rating_metrics(prefix: str, yes: int, no: int, unassessed: int = 0) -> dict[str, MetricValue]:
    n = yes + no
    low, high = wilson_interval(yes, n)
    rated = n > 0
    total = n + unassessed
    return {
        f"{prefix}/rating/percentage": yes / n if rated else None,
        f"{prefix}/rating/count": n,
        f"{prefix}/rating/ci_low": low if rated else None,
        f"{prefix}/rating/ci_high": high if rated else None,
        f"{prefix}/rating/unassessed_count": unassessed,
        f"{prefix}/rating/pessimistic_percentage": yes / total if total else None,
        f"{prefix}/rating/optimistic_percentage": (yes + unassessed) / total if total else None,
    }


def _unassessed_by_name(results: Sequence[RowResult]) -> dict[str, int]:
    """Per assessment name, the rows it could not assess: its own errors, plus every row of its
    suite whose app call failed (or that hit its deadline) before any judge could run."""
    counts: dict[str, int] = {}
    names_by_suite: dict[str, set[str]] = {}
    app_errors: dict[str, list[RowResult]] = {}
    for result in results:
        names = names_by_suite.setdefault(result.suite, set())
        for a in result.assessments:
            if retrieval_value_column(a) is not None:
                continue
            names.add(a.name)
            if a.error is not None:
                counts[a.name] = counts.get(a.name, 0) + 1
        if result.app_error is not None:
            app_errors.setdefault(result.suite, []).append(result)
    for suite, failed_rows in app_errors.items():
        for name in names_by_suite.get(suite, ()):
            for result in failed_rows:
                if not any(a.name == name and a.error is not None for a in result.assessments):
                    counts[name] = counts.get(name, 0) + 1
    return counts


def _rate_base(assessment: Assessment) -> str | None:
    if _is_retrieval(assessment):
        return None
    return f"{assessment_prefix(assessment)}/{assessment.name}"


def compute_metrics(
    results: Sequence[RowResult],
    prices: PriceTable | None = None,
    clusters: Mapping[str, str | None] | None = None,
) -> dict[str, MetricValue]:
    """All aggregate metrics for ``results`` (see the module docstring for the naming); with a
    price table, the estimated-cost metrics too (``cost.py``); error bars for every rate
    (``error_bars.py``; ``clusters``: suite -> the column whose value clusters its rows) and,
    when rows carry human labels, each judge's agreement with them (``calibration.py``)."""
    metrics: dict[str, MetricValue] = {}
    statuses = [r.status for r in results]
    passed = statuses.count("pass")
    failed = statuses.count("fail")

    # ---- rows and the overall assessment ----------------------------------------------------
    metrics["rows/count"] = len(results)
    metrics["rows/pass_count"] = passed
    metrics["rows/fail_count"] = failed
    metrics["rows/error_count"] = statuses.count("error")
    metrics["rows/skipped_count"] = statuses.count("skipped")
    metrics.update(_rating_metrics(OVERALL_BASE, passed, failed, statuses.count("error")))
    root_causes: dict[str, int] = {}
    for result in results:
        cause = result.root_cause
        if cause is not None:
            root_causes[cause.name] = root_causes.get(cause.name, 0) + 1
    for name, count in root_causes.items():
        metrics[f"{OVERALL_BASE}/root_cause/{name}/count"] = count

    # ---- per assessment ---------------------------------------------------------------------
    assessments = [a for r in results for a in r.assessments]
    tallies: dict[tuple[str, str], _RatingTally] = {}
    judge_errors: dict[str, int] = {}
    judge_skips: dict[str, int] = {}
    judge_not_run: dict[str, int] = {}
    retrieval_values: dict[str, list[float]] = {}
    scores: dict[str, list[float]] = {}
    agreements: dict[str, list[float]] = {}
    details: dict[str, list[float]] = {}
    for a in assessments:
        for detail, number in detail_columns(a).items():
            details.setdefault(detail, []).append(number)
        agreement = a.details.get("agreement")
        if isinstance(agreement, (int, float)) and not isinstance(agreement, bool):
            agreements.setdefault(a.name, []).append(float(agreement))
        score = score_column(a)
        if score is not None and a.value is not None and math.isfinite(a.value):
            scores.setdefault(score, []).append(float(a.value))
        judge_errors.setdefault(a.name, 0)
        judge_skips.setdefault(a.name, 0)
        judge_not_run.setdefault(a.name, 0)
        if a.error is not None:
            judge_errors[a.name] += 1
        if a.skipped is not None:
            judge_skips[a.name] += 1
        if a.not_run:
            judge_not_run[a.name] += 1
        column = retrieval_value_column(a)
        if column is not None:
            values = retrieval_values.setdefault(column, [])
            if a.value is not None and math.isfinite(a.value):
                values.append(float(a.value))
            continue
        tally = tallies.setdefault((assessment_prefix(a), a.name), _RatingTally())
        if a.rating == "yes":
            tally.yes += 1
        elif a.rating == "no":
            tally.no += 1
    unassessed = _unassessed_by_name(results)
    for (prefix, name), tally in tallies.items():
        metrics.update(
            _rating_metrics(f"{prefix}/{name}", tally.yes, tally.no, unassessed.get(name, 0))
        )
    for column, values in retrieval_values.items():
        metrics[f"{column}/average"] = _mean(values)
    for column, values in scores.items():
        metrics[f"{column}/average"] = _mean(values)
    for detail, values in details.items():
        metrics[f"{detail}/average"] = _mean(values)
    for name, values in agreements.items():
        metrics[f"judge/{name}/agreement/average"] = _mean(values)
    metrics["judge/flaky_count"] = sum(
        1 for r in results if any(is_flaky(a) for a in r.assessments)
    )
    for name in judge_errors:
        metrics[f"judge/{name}/error_count"] = judge_errors[name]
        metrics[f"judge/{name}/skipped_count"] = judge_skips[name]
        metrics[f"judge/{name}/not_run_count"] = judge_not_run[name]

    # ---- errors -----------------------------------------------------------------------------
    metrics[APP_ERRORS] = sum(1 for r in results if r.app_error is not None)
    metrics[JUDGE_ERRORS] = sum(1 for a in assessments if a.error is not None)

    # ---- latency ----------------------------------------------------------------------------
    latencies = [
        float(r.latency_seconds)
        for r in results
        if r.latency_seconds is not None and math.isfinite(r.latency_seconds)
    ]
    metrics["agent/latency_seconds/average"] = _mean(latencies)
    metrics["agent/latency_seconds/p50"] = percentile(latencies, 50)
    metrics["agent/latency_seconds/p90"] = percentile(latencies, 90)
    metrics["agent/latency_seconds/p99"] = percentile(latencies, 99)
    metrics["agent/latency_seconds/max"] = max(latencies) if latencies else None

    # ---- tokens -----------------------------------------------------------------------------
    usages = [r.app_usage for r in results if r.app_usage is not None]
    totals = [u.total_tokens for u in usages]
    metrics["agent/total_token_count/average"] = _mean([float(t) for t in totals])
    metrics["agent/input_token_count/average"] = _mean([float(u.prompt_tokens) for u in usages])
    metrics["agent/output_token_count/average"] = _mean(
        [float(u.completion_tokens) for u in usages]
    )
    metrics["agent/total_token_count/sum"] = sum(totals) if usages else None
    metrics["judge/total_token_count/sum"] = sum(a.usage.total_tokens for a in assessments)
    metrics["judge/input_token_count/sum"] = sum(a.usage.prompt_tokens for a in assessments)
    metrics["judge/output_token_count/sum"] = sum(a.usage.completion_tokens for a in assessments)

    # ---- tool calls (only when some row's output carries them) --------------------------------
    calls = [len(r.tool_calls) for r in results if r.tool_calls is not None]
    if calls:
        metrics[TOOL_CALL_COUNT] = _mean([float(c) for c in calls])

    # ---- conversations (only when some row is one; judges count conversation rows) ----------
    turns = [len(r.turns) for r in results if r.turns]  # conversations that were played
    if turns:
        metrics[TURN_COUNT] = _mean([float(t) for t in turns])

    # ---- judge cache ------------------------------------------------------------------------
    llm = [a for a in assessments if a.kind == "llm"]
    metrics["judge/cache_hit_count"] = sum(1 for a in llm if a.cached)
    metrics["judge/call_count"] = sum(
        1 for a in llm if not a.cached and (a.rating is not None or a.error is not None)
    )
    if prices is not None:
        metrics.update(cost_metrics(results, prices))
    metrics.update(error_bar_metrics(results, clusters, _rate_base))
    voted = [r for r in results if any("votes" in a.details for a in r.assessments)]
    if voted:  # repeats and panels: the share of voted rows whose votes disagreed
        flaky = sum(1 for r in voted if any(is_flaky(a) for a in r.assessments))
        metrics[FLAKE_RATE] = flaky / len(voted)
    metrics.update(calibration_metrics(results))
    return metrics


def per_suite_metrics(
    results: Iterable[RowResult],
    prices: PriceTable | None = None,
    clusters: Mapping[str, str | None] | None = None,
) -> dict[str, dict[str, MetricValue]]:
    """``compute_metrics`` per ``RowResult.suite``, suites in first-seen order."""
    groups: dict[str, list[RowResult]] = {}
    for result in results:
        groups.setdefault(result.suite, []).append(result)
    return {suite: compute_metrics(rows, prices, clusters) for suite, rows in groups.items()}
