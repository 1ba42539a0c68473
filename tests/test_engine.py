"""The engine: concurrency bounds, -x, row deadlines, rate limits, retries, progress, xdist."""

from __future__ import annotations

import json
import time

import pytest

from pytest_genai_eval.testing import ScriptedJudge

XDIST = ["", "-n 2"]


def rows_suite(pytester: pytest.Pytester, n: int, extra: str = "", name: str = "genai_many") -> None:
    rows = "\n".join(
        f'  - {{request_id: r{i:03d}, request: "question {i}", response: "answer {i}", expected_response: "answer {i}"}}'
        for i in range(n)
    )
    pytester.makefile(".yaml", **{name: f"name: many\njudges: [correctness]\n{extra}rows:\n{rows}\n"})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    flat = [a for arg in args for a in arg.split()]
    return pytester.runpytest_subprocess(*flat) if "-n" in flat else pytester.runpytest(*flat)


def doc(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())


def test_judge_calls_overlap_up_to_the_limit_and_never_above(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    judge.delay = 0.05
    rows_suite(pytester, 40)
    result = run(pytester, "--genai-concurrency", "6")
    result.assert_outcomes(passed=40)
    assert judge.max_in_flight == 6
    assert len(judge.calls()) == 40


def test_app_calls_overlap_with_each_other(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(
        slowapp='''
import asyncio
STATE = {"now": 0, "max": 0}

async def answer(request):
    STATE["now"] += 1
    STATE["max"] = max(STATE["max"], STATE["now"])
    await asyncio.sleep(0.05)
    STATE["now"] -= 1
    return "ok " + str(STATE["max"])
'''
    )
    rows = "\n".join(f'  - {{request_id: r{i}, request: "q{i}", expected_response: "ok"}}' for i in range(12))
    pytester.makefile(".yaml", genai_app=f"app: slowapp:answer\nrows:\n{rows}\n")
    run(pytester, "--genai-concurrency", "4").assert_outcomes(passed=12)
    responses = [r["response"] for r in doc(pytester)["rows"]]
    assert max(int(r.split()[1]) for r in responses) == 4


@pytest.mark.parametrize("xdist", XDIST)
def test_each_row_evaluated_exactly_once(pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str) -> None:
    judge.on(judge="correctness", contains="answer 7", rating="no", rationale="seven is wrong")
    rows_suite(pytester, 24, extra="thresholds: {overall: 0.9}\n")
    result = run(pytester, xdist)
    result.assert_outcomes(passed=23, xfailed=1)
    assert result.ret == 0
    assert sorted(c.sections["response"] for c in judge.calls()) == sorted(f"answer {i}" for i in range(24))
    d = doc(pytester)
    assert len(d["rows"]) == 24
    assert d["metrics"]["response/overall_assessment/rating/percentage"] == pytest.approx(23 / 24)
    assert d["verdict"]["status"] == "passed"
    assert d["judge_calls"] == 24


def test_xdist_workers_evaluate_their_queue_concurrently(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.delay = 0.1
    rows_suite(pytester, 40)
    run(pytester, "-n 2", "--genai-concurrency", "8").assert_outcomes(passed=40)
    assert judge.max_in_flight > 2  # more than one row per worker was in flight


@pytest.mark.parametrize("xdist", XDIST)
def test_gate_failure_with_and_without_xdist(pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str) -> None:
    judge.on(judge="correctness", contains="answer 1", rating="no", rationale="bad")  # 1, 10-19
    rows_suite(pytester, 20, extra="thresholds: {overall: 0.9}\n")
    result = run(pytester, xdist)
    result.assert_outcomes(passed=9, xfailed=11)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*genai gate: FAILED*many: overall >= 0.9 missed (actual 0.45)*"])


@pytest.mark.parametrize("xdist", XDIST)
def test_judge_errors_exit_6_with_and_without_xdist(pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str) -> None:
    judge.fail_next(10_000, status=500)
    rows_suite(pytester, 4)
    result = run(pytester, xdist, "--genai-judge-retries", "0")
    result.assert_outcomes(errors=4)
    assert result.ret == 6


def test_exitfirst_stops_scheduling_new_work(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.delay = 0.05
    judge.on(judge="correctness", contains="answer 0", section="response", rating="no", rationale="bad")
    rows_suite(pytester, 60)
    result = run(pytester, "-x", "--genai-concurrency", "2")
    result.assert_outcomes(failed=1)
    assert len(judge.requests) < 20  # far fewer than 60 rows were judged


def test_row_deadline_is_an_error(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(stuck="import time\ndef answer(req):\n    time.sleep(1.0)\n    return 'late'\n")
    pytester.makefile(".yaml", genai_slow="app: stuck:answer\nrows: [{request_id: s, request: q, expected_response: x}]\n")
    result = run(pytester, "--genai-row-timeout", "0.2")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*exceeded its deadline of 0.2 s*"])


def test_rate_limit_spaces_judge_calls(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    rows_suite(pytester, 5)
    start = time.perf_counter()
    run(pytester, "--genai-rpm", "600").assert_outcomes(passed=5)  # one call per 0.1 s
    assert time.perf_counter() - start >= 0.4


def test_retries_on_429_with_retry_after(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.fail_next(3, status=429, retry_after=0.05)
    rows_suite(pytester, 3)
    run(pytester, "--genai-concurrency", "1").assert_outcomes(passed=3)
    assert len(judge.requests) == 6
    assert doc(pytester)["metrics"]["judge/error_count"] == 0


def test_progress_lines_on_and_quiet(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.delay = 0.2
    rows_suite(pytester, 4)
    pytester.makeini("[pytest]\ngenai_progress_interval = 0.05\n")
    shown = run(pytester, "--genai-progress", "on", "--genai-concurrency", "1")
    shown.stdout.fnmatch_lines(["*[[]genai[]] *rows evaluated*cache hits*"])
    quiet = run(pytester, "-q", "--genai-cache", "off")
    assert "[genai]" not in quiet.stdout.str()


def test_repeat_option_runs_each_judge_n_times_and_flags_flaky_rows(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    flips = iter(["no", "yes", "yes"] + ["yes"] * 30)

    def handler(call: object) -> object:
        from pytest_genai_eval.testing import Verdict

        return Verdict(next(flips), "sampled")

    judge.set_handler(handler)  # type: ignore[arg-type]
    rows_suite(pytester, 3)
    result = run(pytester, "--genai-repeat", "3", "--genai-concurrency", "1")
    result.assert_outcomes(passed=3)
    assert len(judge.calls()) == 9
    d = doc(pytester)
    assert d["metrics"]["judge/flaky_count"] == 1
    assert d["config"]["repeat"] == 3
