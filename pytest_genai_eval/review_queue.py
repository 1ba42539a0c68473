"""After a run: the review queue (``--genai-review-queue PATH``), the rows worth a human look.

Failed and errored assessments, votes that disagreed (flaky across repeats, panel
disagreements), stale labels, and a seeded random sample of passes (``--genai-review-sample N``,
seed 0), written in the labels format (JSONL, or CSV by the suffix) with ``rating``,
``rationale`` and ``reviewer`` to fill. The reviewer's file goes straight back in as the suite's
``labels:`` file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .labels import Label, ReviewItem, review_queue, write_review_queue
from .results import RowResult

__all__ = ["REVIEW_SEED", "run_review_queue", "stale_labels", "write_run_review_queue"]

REVIEW_SEED = 0


def stale_labels(results: Sequence[RowResult]) -> list[Label]:
    """The labels the run found stale (``details["stale_label"]``, ``label_suite.py``)."""
    out = []
    for result in results:
        for a in result.assessments:
            stale = a.details.get("stale_label")
            if isinstance(stale, Mapping):
                out.append(
                    Label(
                        request_id=result.request_id,
                        judge=a.name,
                        rating=str(stale.get("rating") or ""),
                        reviewer=str(stale.get("reviewer") or ""),
                        suite=result.suite,
                        response_hash=stale.get("response_hash"),
                        location=str(stale.get("source") or ""),
                    )
                )
    return out


def run_review_queue(
    results: Sequence[RowResult], sample: int, seed: int = REVIEW_SEED
) -> list[ReviewItem]:
    """The queue of a run's gated rows (``labels.review_queue`` with the stale labels)."""
    gated = [r for r in results if r.gated]
    return review_queue(gated, stale=stale_labels(gated), sample=sample, seed=seed)


def write_run_review_queue(
    path: Path, results: Sequence[RowResult], sample: int, seed: int = REVIEW_SEED
) -> tuple[Path | None, str | None]:
    """Write the queue; ``(path, None)``, or ``(None, warning)`` when it cannot be written (a
    lost queue never costs the run its verdict)."""
    try:
        return write_review_queue(path, run_review_queue(results, sample, seed)), None
    except OSError as exc:
        return None, f"review queue not written to {path}: {exc}"
