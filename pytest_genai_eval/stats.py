"""Small, dependency-free statistics used by metrics, thresholds and baseline comparison.

Everything here is a pure function over plain numbers (``math`` and ``statistics`` only):

* :func:`wilson_interval` - confidence interval for a pass rate;
* :func:`exact_mcnemar` / :func:`mcnemar_one_sided_drop` - paired tests for "did the pass rate
  change between the baseline run and this run", on the discordant pairs only;
* :func:`percentile` - linear-interpolation percentile, same as numpy's default method;
* error bars after Miller, "Adding Error Bars to Evals" (2024): :func:`mean_estimate`,
  :func:`clustered_estimate`, :func:`paired_difference`, and power: :func:`min_detectable_drop`,
  :func:`rows_needed`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

__all__ = (
    "MeanEstimate",
    "PairedDifference",
    "binomial_cdf",
    "clustered_estimate",
    "exact_mcnemar",
    "mcnemar_one_sided_drop",
    "mean_estimate",
    "min_detectable_drop",
    "normal_quantile",
    "paired_difference",
    "percentile",
    "rows_needed",
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


# ---- error bars (Miller, "Adding Error Bars to Evals", 2024) ------------------------------------
# Each row's score is a number in [0, 1] (a pass is 1, a fail 0). The mean is the pass rate; its
# standard error treats the rows as draws from a super-population of questions.


class MeanEstimate(NamedTuple):
    """A mean with its standard error and ``confidence`` interval (normal approximation)."""

    mean: float
    standard_error: float
    low: float
    high: float
    n: int


def _interval(mean: float, se: float, n: int, confidence: float) -> MeanEstimate:
    z = normal_quantile(0.5 + confidence / 2.0)
    return MeanEstimate(mean, se, mean - z * se, mean + z * se, n)


def mean_estimate(scores: Sequence[float], confidence: float = 0.95) -> MeanEstimate | None:
    """The mean of ``scores`` with SE = s / sqrt(n) (s: the sample standard deviation, n - 1);
    None without scores. For 0/1 scores this is the pass rate and its CLT interval."""
    n = len(scores)
    if n == 0:
        return None
    mean = math.fsum(scores) / n
    variance = math.fsum((x - mean) ** 2 for x in scores) / (n - 1) if n > 1 else 0.0
    return _interval(mean, math.sqrt(variance / n), n, confidence)


def clustered_estimate(
    scores: Sequence[float], clusters: Sequence[object], confidence: float = 0.95
) -> MeanEstimate | None:
    """The mean with a cluster-robust standard error: rows that share a cluster (questions about
    the same document, turns of one conversation) are not independent draws.

    SE_clustered^2 = 1/n^2 * sum over clusters c of (sum over rows i in c of (x_i - mean))^2
    (Miller 2024, eq. 4), which equals the plain SE^2 * (n - 1) / n when every row is its own
    cluster."""
    n = len(scores)
    if n == 0:
        return None
    if len(clusters) != n:
        raise ValueError(f"clustered_estimate needs one cluster per score ({len(clusters)} != {n})")
    mean = math.fsum(scores) / n
    sums: dict[object, float] = {}
    for x, cluster in zip(scores, clusters, strict=True):
        sums[cluster] = sums.get(cluster, 0.0) + (x - mean)
    variance = math.fsum(s * s for s in sums.values()) / (n * n)
    return _interval(mean, math.sqrt(variance), n, confidence)


class PairedDifference(NamedTuple):
    """``new - old`` on the same rows: the mean difference with its standard error and
    interval, and the correlation of the two runs' per-row scores (None when either run's
    scores do not vary)."""

    mean: float
    standard_error: float
    low: float
    high: float
    n: int
    correlation: float | None


def paired_difference(
    old: Sequence[float], new: Sequence[float], confidence: float = 0.95
) -> PairedDifference | None:
    """Paired analysis (Miller 2024, section 4): the SE of the mean of per-row differences is
    smaller than the unpaired one by the correlation of the runs' scores."""
    n = len(old)
    if n != len(new):
        raise ValueError(f"paired_difference needs as many old as new scores ({n} != {len(new)})")
    if n == 0:
        return None
    estimate = mean_estimate([b - a for a, b in zip(old, new, strict=True)], confidence)
    assert estimate is not None
    mean_old, mean_new = math.fsum(old) / n, math.fsum(new) / n
    cov = math.fsum((a - mean_old) * (b - mean_new) for a, b in zip(old, new, strict=True))
    var_old = math.fsum((a - mean_old) ** 2 for a in old)
    var_new = math.fsum((b - mean_new) ** 2 for b in new)
    corr = cov / math.sqrt(var_old * var_new) if var_old > 0 and var_new > 0 else None
    return PairedDifference(*estimate[:4], n, corr)


def _z_total(alpha: float, power: float) -> float:
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ValueError(f"alpha and power must be between 0 and 1, got {alpha!r}, {power!r}")
    return normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power)


def _drop_spread(rate: float, drop: float, correlation: float) -> float:
    """The variance of one row's score difference between a run at ``rate`` and one at
    ``rate - drop``: v1 + v2 - 2 * correlation * sqrt(v1 * v2), v = p * (1 - p). Both runs'
    variances count, so a rate of 100% (no variance of its own) still needs rows to show a drop."""
    before, after = rate * (1.0 - rate), (rate - drop) * (1.0 - rate + drop)
    return max(0.0, before + after - 2.0 * correlation * math.sqrt(before * after))


def _check_power_args(rate: float, correlation: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within 0..1, got {rate!r}")
    if not -1.0 <= correlation < 1.0:
        raise ValueError(f"correlation must be within -1..1 (excluded), got {correlation!r}")


def min_detectable_drop(
    rate: float, n: int, *, alpha: float = 0.05, power: float = 0.8, correlation: float = 0.0
) -> float | None:
    """The smallest drop ``d`` of a pass rate ``rate`` that a comparison of two runs of ``n``
    rows detects with probability ``power`` at two-sided significance ``alpha``: the root of
    d = (z_{1-alpha/2} + z_power) * sqrt(spread(d) / n), with the variances of both runs
    (:func:`_drop_spread`). ``correlation`` is that of the paired per-row scores (0: unpaired,
    the conservative case). None without rows, at a rate of 0 (nothing can drop), and when not
    even a drop to 0 would be detected (too few rows)."""
    _check_power_args(rate, correlation)
    if n <= 0 or rate == 0.0:
        return None
    z = _z_total(alpha, power)

    def gap(drop: float) -> float:
        return drop - z * math.sqrt(_drop_spread(rate, drop, correlation) / n)

    if gap(rate) < 0.0:
        return None
    low, high = 0.0, rate
    for _ in range(100):  # gap is increasing where it crosses 0: bisection to float precision
        mid = (low + high) / 2.0
        if gap(mid) < 0.0:
            low = mid
        else:
            high = mid
    return high


def rows_needed(
    rate: float, drop: float, *, alpha: float = 0.05, power: float = 0.8, correlation: float = 0.0
) -> int:
    """How many rows two runs need so that a drop of ``drop`` from ``rate`` is detected with
    probability ``power`` at two-sided significance ``alpha``:
    spread * ((z_{1-alpha/2} + z_power) / drop)^2 rounded up (the inverse of
    :func:`min_detectable_drop`)."""
    _check_power_args(rate, correlation)
    if not 0.0 < drop <= rate:
        raise ValueError(f"drop must be within 0..rate (0 excluded), got {drop!r} for rate {rate!r}")
    spread = _drop_spread(rate, drop, correlation)
    return max(1, math.ceil(spread * (_z_total(alpha, power) / drop) ** 2))
