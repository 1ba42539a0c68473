"""When a comparison with a baseline fails: :class:`RegressionRules`, their defaults, and the
option parsing shared by the CLI and the pytest options."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from ..gate import Threshold
from ..vocabulary import OVERALL

__all__ = (
    "DEFAULT_ALPHA",
    "DEFAULT_MAX_DROP",
    "DropTest",
    "RegressionRules",
    "parse_max_drop",
    "resolve_metric",
    "rules_from_options",
)

DEFAULT_ALPHA = 0.05
DEFAULT_MAX_DROP = 0.05  # margin for the overall pass rate: 5 percentage points

DropTest = Literal["wilson", "point"]

_OFF = ("off", "none", "disable", "disabled")


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
