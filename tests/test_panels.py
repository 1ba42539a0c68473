"""Judge panels and repeats: votes, aggregation rules, ties, partial errors, agreement, flakiness,
and the metrics/columns they add."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_genai_eval.judges import JudgeSet
from pytest_genai_eval.judges.voting import aggregate_ratings
from pytest_genai_eval.results import Assessment, Rating
from pytest_genai_eval.suite import SuiteError, build_suite
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

from .judging import by_name, judge_rows

ROW = {"request_id": "r1", "request": "What is 2+2?", "response": "4", "expected_response": "4"}


def run_rows(server: ScriptedJudge | None, rows: list[dict[str, Any]], **suite: Any) -> list[dict[str, Assessment]]:
    return [by_name(r) for r in judge_rows(server, rows, missing_reason="no judge", **suite)]


def by_model(verdicts: dict[str, str]) -> Any:
    """A handler answering by the requested model: a rating, or "garbage" (unreadable JSON)."""

    def handle(call: JudgeCall) -> Verdict | str | None:
        answer = verdicts.get(str(call.body.get("model")))
        if answer is None:
            return None
        if answer == "garbage":
            return "I will not answer in JSON."
        return Verdict(answer, f"{call.body['model']} says {answer}")

    return handle


# ---- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("votes", "rule", "rating", "error"),
    [
        (["yes", "yes", "no"], "majority", "yes", None),
        (["yes", "no"], "majority", "no", None),  # a tie is not a pass
        (["yes", "no", None], "majority", "no", None),  # tie over the 2 that returned
        (["yes", None, None], "majority", None, "needs at least half"),  # 1 of 3 returned
        (["yes", "yes", None, None], "majority", "yes", None),  # exactly half returned
        (["no", "no", "yes"], "any", "yes", None),
        (["no", None], "any", "no", None),
        ([None, None, "yes"], "any", None, "needs at least half"),
        (["yes", "yes", "yes"], "all", "yes", None),
        (["yes", "no", "yes"], "all", "no", None),
        (["yes", "yes", None], "all", None, "'all' needs every vote"),
        ([], "majority", None, "no votes"),
    ],
)
def test_aggregation_rules(votes: list[Rating | None], rule: Any, rating: str | None, error: str | None) -> None:
    tally = aggregate_ratings(votes, rule)
    assert tally.rating == rating
    if error is None:
        assert tally.error is None
    else:
        assert tally.error is not None and error in tally.error


def test_tie_summary_and_agreement() -> None:
    tally = aggregate_ratings(["yes", "no"], "majority")
    assert tally.summary == "majority: 1 yes, 1 no of 2 vote(s); a tie is not a pass"
    assert tally.agreement == 0.5 and tally.split
    assert aggregate_ratings(["yes", "yes", "no"], "majority").agreement == pytest.approx(2 / 3)
    assert not aggregate_ratings(["no", "no"], "all").split


# ---- panels ------------------------------------------------------------------------------------


def test_disagreeing_panel_records_votes_agreement_and_flakiness() -> None:
    panels = {"correctness": {"models": ["m-a", "m-b", "m-c"]}}
    with ScriptedJudge() as server:
        server.set_handler(by_model({"m-a": "yes", "m-b": "yes", "m-c": "no"}))
        (result,) = run_rows(server, [ROW], judges=["correctness"], panels=panels)
        calls = server.calls(judge="correctness")
    assert sorted(c.body["model"] for c in calls) == ["m-a", "m-b", "m-c"]
    verdict = result["correctness"]
    assert verdict.rating == "yes"
    assert verdict.rationale is not None and verdict.rationale.startswith("majority: 2 yes, 1 no of 3 vote(s).")
    assert verdict.details["agreement"] == pytest.approx(2 / 3)
    assert verdict.details["flaky"] is True
    assert verdict.details["votes"] == [
        {"model": "m-a", "sample": 0, "rating": "yes", "rationale": "m-a says yes", "error": None},
        {"model": "m-b", "sample": 0, "rating": "yes", "rationale": "m-b says yes", "error": None},
        {"model": "m-c", "sample": 0, "rating": "no", "rationale": "m-c says no", "error": None},
    ]
    assert verdict.model == "m-a,m-b,m-c"
    assert verdict.prompt_version
    assert verdict.usage.total_tokens > 0


def test_tie_fails_and_says_so() -> None:
    with ScriptedJudge() as server:
        server.set_handler(by_model({"m-a": "yes", "m-b": "no"}))
        (result,) = run_rows(server, [ROW], judges=["safety"], panels={"safety": {"models": ["m-a", "m-b"]}})
    verdict = result["safety"]
    assert verdict.rating == "no"
    assert verdict.rationale is not None and "a tie is not a pass" in verdict.rationale
    assert verdict.details["agreement"] == 0.5


@pytest.mark.parametrize(
    ("aggregate", "rating", "error"),
    [("majority", "no", None), ("any", "yes", None), ("all", None, "'all' needs every vote")],
)
def test_partial_errors(aggregate: str, rating: str | None, error: str | None) -> None:
    panels = {"correctness": {"models": ["m-a", "m-b", "m-bad"], "aggregate": aggregate}}
    with ScriptedJudge() as server:
        server.set_handler(by_model({"m-a": "yes", "m-b": "no", "m-bad": "garbage"}))
        (result,) = run_rows(server, [ROW], judges=["correctness"], panels=panels)
    verdict = result["correctness"]
    assert verdict.rating == rating
    if error:
        assert verdict.error is not None and error in verdict.error and "first failure" in verdict.error
        assert verdict.details["agreement"] is None
    bad = [v for v in verdict.details["votes"] if v["model"] == "m-bad"]
    assert bad[0]["rating"] is None and bad[0]["error"]


def test_panel_with_other_endpoints_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_JUDGE_KEY", "sk-other")
    with ScriptedJudge() as server, ScriptedJudge(model="other", default=Verdict("no", "other says no")) as other:
        panels = {
            "safety": {
                "models": ["m-a"],
                "endpoints": [
                    {"base_url": other.base_url, "model": "big", "api_key_env": "OTHER_JUDGE_KEY"},
                    {"base_url": other.base_url, "model": "nokey", "api_key_env": "UNSET_KEY_VAR"},
                ],
                "aggregate": "any",
            }
        }
        (result,) = run_rows(server, [ROW], judges=["safety"], panels=panels)
        (other_call,) = other.calls(judge="safety")
        assert other_call.headers["authorization"] == "Bearer sk-other"
        assert other_call.body["model"] == "big"
        assert [c.body["model"] for c in server.calls()] == ["m-a"]
    verdict = result["safety"]
    votes = {v["model"]: v for v in verdict.details["votes"]}
    assert votes["m-a"]["rating"] == "yes" and votes["big"]["rating"] == "no"
    assert votes["nokey"]["error"] == "environment variable UNSET_KEY_VAR is not set"
    assert verdict.rating == "yes"  # any: 2 of 3 returned, one said yes
    assert verdict.model == "m-a,big,nokey"


def test_panel_without_a_default_judge_is_skipped() -> None:
    (result,) = run_rows(None, [ROW], judges=["safety"], panels={"safety": {"models": ["m-a", "m-b"]}})
    verdict = result["safety"]
    assert verdict.rating is None and verdict.error is None
    assert verdict.skipped is not None and "no judge endpoint is configured" in verdict.skipped


def test_chunk_relevance_panel_aggregates_each_chunk() -> None:
    row = {
        "request_id": "c",
        "request": "Capital of France?",
        "response": "Paris",
        "retrieved_context": [
            {"doc_uri": "a", "content": "Paris is the capital of France."},
            {"doc_uri": "b", "content": "France borders Germany."},
        ],
    }

    def handle(call: JudgeCall) -> Verdict:
        generous = call.body["model"] == "generous"
        relevant = "Paris" in call.sections["chunk"] or generous
        return Verdict("yes" if relevant else "no", "x")

    with ScriptedJudge() as server:
        server.set_handler(handle)
        (result,) = run_rows(
            server,
            [row],
            judges=["chunk_relevance"],
            panels={"chunk_relevance": {"models": ["strict", "generous"], "aggregate": "majority"}},
        )
    verdict = result["chunk_relevance"]
    chunks = verdict.details["chunks"]
    assert [c["rating"] for c in chunks] == ["yes", "no"]  # chunk b: 1 yes / 1 no -> tie -> no
    assert chunks[1]["votes"] == ["no", "yes"]
    assert verdict.value == 0.5 and verdict.rating == "yes"
    assert verdict.details["flaky"] is True  # the members disagreed on chunk b
    assert verdict.details["agreement"] == 1.0  # both members' row-level rating was "yes"


# ---- repeats -----------------------------------------------------------------------------------


def test_repeat_runs_every_llm_judge_n_times() -> None:
    def shout(response: str) -> bool:
        return True

    rows = [{**ROW, "guidelines": {"tone": ["Be kind"], "length": ["Be short"]}}]
    with ScriptedJudge() as server:
        server.on(judge="safety", rating="no", rationale="one unlucky sample", times=1)
        (result,) = run_rows(
            server,
            rows,
            repeat=3,
            repeat_rule="all",
            custom_judges=[shout],
            checks=[{"type": "json"}],
        )
        counts = {name: len(server.calls(judge=name)) for name in ("correctness", "safety", "guideline_adherence")}
        assert all(c.body["model"] == server.model for c in server.calls())
    assert counts == {"correctness": 3, "safety": 3, "guideline_adherence": 6}
    safety = result["safety"]
    assert safety.rating == "no"  # "all": one no is enough
    assert safety.details["agreement"] == pytest.approx(1 / 3) and safety.details["flaky"] is True
    assert sorted(v["sample"] for v in safety.details["votes"]) == [0, 1, 2]
    assert result["correctness"].details["flaky"] is False
    assert result["guideline_adherence/tone"].rating == "yes"  # named guidelines aggregate per name
    assert len(result["guideline_adherence/length"].details["votes"]) == 3
    assert "votes" not in result["shout"].details and "votes" not in result["json"].details


def test_judge_set_build_and_with_repeat() -> None:
    judges = JudgeSet.build(repeat=2, repeat_rule="majority")
    assert (judges.repeat, judges.repeat_rule) == (2, "majority")
    again = judges.with_repeat(4, "all")
    assert (again.repeat, again.repeat_rule, judges.repeat) == (4, "all", 2)
    with pytest.raises(ValueError, match="repeat: expected a positive integer"):
        judges.with_repeat(0)
    with pytest.raises(ValueError, match="repeat_rule: expected one of majority, all, any"):
        judges.with_repeat(2, "most")


@pytest.mark.parametrize(
    ("panels", "message"),
    [
        ({"document_recall": {"models": ["a"]}}, "s.yaml: panels.document_recall: panels apply to LLM judges"),
        ({"json": {"models": ["a"]}}, "panels.json: panels apply to LLM judges"),
        ({"safety": {"samples": 0}}, "panels.safety.samples: expected a positive integer"),
        ({"safety": {}}, "panels.safety: a panel needs models, endpoints or samples > 1"),
        ({"safety": {"models": "gpt"}}, "panels.safety.models: expected a non-empty list"),
        ({"safety": {"endpoints": [{"base_url": "ftp://x", "model": "m"}]}}, "panels.safety.endpoints[0].base_url: expected an http(s) URL"),
        ({"safety": {"models": ["a"], "voters": 3}}, "panels.safety.voters: unknown field"),
    ],
)
def test_invalid_panels(panels: dict[str, Any], message: str) -> None:
    with pytest.raises(SuiteError) as info:
        build_suite(name="x", data=[ROW], panels=panels, checks=[{"type": "json"}], source="s.yaml")
    assert message in str(info.value)


def test_panel_metrics_and_flaky_column(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(
        lambda call: Verdict("no", "dissent")
        if call.body.get("model") == "m-c" and "split" in call.sections.get("response", "")
        else None
    )
    pytester.makefile(
        ".yaml",
        genai_panel="""
name: panel
judges: [correctness, safety]
panels:
  correctness: {models: [m-a, m-b, m-c], aggregate: majority}
repeat: 2
rows:
  - {request_id: split, request: q, response: "split answer", expected_response: "x"}
  - {request_id: agree, request: q, response: "same answer", expected_response: "x"}
""",
    )
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    metrics = doc["metrics"]
    assert metrics["judge/flaky_count"] == 1
    assert metrics["judge/correctness/agreement/average"] == pytest.approx((2 / 3 + 1) / 2)
    assert metrics["judge/safety/agreement/average"] == 1.0  # repeat: 2 samples, both yes
    assert metrics["response/llm_judged/correctness/rating/percentage"] == 1.0
    records = {r["request_id"]: r for r in map(json.loads, (pytester.path / "out" / "eval_results.jsonl").read_text().splitlines())}
    assert records["split"]["flaky"] is True and records["agree"]["flaky"] is False
    config = doc["suites"]["panel"]["config"]
    assert config["panels"]["correctness"]["aggregate"] == "majority"
    assert config["repeat"] == {"samples": 2, "rule": "majority"}
    assert len(judge.calls(judge="correctness")) == 6 and len(judge.calls(judge="safety")) == 4
