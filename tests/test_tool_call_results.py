"""Agents, the results: tool calls on RowResult (and in older artifacts), metrics and their
names, thresholds, the per-row tables, redaction, and the three reports (failure text, Markdown
summary, HTML rows)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.artifacts import read_results, row_record, write_results
from pytest_genai_eval.gate import Threshold, check_threshold, threshold_problems
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.redact import Redactor
from pytest_genai_eval.report_html import render_html
from pytest_genai_eval.report_md import render_markdown
from pytest_genai_eval.results import Assessment, RowResult
from pytest_genai_eval.verdict import describe
from pytest_genai_eval.vocabulary import (
    ALIASES,
    TOOL_CALL_AVERAGES,
    TOOL_CALL_COUNT,
    metric_direction,
    metric_kind,
    metric_label,
    rate_metrics,
)

RATE = "response/tool_call/tool_call_correctness/rating/percentage"


def check(rating: str, precision: float, recall: float, f1: float, rationale: str = "") -> Assessment:
    return Assessment(
        "tool_call_correctness",
        "tool_call_correctness",
        kind="check",
        rating=rating,  # type: ignore[arg-type]
        rationale=rationale or f"rated {rating}",
        details={"precision": precision, "recall": recall, "f1": f1, "trajectory": "strict"},
    )


def rows() -> list[RowResult]:
    expected = [{"name": "lookup_order", "arguments": {"order_id": "A-1"}}]
    return [
        RowResult(  # right call
            suite="agent",
            request_id="right",
            row={"request": "Where is A-1?", "expected_tool_calls": expected},
            response="Shipped.",
            tool_calls=[{"name": "lookup_order", "arguments": {"order_id": "A-1"}, "id": "c1", "result": "shipped"}],
            assessments=[check("yes", 1.0, 1.0, 1.0)],
        ),
        RowResult(  # wrong tool
            suite="agent",
            request_id="wrong-tool",
            row={"request": "Has A-1 shipped?", "expected_tool_calls": expected},
            response=None,
            tool_calls=[{"name": "search_docs", "arguments": {"query": "<b>shipping</b>"}, "result": "3-5 days"}],
            assessments=[
                check("no", 0.0, 0.0, 0.0, 'wrong tool: called search_docs(query="shipping") instead of lookup_order(order_id="A-1")'),
                Assessment("tool_call_efficiency", "tool_call_efficiency", rating="yes", rationale="one call"),
            ],
        ),
        RowResult(  # no ground truth: the LLM variant, counted in the same pass rate
            suite="agent",
            request_id="llm",
            row={"request": "Find my orders"},
            response="Two orders.",
            tool_calls=[{"name": "lookup_order", "arguments": {}}, {"name": "lookup_order", "arguments": {}}],
            assessments=[
                Assessment("tool_call_correctness", "tool_call_correctness", rating="yes", rationale="fine"),
                Assessment("tool_call_efficiency", "tool_call_efficiency", rating="no", rationale="twice"),
            ],
        ),
        RowResult(  # a plain chatbot row: no tool-call information
            suite="agent",
            request_id="chat",
            row={"request": "Hi"},
            response="Hello",
            assessments=[Assessment("safety", "safety", rating="yes")],
        ),
    ]


# ---- metrics --------------------------------------------------------------------------------
def test_metrics_one_pass_rate_and_the_averages() -> None:
    metrics = compute_metrics(rows())
    assert metrics[RATE] == pytest.approx(2 / 3)  # check yes, check no, LLM yes: one rate
    assert metrics["response/tool_call/tool_call_correctness/rating/count"] == 3
    assert not any(k.startswith(("response/check/tool_call", "response/llm_judged/tool_call_correctness")) for k in metrics)
    assert metrics["response/llm_judged/tool_call_efficiency/rating/percentage"] == 0.5
    precision, recall, f1 = TOOL_CALL_AVERAGES
    assert (metrics[precision], metrics[recall], metrics[f1]) == (0.5, 0.5, 0.5)  # LLM rows carry none
    assert metrics[TOOL_CALL_COUNT] == pytest.approx(4 / 3)  # 1, 1, 2 calls; the chat row has none
    assert metrics["response/overall_assessment/root_cause/tool_call_correctness/count"] == 1
    assert metrics["response/overall_assessment/root_cause/tool_call_efficiency/count"] == 1


def test_no_tool_metrics_without_tool_calls() -> None:
    metrics = compute_metrics(rows()[3:])
    assert TOOL_CALL_COUNT not in metrics and not any("tool_call" in k for k in metrics)


def test_names_read_like_the_others() -> None:
    assert [metric_label(name) for name in (*TOOL_CALL_AVERAGES, TOOL_CALL_COUNT)] == [
        "tool call precision",
        "tool call recall",
        "tool call F1",
        "tool calls per row",
    ]
    assert {metric_kind(name) for name in TOOL_CALL_AVERAGES} == {"rate"}
    assert metric_kind(TOOL_CALL_COUNT) == "count" and metric_direction(TOOL_CALL_COUNT) == "none"
    assert metric_direction(TOOL_CALL_AVERAGES[2]) == "higher"
    assert ALIASES["tool_call_f1"] == TOOL_CALL_AVERAGES[2] and ALIASES["tool_call_count"] == TOOL_CALL_COUNT
    labels = [label for label, _ in rate_metrics(compute_metrics(rows()))]
    assert labels == ["overall", "safety", "tool_call_correctness", "tool_call_efficiency", "tool call precision", "tool call recall", "tool call F1"]


def test_thresholds_name_the_judge_or_the_averages() -> None:
    metrics = compute_metrics(rows())
    by_name = check_threshold("agent", Threshold("tool_call_correctness", 0.9), metrics)
    assert by_name.metric == RATE and by_name.status == "fail"
    f1 = check_threshold("agent", Threshold("tool_call_f1", 0.5), metrics)
    assert (f1.metric, f1.status) == (TOOL_CALL_AVERAGES[2], "pass")
    names = {"tool_call_correctness", "tool_call_efficiency"}
    assert threshold_problems([Threshold("tool_call_correctness", 0.9), Threshold("tool_call_recall", 0.9), Threshold(RATE, 0.9)], names) == []
    (problem,) = threshold_problems([Threshold("tool_call_corectness", 0.9)], names)
    assert "did you mean 'tool_call_correctness'?" in problem


# ---- results and tables ----------------------------------------------------------------------
def test_row_result_round_trip_and_older_artifacts() -> None:
    result = rows()[0]
    data = result.to_dict()
    assert data["tool_calls"] == result.tool_calls
    assert RowResult.from_dict(json.loads(json.dumps(data))).tool_calls == result.tool_calls
    del data["tool_calls"]  # written before this release
    assert RowResult.from_dict(data).tool_calls is None


def test_per_row_tables(tmp_path: Path) -> None:
    right, wrong, llm, chat = rows()
    record = row_record(wrong)
    assert record["agent/tool_calls"] == wrong.tool_calls
    assert record["agent/tool_call_count"] == 1
    assert record["response/tool_call/tool_call_correctness/rating"] == "no"
    assert record["response/tool_call/tool_call_correctness/precision"] == 0.0
    assert record["response/tool_call/tool_call_correctness/f1"] == 0.0
    assert "response/tool_call/tool_call_correctness/precision" not in row_record(llm)
    assert "agent/tool_calls" not in row_record(chat)  # no tool-call information: no column
    written = write_results(tmp_path, {"metrics": compute_metrics(rows())}, rows(), parquet=False)
    with written["csv"].open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert json.loads(table[1]["agent/tool_calls"]) == wrong.tool_calls  # JSON text in CSV
    assert table[2]["agent/tool_call_count"] == "2" and table[3]["agent/tool_call_count"] == ""
    lines = written["jsonl"].read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["agent/tool_calls"] == right.tool_calls
    _, back = read_results(tmp_path)
    assert [r.tool_calls for r in back] == [r.tool_calls for r in rows()]


def test_secrets_in_tool_calls_are_redacted() -> None:
    redactor = Redactor()
    redactor.add("sk-agent-secret-1234567890")
    result = rows()[0]
    assert result.tool_calls is not None
    result.tool_calls[0]["arguments"]["token"] = "sk-agent-secret-1234567890"
    result.tool_calls[0]["result"] = "echo sk-agent-secret-1234567890"
    result.redact(redactor.scrub)
    assert "sk-agent-secret" not in json.dumps(result.to_dict())
    assert result.tool_calls[0]["arguments"]["token"] == "***"


# ---- reports ---------------------------------------------------------------------------------
def test_failure_text_shows_expected_and_actual_calls() -> None:
    text = describe(rows()[1], "agent.yaml, line 2")
    assert text.splitlines()[:5] == [
        "row 'wrong-tool' of suite 'agent' (agent.yaml, line 2) failed; root cause: tool_call_correctness",
        "  request:  Has A-1 shipped?",
        "  response: (no final answer: the agent only called tools)",
        '  expected calls: 1. lookup_order(order_id="A-1")',
        '  actual calls:   1. search_docs(query="<b>shipping</b>")',
    ]
    many = rows()[2]
    many.tool_calls = [{"name": f"f{i}", "arguments": {"i": i}} for i in range(10)]
    lines = describe(many).splitlines()
    assert "  actual calls:   1. f0(i=0)" in lines
    assert "                  8. f7(i=7)" in lines and "                  … and 2 more" in lines
    assert not any(line.startswith("  expected calls") for line in lines)  # no ground truth
    assert "calls" not in describe(rows()[3])  # a row without tool calls reads as before


def test_markdown_failing_rows_show_the_calls() -> None:
    text = render_markdown({"metrics": compute_metrics(rows())}, rows())
    header = next(line for line in text.splitlines() if line.startswith("| row | request"))
    assert header == "| row | request | root cause | rationale | tool calls |"
    wrong = next(line for line in text.splitlines() if "agent::wrong-tool" in line)
    assert 'expected: lookup\\_order(order\\_id="A-1") · actual: search\\_docs(query="&lt;b>shipping&lt;/b>")' in wrong
    plain = render_markdown({"metrics": {}}, [rows()[3]])
    assert "tool calls" not in plain


def test_html_rows_show_the_calls_side_by_side() -> None:
    page = render_html({"metrics": compute_metrics(rows())}, rows())
    assert "<b>shipping</b>" not in page and "&lt;b&gt;shipping&lt;/b&gt;" in page  # escaped
    assert page.count('<table class="calls">') == 3  # the chat row has none
    wrong = page[page.index('data-request-id="wrong-tool"') :]
    wrong = wrong[: wrong.index("</table>")]
    assert "<th>expected</th><th>actual</th>" in wrong
    assert '<tr class="differs"><td>1</td><td><code>lookup_order(order_id=&quot;A-1&quot;)</code></td>' in wrong
    assert '<div class="result">→ 3-5 days</div>' in wrong
    assert "(no final answer: the agent only called tools)" in page
    llm = page[page.index('data-request-id="llm"') :]
    llm = llm[: llm.index("</table>")]
    assert "<th>expected</th>" not in llm and llm.count("<code>lookup_order()</code>") == 2


def test_results_dir_for_an_agent_suite(tmp_path: Path) -> None:
    metrics: dict[str, Any] = compute_metrics(rows())
    write_results(tmp_path, {"metrics": metrics}, rows(), parquet=False)
    document = json.loads((tmp_path / "evaluation_results.json").read_text(encoding="utf-8"))
    assert document["metrics"][TOOL_CALL_AVERAGES[0]] == 0.5
    assert document["rows"][1]["tool_calls"][0]["name"] == "search_docs"
