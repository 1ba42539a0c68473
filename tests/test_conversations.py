"""Conversations: a row of scripted turns, the app called turn by turn with the history, each turn
judged (the judges see the conversation so far), the transcript judged by the conversation
judges, one verdict per row with the failing turn named; reports, cache and xdist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.conversation import combine_turns
from pytest_genai_eval.evalset import EvalSetError, load_rows
from pytest_genai_eval.results import Assessment, RowResult
from pytest_genai_eval.testing import ScriptedJudge

APP = '''
import json

CALLS = []

def reply(request):
    messages = request["messages"]
    CALLS.append(messages)
    with open("app_calls.jsonl", "a") as handle:
        handle.write(json.dumps(messages) + "\\n")
    asked = [m["content"] for m in messages if m["role"] == "user"]
    if "carrier" in asked[-1]:
        order = next((w for q in asked for w in q.split() if w.startswith("A-")), "?")
        return f"Order {order.rstrip('?.')} ships with DHL."
    return f"Answer {len(asked)}: noted {asked[-1]}"
'''

SUITE = """
name: chat
app: chatapp:reply
exclude_judges: [safety, relevance_to_query]
rows:
  - request_id: order-chat
    turns:
      - {request: "Where is order A-7?", expected_facts: ["order A-7"]}
      - {request: "Which carrier has it?", expected_facts: ["DHL"]}
      - {request: "Thanks!", guidelines: ["Be polite."]}
    guidelines: {memory: ["Never ask for the order id twice."]}
  - request_id: short-chat
    turns: ["Hello", "Bye"]
"""


def write(pytester: pytest.Pytester, suite: str = SUITE) -> None:
    pytester.makepyfile(chatapp=APP)
    pytester.makefile(".yaml", genai_chat=suite)


def results(pytester: pytest.Pytester) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (pytester.path / "out" / "evaluation_results.json").read_text()
    )
    return doc


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider", *args)


def test_each_turn_sees_the_history_and_the_failing_turn_is_named(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    judge.on(
        judge="correctness",
        section="request",
        contains="Which carrier",
        rating="no",
        rationale="The answer does not name the carrier correctly.",
    )
    write(pytester)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "failed; root cause: turn 2: correctness" in out
    assert "    turn 2 [FAIL]" in out
    assert "      user: Which carrier has it?" in out
    assert "      [FAIL] correctness: The answer does not name the carrier correctly." in out
    assert "    turn 1 [PASS]" in out

    # the app received the accumulated history, its own earlier answers included
    calls = [json.loads(line) for line in (pytester.path / "app_calls.jsonl").read_text().splitlines()]
    order_calls = [c for c in calls if c[0]["content"] == "Where is order A-7?"]
    assert [len(c) for c in order_calls] == [1, 3, 5]
    assert order_calls[2][1] == {"role": "assistant", "content": "Answer 1: noted Where is order A-7?"}
    assert order_calls[2][3] == {"role": "assistant", "content": "Order A-7 ships with DHL."}

    # each turn's judge sees the conversation so far before the turn's request
    correctness = {c.sections["request"].rsplit("\n", 1)[-1]: c for c in judge.calls("correctness")}
    assert set(correctness) == {"Where is order A-7?", "Which carrier has it?"}
    assert "[conversation so far]" not in correctness["Where is order A-7?"].sections["request"]
    second = correctness["Which carrier has it?"].sections["request"]
    assert second == (
        "[conversation so far]\nuser: Where is order A-7?\n"
        "assistant: Answer 1: noted Where is order A-7?\n[current request]\nWhich carrier has it?"
    )
    assert correctness["Which carrier has it?"].sections["response"] == "Order A-7 ships with DHL."
    (turn_guideline,) = judge.calls("guideline_adherence")
    assert turn_guideline.sections["guidelines"] == "- Be polite."
    assert "assistant: Order A-7 ships with DHL." in turn_guideline.sections["request"]

    # the conversation judges read the whole transcript, once per row
    for name in ("conversation_completeness", "knowledge_retention", "role_adherence", "user_frustration"):
        calls_of_judge = judge.calls(name)
        assert len(calls_of_judge) == 2, name
    (memory,) = judge.calls("conversational_guidelines")
    assert memory.sections["guidelines"] == "- Never ask for the order id twice."
    assert memory.sections["conversation"].splitlines() == [
        "user: Where is order A-7?",
        "assistant: Answer 1: noted Where is order A-7?",
        "user: Which carrier has it?",
        "assistant: Order A-7 ships with DHL.",
        "user: Thanks!",
        "assistant: Answer 3: noted Thanks!",
    ]

    doc = results(pytester)
    rows = {r["request_id"]: r for r in doc["rows"]}
    chat = rows["order-chat"]
    assert [t["status"] for t in chat["turns"]] == ["pass", "fail", "pass"]
    assert [t["request"] for t in chat["turns"]][1] == "Which carrier has it?"
    combined = {a["name"]: a for a in chat["assessments"]}
    assert combined["correctness"]["rating"] == "no"
    assert combined["correctness"]["details"]["turn"] == 2
    assert combined["correctness"]["details"]["turns"] == {"1": "yes", "2": "no"}
    assert combined["conversational_guidelines/memory"]["rating"] == "yes"
    assert chat["response"] == "Answer 3: noted Thanks!"
    assert rows["short-chat"]["status"] == "pass"
    metrics = doc["metrics"]
    # judges count conversation rows: correctness rated once per row (one row has ground truth)
    assert metrics["response/llm_judged/correctness/rating/count"] == 1
    assert metrics["response/llm_judged/correctness/rating/percentage"] == 0.0
    assert metrics["response/llm_judged/knowledge_retention/rating/count"] == 2
    assert metrics["conversation/turn_count/average"] == 2.5
    assert metrics["response/overall_assessment/root_cause/correctness/count"] == 1


def test_reports_show_transcripts_with_per_turn_verdicts(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    judge.on(judge="correctness", section="request", contains="Which carrier", rating="no", rationale="Wrong carrier.")
    write(pytester)
    run(pytester)
    summary = (pytester.path / "out" / "summary.md").read_text()
    assert "| chat::order-chat | Where is order A-7? | turn 2: correctness | Wrong carrier. |" in summary
    assert "#### Conversation chat::order-chat" in summary
    assert "| 2 | Which carrier has it? | Order A-7 ships with DHL. | **fail**: correctness: Wrong carrier. |" in summary
    assert "| 1 | Where is order A-7? | Answer 1: noted Where is order A-7? | **pass** |" in summary
    page = (pytester.path / "out" / "report.html").read_text()
    assert '<div class="label">conversation (3 turns)</div>' in page
    assert '<div class="turn" data-turn="2"><div class="label">turn 2 <span class="pill fail">fail</span>' in page
    assert "<b>user:</b> Which carrier has it?" in page


def test_a_warm_rerun_asks_no_judge(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    write(pytester)
    first = run(pytester)
    first.assert_outcomes(passed=2)
    asked = len(judge.requests)
    # turns: correctness twice, guideline_adherence once; transcripts: 4 + 1 judges, then 4
    assert asked == 3 + 5 + 4
    second = run(pytester)
    second.assert_outcomes(passed=2)
    assert len(judge.requests) == asked  # turn judges and conversation judges: all cached
    doc = results(pytester)
    cached = [a["cached"] for r in doc["rows"] for t in r["turns"] for a in t["assessments"]]
    assert cached and all(cached)
    assert all(a["cached"] for r in doc["rows"] for a in r["assessments"])


def test_under_xdist_the_turns_travel_to_the_controller(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    write(pytester)
    result = pytester.runpytest_subprocess("-n", "2", "--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    rows = {r["request_id"]: r for r in results(pytester)["rows"]}
    assert len(rows["order-chat"]["turns"]) == 3
    assert rows["short-chat"]["turns"][1]["request"] == "Bye"
    assert all(t["assessments"] for t in rows["order-chat"]["turns"])


def test_a_judge_outage_is_an_error_never_a_pass(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", "judge")
    write(pytester)
    result = run(pytester, "--genai-judge-retries", "0")
    result.assert_outcomes(errors=2)
    assert result.ret == 6
    rows = {r["request_id"]: r for r in results(pytester)["rows"]}
    assert {r["status"] for r in rows.values()} == {"error"}
    assert [t["status"] for t in rows["order-chat"]["turns"]] == ["error"] * 3
    assert {a["rating"] for a in rows["short-chat"]["assessments"]} == {None}  # never a pass


def test_without_a_judge_the_checks_run_on_every_turn(pytester: pytest.Pytester) -> None:
    suite = SUITE.replace(
        "rows:", 'checks: [{type: not_contains, values: ["noted Which"]}]\nrows:', 1
    )
    write(pytester, suite)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    rows = {r["request_id"]: r for r in results(pytester)["rows"]}
    turns = rows["order-chat"]["turns"]
    assert [[a["name"] for a in t["assessments"] if a["rating"]] for t in turns] == [["not_contains"]] * 3
    assert "LLM-judged assessment(s)" in result.stdout.str()


def test_an_app_error_names_the_turn(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(chatapp="def reply(request):\n    if len(request['messages']) > 1:\n        raise RuntimeError('lost the thread')\n    return 'hi'\n")
    pytester.makefile(".yaml", genai_chat="name: chat\napp: chatapp:reply\nrows:\n  - request_id: c\n    turns: [one, two, three]\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    (row,) = results(pytester)["rows"]
    assert row["app_error"].startswith("turn 2: ")
    assert "lost the thread" in row["app_error"]
    assert [t["response"] for t in row["turns"]] == ["hi", None]
    assert judge.requests == []  # an unfinished conversation is not judged


def test_conversation_fields_are_validated_with_file_row_and_field() -> None:
    rows = [
        {"request_id": "a", "turns": []},
        {"request_id": "b", "turns": [{"request": "hi", "expected": "x"}]},
        {"request_id": "c", "turns": [{"request": ""}]},
        {"request_id": "d", "turns": ["hi"], "goal": "g"},
        {"request_id": "e", "turns": ["hi"], "expected_facts": ["x"]},
        {"request_id": "f", "turns": ["hi"], "request": "hello"},
        {"request_id": "g", "turns": [{"request": "hi", "expected_facts": ["x"], "expected_response": "y"}]},
        {"request_id": "h", "max_turns": 3, "request": "hi"},
        {"request_id": "i", "turns": [{"request": "hi", "guidelines": [1]}]},
    ]
    with pytest.raises(EvalSetError) as info:
        load_rows(rows, name="chat.yaml")
    found = {(i.location, i.field): i.message for i in info.value.issues}
    assert found == {
        ("row 1", "turns"): "a conversation needs at least one turn",
        ("row 2", "turns[0].expected"): "unknown turn field; a turn has request, expected_facts, expected_response, guidelines",
        ("row 3", "turns[0].request"): "missing required field 'request'",
        ("row 4", "goal"): "give either 'turns' (a scripted conversation) or 'goal' (a simulated user)",
        ("row 5", "expected_facts"): "not supported on a conversation row (give it on a turn)",
        ("row 6", "request"): "a conversation's first turn is its request: give 'turns' only",
        ("row 7", "turns[0].expected_facts"): "give at most one of expected_response and expected_facts, not both",
        ("row 8", "max_turns"): "'max_turns' belongs to a simulated user, which needs 'goal'",
        ("row 9", "turns[0].guidelines"): "item 0: expected a string, got int",
    }
    assert "chat.yaml, row 2, field 'turns[0].expected'" in str(info.value)


def test_a_conversation_row_echoes_its_turns() -> None:
    (row,) = load_rows([{"turns": ["Hi", {"request": "Refund?", "expected_facts": ["30 days"]}]}])
    assert row.request_id.startswith("hi-")
    assert row.is_conversation and not row.has_response
    assert row.to_record()["turns"] == [{"request": "Hi"}, {"request": "Refund?", "expected_facts": ["30 days"]}]


def _a(rating: str | None = None, *, error: str | None = None, skipped: str | None = None, rationale: str = "r") -> Assessment:
    return Assessment(name="correctness", judge="correctness", rating=rating, error=error, skipped=skipped, rationale=rationale if rating else None, cached=True)  # type: ignore[arg-type]


def test_combining_turn_verdicts() -> None:
    failed = combine_turns("correctness", [(1, _a("yes")), (2, _a(error="down")), (3, _a("no", rationale="wrong"))])
    assert (failed.rating, failed.rationale, failed.details["turn"]) == ("no", "wrong", 3)
    assert failed.details["turns"] == {"1": "yes", "2": "error", "3": "no"}
    errored = combine_turns("correctness", [(1, _a("yes")), (2, _a(error="down"))])
    assert (errored.rating, errored.error) == (None, "down")
    passed = combine_turns("correctness", [(1, _a("yes")), (3, _a("yes"))])
    assert (passed.rating, passed.rationale, passed.cached) == ("yes", "yes on turns 1, 3", True)
    not_run = combine_turns("correctness", [(1, _a("yes")), (2, _a(skipped="no judge"))])
    assert (not_run.rating, not_run.skipped) == (None, "no judge")
    two = combine_turns("correctness", [(1, _a("no", rationale="a")), (2, _a("no", rationale="b"))])
    assert two.rationale == "turn 1: a; turn 2: b"


def test_rows_of_the_previous_release_still_read(tmp_path: Path) -> None:
    old = {"suite": "s", "request_id": "r", "row": {"request": "q"}, "response": "a", "assessments": []}
    row = RowResult.from_dict(old)
    assert row.turns is None and row.simulation is None
    assert "turns" not in row.to_dict()
    again = RowResult.from_dict(RowResult.from_dict({**old, "turns": [{"index": 1, "request": "q"}]}).to_dict())
    assert again.turns is not None and again.turns[0].request == "q"


def test_a_secret_an_answer_echoes_is_redacted_in_every_turn(
    pytester: pytest.Pytester, judge: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-Conversation0123456789abcdef"
    monkeypatch.setenv("GENAI_EVAL_JUDGE_API_KEY", secret)
    judge.on(judge="knowledge_retention", rating="no", rationale="It forgot the order.")
    pytester.makepyfile(
        chatapp="import os\ndef reply(request):\n    return 'key ' + os.environ['GENAI_EVAL_JUDGE_API_KEY']\n"
    )
    pytester.makefile(".yaml", genai_chat="name: chat\napp: chatapp:reply\nrows:\n  - request_id: c\n    turns: [one, two]\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert "assistant: key ***" in result.stdout.str()
    for name in ("evaluation_results.json", "summary.md", "report.html", "eval_results.jsonl"):
        assert secret not in (pytester.path / "out" / name).read_text(), name
    assert secret not in result.stdout.str()
    (row,) = results(pytester)["rows"]
    assert [t["response"] for t in row["turns"]] == ["key ***", "key ***"]


def test_a_conversation_without_an_app_is_a_configuration_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_chat="name: chat\nrows:\n  - request_id: c\n    turns: [one, two]\n")
    result = run(pytester)
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*no app is configured*(a conversation row always needs an app)*"])


def test_custom_judges_read_the_transcript(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite = """
name: chat
app: chatapp:reply
judges: []
custom_judges:
  - name: consistent
    prompt: "Is the assistant consistent across this conversation?\\n${transcript}"
rows:
  - request_id: order-chat
    turns: ["Where is order A-7?", "Which carrier has it?"]
  - request_id: single
    request: "Hello"
"""
    write(pytester, suite)
    run(pytester).assert_outcomes(passed=2)
    by_transcript = sorted(c.sections["transcript"] for c in judge.calls("consistent"))
    assert by_transcript == sorted(
        [
            "user: Where is order A-7?\nassistant: Answer 1: noted Where is order A-7?",
            # turn 2 sees the conversation up to and including its own answer
            "user: Where is order A-7?\nassistant: Answer 1: noted Where is order A-7?\n"
            "user: Which carrier has it?\nassistant: Order A-7 ships with DHL.",
            "user: Hello\nassistant: Answer 1: noted Hello",  # a single-turn row
        ]
    )
