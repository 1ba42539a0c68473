"""The gate rules when rows are unassessed in this run: each rule decided on the bounds (every
unassessed row failed / every one passed); what holds either way is decided, the rest is
undecidable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..stats import exact_mcnemar, mcnemar_one_sided_drop
from ..vocabulary import RATE_SUFFIX as _RATE_SUFFIX
from ..vocabulary import number
from .checks import _rule_checks
from .deltas import _metric_deltas
from .model import PairedTest, RowChange, RuleCheck
from .rules import RegressionRules


def _has_unassessed(changes: Sequence[RowChange], metrics: Mapping[str, Any]) -> bool:
    if any(c.new_status == "error" and c.old_status in ("pass", "fail") for c in changes):
        return True
    return any(
        name.endswith("/rating/unassessed_count") and (number(value) or 0) > 0
        for name, value in metrics.items()
    )


def _bound_metrics(metrics: Mapping[str, Any], which: Literal["pessimistic", "optimistic"]) -> dict[str, Any]:
    """The metrics as if every unassessed row had failed (pessimistic) or passed (optimistic):
    each rate becomes its bound, counted over the rated and the unassessed rows."""
    out = dict(metrics)
    for name in metrics:
        if not name.endswith(_RATE_SUFFIX):
            continue
        base = name[: -len("/percentage")]
        unassessed = number(metrics.get(f"{base}/unassessed_count")) or 0.0
        bound = number(metrics.get(f"{base}/{which}_percentage"))
        if unassessed <= 0 or bound is None:
            continue
        out[name] = bound
        out[f"{base}/count"] = (number(metrics.get(f"{base}/count")) or 0.0) + unassessed
    return out


def _paired_bound(
    paired: PairedTest, to_fail: int, to_pass: int
) -> PairedTest:
    b, c = paired.b + to_fail, paired.c + to_pass
    return PairedTest(
        paired=paired.paired + to_fail + to_pass,
        b=b,
        c=c,
        p_one_sided=mcnemar_one_sided_drop(b, c),
        p_two_sided=exact_mcnemar(b, c),
    )


def _checks_on_bounds(
    observed: Sequence[RuleCheck],
    changes: Sequence[RowChange],
    paired: PairedTest,
    regressions: int,
    old_metrics: Mapping[str, Any],
    new_metrics: Mapping[str, Any],
    rules: RegressionRules,
) -> list[RuleCheck]:
    """Each rule decided twice: with every row unassessed in this run counted as a failure
    (pessimistic) and as a pass (optimistic). Holds pessimistically: passed; fails even
    optimistically: failed; otherwise undecidable."""
    was_pass = sum(1 for c in changes if c.new_status == "error" and c.old_status == "pass")
    was_fail = sum(1 for c in changes if c.new_status == "error" and c.old_status == "fail")
    worst = _rule_checks(
        # unassessed rows that passed before all regress; those that failed stay failing
        _paired_bound(paired, was_pass, 0),
        _metric_deltas(old_metrics, _bound_metrics(new_metrics, "pessimistic"), rules.confidence),
        regressions + was_pass,
        rules,
    )
    best = _rule_checks(
        # unassessed rows that failed before are all fixed; those that passed still pass
        _paired_bound(paired, 0, was_fail),
        _metric_deltas(old_metrics, _bound_metrics(new_metrics, "optimistic"), rules.confidence),
        regressions,
        rules,
    )
    out = []
    for check, low, high in zip(observed, worst, best, strict=True):
        if low.passed is True:
            out.append(
                RuleCheck(check.rule, True, f"{low.detail} (even if every unassessed row failed)", check.metric)
            )
        elif high.passed is False:
            out.append(
                RuleCheck(check.rule, False, f"{high.detail} (even if every unassessed row passed)", check.metric)
            )
        elif low.passed is None and high.passed is None:
            out.append(check)
        else:
            out.append(
                RuleCheck(
                    check.rule,
                    None,
                    f"undecidable: if every unassessed row failed: {low.detail}; "
                    f"if every one passed: {high.detail}",
                    check.metric,
                    undecidable=True,
                )
            )
    return out
