"""The pairwise rule of the baseline gate: win/tie/loss counts of ``pairwise_preference`` on the
rows whose response changed, and a two-sided exact sign test on wins vs losses (ties dropped).

The comparison fails when the new responses are significantly worse: more losses than wins and
``p < alpha`` (the baseline alpha). Rows whose pairwise verdict errored are unassessed: the rule
is decided on the bounds, like the other baseline rules. It fails only if it fails even when
every errored row is a win, passes only if it passes even when every errored row is a loss, and
is otherwise undecidable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..stats import exact_mcnemar
from .model import RuleCheck

__all__ = ("PairwiseRow", "PairwiseSummary", "pairwise_check", "sign_test")


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: ``min(1, 2 * P(X <= min(wins, losses)))`` with
    ``X ~ Bin(wins + losses, 0.5)``; 1.0 when there are neither wins nor losses."""
    return exact_mcnemar(wins, losses)


@dataclass(frozen=True)
class PairwiseRow:
    """One row's pairwise verdict (``judges/pairwise.PairVerdict.to_dict`` plus its key)."""

    suite: str
    request_id: str
    verdict: Mapping[str, Any]

    @property
    def outcome(self) -> str:
        return str(self.verdict.get("outcome"))

    def to_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "request_id": self.request_id, **self.verdict}


@dataclass(frozen=True)
class PairwiseSummary:
    """The pairwise verdicts of one comparison and their counts."""

    rows: tuple[PairwiseRow, ...]
    prompt_version: str | None = None
    calls: int = 0  # judge calls made (cache misses)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def wins(self) -> int:
        return self.count("win")

    @property
    def ties(self) -> int:
        return self.count("tie")

    @property
    def losses(self) -> int:
        return self.count("loss")

    @property
    def errors(self) -> int:
        return self.count("error")

    @property
    def p_value(self) -> float:
        return sign_test(self.wins, self.losses)

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": "pairwise_preference",
            "prompt_version": self.prompt_version,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "errors": self.errors,
            "sign_test_p": self.p_value,
            "rows": [r.to_dict() for r in self.rows],
        }


def _worse(wins: int, losses: int, alpha: float) -> bool:
    return losses > wins and sign_test(wins, losses) < alpha


def pairwise_check(summary: PairwiseSummary, alpha: float | None) -> RuleCheck:
    """The gate rule (see the module docstring); ``alpha`` None: reported, not gated."""
    w, t, lost, e = summary.wins, summary.ties, summary.losses, summary.errors
    stats = f"{w} win(s), {t} tie(s), {lost} loss(es)" + (f", {e} error(s)" if e else "")
    stats += f" on {len(summary.rows)} changed row(s); two-sided sign test p = {summary.p_value:.4g}"
    if alpha is None:
        return RuleCheck("pairwise", None, f"pairwise preference: {stats} (not gated)")
    if _worse(w + e, lost, alpha):  # worse even if every errored row is a win
        return RuleCheck(
            "pairwise", False, f"new responses significantly worse (p < {alpha:g}): {stats}"
        )
    if not _worse(w, lost + e, alpha):  # not worse even if every errored row is a loss
        return RuleCheck("pairwise", True, f"pairwise preference: {stats}")
    return RuleCheck(
        "pairwise",
        None,
        f"undecidable: pairwise preference depends on the {e} row(s) whose verdict errored "
        f"({stats})",
        undecidable=True,
    )

