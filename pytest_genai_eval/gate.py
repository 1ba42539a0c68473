"""Thresholds and the build verdict.

Rules (also in README.md, "The gate"):

* A suite without a pass-rate threshold is strict: any failing row fails the build.
* A pass-rate threshold below 100% (``overall`` or per judge) makes failures of what it covers
  tolerated row by row: the item is reported as xfailed, and the threshold decides at the end.
* Judge or app errors are not quality failures. They are counted apart and allowed up to the
  ``errors`` threshold (default 0); beyond it the run exits with ``EXIT_EVALUATION_ERRORS``.
* A quality failure (strict row failure, missed threshold) wins over errors: exit 1.
* When LLM judges could not run (no judge configured) or a threshold had no data, and nothing
  failed, the verdict is INCOMPLETE with exit 0; ``--genai-require-judge`` makes a missing judge
  a usage error instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .metrics import metric_direction
from .results import RowResult

EXIT_OK = 0
EXIT_QUALITY_FAILED = 1
EXIT_INTERRUPTED = 2
EXIT_INTERNAL_ERROR = 3
EXIT_USAGE_ERROR = 4
EXIT_NO_TESTS = 5
EXIT_EVALUATION_ERRORS = 6

OVERALL = "response/overall_assessment/rating/percentage"
ERRORS = "errors"

ALIASES: Mapping[str, str] = {
    "overall": OVERALL,
    "pass_rate": OVERALL,
    "latency_avg": "agent/latency_seconds/average",
    "latency_p50": "agent/latency_seconds/p50",
    "latency_p90": "agent/latency_seconds/p90",
    "latency_p99": "agent/latency_seconds/p99",
    "latency_max": "agent/latency_seconds/max",
    "tokens": "agent/total_token_count/average",
    "tokens_avg": "agent/total_token_count/average",
    "tokens_sum": "agent/total_token_count/sum",
    "judge_tokens": "judge/total_token_count/sum",
    "flaky": "judge/flaky_count",
    "chunk_relevance": "retrieval/llm_judged/chunk_relevance/precision/average",
    "document_recall": "retrieval/ground_truth/document_recall/average",
}

JUDGED_PREFIXES = ("response/llm_judged", "response/check", "response/custom")
Op = Literal[">=", "<=", ">", "<"]
_OPS: tuple[Op, ...] = (">=", "<=", ">", "<")
_THRESHOLD_RE = re.compile(r"^\s*([^<>=\s]+)\s*(>=|<=|>|<|=)\s*(.+?)\s*$")

GateStatus = Literal["passed", "failed", "errors", "incomplete", "empty"]


class ThresholdError(ValueError):
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
        if self.name.count("/") >= 2:
            return self.name
        for prefix in JUDGED_PREFIXES:
            candidate = f"{prefix}/{self.name}/rating/percentage"
            if candidate in metrics:
                return candidate
        return f"response/llm_judged/{self.name}/rating/percentage"

    def operator(self, metric: str) -> Op:
        if self.op is not None:
            return self.op
        if metric == ERRORS:
            return "<="
        return "<=" if metric_direction(metric) == "lower" else ">="

    def describe(self, metrics: Mapping[str, Any] | None = None) -> str:
        metric = self.metric(metrics or {})
        return f"{self.name} {self.operator(metric)} {_fmt(self.value)}"

    @property
    def is_pass_rate(self) -> bool:
        metric = self.metric({})
        return metric.endswith("/rating/percentage")

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


def _fmt(value: float) -> str:
    return f"{value:.4g}"


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


def tolerated(thresholds: Iterable[Threshold], failing: Sequence[str]) -> bool:
    """Is a row failing on these assessments tolerated by a pass-rate threshold below 100%?"""
    rates = [t for t in thresholds if t.is_pass_rate and t.value < 1.0]
    if not rates or not failing:
        return False
    if any(t.metric({}) == OVERALL for t in rates):
        return True
    covered = {t.name for t in rates}
    return all(name in covered or name.split("/")[0] in covered for name in failing)


def check_status(passed: bool | None) -> str:
    """The word for a check's outcome: "pass", "fail", or "no data" when it could not run."""
    if passed is None:
        return "no data"
    return "pass" if passed else "fail"


@dataclass
class ThresholdCheck:
    scope: str  # "run" or the suite name
    threshold: Threshold
    metric: str
    actual: float | None
    passed: bool | None  # None: no data

    @property
    def status(self) -> str:
        return check_status(self.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "threshold": self.threshold.describe(),
            "metric": self.metric,
            "actual": self.actual,
            "status": self.status,
            "origin": self.threshold.origin,
        }


def error_count(metrics: Mapping[str, Any]) -> int:
    return int(metrics.get("app/error_count") or 0) + int(metrics.get("judge/error_count") or 0)


def check_threshold(scope: str, threshold: Threshold, metrics: Mapping[str, Any]) -> ThresholdCheck:
    metric = threshold.metric(metrics)
    actual_raw = error_count(metrics) if metric == ERRORS else metrics.get(metric)
    if actual_raw is None:
        return ThresholdCheck(scope, threshold, metric, None, None)
    actual = float(actual_raw)
    op = threshold.operator(metric)
    passed = {
        ">=": actual >= threshold.value - 1e-12,
        "<=": actual <= threshold.value + 1e-12,
        ">": actual > threshold.value,
        "<": actual < threshold.value,
    }[op]
    return ThresholdCheck(scope, threshold, metric, actual, passed)


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

    @property
    def line(self) -> str:
        head = {
            "passed": "PASSED",
            "failed": "FAILED",
            "errors": "ERRORS",
            "incomplete": "INCOMPLETE",
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


def decide(
    suites: Sequence[SuiteOutcome],
    *,
    run_thresholds: Sequence[Threshold],
    run_metrics: Mapping[str, Any],
    other_failures: int = 0,
    interrupted: bool = False,
    not_run: int = 0,
) -> GateResult:
    """The build verdict for one run."""
    checks: list[ThresholdCheck] = []
    strict: list[str] = []
    error_reasons: list[str] = []
    notes: list[str] = []
    run_error_limit = min((t.value for t in run_thresholds if t.name == ERRORS), default=None)
    total_errors = error_count(run_metrics)
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
        suite_errors = error_count(suite.metrics)
        if suite_errors > suite_limit:
            error_reasons.append(
                f"{suite.name}: {suite_errors} evaluation error(s), {_fmt(suite_limit)} allowed"
            )
    if run_error_limit is not None:
        allowed_total = run_error_limit
        if total_errors > run_error_limit:
            error_reasons.append(
                f"{total_errors} evaluation error(s), {_fmt(run_error_limit)} allowed"
            )
    checks += [check_threshold("run", t, run_metrics) for t in run_thresholds if t.name != ERRORS]

    quality_reasons: list[str] = []
    if strict:
        shown = ", ".join(strict[:5]) + (f" and {len(strict) - 5} more" if len(strict) > 5 else "")
        quality_reasons.append(f"{len(strict)} row(s) failed in a strict suite: {shown}")
    for check in checks:
        if check.passed is False:
            quality_reasons.append(
                f"{check.scope}: {check.threshold.describe(run_metrics)} missed "
                f"(actual {_fmt(check.actual or 0.0)})"
            )
        elif check.passed is None:
            notes.append(f"{check.scope}: {check.threshold.describe()} not evaluated (no data)")
    if other_failures:
        quality_reasons.append(f"{other_failures} other test(s) failed")

    skipped = int(run_metrics.get("rows/skipped_count") or 0)
    rows = int(run_metrics.get("rows/count") or 0)
    if not_run:
        notes.insert(0, f"{not_run} LLM-judged assessment(s) not run (no judge configured)")
    if skipped:
        notes.append(f"{skipped} of {rows} row(s) had no check that could run")

    reasons = quality_reasons + error_reasons
    status: GateStatus
    if interrupted:
        status = "incomplete"
        code = EXIT_QUALITY_FAILED if quality_reasons else EXIT_INTERRUPTED
        reasons.insert(0, "run interrupted; the verdict covers only the rows that ran")
    elif quality_reasons:
        status, code = "failed", EXIT_QUALITY_FAILED
    elif error_reasons:
        status, code = "errors", EXIT_EVALUATION_ERRORS
    elif rows == 0:
        status, code = "empty", EXIT_OK
    elif not_run or any(c.passed is None for c in checks):
        status, code = "incomplete", EXIT_OK  # everything that ran passed; see the notes
    else:
        status, code = "passed", EXIT_OK
    return GateResult(
        status=status,
        exit_code=code,
        reasons=reasons,
        notes=notes,
        checks=checks,
        strict_failures=strict,
        errors=total_errors,
        errors_allowed=int(allowed_total),
    )
