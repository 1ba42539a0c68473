"""Small helpers shared by the report's sections: HTML escaping, reading untrusted values, and
how values, metrics and their changes are shown."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from ..compare import MetricDelta
from ..vocabulary import fmt_delta


def e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _short_time(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "—"
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.strftime("%Y-%m-%d %H:%M")


def _delta_text(delta: MetricDelta) -> tuple[str, str]:
    """(text, css class: good/bad/flat) of a metric's change."""
    text = fmt_delta(delta.name, delta.delta, typographic=True)
    worse = delta.worsening
    if worse is None or delta.direction == "none" or text.startswith("±"):
        return text, "flat"
    return text, "bad" if worse > 0 else "good"
