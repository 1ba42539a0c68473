"""Thresholds and the build verdict.

Rules (also in README.md, "The gate"):

* A suite without a pass-rate threshold is strict: any failing row fails the build.
* A pass-rate threshold below 100% (``overall`` or per judge) makes failures of what it covers
  tolerated row by row: the item is reported as xfailed, and the threshold decides at the end.
* Judge or app errors are not quality failures. They are counted apart and allowed up to the
  ``errors`` threshold (default 0); beyond it the run exits with ``EXIT_EVALUATION_ERRORS``.
* Errors never move a rate. A pass-rate threshold is decided on bounds: pessimistic (every
  unassessed row failed) and optimistic (every one passed). Met pessimistically: met. Missed
  even optimistically: missed (a quality failure). Otherwise it is undecidable, which exits with
  ``EXIT_EVALUATION_ERRORS`` like an error does: the evaluation could not produce a verdict.
* A quality failure (strict row failure, missed threshold) wins over errors: exit 1.
* A threshold with no data at all is undecidable too, unless LLM judges were not run because no
  judge is configured: then the verdict is INCOMPLETE with exit 0 (``--genai-require-judge``
  makes a missing judge a usage error instead).
* An interrupted run (SIGINT, SIGTERM) is INTERRUPTED, exit 2, whatever its rows say.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ConfigurationError
from .results import RowResult
from .vocabulary import (
    ALIASES,
    ERRORS,
    JUDGED_PREFIXES,
    OVERALL,
    OVERALL_BASE,
    OVERALL_RATING,
    PREFIXES,
    RATE_SUFFIX,
    STALE_LABELS,
    bound_names,
    error_total,
    fmt_number,
    judge_of,
    labelled_metric,
    metric_direction,
    number,
)

EXIT_OK = 0
EXIT_QUALITY_FAILED = 1
EXIT_INTERRUPTED = 2
EXIT_INTERNAL_ERROR = 3
EXIT_USAGE_ERROR = 4
EXIT_NO_TESTS = 5
EXIT_EVALUATION_ERRORS = 6

Op = Literal[">=", "<=", ">", "<"]
_OPS: tuple[Op, ...] = (">=", "<=", ">", "<")
_THRESHOLD_RE = re.compile(r"^\s*([^<>=\s]+)\s*(>=|<=|>|<|=)\s*(.+?)\s*$")

GateStatus = Literal[
    "passed", "failed", "errors", "undecidable", "incomplete", "interrupted", "empty"
]
CheckStatus = Literal["pass", "fail", "undecidable", "no data"]


class ThresholdError(ConfigurationError, ValueError):
    pass


@dataclass(frozen=True)
class Threshold:
    """``name op value``; ``name`` is a metric name or an alias (``overall``, a judge name, ...)."""

    name: str
    value: float
    op: Op | None = None  # None: by the metric's direction (>= for rates, <= for costs)
    origin: str = ""

    def metric(self, metrics: Mapping[str, Any]) -> str:
        if self.name == ERRORS:
            return ERRORS
        if self.name in ALIASES:
            return ALIASES[self.name]
        labelled = labelled_metric(self.name)  # kappa/<judge>, human_agreement/<judge>
        if labelled is not None:
            return labelled
        if self.name.count("/") >= 2:
            return self.name
        for prefix in JUDGED_PREFIXES:
            candidate = f"{prefix}/{self.name}{RATE_SUFFIX}"
            if candidate in metrics:
                return candidate
        return f"{PREFIXES['llm']}/{self.name}{RATE_SUFFIX}"

    def operator(self, metric: str) -> Op:
        if self.op is not None:
            return self.op
        if metric == ERRORS:
            return "<="
        return "<=" if metric_direction(metric) == "lower" else ">="

    def describe(self, metrics: Mapping[str, Any] | None = None) -> str:
        metric = self.metric(metrics or {})
        return f"{self.name} {self.operator(metric)} {fmt_number(self.value)}"

    @property
    def is_pass_rate(self) -> bool:
        metric = self.metric({})
        return metric.endswith(RATE_SUFFIX)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "value": self.value, "origin": self.origin}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Threshold:
        return cls(
            name=str(data["name"]),
            value=float(data["value"]),
            op=_as_op(str(data.get("op"))) if data.get("op") else None,
            origin=str(data.get("origin", "")),
        )


def _parse_value(raw: Any, where: str) -> float:
    if isinstance(raw, bool):
        raise ThresholdError(f"{where}: expected a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = str(raw).strip()
        percent = text.endswith("%")
        try:
            value = float(text.rstrip("%").strip())
        except ValueError:
            raise ThresholdError(f"{where}: expected a number, got {raw!r}") from None
        if percent:
            value /= 100.0
    if math.isnan(value):
        raise ThresholdError(f"{where}: NaN is not a threshold")
    return value


def _as_op(text: str) -> Op | None:
    for op in _OPS:
        if text == op:
            return op
    return None


def parse_threshold(text: str, origin: str) -> Threshold:
    """``overall=0.9``, ``correctness>=90%``, ``errors<=2``, ``latency_p90<=3.5``."""
    match = _THRESHOLD_RE.match(text)
    if not match:
        raise ThresholdError(
            f"{origin}: cannot read threshold {text!r}; expected NAME=VALUE or NAME<=VALUE"
        )
    name, op, raw = match.groups()
    value = _parse_value(raw, f"{origin}: threshold {name!r}")
    return Threshold(name=name, value=value, op=_as_op(op), origin=origin)


def parse_threshold_mapping(mapping: Mapping[str, Any], origin: str) -> list[Threshold]:
    """A suite file's ``thresholds:`` mapping: ``{overall: 0.9, errors: "<= 2"}``."""
    out = []
    for name, raw in mapping.items():
        if isinstance(raw, str) and raw.strip()[:1] in ("<", ">", "="):
            out.append(parse_threshold(f"{name}{raw.strip()}", origin))
        else:
            where = f"{origin}: threshold {name!r}"
            out.append(Threshold(name=str(name), value=_parse_value(raw, where), origin=origin))
    return out


_RATING_SUFFIXES = (
    "percentage",
    "count",
    "ci_low",
    "ci_high",
    "unassessed_count",
    "pessimistic_percentage",
    "optimistic_percentage",
    "standard_error",
    "clt_ci_low",
    "clt_ci_high",
    "cluster_count",
)
# A judge's agreement with human labels (calibration.py), when its suite has labels.
_LABEL_METRICS = (
    "human_agreement",
    "cohen_kappa",
    "human_label_count",
    "human_label_unassessed_count",
    "human_agreement_pessimistic",
    "human_agreement_optimistic",
    "cohen_kappa_pessimistic",
    "cohen_kappa_optimistic",
)


def known_metrics(names: Iterable[str]) -> set[str]:
    """Every metric a run whose assessments are ``names`` can have (for validating thresholds
    before anything runs)."""
    from .metrics import compute_metrics

    known = set(compute_metrics([]))
    known |= {f"{OVERALL_RATING}/{suffix}" for suffix in _RATING_SUFFIXES}
    for name in names:
        for prefix in JUDGED_PREFIXES:
            known |= {f"{prefix}/{name}/rating/{suffix}" for suffix in _RATING_SUFFIXES}
            known.add(f"{prefix}/{name}/score/average")
        known |= {
            f"judge/{name}/{counter}"
            for counter in (
                "error_count",
                "skipped_count",
                "not_run_count",
                "agreement/average",
                *_LABEL_METRICS,
            )
        }
        known.add(f"{OVERALL_BASE}/root_cause/{name}/count")
    known |= set(ALIASES.values())
    known.add(STALE_LABELS)
    return known


def threshold_problems(thresholds: Iterable[Threshold], names: Iterable[str]) -> list[str]:
    """What is wrong with thresholds given the assessments a suite (or run) has: each names a
    metric, alias, judge or check that exists, with a "did you mean" for near misses."""
    import difflib

    names = set(names)
    metrics = known_metrics(names)
    judge_like = {n for n in names} | {n.split("/")[0] for n in names}
    spellings = sorted({*ALIASES, ERRORS, *judge_like})
    problems = []
    for t in thresholds:
        if t.name == ERRORS or t.name in ALIASES or labelled_metric(t.name) in metrics:
            continue
        if t.name.count("/") >= 2:
            if t.name in metrics:
                continue
            candidates = sorted(metrics)
            what = "metric"
        else:
            if t.name in names:
                continue
            candidates = spellings
            what = "metric alias, judge or check"
        close = difflib.get_close_matches(t.name, candidates, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        origin = f"{t.origin}: " if t.origin else ""
        problems.append(
            f"{origin}threshold {t.name!r} names no {what} of this run{hint} "
            f"(judges and checks here: {', '.join(sorted(names)) or 'none'})"
        )
    return problems


def tolerated(thresholds: Iterable[Threshold], failing: Sequence[str]) -> bool:
    """Is a row failing on these assessments tolerated by a pass-rate threshold below 100%?"""
    rates = [t for t in thresholds if t.is_pass_rate and t.value < 1.0]
    if not rates or not failing:
        return False
    if any(t.metric({}) == OVERALL for t in rates):
        return True
    covered = {t.name for t in rates}
    return all(name in covered or name.split("/")[0] in covered for name in failing)


def check_status(passed: bool | None, *, undecidable: bool = False) -> CheckStatus:
    """The word for a check's outcome: "pass", "fail", "undecidable" (unassessed rows leave it
    open), or "no data" when it could not be evaluated at all."""
    if undecidable:
        return "undecidable"
    if passed is None:
        return "no data"
    return "pass" if passed else "fail"


def compare_value(actual: float, op: Op, value: float) -> bool:
    return {
        ">=": actual >= value - 1e-12,
        "<=": actual <= value + 1e-12,
        ">": actual > value,
        "<": actual < value,
    }[op]


@dataclass
class ThresholdCheck:
    """One threshold against one scope's metrics.

    ``actual`` is the metric (for rates: over the rated rows). For pass rates with unassessed
    rows, ``bounds`` is ``(pessimistic, optimistic)`` and ``unassessed`` their count; ``passed``
    is None and ``undecidable`` True when the bounds lie on both sides of the threshold.
    ``not_run`` marks a threshold without data because its LLM judge was not run (no judge
    configured): INCOMPLETE rather than undecidable.
    """

    scope: str  # "run" or the suite name
    threshold: Threshold
    metric: str
    actual: float | None
    passed: bool | None  # None: undecidable or no data
    bounds: tuple[float, float] | None = None
    unassessed: int = 0
    undecidable: bool = False
    not_run: bool = False

    @property
    def status(self) -> CheckStatus:
        return check_status(self.passed, undecidable=self.undecidable)

    @property
    def op(self) -> Op:
        return self.threshold.operator(self.metric)

    def describe_outcome(self) -> str:
        """``overall >= 0.9 missed (actual 0.8)``, ``... undecidable: 50%-90% with 4 unassessed
        row(s)``, ``... not evaluated (no data)``."""
        head = f"{self.scope}: {self.threshold.describe()}"
        if self.undecidable and self.bounds is not None:
            low, high = self.bounds
            return (
                f"{head} undecidable: between {fmt_number(low)} (every unassessed row failed) and "
                f"{fmt_number(high)} (every one passed), {self.unassessed} unassessed row(s)"
            )
        if self.undecidable:
            return f"{head} undecidable: no row was assessed ({self.metric} has no data)"
        if self.passed is None:
            return f"{head} not evaluated (no data)"
        verb = "met" if self.passed else "missed"
        bounds = ""
        if self.bounds is not None and self.unassessed:
            bounds = f", bounds {fmt_number(self.bounds[0])}-{fmt_number(self.bounds[1])}"
        return f"{head} {verb} (actual {fmt_number(self.actual or 0.0)}{bounds})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "threshold": self.threshold.describe(),
            "name": self.threshold.name,
            "op": self.op,
            "value": self.threshold.value,
            "metric": self.metric,
            "actual": self.actual,
            "pessimistic": self.bounds[0] if self.bounds else None,
            "optimistic": self.bounds[1] if self.bounds else None,
            "unassessed": self.unassessed,
            "status": self.status,
            "origin": self.threshold.origin,
        }


def check_threshold(scope: str, threshold: Threshold, metrics: Mapping[str, Any]) -> ThresholdCheck:
    """Decide one threshold. Pass rates are decided on their bounds when rows are unassessed."""
    metric = threshold.metric(metrics)
    op = threshold.operator(metric)
    actual_raw = error_total(metrics) if metric == ERRORS else metrics.get(metric)
    actual = number(actual_raw)
    bounded = bound_names(metric)  # pass rates; agreement and kappa with human labels
    if bounded is None:
        if actual is None:
            return ThresholdCheck(scope, threshold, metric, None, None, undecidable=True)
        return ThresholdCheck(
            scope, threshold, metric, actual, compare_value(actual, op, threshold.value)
        )
    unassessed = int(number(metrics.get(bounded[0])) or 0)
    low = number(metrics.get(bounded[1]))
    high = number(metrics.get(bounded[2]))
    if unassessed and (low is None or high is None):  # kappa not computable on a bound
        return ThresholdCheck(scope, threshold, metric, actual, None, None, unassessed, True)
    if unassessed == 0 or low is None or high is None:
        if actual is None:
            judge = judge_of(metric)
            not_run = bool(judge and (number(metrics.get(f"judge/{judge}/not_run_count")) or 0))
            return ThresholdCheck(
                scope, threshold, metric, None, None, undecidable=not not_run, not_run=not_run
            )
        passed = compare_value(actual, op, threshold.value)
        return ThresholdCheck(scope, threshold, metric, actual, passed, bounds=None)
    # The best case for ">=" is the optimistic bound; for "<=" the pessimistic one.
    best, worst = (high, low) if op in (">=", ">") else (low, high)
    bounds = (low, high)
    if compare_value(worst, op, threshold.value):
        return ThresholdCheck(scope, threshold, metric, actual, True, bounds, unassessed)
    if not compare_value(best, op, threshold.value):
        return ThresholdCheck(scope, threshold, metric, actual, False, bounds, unassessed)
    return ThresholdCheck(
        scope, threshold, metric, actual, None, bounds, unassessed, undecidable=True
    )


@dataclass
class SuiteOutcome:
    name: str
    thresholds: list[Threshold]
    results: list[RowResult]
    metrics: Mapping[str, Any]


@dataclass
class GateResult:
    status: GateStatus
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[ThresholdCheck] = field(default_factory=list)
    strict_failures: list[str] = field(default_factory=list)
    errors: int = 0
    errors_allowed: int = 0
    # Reasons no failing item shows (thresholds, the error budget, baseline rules), by scope:
    # a suite name, "run" or "baseline".
    scoped: dict[str, list[str]] = field(default_factory=dict)

    def unshown_failures(self) -> dict[str, list[str]]:
        """What makes this gate fail or undecidable that no failing test item reports."""
        if self.status not in ("failed", "errors", "undecidable"):
            return {}
        return {scope: list(reasons) for scope, reasons in self.scoped.items() if reasons}

    @property
    def line(self) -> str:
        head = {
            "passed": "PASSED",
            "failed": "FAILED",
            "errors": "ERRORS",
            "undecidable": "UNDECIDABLE",
            "incomplete": "INCOMPLETE",
            "interrupted": "INTERRUPTED",
            "empty": "NO ROWS",
        }[self.status]
        detail = "; ".join(self.reasons or self.notes)
        suffix = f" — {detail}" if detail else ""
        return f"genai gate: {head}{suffix} (exit {self.exit_code})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "line": self.line,
            "reasons": self.reasons,
            "notes": self.notes,
            "checks": [c.to_dict() for c in self.checks],
            "strict_failures": self.strict_failures,
            "errors": self.errors,
            "errors_allowed": self.errors_allowed,
        }


def _errors_unshown(results: Sequence[RowResult]) -> bool:
    """Are some errors not visible as errored items? A row with an error and a failing judge
    is reported as failed (or, tolerated, as xfailed), not as an error."""
    return any(r.errors and r.status != "error" for r in results)


def decide(
    suites: Sequence[SuiteOutcome],
    *,
    run_thresholds: Sequence[Threshold],
    run_metrics: Mapping[str, Any],
    other_failures: int = 0,
    interrupted: bool | str = False,
    partial: str | None = None,
    not_run: int = 0,
) -> GateResult:
    """The build verdict for one run.

    ``interrupted``: the run was cut short by a signal: INTERRUPTED (exit 2), whatever the rows
    that finished say (a string says what interrupted it, e.g. ``"interrupted by SIGTERM"``). ``partial``: why the run does not cover every selected row although it
    was not interrupted (``-x`` stopped it, shards are missing): the verdict is computed on what
    ran but is never PASSED.
    """
    checks: list[ThresholdCheck] = []
    strict: list[str] = []
    error_reasons: list[str] = []
    notes: list[str] = []
    scoped: dict[str, list[str]] = {}
    run_error_limit = min((t.value for t in run_thresholds if t.name == ERRORS), default=None)
    total_errors = error_total(run_metrics)
    allowed_total = 0.0

    for suite in suites:
        all_thresholds = [*suite.thresholds, *run_thresholds]
        checks += [
            check_threshold(suite.name, t, suite.metrics)
            for t in suite.thresholds
            if t.name != ERRORS
        ]
        for result in suite.results:
            names = [a.name for a in result.failing]
            if names and not tolerated(all_thresholds, names):
                strict.append(f"{suite.name}::{result.request_id}")
        suite_limit = min((t.value for t in suite.thresholds if t.name == ERRORS), default=None)
        if suite_limit is None:
            if run_error_limit is not None:
                continue  # governed by the run-level limit
            suite_limit = 0.0
        allowed_total += suite_limit
        suite_errors = error_total(suite.metrics)
        if suite_errors > suite_limit:
            reason = f"{suite.name}: {suite_errors} evaluation error(s), {fmt_number(suite_limit)} allowed"
            error_reasons.append(reason)
            if _errors_unshown(suite.results):
                scoped.setdefault(suite.name, []).append(reason)
    if run_error_limit is not None:
        allowed_total = run_error_limit
        if total_errors > run_error_limit:
            reason = f"{total_errors} evaluation error(s), {fmt_number(run_error_limit)} allowed"
            error_reasons.append(reason)
            if any(_errors_unshown(suite.results) for suite in suites):
                scoped.setdefault("run", []).append(reason)
    checks += [check_threshold("run", t, run_metrics) for t in run_thresholds if t.name != ERRORS]

    quality_reasons: list[str] = []
    undecided: list[str] = []
    if strict:
        shown = ", ".join(strict[:5]) + (f" and {len(strict) - 5} more" if len(strict) > 5 else "")
        quality_reasons.append(f"{len(strict)} row(s) failed in a strict suite: {shown}")
    for check in checks:
        if check.passed is False:
            quality_reasons.append(check.describe_outcome())
            scoped.setdefault(check.scope, []).append(check.describe_outcome())
        elif check.undecidable:
            undecided.append(check.describe_outcome())
            scoped.setdefault(check.scope, []).append(check.describe_outcome())
        elif check.passed is None:
            notes.append(check.describe_outcome())
    if other_failures:
        quality_reasons.append(f"{other_failures} other test(s) failed")

    skipped = int(run_metrics.get("rows/skipped_count") or 0)
    rows = int(run_metrics.get("rows/count") or 0)
    if not_run:
        notes.insert(0, f"{not_run} LLM-judged assessment(s) not run (no judge configured)")
    if skipped:
        notes.append(f"{skipped} of {rows} row(s) had no check that could run")

    reasons = quality_reasons + error_reasons + undecided
    status: GateStatus
    if interrupted:
        status, code = "interrupted", EXIT_INTERRUPTED
        what = interrupted if isinstance(interrupted, str) else "run interrupted"
        reasons = [f"{what}; no verdict: {rows} finished row(s) kept in the results"]
    elif quality_reasons:
        status, code = "failed", EXIT_QUALITY_FAILED
    elif error_reasons:
        status, code = "errors", EXIT_EVALUATION_ERRORS
    elif undecided:
        status, code = "undecidable", EXIT_EVALUATION_ERRORS
    elif rows == 0:
        status, code = "empty", EXIT_OK
    elif partial or not_run or any(c.not_run for c in checks):
        status, code = "incomplete", EXIT_OK  # everything that ran passed; see the notes
    else:
        status, code = "passed", EXIT_OK
    if partial and not interrupted:
        notes.insert(0, f"{partial}; the verdict covers only the rows that finished")
    return GateResult(
        status=status,
        exit_code=code,
        reasons=reasons,
        notes=notes,
        checks=checks,
        strict_failures=strict,
        errors=total_errors,
        errors_allowed=int(allowed_total),
        scoped=scoped,
    )
