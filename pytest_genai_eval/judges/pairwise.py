"""``pairwise_preference``: is a new response at least as good as the baseline's?

The judge is asked twice, in both orders (position swap): first with the new response as A and
the baseline's as B, then the other way round, each time "is A at least as good as B?".

* new >= old and not old >= new: a **win**; the reverse: a **loss**;
* both "yes" (equally good) or both "no" (the answers contradict each other, typically a
  position bias): a **tie**;
* either question without an answer (the call failed, or no judge is configured): an **error**,
  never a win, a loss or a tie (the comparison decides on bounds, see ``compare/pairwise.py``).

The prompt is ``prompts/pairwise_preference.txt``; its version is recorded and is part of the
verdict cache key, like every other judge's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from ..results import Assessment
from .base import JudgeRunner, PromptTemplate, ask_yes_no, section

PAIRWISE_JUDGE = "pairwise_preference"

PairOutcome = Literal["win", "tie", "loss", "error"]


@dataclass(frozen=True)
class PairVerdict:
    """One row's pairwise verdict: ``outcome`` and the two answers (new as A, then old as A)."""

    outcome: PairOutcome
    new_first: Assessment
    old_first: Assessment

    @property
    def error(self) -> str | None:
        if self.outcome != "error":
            return None
        for label, a in (("new first", self.new_first), ("baseline first", self.old_first)):
            if a.rating is None:
                return f"{label}: {a.error or a.skipped or 'no verdict'}"
        return None

    @property
    def cached(self) -> bool:
        return self.new_first.cached and self.old_first.cached

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "new_first": self.new_first.rating,
            "baseline_first": self.old_first.rating,
            "rationale": self.new_first.rationale,
            "error": self.error,
        }


def combine(new_first: Assessment, old_first: Assessment) -> PairOutcome:
    """The outcome of the two answers (see the module docstring)."""
    if new_first.rating is None or old_first.rating is None:
        return "error"
    new_ok, old_ok = new_first.rating == "yes", old_first.rating == "yes"
    if new_ok and not old_ok:
        return "win"
    if old_ok and not new_ok:
        return "loss"
    return "tie"


class PairwiseJudge:
    """Asks ``pairwise_preference`` for one row, both orders concurrently."""

    def __init__(self, template: PromptTemplate | None = None) -> None:
        self.template = template or PromptTemplate.builtin(PAIRWISE_JUDGE)

    async def judge(self, runner: JudgeRunner, request: str, new: str, old: str) -> PairVerdict:
        new_first, old_first = await asyncio.gather(
            self._ask(runner, request, new, old), self._ask(runner, request, old, new)
        )
        return PairVerdict(combine(new_first, old_first), new_first, old_first)

    async def _ask(self, runner: JudgeRunner, request: str, a: str, b: str) -> Assessment:
        return await ask_yes_no(
            runner,
            judge=PAIRWISE_JUDGE,
            name=PAIRWISE_JUDGE,
            template=self.template,
            variables={
                "request": section("request", request),
                "response_a": section("response_a", a),
                "response_b": section("response_b", b),
            },
        )
