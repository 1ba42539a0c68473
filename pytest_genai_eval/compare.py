"""Comparing a run with a baseline run, and the baseline regression gate.

A *baseline* is an earlier ``evaluation_results.json`` (see :mod:`pytest_genai_eval.artifacts`).
:func:`compare` matches rows by ``(suite, request_id)`` and reports, per row, what changed
(regression, fix, new, removed, unchanged, other status change; response text changed; the judges
that flipped and their new rationale), per metric the old and new values with Wilson intervals for
rates, and a verdict from :class:`RegressionRules`.

The gate (rules OR-ed; each documented in ``docs/reports.md``):

* **paired test** - the exact one-sided McNemar test on the rows present in both runs with a
  pass/fail status in both (``b`` = pass -> fail, ``c`` = fail -> pass) fails the comparison when
  ``p < alpha`` (default 0.05);
* **metric drops** - each metric in ``max_drop`` (default: the overall pass rate, margin 0.05 =
  5 percentage points) fails the comparison when it got worse by more than its margin. For pass
  rates the drop must also be beyond noise (``drop_test="wilson"``, the default): the current
  rate's 95% Wilson interval must lie entirely below ``baseline - margin``. Other metrics
  (latency, tokens) compare the two values as they are, in the metric's own direction;
* **regression count** - more than ``max_regressions`` rows going pass -> fail (default: off).

A baseline from another configuration (a different set of suites, judge model, judge set or
prompt version) is *incompatible*: it is still compared and reported, but the verdict does not
gate (status ``"incompatible"``) unless ``allow_incompatible=True``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from .artifacts import (
    JSON_NAME,
    SCHEMA_VERSION,
    ArtifactError,
    _atomic_write,
    _dumps,
    read_results,
)
from .gate import (
    EXIT_EVALUATION_ERRORS,
    EXIT_OK,
    EXIT_QUALITY_FAILED,
    OVERALL,
    CheckStatus,
    Threshold,
    check_status,
)
from .metrics import compute_metrics, metric_direction
from .results import Assessment, RowResult
from .stats import exact_mcnemar, mcnemar_one_sided_drop, wilson_interval

__all__ = (
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_DROP",
    "OVERALL",
    "BaselineError",
    "ChangeKind",
    "Comparison",
    "ComparisonVerdict",
    "JudgeFlip",
    "MetricDelta",
    "PairedTest",
    "RegressionRules",
    "RowChange",
    "RuleCheck",
    "compare",
    "compatibility",
    "load_baseline",
    "metric_label",
    "parse_max_drop",
    "resolve_metric",
    "rules_from_options",
    "write_baseline",
)

DEFAULT_ALPHA = 0.05
DEFAULT_MAX_DROP = 0.05  # margin for the overall pass rate: 5 percentage points

ChangeKind = Literal["regression", "fix", "new", "removed", "unchanged", "changed"]
DropTest = Literal["wilson", "point"]
VerdictStatus = Literal["passed", "failed", "undecidable", "incompatible"]

_EPS = 1e-9
_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "agent/latency_seconds/average": "latency average",
        "agent/latency_seconds/p50": "latency p50",
        "agent/latency_seconds/p90": "latency p90",
        "agent/latency_seconds/p99": "latency p99",
        "agent/latency_seconds/max": "latency max",
        "agent/total_token_count/average": "app tokens per row",
        "agent/total_token_count/sum": "app tokens total",
        "judge/total_token_count/sum": "judge tokens total",
        "app/error_count": "app errors",
        "judge/error_count": "judge errors",
        "retrieval/llm_judged/chunk_relevance/precision/average": "chunk relevance precision",
        "retrieval/ground_truth/document_recall/average": "document recall",
    }
)
_RATE_SUFFIX = "/rating/percentage"
_OFF = ("off", "none", "disable", "disabled")


class BaselineError(ArtifactError):
    """A baseline cannot be loaded or written; the message names the path and the problem."""


def _default_max_drop() -> Mapping[str, float]:
    return MappingProxyType({OVERALL: DEFAULT_MAX_DROP})


@dataclass(frozen=True)
class RegressionRules:
    """When a comparison with a baseline fails. Defaults in parentheses.

    Attributes:
        alpha: significance level of the exact one-sided McNemar test on paired rows (0.05);
            ``None`` disables the test.
        max_drop: metric name or alias (``overall``, a judge name such as ``correctness``,
            ``latency_p90``, a full metric name) -> largest tolerated worsening, absolute, in the
            metric's own unit (``{overall pass rate: 0.05}``). For rates 0.05 = 5 points.
        max_regressions: fail when more rows than this go pass -> fail (``None``: no limit).
        allow_incompatible: gate even when the baseline is incompatible (False: report only).
        drop_test: ``"wilson"`` (a rate's drop must exceed its margin and the current Wilson
            interval must lie below ``baseline - margin``) or ``"point"`` (point estimates only).
        confidence: confidence level of the Wilson intervals (0.95).
    """

    alpha: float | None = DEFAULT_ALPHA
    max_drop: Mapping[str, float] = field(default_factory=_default_max_drop)
    max_regressions: int | None = None
    allow_incompatible: bool = False
    drop_test: DropTest = "wilson"
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.alpha is not None and not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {self.alpha!r}")
        for name, margin in self.max_drop.items():
            if not isinstance(margin, (int, float)) or isinstance(margin, bool):
                raise ValueError(f"max_drop[{name!r}] must be a number, got {margin!r}")
            if not math.isfinite(margin) or margin < 0:
                raise ValueError(f"max_drop[{name!r}] must be a finite number >= 0, got {margin!r}")
        if self.max_regressions is not None and self.max_regressions < 0:
            raise ValueError(f"max_regressions must be >= 0, got {self.max_regressions!r}")
        if self.drop_test not in ("wilson", "point"):
            raise ValueError(f"drop_test must be 'wilson' or 'point', got {self.drop_test!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        object.__setattr__(self, "max_drop", MappingProxyType(dict(self.max_drop)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "max_drop": dict(self.max_drop),
            "max_regressions": self.max_regressions,
            "allow_incompatible": self.allow_incompatible,
            "drop_test": self.drop_test,
            "confidence": self.confidence,
        }


# ---- option parsing (shared by the CLI and the pytest options) --------------------------------
_MAX_DROP_RE = re.compile(r"^\s*([^=\s]+)\s*=\s*(\S+)\s*$")


def parse_max_drop(text: str) -> tuple[str, float | None]:
    """``"overall=0.05"``, ``"correctness=5%"``, ``"latency_p90=0.5"`` -> ``(name, margin)``;
    ``"overall=off"`` -> ``("overall", None)`` (remove that rule). Raises ``ValueError``."""
    match = _MAX_DROP_RE.match(text)
    if not match:
        raise ValueError(
            f"cannot read max-drop {text!r}; expected METRIC=MARGIN, e.g. overall=0.05"
        )
    name, raw = match.groups()
    if raw.lower() in _OFF:
        return name, None
    percent = raw.endswith("%")
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise ValueError(f"max-drop {text!r}: margin {raw!r} is not a number") from None
    if percent:
        value /= 100.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"max-drop {text!r}: margin must be a finite number >= 0")
    return name, value


def rules_from_options(
    *,
    alpha: float | None = DEFAULT_ALPHA,
    max_drop: Iterable[str] = (),
    max_regressions: int | None = None,
    allow_incompatible: bool = False,
    drop_test: DropTest = "wilson",
) -> RegressionRules:
    """Rules from command-line style options. ``max_drop`` entries (``METRIC=MARGIN``) are
    applied over the default ``{overall: 0.05}``; ``METRIC=off`` removes a rule. An entry naming
    the overall pass rate by alias (``overall``, ``pass_rate``) replaces the default one."""
    drops: dict[str, float] = {OVERALL: DEFAULT_MAX_DROP}
    for text in max_drop:
        name, margin = parse_max_drop(text)
        key = resolve_metric(name)
        for existing in list(drops):
            if resolve_metric(existing) == key:
                del drops[existing]
        if margin is not None:
            drops[name] = margin
    return RegressionRules(
        alpha=alpha,
        max_drop=drops,
        max_regressions=max_regressions,
        allow_incompatible=allow_incompatible,
        drop_test=drop_test,
    )


def resolve_metric(name: str, metrics: Mapping[str, Any] | None = None) -> str:
    """A metric alias (as in thresholds: ``overall``, ``correctness``, ``latency_p90``...) as a
    full metric name; a full name is returned as is."""
    return Threshold(name=name, value=0.0).metric(metrics or {})


# ---- result records -----------------------------------------------------------------------------
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
    """The exact McNemar test on rows with a pass/fail status in both runs."""

    paired: int  # rows in both runs with pass/fail in both
    b: int  # pass -> fail
    c: int  # fail -> pass
    p_one_sided: float  # P(X >= b), X ~ Bin(b + c, 1/2): "the pass rate dropped"
    p_two_sided: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "paired": self.paired,
            "b": self.b,
            "c": self.c,
            "p_one_sided": self.p_one_sided,
            "p_two_sided": self.p_two_sided,
        }


@dataclass(frozen=True)
class RuleCheck:
    """One gate rule: ``passed`` is ``None`` when it could not be evaluated (no data) or, with
    ``undecidable``, when rows unassessed in this run leave it open (it holds if they all pass
    and fails if they all fail)."""

    rule: Literal["mcnemar", "max_drop", "max_regressions"]
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
        }


# ---- comparing ----------------------------------------------------------------------------------
def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _metrics_of(document: Mapping[str, Any], rows: Sequence[RowResult]) -> dict[str, Any]:
    """The run's metrics: computed from the rows, overridden by what the document recorded."""
    metrics: dict[str, Any] = dict(compute_metrics(rows))
    recorded = document.get("metrics")
    if isinstance(recorded, Mapping):
        metrics.update(recorded)
    return metrics


def _rate_ci(
    metrics: Mapping[str, Any], name: str, confidence: float
) -> tuple[float, float] | None:
    if not name.endswith(_RATE_SUFFIX):
        return None
    rate = _numeric(metrics.get(name))
    count = _numeric(metrics.get(name[: -len("/percentage")] + "/count"))
    if rate is None or count is None or count <= 0:
        return None
    n = round(count)
    successes = min(n, max(0, round(rate * n)))
    return wilson_interval(successes, n, confidence)


def _metric_deltas(
    old: Mapping[str, Any], new: Mapping[str, Any], confidence: float
) -> list[MetricDelta]:
    names = [
        n
        for n in dict.fromkeys([*new, *old])
        if _numeric(new.get(n)) is not None or _numeric(old.get(n)) is not None
    ]
    out = []
    for name in names:
        a, b = _numeric(old.get(name)), _numeric(new.get(name))
        out.append(
            MetricDelta(
                name=name,
                old=a,
                new=b,
                delta=(b - a) if a is not None and b is not None else None,
                direction=metric_direction(name),
                old_ci=_rate_ci(old, name, confidence),
                new_ci=_rate_ci(new, name, confidence),
            )
        )
    return out


def _ratings(row: RowResult) -> dict[str, Assessment]:
    return {a.name: a for a in row.assessments}


def _flips(old: RowResult, new: RowResult) -> tuple[JudgeFlip, ...]:
    before, after = _ratings(old), _ratings(new)
    flips = []
    for name, a in after.items():
        b = before.get(name)
        old_rating = b.rating if b is not None else None
        if a.rating == old_rating:
            continue
        if a.rating is None and old_rating is None:
            continue
        flips.append(
            JudgeFlip(
                name=name,
                judge=a.judge,
                old_rating=old_rating,
                new_rating=a.rating,
                rationale=a.rationale if a.rationale is not None else a.error,
                old_rationale=(b.rationale if b.rationale is not None else b.error) if b else None,
            )
        )
    for name, b in before.items():
        if name not in after and b.rating is not None:
            flips.append(JudgeFlip(name, b.judge, b.rating, None, None, b.rationale))
    # Regression explanations first: judges that now say no, in root-cause order.
    no_now = {a.name: i for i, a in enumerate(new.failing)}
    flips.sort(key=lambda f: (f.new_rating != "no", no_now.get(f.name, len(no_now))))
    return tuple(flips)


def _kind(old_status: str, new_status: str) -> ChangeKind:
    if old_status == new_status:
        return "unchanged"
    if old_status == "pass" and new_status == "fail":
        return "regression"
    if old_status == "fail" and new_status == "pass":
        return "fix"
    return "changed"


def _row_changes(old_rows: Sequence[RowResult], new_rows: Sequence[RowResult]) -> list[RowChange]:
    old_by_key = {r.key: r for r in old_rows}
    new_keys = {r.key for r in new_rows}
    changes: list[RowChange] = []
    for row in new_rows:
        base = old_by_key.get(row.key)
        if base is None:
            changes.append(
                RowChange(
                    row.suite, row.request_id, "new", None, row.status, new_response=row.response
                )
            )
            continue
        changes.append(
            RowChange(
                suite=row.suite,
                request_id=row.request_id,
                kind=_kind(base.status, row.status),
                old_status=base.status,
                new_status=row.status,
                response_changed=base.response != row.response,
                old_response=base.response,
                new_response=row.response,
                flips=_flips(base, row),
            )
        )
    for base in old_rows:
        if base.key not in new_keys:
            changes.append(
                RowChange(
                    base.suite,
                    base.request_id,
                    "removed",
                    base.status,
                    None,
                    old_response=base.response,
                )
            )
    return changes


def _paired_test(changes: Sequence[RowChange]) -> PairedTest:
    decided = ("pass", "fail")
    paired = [c for c in changes if c.old_status in decided and c.new_status in decided]
    b = sum(1 for c in paired if c.kind == "regression")
    c = sum(1 for c in paired if c.kind == "fix")
    return PairedTest(
        paired=len(paired),
        b=b,
        c=c,
        p_one_sided=mcnemar_one_sided_drop(b, c),
        p_two_sided=exact_mcnemar(b, c),
    )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _describe(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name.endswith(_RATE_SUFFIX) or (name.startswith("retrieval/") and name.endswith("/average")):
        return f"{100 * value:.1f}%"
    return _fmt(value)


def _margin_text(name: str, margin: float) -> str:
    if name.endswith(_RATE_SUFFIX) or (name.startswith("retrieval/") and name.endswith("/average")):
        return f"{100 * margin:.4g} points"
    return _fmt(margin)


def metric_label(name: str) -> str:
    """A short, readable name: ``overall pass rate``, ``correctness pass rate``, or the name."""
    if name == OVERALL:
        return "overall pass rate"
    match = re.match(r"^response/(?:llm_judged|check|custom)/(.+)/rating/percentage$", name)
    if match:
        return f"{match.group(1)} pass rate"
    return _LABELS.get(name, name)


def _drop_check(
    alias: str, margin: float, deltas: Mapping[str, MetricDelta], rules: RegressionRules
) -> RuleCheck:
    name = resolve_metric(alias, deltas)
    delta = deltas.get(name)
    label = metric_label(name)
    if delta is None or delta.old is None or delta.new is None:
        return RuleCheck("max_drop", None, f"{label}: not in both runs; drop not checked", name)
    worse = delta.worsening or 0.0
    verb = "rose" if delta.direction == "lower" else "fell"
    moved = (
        f"{label} {verb} from {_describe(name, delta.old)} to {_describe(name, delta.new)}"
        if worse > 0
        else f"{label}: {_describe(name, delta.old)} → {_describe(name, delta.new)}"
    )
    allowed = f"allowed {_margin_text(name, margin)}"
    if worse <= margin + _EPS:
        return RuleCheck("max_drop", True, f"{moved} ({allowed})", name)
    if rules.drop_test == "wilson" and delta.is_rate and delta.new_ci is not None:
        high = delta.new_ci[1]
        limit = delta.old - margin
        ci = f"{100 * rules.confidence:.0f}% Wilson upper bound {_describe(name, high)}"
        if high >= limit - _EPS:
            return RuleCheck(
                "max_drop",
                True,
                f"{moved}, more than {allowed}, but within noise "
                f"({ci} >= {_describe(name, limit)})",
                name,
            )
        return RuleCheck(
            "max_drop",
            False,
            f"{moved}: beyond the {allowed} ({ci} < {_describe(name, limit)})",
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


# ---- rules on bounds (rows unassessed in this run) ---------------------------------------------
def _has_unassessed(changes: Sequence[RowChange], metrics: Mapping[str, Any]) -> bool:
    if any(c.new_status == "error" and c.old_status in ("pass", "fail") for c in changes):
        return True
    return any(
        name.endswith("/rating/unassessed_count") and (_numeric(value) or 0) > 0
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
        unassessed = _numeric(metrics.get(f"{base}/unassessed_count")) or 0.0
        bound = _numeric(metrics.get(f"{base}/{which}_percentage"))
        if unassessed <= 0 or bound is None:
            continue
        out[name] = bound
        out[f"{base}/count"] = (_numeric(metrics.get(f"{base}/count")) or 0.0) + unassessed
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


# ---- compatibility ------------------------------------------------------------------------------
def _suite_names(document: Mapping[str, Any], rows: Sequence[RowResult]) -> list[str]:
    names: dict[str, None] = {}
    suites = document.get("suites")
    if isinstance(suites, Mapping):
        names.update(dict.fromkeys(str(s) for s in suites))
    names.update(dict.fromkeys(r.suite for r in rows))
    return list(names)


def _judge_model(document: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(recorded?, model). Not recorded: the document has no ``config``."""
    config = document.get("config")
    if not isinstance(config, Mapping):
        return False, None
    judge = config.get("judge")
    if not isinstance(judge, Mapping):
        return True, None
    model = judge.get("model")
    return True, str(model) if model is not None else None


def _prompt_versions(document: Mapping[str, Any], suite: str) -> dict[str, str] | None:
    suites = document.get("suites")
    if not isinstance(suites, Mapping):
        return None
    entry = suites.get(suite)
    if not isinstance(entry, Mapping):
        return None
    config = entry.get("config")
    if not isinstance(config, Mapping):
        return None
    versions = config.get("prompt_versions")
    if not isinstance(versions, Mapping):
        return None
    return {str(k): str(v) for k, v in versions.items()}


def _names(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in sorted(items))


def compatibility(
    baseline: tuple[Mapping[str, Any], Sequence[RowResult]],
    current: tuple[Mapping[str, Any], Sequence[RowResult]],
) -> tuple[list[str], list[str]]:
    """``(incompatibilities, notes)`` between two runs' configurations."""
    (old_doc, old_rows), (new_doc, new_rows) = baseline, current
    problems: list[str] = []
    notes: list[str] = []
    old_suites, new_suites = _suite_names(old_doc, old_rows), _suite_names(new_doc, new_rows)
    only_old = set(old_suites) - set(new_suites)
    only_new = set(new_suites) - set(old_suites)
    if only_old or only_new:
        parts = []
        if only_old:
            parts.append(f"only in the baseline: {_names(only_old)}")
        if only_new:
            parts.append(f"only in this run: {_names(only_new)}")
        problems.append("different suites (" + "; ".join(parts) + ")")

    old_known, old_model = _judge_model(old_doc)
    new_known, new_model = _judge_model(new_doc)
    if old_known and new_known:
        if old_model != new_model:
            problems.append(
                f"judge model changed: baseline {old_model or 'none (no judge)'!s}, "
                f"this run {new_model or 'none (no judge)'!s}"
            )
    else:
        which = "baseline" if not old_known else "this run"
        notes.append(f"the {which} recorded no configuration; judge model not checked")

    for suite in [s for s in new_suites if s in set(old_suites)]:
        old_v, new_v = _prompt_versions(old_doc, suite), _prompt_versions(new_doc, suite)
        if old_v is None or new_v is None:
            if old_v != new_v:
                notes.append(f"suite {suite!r}: prompt versions not recorded in both runs")
            continue
        removed = set(old_v) - set(new_v)
        added = set(new_v) - set(old_v)
        if removed or added:
            parts = []
            if removed:
                parts.append(f"only in the baseline: {_names(removed)}")
            if added:
                parts.append(f"only in this run: {_names(added)}")
            problems.append(f"suite {suite!r}: different judges (" + "; ".join(parts) + ")")
        for judge in sorted(set(old_v) & set(new_v)):
            if old_v[judge] != new_v[judge]:
                problems.append(
                    f"suite {suite!r}: prompt version of {judge} changed "
                    f"({old_v[judge]} → {new_v[judge]})"
                )
    if old_doc.get("complete") is False:
        notes.append("the baseline run was incomplete (interrupted)")
    if new_doc.get("complete") is False:
        notes.append("this run is incomplete (interrupted)")
    return problems, notes


def _summary(document: Mapping[str, Any], rows: Sequence[RowResult]) -> dict[str, Any]:
    verdict = document.get("verdict")
    _, model = _judge_model(document)
    return {
        "started_at": document.get("started_at"),
        "finished_at": document.get("finished_at"),
        "status": verdict.get("status") if isinstance(verdict, Mapping) else None,
        "judge_model": model,
        "suites": _suite_names(document, rows),
        "rows": len(rows),
        "source": document.get("_source"),
    }


def compare(
    baseline: tuple[Mapping[str, Any], Sequence[RowResult]],
    current: tuple[Mapping[str, Any], Sequence[RowResult]],
    rules: RegressionRules | None = None,
) -> Comparison:
    """Compare ``current`` with ``baseline``; each is ``(document, rows)`` as returned by
    :func:`load_baseline` / :func:`artifacts.read_results` (the document's ``metrics`` are used
    when present, else computed from the rows)."""
    rules = rules if rules is not None else RegressionRules()
    (old_doc, old_rows), (new_doc, new_rows) = baseline, current
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
    problems, notes = compatibility(baseline, current)

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
    )


# ---- loading and writing baselines --------------------------------------------------------------
def _baseline_file(path: Path) -> Path:
    return path / JSON_NAME if path.is_dir() else path


def load_baseline(path: Path | str) -> tuple[dict[str, Any], list[RowResult]]:
    """Load a baseline: a results directory or an ``evaluation_results.json`` file.

    The document gets ``"_source"`` (the file's path). Raises :class:`BaselineError` (an
    :class:`~pytest_genai_eval.artifacts.ArtifactError`) naming the path and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise BaselineError(
            f"baseline not found: {path} (expected a results directory or an {JSON_NAME}; "
            "write one from a run with --genai-update-baseline)"
        )
    file = _baseline_file(path)
    if path.is_dir() and not file.exists():
        raise BaselineError(f"baseline directory {path} holds no {JSON_NAME}")
    try:
        document, rows = read_results(file)
    except BaselineError:
        raise
    except ArtifactError as exc:
        raise BaselineError(f"cannot use baseline: {exc}") from exc
    document["_source"] = str(file)
    return document, rows


def write_baseline(
    source: Path | str | Mapping[str, Any] | tuple[Mapping[str, Any], Sequence[RowResult]],
    dest: Path | str,
) -> Path:
    """Make a run the new baseline, atomically (readers see the old file or the new one).

    ``source``: a results directory or ``evaluation_results.json`` (validated, then copied byte
    for byte), a full document with ``"rows"`` (as in the file), or ``(document, rows)``.
    ``dest``: the baseline file, or an existing directory (then ``dest/evaluation_results.json``).
    Parent directories are created. Returns the file written.
    """
    target = Path(dest)
    if target.is_dir():
        target = target / JSON_NAME
    if isinstance(source, (str, Path)):
        src = _baseline_file(Path(source))
        try:
            read_results(src)  # refuse to install a broken baseline
            data = src.read_bytes()
        except ArtifactError as exc:
            raise BaselineError(f"cannot write baseline from {source}: {exc}") from exc
        except OSError as exc:
            raise BaselineError(f"cannot read {src}: {exc}") from exc
    else:
        if isinstance(source, tuple):
            doc, rows = source
            full = {**doc, "rows": [r.to_dict() for r in rows]}
        else:
            full = dict(source)
            if not isinstance(full.get("rows"), list):
                raise BaselineError("cannot write baseline: the document has no 'rows' list")
        full.pop("_source", None)
        full.setdefault("schema_version", SCHEMA_VERSION)
        full = {"schema_version": full.pop("schema_version"), **full}
        data = (_dumps(full, indent=2) + "\n").encode("utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, data)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {target}: {exc}") from exc
    return target
