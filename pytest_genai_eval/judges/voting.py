"""Aggregating several yes/no votes into one rating (judge panels, repeats, per-chunk votes).

Rules (documented in docs/judges.md):

* ``majority``: "yes" when more votes say yes than no; a tie is "no" (a tie is not a pass).
* ``any``: "yes" when at least one vote says yes.
* ``all``: "yes" when every vote says yes.
* ``pass_at_k`` (pass@k, Chen et al. 2021): "yes" when a draw of ``k`` of the row's samples is
  more likely than not to hold at least one pass. With ``n`` returned votes of which ``c`` say
  yes, the unbiased estimate is ``1 - C(n-c, k) / C(n, k)``; with ``k == n`` (the default) it is
  1 when any vote says yes and 0 otherwise.
* ``pass_hat_k`` (pass^k, tau-bench): "yes" when a draw of ``k`` samples is more likely than not
  to be all passes; the estimate is ``C(c, k) / C(n, k)`` (``k == n``: every vote says yes).

Every rule records the row's flake rate: the share of the returned votes that disagree with the
majority (``min(yes, no) / (yes + no)``; 0 when they agree).

A vote that errored (or could not run) is not an opinion. ``majority`` and ``any`` decide over
the votes that returned when at least half of all votes returned, otherwise the result is an
error. ``all`` needs every vote: any failed vote makes the result an error. ``pass_at_k`` and
``pass_hat_k`` decide over the returned votes like ``majority`` and also need at least ``k`` of
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..pass_at_k import flake_rate, pass_at_k, pass_hat_k
from ..results import Rating

Aggregate = Literal["majority", "all", "any", "pass_at_k", "pass_hat_k"]
AGGREGATES: tuple[Aggregate, ...] = ("majority", "all", "any", "pass_at_k", "pass_hat_k")
SAMPLING_RULES: tuple[Aggregate, ...] = ("pass_at_k", "pass_hat_k")  # see pass_at_k.py


@dataclass(frozen=True)
class Tally:
    """The outcome of a vote: ``rating`` or ``error`` (exactly one is set) and a summary."""

    rating: Rating | None
    error: str | None
    summary: str
    yes: int
    no: int
    failed: int
    k: int | None = None  # pass_at_k / pass_hat_k: the draw size
    estimate: float | None = None  # pass_at_k / pass_hat_k: the unbiased estimate

    @property
    def flake_rate(self) -> float | None:
        return flake_rate(self.yes, self.no)

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


def aggregate_ratings(
    ratings: Sequence[Rating | None], rule: Aggregate, k: int | None = None
) -> Tally:
    """Aggregate votes (None = the vote failed) with ``rule``; ``k`` is the draw size of
    ``pass_at_k`` / ``pass_hat_k`` (None: every returned vote)."""
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
    if rule in SAMPLING_RULES:
        return _sampling_tally(rule, k, summary, yes, no, failed)
    if yes == no:
        return Tally("no", None, f"{summary}; a tie is not a pass", yes, no, failed)
    return Tally("yes" if yes > no else "no", None, summary, yes, no, failed)


def _sampling_tally(
    rule: Aggregate, k: int | None, summary: str, yes: int, no: int, failed: int
) -> Tally:
    n = yes + no
    draw = n if k is None else k
    if draw > n:
        error = f"{summary}; '{rule}' with k={draw} needs at least {draw} returned votes"
        return Tally(None, error, summary, yes, no, failed, k=draw)
    estimate = pass_at_k(n, yes, draw) if rule == "pass_at_k" else pass_hat_k(n, yes, draw)
    label = "pass@" if rule == "pass_at_k" else "pass^"
    summary = f"{summary}; {label}{draw} = {estimate:.3f}"
    rating: Rating = "yes" if estimate > 0.5 else "no"
    return Tally(rating, None, summary, yes, no, failed, k=draw, estimate=estimate)

