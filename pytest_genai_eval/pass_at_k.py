"""pass@k and pass^k estimates over repeated yes/no samples, and the per-row flake rate.

With ``n`` samples of which ``c`` passed:

* pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): the probability
  that at least one of ``k`` samples drawn without replacement passes, estimated without bias by
  ``1 - C(n-c, k) / C(n, k)``.
* pass^k (Yao et al. 2024, tau-bench): the probability that all ``k`` drawn samples pass,
  ``C(c, k) / C(n, k)``.
* flake rate: the share of the samples that disagree with the majority, ``min(c, n-c) / n``.

The repeat rules ``pass_at_k`` / ``pass_hat_k`` (``judges/voting.py``) decide on these; the
per-row tables show them (``vote_columns``).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import comb

ESTIMATE_KEYS: tuple[str, ...] = ("pass_at_k", "pass_hat_k")  # assessment details keys


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k over ``n`` samples of which ``c`` passed: ``1 - C(n-c, k) / C(n, k)``."""
    _check_counts(n, c, k)
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k over ``n`` samples of which ``c`` passed: ``C(c, k) / C(n, k)``."""
    _check_counts(n, c, k)
    return comb(c, k) / comb(n, k)


def _check_counts(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")


def flake_rate(yes: int, no: int) -> float | None:
    """Share of the returned votes that disagree with the majority (None: no vote returned)."""
    returned = yes + no
    return min(yes, no) / returned if returned else None


def vote_columns(details: Mapping[str, object], base: str) -> dict[str, float]:
    """Per-row table columns of a voted assessment: ``<base>/flake_rate`` and, under
    ``pass_at_k`` / ``pass_hat_k``, ``<base>/pass_at_k`` or ``<base>/pass_hat_k``."""
    out: dict[str, float] = {}
    for key in ("flake_rate", *ESTIMATE_KEYS):
        value = details.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{base}/{key}"] = float(value)
    return out
