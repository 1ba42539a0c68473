"""Human labels: the verdicts people gave, how far the judges agree with them, and the rows
worth a human look.

A labels file (JSONL or CSV) holds one label per line: ``request_id``, ``judge`` (the
assessment name, e.g. ``correctness`` or ``guideline_adherence/tone``), ``rating`` (``yes`` /
``no``), and optionally ``rationale``, ``reviewer``, ``suite`` and ``response_hash`` (the
:func:`response_hash` of the response the reviewer saw). A label whose hash no longer matches the
row's response is *stale*: it judged another answer, so it is reported and never used.

:func:`calibrate` compares the judges with the current labels: agreement, Cohen's kappa and the
2x2 counts per judge. :func:`review_queue` picks the rows a reviewer should look at and writes
them in the labels format, with the fields to fill, so that the reviewer's file goes straight
back in as labels.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EvaluationSetError
from .results import RowResult

__all__ = [
    "LABEL_FIELDS",
    "Calibration",
    "JudgeAgreement",
    "Label",
    "LabelsError",
    "ReviewItem",
    "calibrate",
    "cohen_kappa",
    "current_labels",
    "load_labels",
    "response_hash",
    "review_queue",
    "write_review_queue",
]

LABEL_FIELDS = ("suite", "request_id", "judge", "rating", "rationale", "reviewer", "response_hash")


class LabelsError(EvaluationSetError, ValueError):
    """A labels file cannot be read; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Label:
    request_id: str
    judge: str
    rating: str  # "yes" / "no"
    rationale: str = ""
    reviewer: str = ""
    suite: str | None = None
    response_hash: str | None = None
    location: str = ""


def response_hash(response: str | None) -> str:
    """A short, stable hash of a response's text (whitespace-normalized)."""
    text = " ".join((response or "").split())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ---- reading ------------------------------------------------------------------------------------
def _records(path: Path) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelsError(f"{path}: labels file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path}: cannot read the labels file: {exc}") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        return [(f"line {i + 2}", row) for i, row in enumerate(reader)]
    out: list[tuple[str, Mapping[str, Any]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise LabelsError(f"{path}, line {number}: malformed JSON: {exc}") from None
        if not isinstance(value, Mapping):
            raise LabelsError(f"{path}, line {number}: expected an object")
        out.append((f"line {number}", value))
    return out


def load_labels(path: Path | str) -> list[Label]:
    """Every label of a JSONL or CSV file; problems are reported together, each naming the
    file, the line and the field. An empty ``rating`` (a review queue line not filled in yet)
    is skipped."""
    path = Path(path)
    labels: list[Label] = []
    problems: list[str] = []
    for location, record in _records(path):

        def text(key: str, record: Mapping[str, Any] = record) -> str:
            value = record.get(key)
            return "" if value is None else str(value).strip()

        rating = text("rating").lower()
        if not rating:
            continue  # not reviewed yet
        where = f"{path}, {location}"
        missing = [k for k in ("request_id", "judge") if not text(k)]
        if missing:
            problems.append(f"{where}, field '{missing[0]}': missing")
            continue
        if rating not in ("yes", "no"):
            problems.append(f"{where}, field 'rating': expected yes or no, got {text('rating')!r}")
            continue
        labels.append(
            Label(
                request_id=text("request_id"),
                judge=text("judge"),
                rating=rating,
                rationale=text("rationale"),
                reviewer=text("reviewer"),
                suite=text("suite") or None,
                response_hash=text("response_hash") or None,
                location=where,
            )
        )
    if problems:
        raise LabelsError(
            f"{len(problems)} invalid label(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return labels


def current_labels(
    labels: Iterable[Label], results: Iterable[RowResult]
) -> tuple[dict[tuple[str, str, str], Label], list[Label]]:
    """``(current, stale)``: the labels that apply to this run's rows, keyed by
    ``(suite, request_id, judge)`` (the last label of a key wins), and those whose response hash
    no longer matches the row's response. Labels for rows this run does not have are left out."""
    rows: dict[str, list[RowResult]] = {}
    for result in results:
        rows.setdefault(result.request_id, []).append(result)
    current: dict[tuple[str, str, str], Label] = {}
    stale: list[Label] = []
    for label in labels:
        for result in rows.get(label.request_id, []):
            if label.suite is not None and label.suite != result.suite:
                continue
            if label.response_hash and label.response_hash != response_hash(result.response):
                stale.append(label)
                continue
            current[(result.suite, result.request_id, label.judge)] = label
    return current, stale


# ---- agreement ----------------------------------------------------------------------------------
def cohen_kappa(
    both_yes: int, judge_yes_human_no: int, judge_no_human_yes: int, both_no: int
) -> float | None:
    """Cohen's kappa of two raters on a yes/no scale; None when chance agreement is total
    (both raters always gave the same single answer)."""
    n = both_yes + judge_yes_human_no + judge_no_human_yes + both_no
    if n == 0:
        return None
    observed = (both_yes + both_no) / n
    judge_yes = (both_yes + judge_yes_human_no) / n
    human_yes = (both_yes + judge_no_human_yes) / n
    chance = judge_yes * human_yes + (1 - judge_yes) * (1 - human_yes)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1 - chance)


@dataclass
class JudgeAgreement:
    """One judge against the people: counts of (judge, human) verdict pairs."""

    judge: str
    both_yes: int = 0
    judge_yes_human_no: int = 0  # false passes: found only by looking
    judge_no_human_yes: int = 0  # false failures
    both_no: int = 0

    @property
    def n(self) -> int:
        return self.both_yes + self.judge_yes_human_no + self.judge_no_human_yes + self.both_no

    @property
    def agreement(self) -> float | None:
        return (self.both_yes + self.both_no) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(
            self.both_yes, self.judge_yes_human_no, self.judge_no_human_yes, self.both_no
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "n": self.n,
            "agreement": self.agreement,
            "cohen_kappa": self.kappa,
            "both_yes": self.both_yes,
            "judge_yes_human_no": self.judge_yes_human_no,
            "judge_no_human_yes": self.judge_no_human_yes,
            "both_no": self.both_no,
        }


@dataclass
class Calibration:
    judges: dict[str, JudgeAgreement] = field(default_factory=dict)
    stale: list[Label] = field(default_factory=list)
    unmatched: int = 0  # current labels whose judge did not rate the row (error, not run)

    def metrics(self) -> dict[str, float | int | None]:
        """``judge/<judge>/human_agreement``, ``judge/<judge>/cohen_kappa`` and
        ``judge/<judge>/human_label_count``, plus ``judge/stale_label_count``."""
        out: dict[str, float | int | None] = {"judge/stale_label_count": len(self.stale)}
        for name, agreement in sorted(self.judges.items()):
            out[f"judge/{name}/human_agreement"] = agreement.agreement
            out[f"judge/{name}/cohen_kappa"] = agreement.kappa
            out[f"judge/{name}/human_label_count"] = agreement.n
        return out


def calibrate(results: Sequence[RowResult], labels: Iterable[Label]) -> Calibration:
    """How far each judge agrees with the current labels of these rows. A judge's verdict is its
    rating as the judge gave it (``details["judge_rating"]`` when a label replaced it)."""
    current, stale = current_labels(labels, results)
    calibration = Calibration(stale=stale)
    by_key = {(r.suite, r.request_id): r for r in results}
    for (suite, request_id, judge), label in current.items():
        result = by_key.get((suite, request_id))
        assessment = (
            next((a for a in result.assessments if a.name == judge), None) if result else None
        )
        rating = None
        if assessment is not None:
            rating = assessment.details.get("judge_rating", assessment.rating)
        if rating not in ("yes", "no"):
            calibration.unmatched += 1
            continue
        agreement = calibration.judges.setdefault(judge, JudgeAgreement(judge))
        if rating == "yes" and label.rating == "yes":
            agreement.both_yes += 1
        elif rating == "yes":
            agreement.judge_yes_human_no += 1
        elif label.rating == "yes":
            agreement.judge_no_human_yes += 1
        else:
            agreement.both_no += 1
    return calibration


# ---- the review queue ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewItem:
    suite: str
    request_id: str
    judge: str
    judge_rating: str | None
    judge_rationale: str | None
    reason: str
    request: str
    response: str | None

    def to_record(self) -> dict[str, Any]:
        """A labels-format line with the fields to fill (``rating``, ``rationale``,
        ``reviewer``) empty, and what the reviewer needs to decide."""
        return {
            "suite": self.suite,
            "request_id": self.request_id,
            "judge": self.judge,
            "rating": "",
            "rationale": "",
            "reviewer": "",
            "response_hash": response_hash(self.response),
            "reason": self.reason,
            "judge_rating": self.judge_rating,
            "judge_rationale": self.judge_rationale,
            "request": self.request,
            "response": self.response,
        }


def review_queue(
    results: Sequence[RowResult],
    *,
    stale: Sequence[Label] = (),
    sample: int = 5,
    seed: int = 0,
) -> list[ReviewItem]:
    """The assessments worth a human look: failed, errored, flaky across repeats, panel
    disagreements, stale labels, and a seeded random sample of ``sample`` passes (false passes
    are found only by looking). One item per (row, judge), the first reason found."""
    from .results import request_text

    items: dict[tuple[str, str, str], ReviewItem] = {}

    def add(result: RowResult, judge: str, reason: str) -> None:
        key = (result.suite, result.request_id, judge)
        if key in items:
            return
        assessment = next((a for a in result.assessments if a.name == judge), None)
        items[key] = ReviewItem(
            suite=result.suite,
            request_id=result.request_id,
            judge=judge,
            judge_rating=assessment.rating if assessment else None,
            judge_rationale=(assessment.rationale or assessment.error) if assessment else None,
            reason=reason,
            request=request_text(result.row),
            response=result.response,
        )

    passes: list[tuple[RowResult, str]] = []
    for result in results:
        for a in result.assessments:
            if a.kind == "check":
                continue  # deterministic: nothing for a person to calibrate
            if a.failed:
                add(result, a.name, "failed")
            elif a.error is not None:
                add(result, a.name, "error")
            elif a.details.get("flaky"):
                add(result, a.name, "votes disagreed (flaky or panel disagreement)")
            elif a.passed:
                passes.append((result, a.name))
    by_key = {(r.suite, r.request_id): r for r in results}
    for label in stale:
        for (suite, request_id), result in by_key.items():
            if request_id == label.request_id and label.suite in (None, suite):
                add(result, label.judge, "stale label: the response changed since it was labelled")
    rng = random.Random(seed)
    for result, judge in rng.sample(passes, min(sample, len(passes))):
        add(result, judge, "random sample of passes")
    return list(items.values())


def write_review_queue(path: Path | str, items: Sequence[ReviewItem]) -> Path:
    """Write the queue as JSONL (or CSV, by the suffix) in the labels format."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    records = [item.to_record() for item in items]
    if target.suffix.lower() == ".csv":
        buffer = io.StringIO()
        columns = list(records[0]) if records else [*LABEL_FIELDS]
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        target.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        target.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
    return target
