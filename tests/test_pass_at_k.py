"""Repeats under pass@k and pass^k: the estimates (hand-computed), the rules, the per-row flake
rate, and the settings that choose them (command line, ini, suite file)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_genai_eval.judges import JudgeSet
from pytest_genai_eval.judges.voting import aggregate_ratings
from pytest_genai_eval.pass_at_k import flake_rate, pass_at_k, pass_hat_k, vote_columns
from pytest_genai_eval.results import Rating
from pytest_genai_eval.suite import SuiteError, build_suite
from pytest_genai_eval.testing import ScriptedJudge

from .judging import by_name, judge_rows

ROW = {"request_id": "r1", "request": "What is 2+2?", "response": "4", "expected_response": "4"}


# ---- the estimates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "at_k", "hat_k"),
    [
        (5, 2, 2, 1 - 3 / 10, 1 / 10),  # C(3,2)=3, C(5,2)=10, C(2,2)=1
        (4, 1, 1, 1 / 4, 1 / 4),  # k=1: both are c/n
        (3, 0, 2, 0.0, 0.0),
        (4, 3, 2, 1.0, 3 / 6),  # C(1,2)=0; C(3,2)=3, C(4,2)=6
        (10, 3, 5, 1 - 21 / 252, 0.0),  # C(7,5)=21, C(10,5)=252; C(3,5)=0
        (3, 3, 3, 1.0, 1.0),
    ],
)
def test_estimates_match_hand_computation(n: int, c: int, k: int, at_k: float, hat_k: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(at_k)
    assert pass_hat_k(n, c, k) == pytest.approx(hat_k)


@pytest.mark.parametrize(("n", "c", "k"), [(3, 4, 1), (3, 1, 0), (3, 1, 4), (2, -1, 1)])
def test_estimates_reject_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= c <= n"):
        pass_at_k(n, c, k)


def test_flake_rate_is_the_minority_share() -> None:
    assert flake_rate(3, 1) == 0.25
    assert flake_rate(2, 3) == pytest.approx(2 / 5)
    assert flake_rate(4, 0) == 0.0
    assert flake_rate(0, 0) is None


# ---- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("votes", "rule", "k", "rating", "estimate", "error"),
    [
        (["yes", "no", "no", "no", "yes"], "pass_at_k", 2, "yes", 0.7, None),
        (["yes", "no", "no", "no", "yes"], "pass_hat_k", 2, "no", 0.1, None),
        (["no", "yes", "no"], "pass_at_k", None, "yes", 1.0, None),  # k = n: any
        (["no", "yes", "yes"], "pass_hat_k", None, "no", 0.0, None),  # k = n: all
        (["yes", "yes", "yes"], "pass_hat_k", None, "yes", 1.0, None),
        (["yes", "yes", "yes", "no"], "pass_hat_k", 2, "no", 0.5, None),  # 0.5 is not above half
        (["no", "no", "no", "yes"], "pass_at_k", 1, "no", 0.25, None),
        (["yes", None, "no"], "pass_at_k", 3, None, None, "needs at least 3 returned votes"),
        (["yes", None, None], "pass_at_k", None, None, None, "needs at least half"),
        (["yes", None, "no"], "pass_at_k", None, "yes", 1.0, None),  # k = the 2 that returned
    ],
)
def test_sampling_rules(
    votes: list[Rating | None], rule: Any, k: int | None, rating: str | None, estimate: float | None, error: str | None
) -> None:
    tally = aggregate_ratings(votes, rule, k)
    assert tally.rating == rating
    assert tally.estimate == (None if estimate is None else pytest.approx(estimate))
    if error is None:
        assert tally.error is None
    else:
        assert tally.error is not None and error in tally.error


def test_summary_names_the_estimate() -> None:
    tally = aggregate_ratings(["yes", "no", "no", "no", "yes"], "pass_at_k", 2)
    assert tally.summary == "pass_at_k: 2 yes, 3 no of 5 vote(s); pass@2 = 0.700"
    assert tally.flake_rate == pytest.approx(2 / 5)


def test_vote_columns() -> None:
    details = {"flake_rate": 0.4, "pass_at_k": 0.7, "k": 2, "flaky": True}
    assert vote_columns(details, "response/llm_judged/safety") == {
        "response/llm_judged/safety/flake_rate": 0.4,
        "response/llm_judged/safety/pass_at_k": 0.7,
    }


# ---- over HTTP ---------------------------------------------------------------------------------


def test_repeat_pass_at_k_over_http_records_estimate_and_flake_rate() -> None:
    with ScriptedJudge() as server:
        server.on(judge="safety", rating="no", rationale="unlucky", times=3)
        (result,) = [
            by_name(r)
            for r in judge_rows(server, [ROW], judges=["safety"], repeat=5, repeat_rule="pass_at_k", repeat_k=2)
        ]
        assert len(server.calls(judge="safety")) == 5
    safety = result["safety"]
    assert safety.rating == "yes"  # pass@2 = 1 - C(3,2)/C(5,2) = 0.7
    assert safety.details["pass_at_k"] == pytest.approx(0.7)
    assert safety.details["k"] == 2
    assert safety.details["flake_rate"] == pytest.approx(2 / 5)
    assert safety.details["aggregate"] == "pass_at_k"


def test_majority_repeat_records_flake_rate_too() -> None:
    with ScriptedJudge() as server:
        server.on(judge="safety", rating="no", times=1)
        (result,) = [by_name(r) for r in judge_rows(server, [ROW], judges=["safety"], repeat=4)]
    safety = result["safety"]
    assert safety.rating == "yes" and safety.details["flake_rate"] == 0.25
    assert "pass_at_k" not in safety.details and "k" not in safety.details


def test_panel_takes_k() -> None:
    with ScriptedJudge() as server:
        server.on(judge="safety", rating="no", times=2)
        (result,) = [
            by_name(r)
            for r in judge_rows(
                server, [ROW], judges=["safety"], panels={"safety": {"samples": 4, "aggregate": "pass_hat_k", "k": 2}}
            )
        ]
    safety = result["safety"]
    assert safety.details["pass_hat_k"] == pytest.approx(1 / 6)  # C(2,2)/C(4,2)
    assert safety.rating == "no" and safety.details["flake_rate"] == 0.5


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ({"repeat": 3, "repeat_rule": "pass_at_k", "repeat_k": 4}, "s.yaml: repeat_k: k=4 is more than the 3 vote(s)"),
        ({"repeat": 3, "repeat_rule": "majority", "repeat_k": 2}, "repeat_k: applies to pass_at_k and pass_hat_k"),
        ({"repeat": 3, "repeat_rule": "pass_at_k", "repeat_k": 0}, "repeat_k: expected a positive integer"),
        ({"panels": {"safety": {"samples": 2, "aggregate": "pass_at_k", "k": 3}}}, "panels.safety.k: k=3 is more than the 2"),
    ],
)
def test_invalid_k(suite: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError) as info:
        build_suite(name="x", data=[ROW], source="s.yaml", **suite)
    assert message in str(info.value)


def test_with_repeat_takes_k() -> None:
    judges = JudgeSet.build().with_repeat(4, "pass_hat_k", k=3)
    assert (judges.repeat, judges.repeat_rule, judges.repeat_k) == (4, "pass_hat_k", 3)
    assert judges.describe()["repeat"] == {"samples": 4, "rule": "pass_hat_k", "k": 3}


# ---- settings: command line, ini, suite file ---------------------------------------------------

SUITE = """
name: rep
judges: [safety]
{extra}
rows:
  - {{request_id: a, request: q, response: "answer a", expected_response: x}}
"""


def _records(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    lines = (pytester.path / "out" / "eval_results.jsonl").read_text().splitlines()
    return {r["request_id"]: r for r in map(json.loads, lines)}


def test_command_line_pass_hat_k(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="safety", rating="no", times=1)
    pytester.makefile(".yaml", genai_rep=SUITE.format(extra=""))
    result = pytester.runpytest(
        "--genai-results-dir", "out", "-p", "no:cacheprovider",
        "--genai-repeat", "4", "--genai-repeat-rule", "pass_hat_k", "--genai-repeat-k", "2",
    )
    result.assert_outcomes(failed=1)  # pass^2 = C(3,2)/C(4,2) = 0.5: not above half
    record = _records(pytester)["a"]
    assert record["response/llm_judged/safety/pass_hat_k"] == pytest.approx(0.5)
    assert record["response/llm_judged/safety/flake_rate"] == 0.25
    assert record["response/llm_judged/safety/rating"] == "no"
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    assert doc["suites"]["rep"]["config"]["repeat"] == {"samples": 4, "rule": "pass_hat_k", "k": 2}
    assert doc["metrics"]["judge/flake_rate"] == 1.0
    assert len(judge.calls(judge="safety")) == 4


def test_ini_and_suite_file_choose_the_rule(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="safety", rating="no", times=2)
    pytester.makeini("[pytest]\ngenai_repeat = 3\ngenai_repeat_rule = pass_at_k\ngenai_repeat_k = 1\n")
    pytester.makefile(".yaml", genai_rep=SUITE.format(extra=""))
    pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    record = _records(pytester)["a"]
    assert record["response/llm_judged/safety/pass_at_k"] == pytest.approx(1 / 3)  # c/n for k=1
    assert record["response/llm_judged/safety/rating"] == "no"


def test_suite_file_keys(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="safety", rating="no", times=2)
    pytester.makefile(".yaml", genai_rep=SUITE.format(extra="repeat: 3\nrepeat_rule: pass_at_k\nrepeat_k: 2"))
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    record = _records(pytester)["a"]
    assert record["response/llm_judged/safety/pass_at_k"] == pytest.approx(2 / 3)  # 1 - C(2,2)/C(3,2)
    assert record["response/llm_judged/safety/rating"] == "yes"
