"""Aggregating several yes/no votes into one rating (judge panels, repeats, per-chunk votes).

Rules (documented in docs/judges.md):

* ``majority``: "yes" when more votes say yes than no; a tie is "no" (a tie is not a pass).
* ``any``: "yes" when at least one vote says yes.
* ``all``: "yes" when every vote says yes.

A vote that errored (or could not run) is not an opinion. ``majority`` and ``any`` decide over
the votes that returned when at least half of all votes returned, otherwise the result is an
error. ``all`` needs every vote: any failed vote makes the result an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..results import Rating

Aggregate = Literal["majority", "all", "any"]
AGGREGATES: tuple[Aggregate, ...] = ("majority", "all", "any")


@dataclass(frozen=True)
class Tally:
    """The outcome of a vote: ``rating`` or ``error`` (exactly one is set) and a summary."""

    rating: Rating | None
    error: str | None
    summary: str
    yes: int
    no: int
    failed: int

    @property
    def returned(self) -> int:
        return self.yes + self.no

    @property
    def agreement(self) -> float | None:
        """Share of the returned votes that agree with the final rating."""
        if self.rating is None or self.returned == 0:
            return None
        agreeing = self.yes if self.rating == "yes" else self.no
        return agreeing / self.returned

    @property
    def split(self) -> bool:
        """True when the returned votes disagree (some yes, some no)."""
        return self.yes > 0 and self.no > 0


def aggregate_ratings(ratings: Sequence[Rating | None], rule: Aggregate) -> Tally:
    """Aggregate votes (None = the vote failed) with ``rule``."""
    total = len(ratings)
    yes = sum(1 for r in ratings if r == "yes")
    no = sum(1 for r in ratings if r == "no")
    failed = total - yes - no
    summary = f"{rule}: {yes} yes, {no} no" + (f", {failed} failed" if failed else "")
    summary += f" of {total} vote(s)"
    if total == 0:
        return Tally(None, "no votes", summary, 0, 0, 0)
    if rule == "all":
        if failed:
            return Tally(
                None, f"{summary}; 'all' needs every vote to return", summary, yes, no, failed
            )
        return Tally("yes" if no == 0 else "no", None, summary, yes, no, failed)
    if (yes + no) * 2 < total:
        error = f"{summary}; '{rule}' needs at least half of the votes to return"
        return Tally(None, error, summary, yes, no, failed)
    if rule == "any":
        return Tally("yes" if yes else "no", None, summary, yes, no, failed)
    if yes == no:
        return Tally("no", None, f"{summary}; a tie is not a pass", yes, no, failed)
    return Tally("yes" if yes > no else "no", None, summary, yes, no, failed)
