"""Agents, the schema: tool calls in app outputs (chat message lists, ChatCompletion tool_calls,
Responses API items) and in rows (expected_tool_calls, available_tools, tool_call_match), with
the errors bad input gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from pytest_genai_eval.evalset import EvalSetError, load_rows
from pytest_genai_eval.outputs import parse_app_output
from pytest_genai_eval.results import TokenUsage
from pytest_genai_eval.suite import SuiteError, build_suite


def chat_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


TRANSCRIPT: list[dict[str, Any]] = [
    {"role": "system", "content": "You are an order agent."},
    {"role": "user", "content": "Where is A-1?"},
    {"role": "assistant", "content": None, "tool_calls": [chat_call("c1", "lookup_order", {"order_id": "A-1"})]},
    {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
    {
        "role": "assistant",
        "content": "Checking the policy too.",
        "tool_calls": [chat_call("c2", "search_docs", {"query": "shipping"})],
    },
    {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "3-5 days"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "It shipped; "}, {"type": "text", "text": "3-5 days."}]},
]

RESPONSES_ITEMS: list[dict[str, Any]] = [
    {"type": "reasoning", "id": "rs_1", "summary": []},
    {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "lookup_order", "arguments": '{"order_id": "A-1"}'},
    {"type": "function_call_output", "call_id": "call_9", "output": '{"status": "shipped"}'},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It shipped."}]},
]


# ---- app outputs -------------------------------------------------------------------------------
def test_chat_message_list_gives_the_final_answer_and_every_call_with_its_result() -> None:
    out = parse_app_output(TRANSCRIPT)
    assert out.text == "It shipped; 3-5 days."
    assert out.tool_calls == [
        {"name": "lookup_order", "arguments": {"order_id": "A-1"}, "id": "c1", "result": '{"status": "shipped"}'},
        {"name": "search_docs", "arguments": {"query": "shipping"}, "id": "c2", "result": "3-5 days"},
    ]
    assert out.raw is TRANSCRIPT


def test_a_transcript_ending_on_a_call_has_no_answer() -> None:
    out = parse_app_output(TRANSCRIPT[:4])  # the preamble of a calling message is no answer either
    assert out.text is None
    assert [c["name"] for c in out.tool_calls or []] == ["lookup_order"]
    preamble = parse_app_output(TRANSCRIPT[:6])
    assert preamble.text is None and len(preamble.tool_calls or []) == 2


def test_a_transcript_without_calls_records_none() -> None:
    out = parse_app_output([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}])
    assert out.text == "Hello!"
    assert out.tool_calls == []  # a transcript: zero calls, not "unknown"


def test_chat_completion_with_tool_calls() -> None:
    completion = {
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "tool_calls": [chat_call("c1", "lookup_order", '{"order_id": "A-1"}')]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }
    out = parse_app_output(completion)
    assert out.text is None
    assert out.tool_calls == [{"name": "lookup_order", "arguments": {"order_id": "A-1"}, "id": "c1"}]
    assert out.usage == TokenUsage(5, 2, 7)
    plain = parse_app_output({"choices": [{"message": {"role": "assistant", "content": "Paris."}}]})
    assert plain.text == "Paris." and plain.tool_calls is None  # no tool-call information


def test_single_message_and_legacy_function_call() -> None:
    out = parse_app_output({"role": "assistant", "content": None, "tool_calls": [chat_call("c", "f", "")]})
    assert out.tool_calls == [{"name": "f", "arguments": {}, "id": "c"}]
    legacy = parse_app_output({"content": None, "function_call": {"name": "g", "arguments": '{"a": 1}'}})
    assert legacy.text is None and legacy.tool_calls == [{"name": "g", "arguments": {"a": 1}}]


def test_responses_api_items_and_object() -> None:
    out = parse_app_output(RESPONSES_ITEMS)
    assert out.text == "It shipped."
    assert out.tool_calls == [
        {"name": "lookup_order", "arguments": {"order_id": "A-1"}, "id": "call_9", "result": '{"status": "shipped"}'}
    ]
    obj = parse_app_output(
        {"id": "resp_1", "output": RESPONSES_ITEMS, "usage": {"input_tokens": 30, "output_tokens": 8, "total_tokens": 38}}
    )
    assert obj.text == "It shipped." and obj.usage == TokenUsage(30, 8, 38)
    wrapped = parse_app_output({"messages": TRANSCRIPT, "retrieved_context": ["kb://shipping"]})
    assert wrapped.text == "It shipped; 3-5 days." and len(wrapped.tool_calls or []) == 2
    assert wrapped.retrieved_context == [{"content": None, "doc_uri": "kb://shipping"}]


class FunctionCallItem(pydantic.BaseModel):  # what the openai SDK returns: pydantic objects
    type: str = "function_call"
    call_id: str
    name: str
    arguments: str


def test_pydantic_items_are_dumped() -> None:
    out = parse_app_output([FunctionCallItem(call_id="x", name="f", arguments='{"k": "v"}')])
    assert out.text is None and out.tool_calls == [{"name": "f", "arguments": {"k": "v"}, "id": "x"}]


def test_malformed_arguments_are_recorded_not_an_error() -> None:
    out = parse_app_output([{"type": "function_call", "name": "f", "arguments": '{"order_id": 12', "call_id": "x"}])
    assert out.tool_calls == [{"name": "f", "arguments": {}, "malformed_arguments": '{"order_id": 12', "id": "x"}]
    listed = parse_app_output([{"type": "function_call", "name": "f", "arguments": "[1, 2]"}])
    assert listed.tool_calls == [{"name": "f", "arguments": {}, "malformed_arguments": "[1, 2]"}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"role": "user", "content": "q"}], "no assistant message with text and no tool call"),
        ([{"role": "assistant", "content": "a"}, 3], "item 1 of the list: expected a chat message or a Responses API output item (a dict), got int"),
        ([{"content": "no role, no type"}], "item 0 of the list: expected a chat message (with 'role') or a Responses API output item"),
        ([{"role": "assistant", "tool_calls": "lookup"}], "item 0 of the list.tool_calls: expected a list, got str"),
        ([{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}], "item 0 of the list.tool_calls[0].function.name: expected a non-empty string, got null"),
        ([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": 7}}]}], "tool_calls[0].function.arguments: expected a dict or JSON object text, got int"),
        ([{"role": "assistant", "tool_calls": [{"type": "function", "function": "f"}]}], "tool_calls[0].function: expected a {'name', 'arguments'} dict, got str"),
        ([{"type": "function_call", "arguments": "{}"}], "item 0 of the list.name: expected a non-empty string, got null"),
        ([{"type": "message", "content": [{"type": "input_image"}]}], "item 0 of the list.content[0]: expected a text content part"),
        ([{"role": 3, "content": "x"}], "item 0 of the list.role: expected a string, got int"),
        ({"output": []}, "output: expected a non-empty list, got an empty list"),
        ({"messages": "hi"}, "messages: expected a non-empty list, got str"),
        ({"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}}]}, "choices[0].message.tool_calls[0].name: expected a non-empty string, got null"),
    ],
)
def test_bad_transcripts_name_the_place(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_app_output(value)
    assert message in str(info.value)


# ---- rows --------------------------------------------------------------------------------------
TOOLS = [
    {"type": "function", "function": {"name": "lookup_order", "description": "Find an order.", "parameters": {"type": "object"}}},
    {"name": "search_docs", "description": "Search the help center."},
]


def test_row_fields_are_normalized() -> None:
    (row,) = load_rows(
        [
            {
                "request": "Where is A-1?",
                "expected_tool_calls": [
                    {"name": "lookup_order", "arguments": '{"order_id": "A-1"}'},
                    {"type": "function", "function": {"name": "search_docs"}},
                ],
                "available_tools": TOOLS,
                "tool_call_match": {"trajectory": "superset", "tools": {"search_docs": {"arguments": "ignore"}}},
                "response": TRANSCRIPT,
            }
        ]
    )
    assert row.expected_tool_calls == [
        {"name": "lookup_order", "arguments": {"order_id": "A-1"}},
        {"name": "search_docs"},  # no arguments given: they are not compared
    ]
    assert row.available_tools == [
        {"name": "lookup_order", "description": "Find an order.", "parameters": {"type": "object"}},
        {"name": "search_docs", "description": "Search the help center."},
    ]
    assert row.tool_call_match == {"trajectory": "superset", "tools": {"search_docs": {"arguments": "ignore"}}}
    assert row.response == "It shipped; 3-5 days."
    assert [c["name"] for c in row.response_tool_calls or []] == ["lookup_order", "search_docs"]
    record = row.to_record()
    assert record["expected_tool_calls"] == row.expected_tool_calls
    assert record["available_tools"] == row.available_tools


def test_an_empty_expectation_is_kept_and_a_tool_only_response_needs_no_app() -> None:
    suite = build_suite(
        name="s",
        data=[{"request": "hi", "response": RESPONSES_ITEMS[:2], "expected_tool_calls": []}],
    )
    (row,) = suite.rows
    assert row.expected_tool_calls == []  # "no call may be made", not "no expectation"
    assert row.response is None and row.has_response  # the precomputed response only calls


def test_mlflow_expectations_and_csv_json_text(tmp_path: Path) -> None:
    (mlflow,) = load_rows(
        [
            {
                "inputs": {"question": "Where is A-1?"},
                "outputs": {"output": RESPONSES_ITEMS},
                "expectations": {"expected_tool_calls": [{"name": "lookup_order"}]},
            }
        ]
    )
    assert mlflow.expected_tool_calls == [{"name": "lookup_order"}]
    assert mlflow.response == "It shipped."
    path = tmp_path / "rows.csv"
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request", "response", "expected_tool_calls", "available_tools"])
        writer.writerow(["Where is A-1?", json.dumps(TRANSCRIPT), '[{"name": "lookup_order", "arguments": {"order_id": "A-1"}}]', json.dumps(TOOLS)])
        writer.writerow(["Quote?", "[1] is a footnote, not a transcript", "[]", ""])
    first, second = load_rows(path)
    assert first.response == "It shipped; 3-5 days." and len(first.response_tool_calls or []) == 2
    assert first.expected_tool_calls == [{"name": "lookup_order", "arguments": {"order_id": "A-1"}}]
    assert second.response == "[1] is a footnote, not a transcript" and second.response_tool_calls is None
    assert second.expected_tool_calls == [] and second.available_tools is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("expected_tool_calls", "lookup_order", "expected a list of tool calls"),
        ("expected_tool_calls", [{"arguments": {}}], "[0].name: expected a non-empty string, got null"),
        ("expected_tool_calls", [{"name": "f", "arguments": "{order_id: 1}"}], "[0].arguments: expected a JSON object, got '{order_id: 1}'"),
        ("expected_tool_calls", [{"name": "f"}, {"name": "g", "arguments": [1]}], "[1].arguments: expected a dict or JSON object text, got list"),
        ("expected_tool_calls", '[{"name": "f"', "invalid JSON text"),
        ("available_tools", {"name": "f"}, "expected a list of tools"),
        ("available_tools", [{"type": "web_search"}], "[0].type: only function tools are supported, got 'web_search'"),
        ("available_tools", [{"type": "function", "function": {"description": "no name"}}], "[0].function.name: expected a non-empty string"),
        ("available_tools", [{"name": "f", "parameters": "object"}], "[0].parameters: expected a JSON Schema object, got str"),
        ("available_tools", [{"name": "f"}, {"name": "f"}], "[1].name: tool 'f' is defined twice (first at [0])"),
        ("tool_call_match", {"trajectory": "sorted"}, "trajectory: expected one of strict, unordered, subset, superset, got 'sorted'"),
        ("tool_call_match", {"tools": {"f": {"arguments": "fuzzy"}}}, "tools.f.arguments: expected one of exact, ignore, subset, superset"),
        ("tool_call_match", {"order": "strict"}, "unknown key(s) 'order'; known keys: trajectory, arguments, tools"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, field: str, value: Any, message: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(
        json.dumps({"request": "ok", "response": "fine"}) + "\n" + json.dumps({"request": "q", "response": "a", field: value}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(EvalSetError) as info:
        load_rows(path, name="rows.jsonl")
    (issue,) = info.value.issues
    assert (issue.location, issue.field) == ("line 2", field)
    assert message in issue.message
    assert f"rows.jsonl, line 2, field '{field}': " in str(info.value)


def test_an_expected_tool_must_be_available() -> None:
    with pytest.raises(EvalSetError) as info:
        load_rows(
            [{"request": "q", "response": "a", "available_tools": TOOLS, "expected_tool_calls": [{"name": "lookup_order"}, {"name": "refund"}]}],
            name="rows",
        )
    assert str(info.value.issues[0]) == (
        "rows, row 1, field 'expected_tool_calls': [1].name: 'refund' is not one of the "
        "available_tools (lookup_order, search_docs)"
    )


def test_bad_precomputed_transcript_is_a_row_issue() -> None:
    with pytest.raises(EvalSetError) as info:
        load_rows([{"request": "q", "response": [{"role": "assistant", "tool_calls": [{"function": {}}]}]}], name="rows")
    assert "rows, row 1, field 'response': item 0 of the list.tool_calls[0].function.name" in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"trajectory": "any"}, "genai_x.yaml: tool_call_match.trajectory: expected one of strict, unordered, subset, superset, got 'any'"),
        ({"tools": ["search_docs"]}, "genai_x.yaml: tool_call_match.tools: expected a mapping of tool name"),
        ({"tools": {"search_docs": "ignore"}}, "genai_x.yaml: tool_call_match.tools.search_docs: expected {arguments: <mode>}, got 'ignore'"),
        ("strict", "genai_x.yaml: tool_call_match: expected a mapping such as"),
    ],
)
def test_bad_suite_settings_name_the_file_and_key(value: Any, message: str) -> None:
    with pytest.raises(SuiteError) as info:
        build_suite(name="x", data=[{"request": "q", "response": "a"}], source="genai_x.yaml", tool_call_match=value)
    assert str(info.value).startswith(message)
