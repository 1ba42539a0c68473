"""The two runs' metrics side by side: each metric's old and new value, its change and, for
pass rates, the Wilson intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..document import RunDocument
from ..metrics import compute_metrics, metric_direction
from ..results import RowResult
from ..stats import wilson_interval
from ..vocabulary import RATE_SUFFIX as _RATE_SUFFIX
from ..vocabulary import number
from .model import MetricDelta


def _metrics_of(document: RunDocument, rows: Sequence[RowResult]) -> dict[str, Any]:
    """The run's metrics: computed from the rows, overridden by what the document recorded."""
    metrics: dict[str, Any] = dict(compute_metrics(rows))
    metrics.update(document.metrics)
    return metrics


def _rate_ci(
    metrics: Mapping[str, Any], name: str, confidence: float
) -> tuple[float, float] | None:
    if not name.endswith(_RATE_SUFFIX):
        return None
    rate = number(metrics.get(name))
    count = number(metrics.get(name[: -len("/percentage")] + "/count"))
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
        if number(new.get(n)) is not None or number(old.get(n)) is not None
    ]
    out = []
    for name in names:
        a, b = number(old.get(name)), number(new.get(name))
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
