"""From row results to metrics and a verdict: shared by a pytest run and by `genai-eval merge`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .cost import PriceTable, cost_notes
from .gate import GateResult, SuiteOutcome, Threshold, decide
from .metrics import compute_metrics
from .results import RowResult


@dataclass
class RunOutcome:
    metrics: dict[str, Any]
    suite_metrics: dict[str, dict[str, Any]]
    gate: GateResult


def not_run_count(results: Sequence[RowResult]) -> int:
    return sum(1 for r in results for a in r.assessments if a.not_run)


def evaluate_run(
    results: Sequence[RowResult],
    *,
    suite_thresholds: Mapping[str, Sequence[Threshold]],
    run_thresholds: Sequence[Threshold],
    other_failures: int = 0,
    interrupted: bool | str = False,
    partial: str | None = None,
    prices: PriceTable | None = None,
    clusters: Mapping[str, str | None] | None = None,
) -> RunOutcome:
    """``clusters``: suite -> its cluster column (the suite key ``cluster``; error bars)."""
    metrics = compute_metrics(results, prices, clusters)
    by_suite: dict[str, list[RowResult]] = {}
    for result in results:
        by_suite.setdefault(result.suite, []).append(result)
    suite_metrics = {
        name: compute_metrics(rows, prices, clusters) for name, rows in by_suite.items()
    }
    outcomes = [
        SuiteOutcome(
            name=name,
            thresholds=list(suite_thresholds.get(name, [])),
            results=rows,
            metrics=suite_metrics[name],
        )
        for name, rows in by_suite.items()
    ]
    gate = decide(
        outcomes,
        run_thresholds=run_thresholds,
        run_metrics=metrics,
        other_failures=other_failures,
        interrupted=interrupted,
        partial=partial,
        not_run=not_run_count(results),
    )
    gate.notes += cost_notes(results, prices)  # a cost that could not be estimated, and why
    return RunOutcome(metrics, suite_metrics, gate)
