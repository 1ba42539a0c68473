"""How far each judge agrees with the people: computed from rows whose assessments carry their
human labels (``label_suite.apply_labels``), so a run, a merge of shards and an artifact read
back all give the same numbers.

Metrics, for every judge with current labels:

* ``judge/<judge>/human_agreement`` (a rate), ``judge/<judge>/cohen_kappa``,
  ``judge/<judge>/human_label_count`` (labels compared) and the 2x2 counts
  ``judge/<judge>/human_label/both_yes|judge_yes_human_no|judge_no_human_yes|both_no``;
* labelled rows the judge could not rate (an error, not run) are unassessed: they bound
  agreement and kappa like unassessed rows bound a pass rate,
  ``judge/<judge>/human_label_unassessed_count`` and ``..._pessimistic`` / ``..._optimistic``
  (every unassessed verdict disagreed / agreed with the label);
* ``judge/stale_label_count``: labels not used because the response changed.

A kappa threshold (``kappa/correctness: 0.6`` or ``judge/correctness/cohen_kappa: 0.6``) is
decided on those bounds, and is undecidable when kappa cannot be computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .gate import Threshold
from .labels import JudgeAgreement
from .results import RowResult
from .vocabulary import fmt_pct, labelled_metric

__all__ = [
    "COUNT_KEYS",
    "RowCalibration",
    "calibration_from_results",
    "calibration_lines",
    "calibration_metrics",
    "calibration_rows",
    "label_threshold_problems",
]

COUNT_KEYS = ("both_yes", "judge_yes_human_no", "judge_no_human_yes", "both_no")


@dataclass
class RowCalibration:
    """Every judge's agreement with the labels of a set of rows."""

    judges: dict[str, JudgeAgreement] = field(default_factory=dict)
    unassessed: dict[str, list[str]] = field(default_factory=dict)  # judge -> human ratings
    stale: int = 0

    @property
    def empty(self) -> bool:
        return not self.judges and not self.unassessed and not self.stale


def _count(agreement: JudgeAgreement, judge: str | None, human: str) -> None:
    if judge == "yes" and human == "yes":
        agreement.both_yes += 1
    elif judge == "yes":
        agreement.judge_yes_human_no += 1
    elif human == "yes":
        agreement.judge_no_human_yes += 1
    else:
        agreement.both_no += 1


def calibration_from_results(results: Iterable[RowResult]) -> RowCalibration:
    """Count (judge verdict, human label) pairs from the stamped assessments."""
    out = RowCalibration()
    for result in results:
        for a in result.assessments:
            if "stale_label" in a.details:
                out.stale += 1
            label = a.details.get("human_label")
            if not isinstance(label, Mapping):
                continue
            human = label.get("rating")
            if human not in ("yes", "no"):
                continue
            judge = a.details.get("judge_rating")
            if judge not in ("yes", "no"):
                out.unassessed.setdefault(a.name, []).append(str(human))
                continue
            _count(out.judges.setdefault(a.name, JudgeAgreement(a.name)), str(judge), str(human))
    return out


def _bounded(agreement: JudgeAgreement, humans: Sequence[str], agree: bool) -> JudgeAgreement:
    """The counts if every unassessed verdict had agreed (or disagreed) with its label."""
    bound = JudgeAgreement(agreement.judge, *(getattr(agreement, k) for k in COUNT_KEYS))
    for human in humans:
        judge = human if agree else ("no" if human == "yes" else "yes")
        _count(bound, judge, human)
    return bound


def calibration_metrics(results: Sequence[RowResult]) -> dict[str, float | int | None]:
    """The calibration metrics (module docstring); empty when no row carries a label."""
    calibration = calibration_from_results(results)
    if calibration.empty:
        return {}
    out: dict[str, float | int | None] = {"judge/stale_label_count": calibration.stale}
    for name in sorted({*calibration.judges, *calibration.unassessed}):
        agreement = calibration.judges.get(name, JudgeAgreement(name))
        humans = calibration.unassessed.get(name, [])
        base = f"judge/{name}"
        out[f"{base}/human_agreement"] = agreement.agreement
        out[f"{base}/cohen_kappa"] = agreement.kappa
        out[f"{base}/human_label_count"] = agreement.n
        for key in COUNT_KEYS:
            out[f"{base}/human_label/{key}"] = getattr(agreement, key)
        out[f"{base}/human_label_unassessed_count"] = len(humans)
        worst, best = _bounded(agreement, humans, False), _bounded(agreement, humans, True)
        out[f"{base}/human_agreement_pessimistic"] = worst.agreement
        out[f"{base}/human_agreement_optimistic"] = best.agreement
        out[f"{base}/cohen_kappa_pessimistic"] = worst.kappa
        out[f"{base}/cohen_kappa_optimistic"] = best.kappa
    return out


def calibration_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per calibrated judge, from a metrics mapping (run, suite or artifact)."""
    suffix = "/human_label_count"
    out = []
    for key in sorted(metrics):
        if not (key.startswith("judge/") and key.endswith(suffix)):
            continue
        name = key[len("judge/") : -len(suffix)]
        base = f"judge/{name}"
        out.append(
            {
                "judge": name,
                "n": int(metrics.get(key) or 0),
                "agreement": metrics.get(f"{base}/human_agreement"),
                "cohen_kappa": metrics.get(f"{base}/cohen_kappa"),
                "unassessed": int(metrics.get(f"{base}/human_label_unassessed_count") or 0),
                **{k: int(metrics.get(f"{base}/human_label/{k}") or 0) for k in COUNT_KEYS},
            }
        )
    return out


def _kappa(value: Any) -> str:
    return "—" if not isinstance(value, (int, float)) else f"{value:.2f}"


CALIBRATION_HEADER = ("judge", "labels", "agreement", "kappa", "J+H+", "J+H-", "J-H+", "J-H-")


def calibration_table(metrics: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """The calibration table's rows as text cells (header: :data:`CALIBRATION_HEADER`). ``J+H-``:
    the judge said yes and the person no (a false pass)."""
    return [
        (
            row["judge"],
            str(row["n"]) + (f" (+{row['unassessed']} unassessed)" if row["unassessed"] else ""),
            fmt_pct(row["agreement"]),
            _kappa(row["cohen_kappa"]),
            *(str(row[k]) for k in COUNT_KEYS),
        )
        for row in calibration_rows(metrics)
    ]


def calibration_lines(metrics: Mapping[str, Any]) -> list[str]:
    """The calibration table as aligned text lines (empty without labels)."""
    compared = [r for r in calibration_rows(metrics) if r["n"]]
    waiting = sum(r["unassessed"] for r in calibration_rows(metrics) if not r["n"])
    rows = [cells for cells in calibration_table(metrics) if int(cells[1].split()[0])]
    stale = int(metrics.get("judge/stale_label_count") or 0)
    if not compared and not stale and not waiting:
        return []
    lines = ["  judge calibration against human labels:"]
    if waiting:
        lines.append(f"    {waiting} label(s) have no judge verdict to compare with (not run)")
    if rows:
        table = [CALIBRATION_HEADER, *rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(CALIBRATION_HEADER))]
        for r in table:
            cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r))]
            lines.append("    " + "  ".join(cells).rstrip())
    if stale:
        lines.append(f"    {stale} stale label(s) not used: the response changed since labelling")
    return lines


def label_threshold_problems(thresholds: Iterable[Threshold], has_labels: bool) -> list[str]:
    """A kappa or agreement threshold where no suite has labels can never be decided: a
    configuration mistake, reported before anything is called."""
    if has_labels:
        return []
    return [
        f"{t.origin + ': ' if t.origin else ''}threshold {t.name!r} needs human labels "
        "(the suite key 'labels'), but none are configured"
        for t in thresholds
        if labelled_metric(t.name) is not None
        or t.name.endswith(("/cohen_kappa", "/human_agreement"))
    ]
