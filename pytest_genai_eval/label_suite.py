"""A suite's human labels: the ``labels:`` suite key, and applying the labels to a row's result.

Suite file::

    labels: labels.jsonl                 # or {file: labels.jsonl, use: compare}

``use: verdict`` (the default) makes a current label the verdict of record for its row and
judge: the assessment's rating is the person's, and the judge's own verdict is kept in its
details (``judge_rating``, ``judge_rationale``, ``judge_error``) for calibration. ``use: compare``
leaves the judge's verdict in place and only measures agreement. Either way the assessment's
``details["human_label"]`` holds the label (rating, reviewer, rationale, where it came from).

A label whose ``response_hash`` no longer matches the row's response judged another answer: it is
*stale*, recorded in ``details["stale_label"]`` (and counted), never used.

Labels are applied where a row's result is made (:func:`apply_labels`, called by the engine), so
the item, the metrics, the artifact and xdist workers all see the same verdicts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .labels import Label, LabelsError, load_labels, response_hash
from .results import RowResult

__all__ = ["LABEL_USES", "LabelUse", "LabelsSpec", "apply_labels", "parse_labels_spec"]

LabelUse = Literal["verdict", "compare"]
LABEL_USES: tuple[LabelUse, ...] = ("verdict", "compare")


@dataclass(frozen=True)
class LabelsSpec:
    """The labels of one suite, indexed by ``(request_id, assessment name)`` (the last label of a
    key wins)."""

    path: Path
    use: LabelUse = "verdict"
    labels: tuple[Label, ...] = ()
    index: Mapping[tuple[str, str], Label] = field(default_factory=dict)

    def describe(self, shown: str | None = None) -> dict[str, Any]:
        return {"file": shown or self.path.name, "use": self.use, "count": len(self.labels)}


def _use(value: Any, where: str) -> LabelUse:
    for use in LABEL_USES:
        if value == use:
            return use
    raise LabelsError(f"{where}: labels.use: expected verdict or compare, got {value!r}")


def parse_labels_spec(
    value: Any,
    *,
    suite: str,
    base_dir: Path | None,
    where: str,
    request_ids: Iterable[str],
    names: Iterable[str],
) -> LabelsSpec | None:
    """Read the ``labels:`` suite key (a path, or ``{file, use}``) and the file it names. Every
    label must name a row of this suite and an assessment it can have; a problem names the
    labels file, the line and the field."""
    if value is None:
        return None
    if isinstance(value, LabelsSpec):
        return value
    use: LabelUse = "verdict"
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - {"file", "use"})
        if unknown:
            raise LabelsError(f"{where}: labels.{unknown[0]}: unknown field; fields: file, use")
        use = _use(value.get("use", "verdict"), where)
        value = value.get("file")
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise LabelsError(f"{where}: labels: expected a labels file (JSONL or CSV), got {value!r}")
    path = Path(value)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    labels = [label for label in load_labels(path) if label.suite in (None, suite)]
    ids, known = set(request_ids), set(names)
    problems = []
    for label in labels:
        if label.request_id not in ids:
            close = difflib.get_close_matches(label.request_id, sorted(ids), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"{label.location}, field 'request_id': no row {label.request_id!r} in suite "
                f"{suite!r}{hint}"
            )
        elif label.judge not in known and label.judge.split("/")[0] not in known:
            close = difflib.get_close_matches(label.judge, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"{label.location}, field 'judge': suite {suite!r} has no judge or check "
                f"{label.judge!r}{hint} (it has: {', '.join(sorted(known))})"
            )
    if problems:
        raise LabelsError(
            f"{len(problems)} invalid label(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    index = {(label.request_id, label.judge): label for label in labels}
    return LabelsSpec(path=path, use=use, labels=tuple(labels), index=index)


def _label_record(label: Label) -> dict[str, Any]:
    return {
        "rating": label.rating,
        "reviewer": label.reviewer,
        "rationale": label.rationale,
        "source": label.location,
        "response_hash": label.response_hash,
    }


def apply_labels(result: RowResult, spec: LabelsSpec | None) -> None:
    """Stamp the row's assessments with their current (or stale) labels, in place; with
    ``use: verdict`` a current label becomes the assessment's verdict."""
    if spec is None or not spec.index:
        return
    current_hash: str | None = None
    for assessment in result.assessments:
        label = spec.index.get((result.request_id, assessment.name))
        if label is None or assessment.not_applicable:
            continue
        if label.response_hash:
            if current_hash is None:
                current_hash = response_hash(result.response)
            if label.response_hash != current_hash:
                assessment.details["stale_label"] = _label_record(label)
                continue
        details = assessment.details
        details["human_label"] = _label_record(label)
        details["judge_rating"] = assessment.rating
        if spec.use != "verdict":
            continue
        details["judge_rationale"] = assessment.rationale
        if assessment.error is not None:
            details["judge_error"] = assessment.error
        if assessment.skipped is not None:
            details["judge_skipped"] = assessment.skipped
        by = f" by {label.reviewer}" if label.reviewer else ""
        assessment.rating = "yes" if label.rating == "yes" else "no"
        assessment.rationale = f"Human label{by}: {label.rationale or label.rating}"
        assessment.error = None
        assessment.skipped = None


def labelled(results: Sequence[RowResult]) -> bool:
    """Did any row carry a current or stale label?"""
    return any(
        "human_label" in a.details or "stale_label" in a.details
        for r in results
        for a in r.assessments
    )
