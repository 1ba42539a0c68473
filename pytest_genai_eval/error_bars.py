"""Error bars and power for every pass rate (Miller, "Adding Error Bars to Evals", 2024).

Each rated row scores 1 (yes) or 0 (no); a rate is their mean. For every ``<base>/rating``
(the overall assessment and every judge and check):

* ``<base>/rating/standard_error`` and the normal 95% interval ``clt_ci_low`` / ``clt_ci_high``
  (clamped to [0, 1]); the Wilson interval ``ci_low`` / ``ci_high`` stays what the baseline rules
  use;
* when a suite names a cluster column (the suite key ``cluster``), rows sharing its value are one
  cluster and the standard error is cluster-robust (``stats.clustered_estimate``);
  ``<base>/rating/cluster_count`` says how many clusters there were. Rows of suites without a
  cluster column, and rows without a value in it, are each their own cluster;
* for the overall rate, ``response/overall_assessment/rating/min_detectable_drop``: the smallest
  drop a comparison of two runs like this one detects at alpha 0.05 with power 0.8
  (``stats.min_detectable_drop``), on the effective number of rows when clustered
  (``rate * (1 - rate) / SE^2``).

Unassessed rows are not scores: they never move a rate, nor its error bars.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

from .results import Assessment, RowResult
from .stats import MeanEstimate, clustered_estimate, mean_estimate, min_detectable_drop
from .vocabulary import MIN_DETECTABLE_DROP, OVERALL_RATING

__all__ = ["cluster_of", "error_bar_metrics"]

MetricValue = float | int | None


def cluster_of(result: RowResult, clusters: Mapping[str, str | None]) -> Hashable:
    """The row's cluster: ``(suite, value)`` of its suite's cluster column, else the row."""
    column = clusters.get(result.suite)
    value = result.row.get(column) if column else None
    if value is None or value == "":
        return ("row", result.suite, result.request_id)
    return ("cluster", result.suite, str(value))


def _estimate(
    scores: Sequence[float], ids: Sequence[Hashable], clustered: bool
) -> MeanEstimate | None:
    return clustered_estimate(scores, ids) if clustered else mean_estimate(scores)


def _bars(
    base: str, scores: Sequence[float], ids: Sequence[Hashable], clustered: bool
) -> dict[str, MetricValue]:
    estimate = _estimate(scores, ids, clustered)
    out: dict[str, MetricValue] = {
        f"{base}/standard_error": estimate.standard_error if estimate else None,
        f"{base}/clt_ci_low": max(0.0, estimate.low) if estimate else None,
        f"{base}/clt_ci_high": min(1.0, estimate.high) if estimate else None,
    }
    if clustered:
        out[f"{base}/cluster_count"] = len(set(ids))
    return out


def _power(estimate: MeanEstimate | None, clustered: bool) -> float | None:
    """The smallest detectable drop of the overall rate; clustered rows count as the effective
    number of independent rows, ``rate * (1 - rate) / SE^2`` (never more than the rows)."""
    if estimate is None:
        return None
    rate, n = estimate.mean, estimate.n
    spread = rate * (1.0 - rate)
    if clustered and estimate.standard_error > 0 and spread > 0:
        n = max(1, min(n, round(spread / estimate.standard_error**2)))
    return min_detectable_drop(rate, n)


def error_bar_metrics(
    results: Sequence[RowResult],
    clusters: Mapping[str, str | None] | None,
    base_of: Callable[[Assessment], str | None],
) -> dict[str, MetricValue]:
    """The error-bar metrics of the overall rate and of every assessment's rate; ``base_of``
    gives an assessment's ``<prefix>/<name>`` (None: it has no pass rate)."""
    clusters = clusters or {}
    clustered = any(clusters.get(r.suite) for r in results)
    ids = {r.key: cluster_of(r, clusters) for r in results}
    series: dict[str, tuple[list[float], list[Hashable]]] = {OVERALL_RATING: ([], [])}
    for result in results:
        if result.status in ("pass", "fail"):
            series[OVERALL_RATING][0].append(1.0 if result.status == "pass" else 0.0)
            series[OVERALL_RATING][1].append(ids[result.key])
        for a in result.assessments:
            base = base_of(a)
            if base is None or a.rating not in ("yes", "no"):
                continue
            scores, cluster_ids = series.setdefault(f"{base}/rating", ([], []))
            scores.append(1.0 if a.rating == "yes" else 0.0)
            cluster_ids.append(ids[result.key])
    out: dict[str, MetricValue] = {}
    for base, (scores, cluster_ids) in series.items():
        out.update(_bars(base, scores, cluster_ids, clustered))
    overall_scores, overall_ids = series[OVERALL_RATING]
    out[MIN_DETECTABLE_DROP] = _power(
        _estimate(overall_scores, overall_ids, clustered), clustered
    )
    return out
