"""Running ``pairwise_preference`` on the rows whose response changed against the baseline.

A row is compared when it is in both runs (same suite and request_id) and has a response in both
that differs. Each row asks the judge twice (``judges/pairwise.py``) through the same runner,
verdict cache and rate limit as the row judges; the verdicts become a
``compare.pairwise.PairwiseSummary`` that :func:`compare.compare` turns into a gate rule. Runs
once, on the controller, when the run ends (``--genai-baseline-pairwise``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .compare.pairwise import PairwiseRow, PairwiseSummary
from .engine import EngineSettings
from .judges.pairwise import PairVerdict, PairwiseJudge
from .redact import Redactor
from .results import RowResult, request_text
from .runner import LLMJudgeRunner

__all__ = ("ChangedPair", "changed_pairs", "run_pairwise", "run_pairwise_async")


@dataclass(frozen=True)
class ChangedPair:
    suite: str
    request_id: str
    request: str
    new: str
    old: str


def changed_pairs(
    baseline: Sequence[RowResult], current: Sequence[RowResult]
) -> list[ChangedPair]:
    """The rows of ``current`` (in its order) whose response differs from the baseline's."""
    old = {(r.suite, r.request_id): r for r in baseline}
    out: list[ChangedPair] = []
    for row in current:
        base = old.get((row.suite, row.request_id))
        if base is None or row.response is None or base.response is None:
            continue
        if row.response != base.response:
            request = request_text(row.row) or request_text(base.row)
            out.append(
                ChangedPair(row.suite, row.request_id, request, row.response, base.response)
            )
    return out


async def run_pairwise_async(
    pairs: Sequence[ChangedPair],
    settings: EngineSettings,
    redactor: Redactor | None = None,
    judge: PairwiseJudge | None = None,
) -> PairwiseSummary:
    judge = judge or PairwiseJudge()
    runner = LLMJudgeRunner(
        default=settings.judge,
        missing_reason=settings.judge_missing_reason,
        concurrency=max(1, settings.concurrency),
        stopping=threading.Event(),
        cache=settings.cache,
        requests_per_minute=settings.requests_per_minute,
        redactor=redactor,
    )
    try:
        verdicts: list[PairVerdict] = list(
            await asyncio.gather(*(judge.judge(runner, p.request, p.new, p.old) for p in pairs))
        )
    finally:
        await runner.aclose()
    rows = tuple(
        PairwiseRow(p.suite, p.request_id, v.to_dict())
        for p, v in zip(pairs, verdicts, strict=True)
    )
    return PairwiseSummary(rows, judge.template.version, runner.calls)


def run_pairwise(
    baseline: Sequence[RowResult],
    current: Sequence[RowResult],
    settings: EngineSettings,
    redactor: Redactor | None = None,
) -> PairwiseSummary:
    """The pairwise verdicts of the changed rows, from synchronous code (its own event loop, on
    a worker thread, so a caller inside a running loop is fine)."""
    pairs = changed_pairs(baseline, current)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run_pairwise_async(pairs, settings, redactor)).result()
