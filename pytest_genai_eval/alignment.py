"""``genai-eval align``: few-shot examples for a judge from the rows where people disagreed with
it, and how much they help, measured honestly.

Input: a run's artifact (the rows, their responses and the judge's verdicts) and a labels file
(``labels.py``). The labelled rows of one judge are split into ``k`` folds (a seeded shuffle,
then round-robin). For each fold, the examples are the disagreements (judge verdict != label) of
the *other* folds, with the label as the correct rating; the judge is asked again, with those
examples in its prompt, on the held-out fold only. Kappa *before* is the run's verdicts on the
held-out rows, kappa *after* the re-asked verdicts; both are pooled over the folds, so no row is
ever scored by examples learned from it. The examples file written at the end holds the
disagreements of every labelled row (at most ``max_examples``), for the suite key
``judge_examples``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .few_shot import Example
from .labels import Label, cohen_kappa, current_labels
from .results import RowResult, request_text

__all__ = (
    "AlignmentReport",
    "FoldResult",
    "LabelledRow",
    "Rejudge",
    "align",
    "disagreements",
    "kappa_of",
    "labelled_rows",
    "make_folds",
)


@dataclass(frozen=True)
class LabelledRow:
    suite: str
    request_id: str
    row: Mapping[str, Any]  # the input row (request, ground truth...)
    response: str
    human: str  # "yes" / "no"
    judged: str | None  # the run's verdict (None: errored or skipped)
    rationale: str = ""  # the reviewer's

    def example(self) -> Example:
        expected = self.row.get("expected_response")
        return Example(
            request=request_text(self.row),
            response=self.response,
            rating=self.human,
            rationale=self.rationale,
            expected_response=expected if isinstance(expected, str) else "",
        )


# rows, examples -> the judge's verdicts on the rows with the examples in its prompt
Rejudge = Callable[[Sequence[LabelledRow], Sequence[Example]], list[str | None]]


def labelled_rows(
    results: Iterable[RowResult], labels: Iterable[Label], judge: str
) -> list[LabelledRow]:
    """The rows of ``results`` with a current label for ``judge``, sorted by (suite, id)."""
    results = list(results)
    current, _stale = current_labels([lb for lb in labels if lb.judge == judge], results)
    out: list[LabelledRow] = []
    for result in results:
        label = current.get((result.suite, result.request_id, judge))
        if label is None or result.response is None:
            continue
        verdict = next((a.rating for a in result.assessments if a.name == judge), None)
        out.append(
            LabelledRow(
                result.suite,
                result.request_id,
                result.row,
                result.response,
                label.rating,
                verdict,
                label.rationale,
            )
        )
    return sorted(out, key=lambda r: (r.suite, r.request_id))


def disagreements(rows: Iterable[LabelledRow]) -> list[Example]:
    return [r.example() for r in rows if r.judged is not None and r.judged != r.human]


def make_folds(count: int, k: int, seed: int = 0) -> list[list[int]]:
    """Indexes ``0..count-1`` in ``min(k, count)`` folds: a seeded shuffle, then round-robin."""
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    k = min(k, count)
    return [sorted(order[i::k]) for i in range(k)]


def kappa_of(pairs: Iterable[tuple[str | None, str]]) -> float | None:
    """Cohen's kappa of (judge, human) verdicts; pairs without a judge verdict are left out."""
    counts = {(j, h): 0 for j in ("yes", "no") for h in ("yes", "no")}
    for judged, human in pairs:
        if judged in ("yes", "no"):
            counts[(judged, human)] += 1
    return cohen_kappa(
        counts[("yes", "yes")], counts[("yes", "no")], counts[("no", "yes")], counts[("no", "no")]
    )


@dataclass(frozen=True)
class FoldResult:
    fold: int
    rows: int
    examples: int
    kappa_before: float | None
    kappa_after: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AlignmentReport:
    judge: str
    rows: int
    disagreements: int
    kappa_before: float | None
    kappa_after: float | None
    folds: tuple[FoldResult, ...]
    examples: tuple[Example, ...] = field(default=())  # for the examples file: all rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "labelled_rows": self.rows,
            "disagreements": self.disagreements,
            "kappa_before": self.kappa_before,
            "kappa_after": self.kappa_after,
            "folds": [f.to_dict() for f in self.folds],
            "examples": len(self.examples),
        }


def align(
    rows: Sequence[LabelledRow],
    judge: str,
    rejudge: Rejudge,
    *,
    k: int = 5,
    seed: int = 0,
    max_examples: int = 10,
) -> AlignmentReport:
    """Cross-validated alignment (see the module docstring). Raises ``ValueError`` with fewer
    than two labelled rows."""
    if len(rows) < 2:
        raise ValueError(f"{judge}: {len(rows)} labelled row(s); alignment needs at least 2")
    before: list[tuple[str | None, str]] = []
    after: list[tuple[str | None, str]] = []
    folds: list[FoldResult] = []
    for number, held in enumerate(make_folds(len(rows), k, seed), 1):
        held_set = set(held)
        test = [rows[i] for i in held]
        train = [r for i, r in enumerate(rows) if i not in held_set]
        examples = disagreements(train)[:max_examples]
        new = rejudge(test, examples) if examples else [r.judged for r in test]
        fold_before = [(r.judged, r.human) for r in test]
        fold_after = [(v, r.human) for v, r in zip(new, test, strict=True)]
        before += fold_before
        after += fold_after
        folds.append(
            FoldResult(number, len(test), len(examples), kappa_of(fold_before), kappa_of(fold_after))
        )
    everything = disagreements(rows)
    return AlignmentReport(
        judge=judge,
        rows=len(rows),
        disagreements=len(everything),
        kappa_before=kappa_of(before),
        kappa_after=kappa_of(after),
        folds=tuple(folds),
        examples=tuple(everything[:max_examples]),
    )
