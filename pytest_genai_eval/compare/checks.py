"""The gate rules on the observed values: the paired test, each metric's tolerated drop and the
regression count, each as a :class:`~.model.RuleCheck` with a readable detail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..vocabulary import fmt_margin, fmt_value, metric_label
from .model import MetricDelta, PairedTest, RuleCheck
from .rules import RegressionRules, resolve_metric

_EPS = 1e-9


def _drop_check(
    alias: str, margin: float, deltas: Mapping[str, MetricDelta], rules: RegressionRules
) -> RuleCheck:
    name = resolve_metric(alias, deltas)
    delta = deltas.get(name)
    label = metric_label(name)
    if delta is None or delta.old is None or delta.new is None:
        return RuleCheck("max_drop", None, f"{label}: not in both runs; drop not checked", name)
    worse = delta.worsening or 0.0

    def show(value: float | None) -> str:
        return fmt_value(name, value, missing="n/a")

    verb = "rose" if delta.direction == "lower" else "fell"
    moved = (
        f"{label} {verb} from {show(delta.old)} to {show(delta.new)}"
        if worse > 0
        else f"{label}: {show(delta.old)} → {show(delta.new)}"
    )
    allowed = f"allowed {fmt_margin(name, margin)}"
    if worse <= margin + _EPS:
        return RuleCheck("max_drop", True, f"{moved} ({allowed})", name)
    if rules.drop_test == "wilson" and delta.is_rate and delta.new_ci is not None:
        high = delta.new_ci[1]
        limit = delta.old - margin
        ci = f"{100 * rules.confidence:.0f}% Wilson upper bound {show(high)}"
        if high >= limit - _EPS:
            return RuleCheck(
                "max_drop",
                True,
                f"{moved}, more than {allowed}, but within noise ({ci} >= {show(limit)})",
                name,
            )
        return RuleCheck(
            "max_drop",
            False,
            f"{moved}: beyond the {allowed} ({ci} < {show(limit)})",
            name,
        )
    return RuleCheck("max_drop", False, f"{moved}: more than {allowed}", name)


def _rule_checks(
    paired: PairedTest,
    deltas: Sequence[MetricDelta],
    regressions: int,
    rules: RegressionRules,
) -> list[RuleCheck]:
    checks: list[RuleCheck] = []
    if rules.alpha is not None:
        stats = f"b={paired.b} pass → fail, c={paired.c} fail → pass, {paired.paired} paired rows"
        p = paired.p_one_sided
        if paired.b + paired.c == 0:
            checks.append(RuleCheck("mcnemar", True, f"no row changed pass/fail ({stats})"))
        elif p < rules.alpha:
            checks.append(
                RuleCheck(
                    "mcnemar",
                    False,
                    f"pass rate dropped on paired rows: one-sided exact McNemar "
                    f"p = {p:.4g} < {rules.alpha:g} ({stats})",
                )
            )
        else:
            checks.append(
                RuleCheck(
                    "mcnemar",
                    True,
                    f"one-sided exact McNemar p = {p:.4g} >= {rules.alpha:g} ({stats})",
                )
            )
    by_name = {d.name: d for d in deltas}
    for alias, margin in rules.max_drop.items():
        checks.append(_drop_check(alias, float(margin), by_name, rules))
    if rules.max_regressions is not None:
        ok = regressions <= rules.max_regressions
        checks.append(
            RuleCheck(
                "max_regressions",
                ok,
                f"{regressions} row(s) regressed (pass → fail), {rules.max_regressions} allowed",
            )
        )
    return checks
