"""How far to trust a run's numbers, as people read them: error bars and power of the overall
rate, each judge's agreement with human labels, and the paired difference against a baseline.
Used by the terminal summary and the Markdown summary (pure functions of metrics)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .calibration import CALIBRATION_HEADER, calibration_lines, calibration_table
from .vocabulary import MIN_DETECTABLE_DROP, OVERALL, OVERALL_RATING, fmt_pct, number

__all__ = [
    "calibration_markdown",
    "error_bar_text",
    "paired_difference_text",
    "summary_lines",
]


def _points(value: float) -> str:
    return f"{100 * value:.1f} pts"


def error_bar_text(metrics: Mapping[str, Any]) -> str | None:
    """``overall 72.7% ± 9.5 pts (SE), 95% CI 54.1–91.3%; smallest detectable drop 23.4 pts
    (alpha 0.05, power 0.8)``; None when the overall rate has no rated row."""
    rate = number(metrics.get(OVERALL))
    se = number(metrics.get(f"{OVERALL_RATING}/standard_error"))
    if rate is None or se is None:
        return None
    low = number(metrics.get(f"{OVERALL_RATING}/clt_ci_low"))
    high = number(metrics.get(f"{OVERALL_RATING}/clt_ci_high"))
    if se == 0.0:
        # every rated row agrees: the normal interval collapses to a point, which would claim
        # certainty; the Wilson interval (the one the gate uses) says what the rows allow
        text = f"overall {fmt_pct(rate)}, no spread (every rated row agrees)"
        low = number(metrics.get(f"{OVERALL_RATING}/ci_low"))
        high = number(metrics.get(f"{OVERALL_RATING}/ci_high"))
        if low is not None and high is not None:
            text += f", Wilson 95% CI {fmt_pct(low)}–{fmt_pct(high)}"
    else:
        text = f"overall {fmt_pct(rate)} ± {_points(se)} (SE)"
        if low is not None and high is not None:
            text += f", 95% CI {fmt_pct(low)}–{fmt_pct(high)}"
    clusters = number(metrics.get(f"{OVERALL_RATING}/cluster_count"))
    if clusters is not None:
        text += f", clustered ({clusters:.0f} clusters)"
    drop = number(metrics.get(MIN_DETECTABLE_DROP))
    if drop is not None:
        text += f"; smallest detectable drop {_points(drop)} (alpha 0.05, power 0.8)"
    elif rate > 0:
        text += "; too few rows to detect any drop (alpha 0.05, power 0.8)"
    return text


def summary_lines(metrics: Mapping[str, Any]) -> list[str]:
    """A suite's (or the run's) error-bar line and calibration table for the terminal."""
    lines = []
    bars = error_bar_text(metrics)
    if bars is not None:
        lines.append(f"  error bars: {bars}")
    return lines + calibration_lines(metrics)


def calibration_markdown(metrics: Mapping[str, Any]) -> list[str]:
    """The calibration table in Markdown (empty without labels)."""
    rows = calibration_table(metrics)
    stale = int(number(metrics.get("judge/stale_label_count")) or 0)
    if not rows and not stale:
        return []
    out = ["", "**Judge calibration against human labels**", ""]
    if rows:
        out.append("| " + " | ".join(CALIBRATION_HEADER) + " |")
        out.append("|" + "---|" * len(CALIBRATION_HEADER))
        out += ["| " + " | ".join(cells) + " |" for cells in rows]
    if stale:
        out += ["", f"{stale} stale label(s) not used: the response changed since labelling."]
    return out


def paired_difference_text(paired: Mapping[str, Any]) -> str | None:
    """``paired difference −9.1 pts (SE 6.1 pts, 95% CI −21.0 to +2.8 pts), correlation 0.62``
    from a paired test's dict (``PairedTest.to_dict``); None without paired rows."""
    mean = number(paired.get("mean_difference"))
    se = number(paired.get("standard_error"))
    if mean is None or se is None:
        return None
    low, high = number(paired.get("ci_low")), number(paired.get("ci_high"))
    text = f"paired difference {100 * mean:+.1f} pts (SE {_points(se)}"
    if low is not None and high is not None:
        text += f", 95% CI {100 * low:+.1f} to {100 * high:+.1f} pts"
    text += ")"
    corr = number(paired.get("correlation"))
    text += f", correlation {corr:.2f}" if corr is not None else ", correlation n/a"
    return text
