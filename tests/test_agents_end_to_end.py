"""Agents end to end: a suite whose app is a tool-calling Python agent, through pytest, the
scripted judge (HTTP on 127.0.0.1), the gate, the results directory and the reports."""

from __future__ import annotations

import csv
import json

import pytest

from pytest_genai_eval.testing import ScriptedJudge

AGENT = '''
import json

def _call(messages, call_id, name, arguments, result):
    messages.append({"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}]})
    messages.append({"role": "tool", "tool_call_id": call_id, "content": result})

def run(request):
    question = request["messages"][-1]["content"]
    messages = list(request["messages"])
    if "refund" in question:
        _call(messages, "c1", "search_docs", {"query": "refunds"}, "5 business days")
        _call(messages, "c2", "search_docs", {"query": "refunds"}, "5 business days")
        messages.append({"role": "assistant", "content": "Refunds take 5 business days."})
    elif "order" in question:
        order_id = question.split()[-1].rstrip("?")
        _call(messages, "c1", "lookup_order", {"order_id": order_id}, "shipped")
        messages.append({"role": "assistant", "content": f"Order {order_id} has shipped."})
    else:
        messages.append({"role": "assistant", "content": "Hello!"})
    return messages
'''

SUITE = """
name: agent
app: agent:run
exclude_judges: [safety, relevance_to_query]
tool_call_match: {trajectory: strict, arguments: exact}
rows:
  - request_id: right
    request: Where is order A-1?
    expected_tool_calls: [{name: lookup_order, arguments: {order_id: A-1}}]
  - request_id: wrong-arguments
    request: Where is order a-2?
    expected_tool_calls: [{name: lookup_order, arguments: {order_id: A-2}}]
  - request_id: redundant
    request: How long does a refund take?
    available_tools:
      - {type: function, function: {name: search_docs, description: Search the help center.}}
  - request_id: small-talk
    request: Hi
    expected_tool_calls: []
{extra}
"""


def write(pytester: pytest.Pytester, extra: str = "") -> None:
    pytester.makepyfile(agent=AGENT)
    pytester.makefile(".yaml", genai_agent=SUITE.replace("{extra}", extra))


def test_a_tool_calling_agent_is_gated(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="tool_call_efficiency", contains="2. search_docs", rating="no", rationale="search_docs was called twice with the same query.")
    write(pytester)
    result = pytester.runpytest("--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=2)
    assert result.ret == 1
    out = result.stdout.str()
    assert "row 'wrong-arguments' of suite 'agent' (genai_agent.yaml: rows, row 2) failed; root cause: tool_call_correctness" in out
    assert '  expected calls: 1. lookup_order(order_id="A-2")' in out
    assert '  actual calls:   1. lookup_order(order_id="a-2")' in out
    assert '[FAIL] tool_call_correctness: wrong arguments for lookup_order: order_id "a-2" (expected "A-2")' in out
    assert "root cause: tool_call_efficiency" in out
    assert "[FAIL] tool_call_efficiency: search_docs was called twice with the same query." in out
    # the judge was asked only what needs an LLM: efficiency on the rows that made calls, and
    # correctness (LLM) on the row without expected calls
    assert sorted(c.judge or "" for c in judge.calls()) == [
        "tool_call_correctness",
        "tool_call_efficiency",
        "tool_call_efficiency",
        "tool_call_efficiency",
    ]
    (asked,) = judge.calls(judge="tool_call_correctness")
    assert asked.sections["request"] == "How long does a refund take?"
    assert asked.sections["available_tools"] == "- search_docs: Search the help center."
    assert asked.sections["tool_calls"] == '1. search_docs {"query": "refunds"}\n2. search_docs {"query": "refunds"}'

    results = pytester.path / "genai-results"
    document = json.loads((results / "evaluation_results.json").read_text(encoding="utf-8"))
    rows = {r["request_id"]: r for r in document["rows"]}
    assert rows["right"]["tool_calls"] == [{"name": "lookup_order", "arguments": {"order_id": "A-1"}, "id": "c1", "result": "shipped"}]
    assert rows["small-talk"]["tool_calls"] == []
    assert rows["redundant"]["response"] == "Refunds take 5 business days."
    metrics = document["metrics"]
    assert metrics["response/tool_call/tool_call_correctness/rating/percentage"] == 0.75
    assert metrics["response/tool_call/tool_call_correctness/recall/average"] == pytest.approx(2 / 3)
    assert metrics["response/llm_judged/tool_call_efficiency/rating/percentage"] == pytest.approx(2 / 3)
    assert metrics["agent/tool_call_count/average"] == 1.0  # 1 + 1 + 2 + 0 calls over 4 rows
    assert document["suites"]["agent"]["config"]["tool_call_match"] == {"trajectory": "strict", "arguments": "exact"}
    with (results / "eval_results.csv").open(encoding="utf-8") as handle:
        table = {r["request_id"]: r for r in csv.DictReader(handle)}
    assert table["redundant"]["agent/tool_call_count"] == "2"
    assert json.loads(table["wrong-arguments"]["agent/tool_calls"])[0]["arguments"] == {"order_id": "a-2"}
    assert table["wrong-arguments"]["response/tool_call/tool_call_correctness/rationale"].startswith("wrong arguments")
    html = (results / "report.html").read_text(encoding="utf-8")
    assert html.count('<table class="calls">') == 4
    summary = (results / "summary.md").read_text(encoding="utf-8")
    assert "| tool calls |" in summary and 'actual: lookup\\_order(order\\_id="a-2")' in summary
    junit = (pytester.path / "junit.xml").read_text(encoding="utf-8")
    assert 'name="genai/tool_call_correctness/rating" value="no"' in junit


def test_offline_the_check_gates_and_a_threshold_tolerates(pytester: pytest.Pytester) -> None:
    write(pytester, extra="thresholds: {tool_call_correctness: 0.6, tool_call_f1: 0.5}")
    result = pytester.runpytest("-rx")
    result.assert_outcomes(passed=2, xfailed=1, skipped=1)  # the redundant row's judges need an LLM
    assert result.ret == 0
    out = result.stdout.str()
    assert "tool_call_correctness said no; tolerated by tool_call_correctness >= 0.6" in out
    assert "NOT RUN:" in out and "tool_call_correctness 1" in out and "tool_call_efficiency 3" in out
    assert "[   PASS] agent: tool_call_correctness >= 0.6 (actual 0.6667)" in out
    assert "[   PASS] agent: tool_call_f1 >= 0.5 (actual 0.6667)" in out
    assert "genai gate: INCOMPLETE" in out


def test_a_threshold_naming_a_missing_judge_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write(pytester, extra="thresholds: {tool_calls_correctness: 0.7}")
    result = pytester.runpytest()
    assert result.ret == 4
    assert "did you mean 'tool_call_correctness'?" in result.stderr.str() + result.stdout.str()


def test_the_python_api_takes_tool_call_match(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(agent=AGENT)
    pytester.makepyfile(
        test_agent="""
import pytest_genai_eval as genai
from agent import run

ROWS = [{"request_id": "twice", "request": "How long does a refund take?",
         "expected_tool_calls": [{"name": "search_docs", "arguments": {"query": "refund policy"}}]}]

@genai.evaluate(ROWS, app=run, tool_call_match={"trajectory": "superset",
                                                 "tools": {"search_docs": {"arguments": "ignore"}}})
def test_agent(genai_result):
    assert [c["name"] for c in genai_result.tool_calls] == ["search_docs", "search_docs"]
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    document = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text(encoding="utf-8"))
    (row,) = document["rows"]
    (check,) = [a for a in row["assessments"] if a["name"] == "tool_call_correctness"]
    assert (check["kind"], check["rating"]) == ("check", "yes")
    assert check["rationale"] == "1 of 1 expected call(s) made, 1 more call(s) allowed (trajectory superset, arguments exact)"
