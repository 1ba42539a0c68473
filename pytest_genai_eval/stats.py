"""Small, dependency-free statistics used by metrics, thresholds and baseline comparison.

Everything here is a pure function over plain numbers (``math`` and ``statistics`` only):

* :func:`wilson_interval` - confidence interval for a pass rate;
* :func:`exact_mcnemar` / :func:`mcnemar_one_sided_drop` - paired tests for "did the pass rate
  change between the baseline run and this run", on the discordant pairs only;
* :func:`percentile` - linear-interpolation percentile, same as numpy's default method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

__all__ = (
    "binomial_cdf",
    "exact_mcnemar",
    "mcnemar_one_sided_drop",
    "normal_quantile",
    "percentile",
    "wilson_interval",
)


def normal_quantile(p: float) -> float:
    """Inverse CDF of the standard normal distribution (``p`` strictly between 0 and 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"normal_quantile needs 0 < p < 1, got {p!r}")
    return NormalDist().inv_cdf(p)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``.

    Returns ``(low, high)`` clamped to [0, 1]; ``(0.0, 1.0)`` when ``n == 0`` (no information).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n, got {successes}/{n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if n == 0:
        return (0.0, 1.0)
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    z2 = z * z
    p = successes / n
    denominator = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, center - half)
    high = 1.0 if successes == n else min(1.0, center + half)
    return (low, high)


def binomial_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 0.5), computed exactly with integers."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    # Python's int / int true division is correctly rounded, even for huge integers.
    return sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)


def _check_counts(b: int, c: int) -> None:
    if b < 0 or c < 0:
        raise ValueError(f"discordant pair counts must be >= 0, got b={b}, c={c}")


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value.

    ``b`` = pairs that went pass -> fail, ``c`` = fail -> pass. Under the null hypothesis each
    discordant pair is equally likely to go either way, so this is a binomial test with p = 0.5:
    ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Bin(b + c, 0.5)``; 1.0 when there are no
    discordant pairs.
    """
    _check_counts(b, c)
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_cdf(min(b, c), n))


def mcnemar_one_sided_drop(b: int, c: int) -> float:
    """One-sided exact McNemar p-value for "the pass rate dropped".

    ``P(X >= b)`` for ``X ~ Bin(b + c, 0.5)``, where ``b`` counts regressions (pass -> fail) and
    ``c`` improvements (fail -> pass). 1.0 when there are no discordant pairs.
    """
    _check_counts(b, c)
    n = b + c
    if n == 0:
        return 1.0
    if b == 0:
        return 1.0
    # Sum the upper tail directly (not 1 - cdf) so tiny p-values keep their precision.
    return sum(math.comb(n, i) for i in range(b, n + 1)) / (1 << n)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks.

    Matches ``numpy.percentile(values, q)`` (method "linear"). ``None`` for an empty sequence.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q!r}")
    if not values:
        return None
    ordered = sorted(float(v) for v in values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    low_value, high_value = ordered[lower], ordered[upper]
    if fraction == 0.0 or low_value == high_value:
        return low_value
    return low_value + (high_value - low_value) * fraction
