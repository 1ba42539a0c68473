"""Simulated users: a row with a goal is driven by the user simulator (the scripted judge plays
it) until it says the goal is reached or max_turns; the transcript is judged as a conversation;
its outage is an error, its absence "not run"; a warm rerun asks nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_genai_eval.testing import JudgeCall, ScriptedJudge

APP = '''
def reply(request):
    asked = [m["content"] for m in request["messages"] if m["role"] == "user"]
    return f"reply {len(asked)} to {asked[-1]}"
'''

SUITE = """
name: sim
app: chatapp:reply
judges: [conversation_completeness, user_frustration]
rows:
  - request_id: refund
    goal: Get a refund for order A-9.
    persona: An impatient customer.
    max_turns: {max_turns}
"""


def simulated_user(goal_after: int | None) -> Any:
    """A simulator that writes ``message <n>`` and says the goal is reached once the
    conversation has ``goal_after`` user messages (never, for None)."""

    def answer(call: JudgeCall) -> dict[str, Any] | None:
        if call.judge != "user_simulator":
            return None
        sent = call.sections["conversation"].count("user: ")
        if goal_after is not None and sent >= goal_after:
            return {"message": "", "goal_reached": True}
        return {"message": f"message {sent + 1}", "goal_reached": False}

    return answer


def run(pytester: pytest.Pytester, max_turns: int = 5, suite: str = SUITE) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(chatapp=APP)
    pytester.makefile(".yaml", genai_sim=suite.replace("{max_turns}", str(max_turns)))
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider", "--genai-judge-retries", "0")
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    return result, doc["rows"][0]


def test_the_simulator_stops_when_the_goal_is_reached(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(simulated_user(goal_after=2))
    result, row = run(pytester)
    result.assert_outcomes(passed=1)
    assert [(t["request"], t["response"], t["simulated"]) for t in row["turns"]] == [
        ("message 1", "reply 1 to message 1", True),
        ("message 2", "reply 2 to message 2", True),
    ]
    sim = row["simulation"]
    assert (sim["stopped"], sim["goal_reached"], sim["turns"], sim["calls"]) == ("goal_reached", True, 2, 3)
    assert sim["model"] == judge.model and sim["max_turns"] == 5
    calls = judge.calls("user_simulator")
    assert [c.sections["conversation"] for c in calls] == [
        "(empty conversation)",
        "user: message 1\nassistant: reply 1 to message 1",
        "user: message 1\nassistant: reply 1 to message 1\nuser: message 2\nassistant: reply 2 to message 2",
    ]
    assert calls[0].sections["user_goal"] == "Get a refund for order A-9."
    assert calls[0].sections["persona"] == "An impatient customer."
    assert {c.body["temperature"] for c in calls} == {0}
    (completeness,) = judge.calls("conversation_completeness")
    assert completeness.sections["user_goal"] == "Get a refund for order A-9."
    assert completeness.sections["conversation"] == calls[-1].sections["conversation"]
    assert {a["name"]: a["rating"] for a in row["assessments"]} == {
        "conversation_completeness": "yes",
        "user_frustration": "yes",
    }


def test_the_simulator_stops_at_max_turns(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(simulated_user(goal_after=None))
    judge.on(judge="conversation_completeness", rating="no", rationale="The refund was never granted.")
    result, row = run(pytester, max_turns=3)
    result.assert_outcomes(failed=1)
    assert [t["request"] for t in row["turns"]] == ["message 1", "message 2", "message 3"]
    sim = row["simulation"]
    assert (sim["stopped"], sim["goal_reached"], sim["calls"]) == ("max_turns", False, 3)
    assert len(judge.calls("user_simulator")) == 3  # not asked again after the last turn
    out = result.stdout.str()
    assert "root cause: conversation_completeness" in out
    assert "simulated user: goal not reached within max_turns (3)" in out
    assert "      user (simulated): message 3" in out


def test_the_rows_request_opens_the_conversation(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(simulated_user(goal_after=2))
    suite = SUITE.replace("    max_turns:", "    request: I want my money back.\n    max_turns:")
    result, row = run(pytester, suite=suite)
    result.assert_outcomes(passed=1)
    assert [(t["request"], t["simulated"]) for t in row["turns"]] == [
        ("I want my money back.", False),
        ("message 2", True),
    ]
    assert row["simulation"]["calls"] == 2


def test_a_warm_rerun_asks_neither_simulator_nor_judges(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(simulated_user(goal_after=2))
    run(pytester)
    asked = len(judge.requests)
    assert asked == 3 + 2
    result, row = run(pytester)
    result.assert_outcomes(passed=1)
    assert len(judge.requests) == asked
    assert row["simulation"]["cached_calls"] == 3
    assert [t["request"] for t in row["turns"]] == ["message 1", "message 2"]


def test_a_simulator_outage_is_an_error(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(simulated_user(goal_after=3))
    judge.fail_next(2, status=503)  # the first message comes; the next question fails
    # the first request gets both failures: retries are off, so the first question fails
    result, row = run(pytester)
    result.assert_outcomes(errors=1)
    assert result.ret == 6
    assert row["status"] == "error"
    assert row["simulation"]["stopped"] == "error"
    errors = {a["name"]: a["error"] for a in row["assessments"]}
    assert set(errors) == {"conversation_completeness", "user_frustration"}
    assert all("the user simulator failed after turn 0" in e and "503" in e for e in errors.values())
    assert judge.calls("conversation_completeness") == []


def test_an_unusable_simulator_answer_is_an_error(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.set_handler(lambda call: {"message": "", "goal_reached": False} if call.judge == "user_simulator" else None)
    result, row = run(pytester)
    result.assert_outcomes(errors=1)
    (error,) = {a["error"] for a in row["assessments"]}
    assert "the user simulator wrote no message to begin the conversation" in error


def test_without_a_judge_the_simulated_user_does_not_run(pytester: pytest.Pytester) -> None:
    result, row = run(pytester)
    result.assert_outcomes(skipped=1)
    assert row["status"] == "skipped"
    assert row["turns"] == []
    assert row["simulation"]["stopped"] == "not_run"
    assert all("the simulated user needs it" in a["skipped"] for a in row["assessments"])
    assert "genai gate: INCOMPLETE" in result.stdout.str()


def test_simulated_user_fields_are_validated() -> None:
    from pytest_genai_eval.evalset import EvalSetError, load_rows

    with pytest.raises(EvalSetError) as info:
        load_rows(
            [
                {"request_id": "a", "goal": "g", "max_turns": 0},
                {"request_id": "b", "goal": "g", "max_turns": "many"},
                {"request_id": "c", "goal": "", "persona": "p"},
                {"request_id": "d", "goal": "g", "response": "r"},
            ],
            name="sim.yaml",
        )
    found = {(i.location, i.field): i.message for i in info.value.issues}
    assert found == {
        ("row 1", "max_turns"): "expected 1 to 50, got 0",
        ("row 2", "max_turns"): "expected a positive integer, got str",
        ("row 3", "persona"): "'persona' belongs to a simulated user, which needs 'goal'",
        ("row 3", "request"): "missing required field 'request'",  # an empty goal is no goal
        ("row 4", "response"): "not supported on a conversation row (give it on single-turn rows)",
    }
    (row,) = load_rows([{"goal": "Get a refund"}])
    assert (row.max_turns, row.messages, row.request_id.startswith("get-a-refund-")) == (5, [], True)


SIMULATOR_PROMPT = """[system]
Judge: user_simulator
You are a terse customer from the suite's own prompt. Answer with JSON: {"message": "...", "goal_reached": false}.
[user]
${goal}
${conversation}
"""


def test_a_suite_can_give_the_simulated_user_its_own_prompt(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    judge.set_handler(simulated_user(goal_after=1))
    pytester.makefile(".txt", sim_prompt=SIMULATOR_PROMPT)
    _, built_in = run(pytester)
    built_in_calls = len(judge.calls("user_simulator"))
    suite = SUITE.replace("rows:", "prompts: {user_simulator: sim_prompt.txt}\nrows:")
    result, row = run(pytester, suite=suite)
    result.assert_outcomes(passed=1)
    calls = judge.calls("user_simulator")[built_in_calls:]
    assert calls, "the simulated user was not asked with the suite's prompt"
    assert all("from the suite's own prompt" in c.messages[0]["content"] for c in calls)
    assert "persona" not in calls[0].sections  # the suite's prompt does not use it
    # a new prompt is a new prompt version: the cache and the record see it
    assert row["simulation"]["prompt_version"] != built_in["simulation"]["prompt_version"]


def test_a_simulated_user_prompt_with_unknown_variables_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", sim_prompt=SIMULATOR_PROMPT.replace("${goal}", "${objective}"))
    pytester.makepyfile(chatapp=APP)
    suite = SUITE.replace("rows:", "prompts: {user_simulator: sim_prompt.txt}\nrows:")
    pytester.makefile(".yaml", genai_sim=suite.replace("{max_turns}", "3"))
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    out = result.stdout.str()
    assert "prompt for 'user_simulator'" in out and "unknown variable(s) objective" in out, out
