from __future__ import annotations

import pytest

from pytest_genai_eval.stats import (
    binomial_cdf,
    exact_mcnemar,
    mcnemar_one_sided_drop,
    normal_quantile,
    percentile,
    wilson_interval,
)

# ---- normal quantile -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.975, 1.959964), (0.95, 1.644854), (0.5, 0.0), (0.995, 2.575829), (0.025, -1.959964)],
)
def test_normal_quantile_known_values(p: float, expected: float) -> None:
    assert normal_quantile(p) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_normal_quantile_rejects_out_of_range(p: float) -> None:
    with pytest.raises(ValueError, match="0 < p < 1"):
        normal_quantile(p)


# ---- Wilson interval -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "confidence", "low", "high"),
    [
        (8, 10, 0.95, 0.4902, 0.9433),
        (0, 10, 0.95, 0.0, 0.2775),
        (10, 10, 0.95, 0.7225, 1.0),
        (2, 4, 0.95, 0.1500, 0.8500),
        (3, 4, 0.95, 0.3006, 0.9544),
        (2, 3, 0.95, 0.2077, 0.9385),
        (1, 1, 0.95, 0.2065, 1.0),
        (1, 2, 0.95, 0.0945, 0.9055),
        (8, 10, 0.90, 0.5408, 0.9314),
    ],
)
def test_wilson_interval_known_values(
    successes: int, n: int, confidence: float, low: float, high: float
) -> None:
    got_low, got_high = wilson_interval(successes, n, confidence)
    assert round(got_low, 4) == low
    assert round(got_high, 4) == high


def test_wilson_interval_extremes_are_exact() -> None:
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_narrows_with_n() -> None:
    low_small, high_small = wilson_interval(8, 10)
    low_big, high_big = wilson_interval(80, 100)
    assert high_big - low_big < high_small - low_small
    assert low_big < 0.8 < high_big


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_bad_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_wilson_interval_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


# ---- binomial / McNemar ----------------------------------------------------------------------


def test_binomial_cdf() -> None:
    assert binomial_cdf(0, 5) == 1 / 32
    assert binomial_cdf(1, 7) == 8 / 128
    assert binomial_cdf(3, 6) == 42 / 64
    assert binomial_cdf(-1, 4) == 0.0
    assert binomial_cdf(4, 4) == 1.0
    assert binomial_cdf(0, 0) == 1.0


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (5, 0, 0.0625),  # 2 * (1/32)
        (0, 5, 0.0625),  # symmetric
        (6, 1, 0.125),  # 2 * (1 + 7) / 128
        (10, 2, 158 / 4096),  # 2 * (1 + 12 + 66) / 4096
        (2, 10, 158 / 4096),
        (3, 3, 1.0),  # 2 * 42/64 > 1 -> capped
        (1, 2, 1.0),  # 2 * 4/8
        (0, 0, 1.0),  # no discordant pairs
        (0, 1, 1.0),  # 2 * 1/2
    ],
)
def test_exact_mcnemar(b: int, c: int, expected: float) -> None:
    assert exact_mcnemar(b, c) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [
        (5, 0, 1 / 32),
        (6, 1, 8 / 128),  # P(X >= 6), n = 7: (7 + 1) / 128
        (1, 3, 15 / 16),  # P(X >= 1), n = 4
        (2, 2, 11 / 16),  # (6 + 4 + 1) / 16
        (0, 4, 1.0),
        (0, 0, 1.0),
        (60, 0, 2.0**-60),  # tiny p-values keep full precision
    ],
)
def test_mcnemar_one_sided_drop(b: int, c: int, expected: float) -> None:
    assert mcnemar_one_sided_drop(b, c) == pytest.approx(expected, rel=1e-12)


def test_one_sided_is_smaller_than_two_sided_for_a_drop() -> None:
    assert mcnemar_one_sided_drop(6, 1) < exact_mcnemar(6, 1)
    # improvements give no evidence of a drop
    assert mcnemar_one_sided_drop(1, 6) > 0.9


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        exact_mcnemar(-1, 2)
    with pytest.raises(ValueError):
        mcnemar_one_sided_drop(1, -2)


# ---- percentile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 90, 3.7),  # position 2.7
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([15.0, 20.0, 35.0, 40.0, 50.0], 40, 29.0),  # position 1.6: 20 + 0.6 * 15
        ([3.0, 1.0, 2.0], 50, 2.0),  # unsorted input
        ([1.0, 2.0, 3.0, 4.0, 5.0, 10.0], 99, 9.75),  # position 4.95: 5 + 0.95 * 5
        ([7.0], 37, 7.0),
        ([2.0, 2.0, 2.0], 75, 2.0),
    ],
)
def test_percentile_linear_interpolation(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_empty_is_none() -> None:
    assert percentile([], 50) is None


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_bad_q(q: float) -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], q)


def test_percentile_matches_numpy() -> None:
    np = pytest.importorskip("numpy")
    values = [0.3, 9.1, 2.2, 2.2, 7.5, 4.4, 1.0]
    for q in (0, 5, 25, 50, 66.6, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


# ---- error bars (Miller 2024) -------------------------------------------------------------------
from pytest_genai_eval.stats import (  # noqa: E402
    clustered_estimate,
    mean_estimate,
    min_detectable_drop,
    paired_difference,
    rows_needed,
)


def test_mean_estimate_by_hand() -> None:
    estimate = mean_estimate([1, 1, 0, 0])
    assert estimate is not None
    # s^2 = (4 * 0.25) / 3; SE = sqrt(s^2 / 4)
    assert estimate.mean == 0.5 and estimate.n == 4
    assert estimate.standard_error == pytest.approx((1 / 3) ** 0.5 / 2)
    assert estimate.low == pytest.approx(0.5 - 1.959964 * 0.288675, abs=1e-5)
    assert mean_estimate([]) is None
    assert mean_estimate([1]).standard_error == 0.0  # type: ignore[union-attr]


def test_clustered_standard_error() -> None:
    own = clustered_estimate([1, 1, 0, 0], ["a", "b", "c", "d"])
    assert own is not None and own.standard_error == pytest.approx(0.25)  # plain SE^2 * (n-1)/n
    shared = clustered_estimate([1, 1, 0, 0], ["a", "a", "b", "b"])
    assert shared is not None and shared.standard_error == pytest.approx(0.125**0.5)
    assert shared.standard_error > own.standard_error  # correlated rows tell less
    with pytest.raises(ValueError, match="one cluster per score"):
        clustered_estimate([1, 0], ["a"])


def test_paired_difference_by_hand() -> None:
    diff = paired_difference([1, 1, 0, 0], [1, 0, 0, 0])
    assert diff is not None
    assert diff.mean == -0.25 and diff.standard_error == pytest.approx(0.25)
    assert diff.correlation == pytest.approx(0.5 / 0.75**0.5)
    assert paired_difference([1, 1], [1, 1]).correlation is None  # type: ignore[union-attr]


def test_power() -> None:
    z = 1.959964 + 0.841621
    # both runs' variances: d = z * sqrt((0.8 * 0.2 + (0.8 - d) * (0.2 + d)) / 200)
    drop = min_detectable_drop(0.8, 200)
    assert drop is not None
    assert drop == pytest.approx(z * ((0.16 + (0.8 - drop) * (0.2 + drop)) / 200) ** 0.5, rel=1e-6)
    assert 0.12 < drop < 0.125
    # pairing with correlated scores sees smaller drops
    paired = min_detectable_drop(0.8, 200, correlation=0.5)
    assert paired is not None and paired < drop
    # 0.16 + 0.75 * 0.25 = 0.3475; 0.3475 * (z / 0.05)^2 = 1090.99
    assert rows_needed(0.8, 0.05) == 1091
    # a rate of 100% has no variance of its own, yet one row cannot show a drop:
    # d = z^2 * (1 - d) -> d = z^2 / (1 + z^2) = 7.84888 / 8.84888
    assert min_detectable_drop(1.0, 1) == pytest.approx(7.84888 / 8.84888, rel=1e-5)
    assert rows_needed(1.0, 0.05) == 150  # 0.95 * 0.05 * (z / 0.05)^2 = 149.1
    assert min_detectable_drop(0.8, 0) is None
    assert min_detectable_drop(0.0, 100) is None  # nothing can drop
    assert min_detectable_drop(0.5, 2) is None  # not even a drop to 0 is seen with 2 rows
    with pytest.raises(ValueError):
        rows_needed(0.8, 0.0)
    with pytest.raises(ValueError):
        rows_needed(0.3, 0.5)  # a drop larger than the rate
