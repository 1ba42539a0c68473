"""Comparing a run with a baseline: :func:`compare` matches the rows, computes the metric
deltas, decides the gate rules (on the bounds when rows are unassessed in this run), checks the
two configurations and gives the verdict (see the package docstring for the rules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..document import RunDocument, as_document
from ..results import RowResult
from .bounds import _checks_on_bounds, _has_unassessed
from .changes import _paired_test, _row_changes
from .checks import _rule_checks
from .compatibility import _suite_names, compatibility
from .deltas import _metric_deltas, _metrics_of
from .model import Comparison, ComparisonVerdict, VerdictStatus
from .pairwise import PairwiseSummary, pairwise_check
from .rules import RegressionRules

__all__ = ("compare",)


def _summary(document: RunDocument, rows: Sequence[RowResult]) -> dict[str, Any]:
    return {
        "started_at": document.started_at,
        "finished_at": document.finished_at,
        "status": document.verdict.status if document.verdict is not None else None,
        "judge_model": document.judge_model,
        "suites": _suite_names(document, rows),
        "rows": len(rows),
        "source": document.source,
    }


def compare(
    baseline: tuple[RunDocument | Mapping[str, Any], Sequence[RowResult]],
    current: tuple[RunDocument | Mapping[str, Any], Sequence[RowResult]],
    rules: RegressionRules | None = None,
    pairwise: PairwiseSummary | None = None,
) -> Comparison:
    """Compare ``current`` with ``baseline``; each is ``(document, rows)`` as returned by
    :func:`load_baseline` / :func:`artifacts.load_results` (a document may also be its JSON
    form; its ``metrics`` are used when present, else computed from the rows). ``pairwise``: the
    ``pairwise_preference`` verdicts on the changed rows (``pairwise_run.py``), a gate rule
    at the baseline alpha (``compare/pairwise.py``)."""
    rules = rules if rules is not None else RegressionRules()
    (old_raw, old_rows), (new_raw, new_rows) = baseline, current
    old_doc, new_doc = as_document(old_raw), as_document(new_raw)
    changes = _row_changes(old_rows, new_rows)
    deltas = _metric_deltas(
        _metrics_of(old_doc, old_rows), _metrics_of(new_doc, new_rows), rules.confidence
    )
    paired = _paired_test(changes)
    regressions = sum(1 for c in changes if c.kind == "regression")
    checks = _rule_checks(paired, deltas, regressions, rules)
    new_metrics = _metrics_of(new_doc, new_rows)
    if _has_unassessed(changes, new_metrics):
        checks = _checks_on_bounds(
            checks, changes, paired, regressions, _metrics_of(old_doc, old_rows), new_metrics, rules
        )
    if pairwise is not None:
        checks.append(pairwise_check(pairwise, rules.alpha))
    problems, notes = compatibility((old_doc, old_rows), (new_doc, new_rows))

    failing = [c.detail for c in checks if c.passed is False]
    undecided = [c.detail for c in checks if c.undecidable]
    notes += [c.detail for c in checks if c.passed is None and not c.undecidable]
    status: VerdictStatus
    if problems and not rules.allow_incompatible:
        status = "incompatible"
        reasons = [f"baseline incompatible: {p}" for p in problems]
        notes += [f"would fail if gated: {f}" for f in failing]
        notes += [f"would be {u}" if u.startswith("undecidable") else u for u in undecided]
        notes.append(
            "not gated: update the baseline from this run, or allow incompatible baselines "
            "to gate anyway"
        )
    else:
        status = "failed" if failing else "undecidable" if undecided else "passed"
        reasons = failing + undecided
        notes += [f"baseline incompatible (gated anyway): {p}" for p in problems]
    summary = f"{regressions} regression(s), {paired.c} fix(es) on {paired.paired} paired row(s)"
    return Comparison(
        rules=rules,
        rows=tuple(changes),
        metrics=tuple(deltas),
        paired=paired,
        checks=tuple(checks),
        incompatible=tuple(problems),
        verdict=ComparisonVerdict(status, tuple(reasons), tuple(notes), summary),
        baseline=MappingProxyType(_summary(old_doc, old_rows)),
        current=MappingProxyType(_summary(new_doc, new_rows)),
        pairwise=MappingProxyType(pairwise.to_dict()) if pairwise is not None else None,
    )
