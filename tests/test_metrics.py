from __future__ import annotations

import math

import pytest

from pytest_genai_eval.metrics import compute_metrics, metric_direction, per_suite_metrics
from pytest_genai_eval.results import Assessment, RowResult, TokenUsage


def _usage(prompt: int, completion: int) -> TokenUsage:
    return TokenUsage(prompt, completion, prompt + completion)


def _results() -> list[RowResult]:
    """Seven hand-built rows; every expected number below is computed by hand from these."""
    r1 = RowResult(  # pass
        suite="qa",
        request_id="r1",
        row={"request": "q1"},
        response="a1",
        latency_seconds=1.0,
        app_usage=_usage(50, 20),
        assessments=[
            Assessment("correctness", "correctness", rating="yes", usage=_usage(100, 10)),
            Assessment(
                "guideline_adherence/tone", "guideline_adherence", rating="yes", cached=True
            ),
            Assessment(
                "chunk_relevance", "chunk_relevance", rating="yes", value=1.0, usage=_usage(40, 4)
            ),
        ],
    )
    r2 = RowResult(  # fail, root cause chunk_relevance (ranked before correctness)
        suite="qa",
        request_id="r2",
        row={"request": "q2"},
        response="a2",
        latency_seconds=2.0,
        app_usage=_usage(30, 10),
        assessments=[
            Assessment("correctness", "correctness", rating="no", usage=_usage(120, 30)),
            Assessment(
                "guideline_adherence/tone", "guideline_adherence", rating="yes", usage=_usage(50, 5)
            ),
            Assessment(
                "chunk_relevance", "chunk_relevance", rating="no", value=0.5, usage=_usage(40, 4)
            ),
        ],
    )
    r3 = RowResult(  # fail, root cause guideline_adherence/tone; no app usage
        suite="qa",
        request_id="r3",
        row={"request": "q3"},
        response="a3",
        latency_seconds=3.0,
        assessments=[
            Assessment("correctness", "correctness", rating="yes", usage=_usage(80, 20)),
            Assessment(
                "guideline_adherence/tone",
                "guideline_adherence",
                rating="no",
                rationale="rude",
                usage=_usage(60, 6),
            ),
            Assessment("max_length", "max_length", kind="check", rating="yes"),
        ],
    )
    r4 = RowResult(  # error: the app failed, the judge was skipped; no latency
        suite="qa",
        request_id="r4",
        row={"request": "q4"},
        app_error="timeout",
        assessments=[Assessment("correctness", "correctness", skipped="no response")],
    )
    r5 = RowResult(  # error: a judge failed
        suite="qa",
        request_id="r5",
        row={"request": "q5"},
        response="a5",
        latency_seconds=4.0,
        assessments=[
            Assessment("correctness", "correctness", error="judge 500"),
            Assessment("has_citation", "has_citation", kind="python", rating="yes"),
        ],
    )
    r6 = RowResult(  # skipped: nothing ran
        suite="qa",
        request_id="r6",
        row={"request": "q6"},
        response="a6",
        latency_seconds=10.0,
        assessments=[Assessment("correctness", "correctness", skipped="missing expected_response")],
    )
    r7 = RowResult(  # pass, other suite, cached judge, document recall
        suite="other",
        request_id="r7",
        row={"request": "q7"},
        response="a7",
        latency_seconds=5.0,
        app_usage=_usage(10, 5),
        assessments=[
            Assessment("correctness", "correctness", rating="yes", cached=True),
            Assessment(
                "document_recall", "document_recall", kind="check", rating="yes", value=0.75
            ),
        ],
    )
    return [r1, r2, r3, r4, r5, r6, r7]


def _rating(
    prefix: str,
    pct: float | None,
    count: int,
    low: float | None,
    high: float | None,
    unassessed: int = 0,
    bounds: tuple[float, float] | None = None,
    se: float = 0.0,
) -> dict[str, float | int | None]:
    """``se``: the standard error s / sqrt(n), computed by hand; its 95% interval is
    pct +- 1.959964 * se, clamped to [0, 1]."""
    pessimistic, optimistic = bounds if bounds is not None else (pct, pct)
    assert pct is not None
    return {
        f"{prefix}/rating/standard_error": se,
        f"{prefix}/rating/clt_ci_low": max(0.0, pct - 1.959964 * se),
        f"{prefix}/rating/clt_ci_high": min(1.0, pct + 1.959964 * se),
        f"{prefix}/rating/percentage": pct,
        f"{prefix}/rating/count": count,
        f"{prefix}/rating/ci_low": low,
        f"{prefix}/rating/ci_high": high,
        f"{prefix}/rating/unassessed_count": unassessed,
        f"{prefix}/rating/pessimistic_percentage": pessimistic,
        f"{prefix}/rating/optimistic_percentage": optimistic,
    }


EXPECTED: dict[str, float | int | None] = {
    "rows/count": 7,
    "rows/pass_count": 2,
    "rows/fail_count": 2,
    "rows/error_count": 2,
    "rows/skipped_count": 1,
    # 2 pass of 4 decided rows; Wilson(2, 4) = (0.1500, 0.8500); r4, r5 unassessed: 2/6 .. 4/6
    # SE: scores 1 1 0 0, s^2 = 1/3, SE = sqrt(1/12) = 0.288675
    **_rating("response/overall_assessment", 0.5, 4, 0.1500, 0.8500, 2, (2 / 6, 4 / 6), 0.288675),
    # d = z * sqrt((0.25 + (0.5 - d) * (0.5 + d)) / 4) = z * sqrt((0.5 - d^2) / 4), z = 2.801585:
    # d^2 = (z^2 / 8) / (1 + z^2 / 4), d = 0.5755 > the rate 0.5: 4 rows cannot see even a
    # drop to 0%, so there is no detectable drop
    "response/overall_assessment/rating/min_detectable_drop": None,
    "response/overall_assessment/root_cause/chunk_relevance/count": 1,
    "response/overall_assessment/root_cause/guideline_adherence/tone/count": 1,
    # correctness: yes r1 r3 r7, no r2 -> 3/4; Wilson(3, 4) = (0.3006, 0.9544);
    # unassessed: its error on r5 and r4's app error -> 3/6 .. 5/6
    # SE: s^2 = (3 * 0.0625 + 0.5625) / 3 = 0.25, SE = sqrt(0.25 / 4) = 0.25
    **_rating("response/llm_judged/correctness", 0.75, 4, 0.3006, 0.9544, 2, (3 / 6, 5 / 6), 0.25),
    # tone: yes r1 r2, no r3 -> 2/3; Wilson(2, 3) = (0.2077, 0.9385); r4's app error: 2/4 .. 3/4
    **_rating(
        # SE: s^2 = (2 / 9 + 4 / 9) / 2 = 1 / 3, SE = sqrt(1 / 9)
        "response/llm_judged/guideline_adherence/tone", 2 / 3, 3, 0.2077, 0.9385, 1, (0.5, 0.75),
        1 / 3,
    ),
    # single yes; Wilson(1, 1) = (0.2065, 1.0); r4's app error leaves every judge of suite qa
    # unassessed on that row: 1/2 .. 2/2
    **_rating("response/check/max_length", 1.0, 1, 0.2065, 1.0, 1, (0.5, 1.0)),
    **_rating("response/custom/has_citation", 1.0, 1, 0.2065, 1.0, 1, (0.5, 1.0)),
    "retrieval/llm_judged/chunk_relevance/precision/average": 0.75,  # (1.0 + 0.5) / 2
    "retrieval/ground_truth/document_recall/average": 0.75,
    "judge/correctness/error_count": 1,
    "judge/correctness/not_run_count": 2,
    "judge/correctness/skipped_count": 2,
    "judge/guideline_adherence/tone/error_count": 0,
    "judge/guideline_adherence/tone/not_run_count": 0,
    "judge/guideline_adherence/tone/skipped_count": 0,
    "judge/chunk_relevance/error_count": 0,
    "judge/chunk_relevance/not_run_count": 0,
    "judge/chunk_relevance/skipped_count": 0,
    "judge/max_length/error_count": 0,
    "judge/max_length/not_run_count": 0,
    "judge/max_length/skipped_count": 0,
    "judge/has_citation/error_count": 0,
    "judge/has_citation/not_run_count": 0,
    "judge/has_citation/skipped_count": 0,
    "judge/document_recall/error_count": 0,
    "judge/document_recall/not_run_count": 0,
    "judge/document_recall/skipped_count": 0,
    "app/error_count": 1,
    "judge/error_count": 1,
    # latencies 1, 2, 3, 4, 5, 10 (r4 has none)
    "agent/latency_seconds/average": 25 / 6,
    "agent/latency_seconds/p50": 3.5,  # position 2.5
    "agent/latency_seconds/p90": 7.5,  # position 4.5: 5 + 0.5 * 5
    "agent/latency_seconds/p99": 9.75,  # position 4.95: 5 + 0.95 * 5
    "agent/latency_seconds/max": 10.0,
    # app usage r1 (50, 20, 70), r2 (30, 10, 40), r7 (10, 5, 15)
    "agent/total_token_count/average": 125 / 3,
    "agent/input_token_count/average": 30.0,
    "agent/output_token_count/average": 35 / 3,
    "agent/total_token_count/sum": 125,
    # judge usage: prompt 100+40+120+50+40+80+60 = 490, completion 10+4+30+5+4+20+6 = 79
    "judge/total_token_count/sum": 569,
    "judge/input_token_count/sum": 490,
    "judge/output_token_count/sum": 79,
    # cached: r1 tone, r7 correctness. calls: r1 correctness+chunk, r2 x3, r3 correctness+tone,
    # r5 correctness (errored); the skipped r4/r6 correctness and non-llm kinds don't count.
    "judge/cache_hit_count": 2,
    "judge/call_count": 8,
    "judge/flaky_count": 0,  # no panel/repeat votes in these rows
}


def _assert_metrics_equal(
    got: dict[str, float | int | None], expected: dict[str, float | int | None]
) -> None:
    assert set(got) == set(expected), set(got) ^ set(expected)
    for key, want in expected.items():
        value = got[key]
        if want is None:
            assert value is None, key
        elif key.endswith(("/ci_low", "/ci_high")):
            assert value is not None
            assert round(value, 4) == want, key
        else:
            assert value == pytest.approx(want), key


def test_compute_metrics_every_number() -> None:
    _assert_metrics_equal(compute_metrics(_results()), EXPECTED)


def test_counts_are_ints() -> None:
    metrics = compute_metrics(_results())
    for key in ("rows/count", "judge/call_count", "agent/total_token_count/sum"):
        assert type(metrics[key]) is int


def test_retrieval_judges_have_no_rating_percentage() -> None:
    metrics = compute_metrics(_results())
    assert not any(
        k.startswith(
            ("response/llm_judged/chunk_relevance", "retrieval/llm_judged/chunk_relevance/rating")
        )
        for k in metrics
    )
    assert not any("document_recall/rating" in k for k in metrics)


def test_compute_metrics_empty() -> None:
    metrics = compute_metrics([])
    assert metrics["rows/count"] == 0
    assert metrics["response/overall_assessment/rating/percentage"] is None
    assert metrics["response/overall_assessment/rating/count"] == 0
    assert metrics["response/overall_assessment/rating/ci_low"] is None
    for key in ("average", "p50", "p90", "p99", "max"):
        assert metrics[f"agent/latency_seconds/{key}"] is None
    assert metrics["agent/total_token_count/average"] is None
    assert metrics["agent/total_token_count/sum"] is None
    assert metrics["judge/total_token_count/sum"] == 0
    assert metrics["judge/call_count"] == 0
    assert not any(k.startswith("response/llm_judged") for k in metrics)


def test_judge_never_rated_gives_none_percentage() -> None:
    row = RowResult(
        "s",
        "1",
        {},
        assessments=[
            Assessment("safety", "safety", error="boom"),
            Assessment("chunk_relevance", "chunk_relevance", error="boom"),
        ],
    )
    metrics = compute_metrics([row])
    assert metrics["response/llm_judged/safety/rating/percentage"] is None
    assert metrics["response/llm_judged/safety/rating/count"] == 0
    assert metrics["retrieval/llm_judged/chunk_relevance/precision/average"] is None
    assert metrics["judge/safety/error_count"] == 1
    assert metrics["judge/error_count"] == 2
    assert metrics["rows/error_count"] == 1
    assert metrics["response/overall_assessment/rating/percentage"] is None


def test_non_finite_latency_is_ignored() -> None:
    rows = [
        RowResult("s", "1", {}, latency_seconds=math.nan),
        RowResult("s", "2", {}, latency_seconds=2.0),
    ]
    metrics = compute_metrics(rows)
    assert metrics["agent/latency_seconds/average"] == 2.0
    assert metrics["agent/latency_seconds/max"] == 2.0


def test_per_suite_metrics() -> None:
    by_suite = per_suite_metrics(_results())
    assert list(by_suite) == ["qa", "other"]
    qa, other = by_suite["qa"], by_suite["other"]
    assert qa["rows/count"] == 6
    assert qa["rows/pass_count"] == 1
    assert qa["response/overall_assessment/rating/percentage"] == pytest.approx(1 / 3)
    # qa correctness: yes r1 r3, no r2
    assert qa["response/llm_judged/correctness/rating/percentage"] == pytest.approx(2 / 3)
    assert "retrieval/ground_truth/document_recall/average" not in qa
    assert qa["agent/latency_seconds/max"] == 10.0
    assert other["rows/count"] == 1
    assert other["response/llm_judged/correctness/rating/percentage"] == 1.0
    assert other["retrieval/ground_truth/document_recall/average"] == 0.75
    assert other["agent/latency_seconds/p50"] == 5.0
    assert other["judge/cache_hit_count"] == 1
    assert other["judge/call_count"] == 0


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("response/llm_judged/correctness/rating/percentage", "higher"),
        ("response/overall_assessment/rating/percentage", "higher"),
        ("response/check/max_length/rating/ci_low", "higher"),
        ("retrieval/llm_judged/chunk_relevance/precision/average", "higher"),
        ("retrieval/ground_truth/document_recall/average", "higher"),
        ("rows/pass_count", "higher"),
        ("agent/latency_seconds/p90", "lower"),
        ("agent/total_token_count/average", "lower"),
        ("agent/total_token_count/sum", "lower"),
        ("judge/input_token_count/sum", "lower"),
        ("app/error_count", "lower"),
        ("judge/correctness/error_count", "lower"),
        ("rows/error_count", "lower"),
        ("rows/fail_count", "lower"),
        ("response/overall_assessment/root_cause/correctness/count", "lower"),
        ("rows/count", "none"),
        ("response/llm_judged/correctness/rating/count", "none"),
        ("judge/cache_hit_count", "none"),
        ("judge/correctness/skipped_count", "none"),
    ],
)
def test_metric_direction(name: str, direction: str) -> None:
    assert metric_direction(name) == direction


def test_every_computed_metric_has_a_deliberate_direction() -> None:
    for name in compute_metrics(_results()):
        if "percentage" in name or "latency" in name or "token_count" in name:
            assert metric_direction(name) != "none", name
