"""The result records of a comparison: row changes, judge flips, metric deltas, the paired
test, the rule checks, the verdict and the :class:`Comparison` holding them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..gate import EXIT_EVALUATION_ERRORS, EXIT_OK, EXIT_QUALITY_FAILED, CheckStatus, check_status
from ..stats import PairedDifference
from ..vocabulary import RATE_SUFFIX as _RATE_SUFFIX
from .rules import RegressionRules, resolve_metric

__all__ = (
    "ChangeKind",
    "Comparison",
    "ComparisonVerdict",
    "JudgeFlip",
    "MetricDelta",
    "PairedTest",
    "RowChange",
    "RuleCheck",
    "VerdictStatus",
)

ChangeKind = Literal["regression", "fix", "new", "removed", "unchanged", "changed"]
VerdictStatus = Literal["passed", "failed", "undecidable", "incompatible"]


@dataclass(frozen=True)
class JudgeFlip:
    """One assessment whose rating differs between the runs."""

    name: str
    judge: str
    old_rating: str | None  # "yes" / "no" / None (absent, skipped or errored)
    new_rating: str | None
    rationale: str | None  # the current run's rationale (or error)
    old_rationale: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "judge": self.judge,
            "old_rating": self.old_rating,
            "new_rating": self.new_rating,
            "rationale": self.rationale,
            "old_rationale": self.old_rationale,
        }


@dataclass(frozen=True)
class RowChange:
    """One row key across the two runs.

    ``kind``: ``regression`` (pass -> fail), ``fix`` (fail -> pass), ``new`` (only now),
    ``removed`` (only in the baseline), ``unchanged`` (same status), ``changed`` (another status
    change, e.g. pass -> error: errors are not regressions). ``response_changed`` is independent
    of ``kind``: the response text differs (always False for new/removed rows).
    """

    suite: str
    request_id: str
    kind: ChangeKind
    old_status: str | None
    new_status: str | None
    response_changed: bool = False
    old_response: str | None = None
    new_response: str | None = None
    flips: tuple[JudgeFlip, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.suite, self.request_id)

    @property
    def flipped_to_no(self) -> tuple[JudgeFlip, ...]:
        """The judges that said yes (or did not rate) before and say no now."""
        return tuple(f for f in self.flips if f.new_rating == "no")

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "request_id": self.request_id,
            "kind": self.kind,
            "old_status": self.old_status,
            "new_status": self.new_status,
            "response_changed": self.response_changed,
            "flips": [f.to_dict() for f in self.flips],
        }


@dataclass(frozen=True)
class MetricDelta:
    """One metric in both runs. ``delta = new - old`` (``None`` unless both are numbers);
    ``old_ci`` / ``new_ci``: Wilson intervals, for pass-rate metrics only."""

    name: str
    old: float | None
    new: float | None
    delta: float | None
    direction: str
    old_ci: tuple[float, float] | None = None
    new_ci: tuple[float, float] | None = None

    @property
    def is_rate(self) -> bool:
        return self.name.endswith(_RATE_SUFFIX)

    @property
    def worsening(self) -> float | None:
        """How much worse the metric got in its own direction (negative: it improved)."""
        if self.delta is None:
            return None
        return self.delta if self.direction == "lower" else -self.delta

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "old": self.old,
            "new": self.new,
            "delta": self.delta,
            "direction": self.direction,
            "old_ci": list(self.old_ci) if self.old_ci else None,
            "new_ci": list(self.new_ci) if self.new_ci else None,
        }


@dataclass(frozen=True)
class PairedTest:
    """The exact McNemar test on rows with a pass/fail status in both runs, and (Miller 2024)
    the mean paired difference of their scores (new - old, 1 pass / 0 fail) with its standard
    error, 95% interval and the correlation of the runs' per-row scores."""

    paired: int  # rows in both runs with pass/fail in both
    b: int  # pass -> fail
    c: int  # fail -> pass
    p_one_sided: float  # P(X >= b), X ~ Bin(b + c, 1/2): "the pass rate dropped"
    p_two_sided: float
    difference: PairedDifference | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.difference
        return {
            "paired": self.paired,
            "b": self.b,
            "c": self.c,
            "p_one_sided": self.p_one_sided,
            "p_two_sided": self.p_two_sided,
            "mean_difference": d.mean if d else None,
            "standard_error": d.standard_error if d else None,
            "ci_low": d.low if d else None,
            "ci_high": d.high if d else None,
            "correlation": d.correlation if d else None,
        }


@dataclass(frozen=True)
class RuleCheck:
    """One gate rule: ``passed`` is ``None`` when it could not be evaluated (no data) or, with
    ``undecidable``, when rows unassessed in this run leave it open (it holds if they all pass
    and fails if they all fail)."""

    rule: Literal["mcnemar", "max_drop", "max_regressions", "pairwise"]
    passed: bool | None
    detail: str
    metric: str | None = None
    undecidable: bool = False

    @property
    def status(self) -> CheckStatus:
        return check_status(self.passed, undecidable=self.undecidable)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ComparisonVerdict:
    """``passed`` / ``failed`` / ``incompatible`` (compared but not gated)."""

    status: VerdictStatus
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    summary: str = ""  # e.g. "2 regression(s), 1 fix(es) on 40 paired rows"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def undecidable(self) -> bool:
        return self.status == "undecidable"

    @property
    def exit_code(self) -> int:
        """1 (quality failure, as in :mod:`gate`) when failed, 6 when undecidable (rows
        unassessed in this run leave a rule open), else 0."""
        if self.failed:
            return EXIT_QUALITY_FAILED
        return EXIT_EVALUATION_ERRORS if self.undecidable else EXIT_OK

    @property
    def line(self) -> str:
        head = {
            "passed": "PASSED",
            "failed": "FAILED",
            "undecidable": "UNDECIDABLE",
            "incompatible": "INCOMPATIBLE",
        }[self.status]
        if self.status == "incompatible":
            head += " (not gated)"
        detail = "; ".join(self.reasons) or self.summary
        suffix = f" — {detail}" if detail else ""
        return f"genai baseline: {head}{suffix} (exit {self.exit_code})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "line": self.line,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`compare` found. ``rows`` are in current-run order, removed rows last."""

    rules: RegressionRules
    rows: tuple[RowChange, ...]
    metrics: tuple[MetricDelta, ...]
    paired: PairedTest
    checks: tuple[RuleCheck, ...]
    incompatible: tuple[str, ...]
    verdict: ComparisonVerdict
    baseline: Mapping[str, Any]  # a summary of the baseline document (when, verdict, judge)
    current: Mapping[str, Any]
    pairwise: Mapping[str, Any] | None = None  # compare/pairwise.PairwiseSummary.to_dict()

    def of_kind(self, kind: ChangeKind) -> list[RowChange]:
        return [r for r in self.rows if r.kind == kind]

    @property
    def regressions(self) -> list[RowChange]:
        return self.of_kind("regression")

    @property
    def fixes(self) -> list[RowChange]:
        return self.of_kind("fix")

    @property
    def new_rows(self) -> list[RowChange]:
        return self.of_kind("new")

    @property
    def removed_rows(self) -> list[RowChange]:
        return self.of_kind("removed")

    @property
    def changed_responses(self) -> list[RowChange]:
        return [r for r in self.rows if r.response_changed]

    def row(self, suite: str, request_id: str) -> RowChange | None:
        for change in self.rows:
            if change.suite == suite and change.request_id == request_id:
                return change
        return None

    def by_key(self) -> dict[tuple[str, str], RowChange]:
        return {r.key: r for r in self.rows}

    def metric(self, name: str) -> MetricDelta | None:
        full = resolve_metric(name, {m.name: m.new for m in self.metrics})
        for delta in self.metrics:
            if delta.name == full:
                return delta
        return None

    def counts(self) -> dict[str, int]:
        out = {kind: 0 for kind in ("regression", "fix", "new", "removed", "unchanged", "changed")}
        for change in self.rows:
            out[change.kind] += 1
        out["response_changed"] = len(self.changed_responses)
        return out

    def to_dict(self) -> dict[str, Any]:
        """For the results artifact (``document["baseline"]``). Row entries are listed for every
        row that is not ``unchanged`` with the same response; counts cover all rows."""
        return {
            "verdict": self.verdict.to_dict(),
            "rules": self.rules.to_dict(),
            "incompatible": list(self.incompatible),
            "baseline": dict(self.baseline),
            "current": dict(self.current),
            "paired_test": self.paired.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "counts": self.counts(),
            "rows": [r.to_dict() for r in self.rows if r.kind != "unchanged" or r.response_changed],
            "metrics": [m.to_dict() for m in self.metrics],
        } | ({"pairwise": dict(self.pairwise)} if self.pairwise is not None else {})
