from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest

from pytest_genai_eval.evalset import (
    EvalSetError,
    Row,
    RowIssue,
    derive_request_id,
    load_rows,
)


def load_one(row: dict[str, Any]) -> Row:
    rows = load_rows([row])
    assert len(rows) == 1
    return rows[0]


def issues_of(data: Any, **kwargs: Any) -> list[RowIssue]:
    with pytest.raises(EvalSetError) as info:
        load_rows(data, **kwargs)
    return info.value.issues


def only_issue(data: Any, **kwargs: Any) -> RowIssue:
    issues = issues_of(data, **kwargs)
    assert len(issues) == 1, issues
    return issues[0]


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


# ---- request forms ---------------------------------------------------------------------------
def test_string_request() -> None:
    row = load_one({"request": "What is MLflow?"})
    assert row.request == "What is MLflow?"
    assert row.messages == [{"role": "user", "content": "What is MLflow?"}]
    assert row.request_text == "What is MLflow?"


def test_chat_completion_request_keeps_all_messages() -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "What is Spark?"},
    ]
    row = load_one({"request": {"messages": messages}})
    assert row.messages == messages
    assert row.request == {"messages": messages}
    assert row.request_text == "What is Spark?"


def test_chat_request_whose_last_message_is_not_user_is_accepted() -> None:
    messages = [
        {"role": "user", "content": "Summarize the thread"},
        {"role": "assistant", "content": "Working on it"},
    ]
    row = load_one({"request": {"messages": messages}})
    assert row.request_text == "Summarize the thread"
    row = load_one({"request": {"messages": [{"role": "system", "content": "Only system"}]}})
    assert row.request_text == "Only system"


def test_query_history_request() -> None:
    history = [
        {"role": "user", "content": "What is Delta?"},
        {"role": "assistant", "content": "A table format."},
    ]
    row = load_one({"request": {"query": "Who made it?", "history": history}})
    assert row.messages == [*history, {"role": "user", "content": "Who made it?"}]
    assert row.request_text == "Who made it?"
    assert row.request == {"query": "Who made it?", "history": history}


def test_query_without_history() -> None:
    row = load_one({"request": {"query": "Alone?"}})
    assert row.messages == [{"role": "user", "content": "Alone?"}]


def test_request_text_of_content_parts() -> None:
    content = [{"type": "text", "text": "Look at "}, {"type": "text", "text": "this"}]
    row = load_one({"request": {"messages": [{"role": "user", "content": content}]}})
    assert row.request_text == "Look at this"


@pytest.mark.parametrize(
    ("request_value", "fragment"),
    [
        ("", "empty request"),
        ("   ", "empty request"),
        (42, "expected a non-empty string, a ChatCompletionRequest dict"),
        (["hi"], "got list"),
        ({"messages": []}, "messages: at least one message is needed"),
        ({"messages": "hi"}, "messages: expected a list of messages, got str"),
        ({"messages": ["hi"]}, "messages[0]: expected a {'role', 'content'} dict, got str"),
        ({"messages": [{"role": 1, "content": "hi"}]}, "messages[0].role: expected a non-empty"),
        ({"messages": [{"content": "hi"}]}, "messages[0].role: expected a non-empty string"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content: expected a string"),
        ({"messages": [{"role": "user", "content": " "}]}, "the last user message is empty"),
        (
            {"messages": [{"role": "system", "content": ""}]},
            "no message has non-empty content",
        ),
        ({"query": ""}, "query: empty request"),
        ({"query": 5}, "query: expected a string, got int"),
        ({"query": "q", "history": "earlier"}, "history: expected a list of messages"),
        ({"query": "q", "messages": []}, "either 'messages' or 'query'"),
        ({"prompt": "x"}, "needs 'messages' (ChatCompletionRequest) or 'query'"),
    ],
)
def test_bad_requests(request_value: Any, fragment: str) -> None:
    issue = only_issue([{"request": request_value}])
    assert issue.field == "request"
    assert issue.location == "row 1"
    assert fragment in issue.message


def test_missing_request() -> None:
    issue = only_issue([{"expected_response": "x"}])
    assert (issue.field, issue.message) == ("request", "missing required field 'request'")


# ---- request ids -----------------------------------------------------------------------------
def test_derived_request_id_is_readable_and_stable() -> None:
    request = "How do I reset my password? I forgot it yesterday"
    digest = hashlib.sha1(json.dumps(request, sort_keys=True).encode()).hexdigest()[:6]
    first = load_one({"request": request})
    second = load_one({"request": request, "expected_response": "Use the reset link."})
    assert first.request_id == f"how-do-i-reset-my-password-{digest}"
    assert second.request_id == first.request_id  # ground truth does not change the id
    assert load_one({"request": request + "!"}).request_id != first.request_id


def test_derived_request_id_of_chat_request_hashes_canonical_json() -> None:
    a = {"messages": [{"role": "user", "content": "Hi there"}]}
    b = {"messages": [{"content": "Hi there", "role": "user"}]}  # same content, other key order
    assert load_one({"request": a}).request_id == load_one({"request": b}).request_id
    assert load_one({"request": a}).request_id.startswith("hi-there-")


def test_derived_request_id_edge_cases() -> None:
    long = derive_request_id("x", "Supercalifragilisticexpialidocious antidisestablishment words")
    slug, _, digest = long.rpartition("-")
    assert len(slug) <= 40 and not slug.endswith("-")
    assert len(digest) == 6
    assert derive_request_id("x", "Où est la café?").startswith("ou-est-la-cafe-")
    assert derive_request_id("x", "???").startswith("request-")
    assert derive_request_id("x", "a b c d e f g h").startswith("a-b-c-d-e-f-")
    assert not derive_request_id("x", "a b c d e f g h").startswith("a-b-c-d-e-f-g")


def test_explicit_request_ids() -> None:
    assert load_one({"request_id": "  q-1 ", "request": "x"}).request_id == "q-1"
    assert load_one({"request_id": 7, "request": "x"}).request_id == "7"
    assert load_one({"request_id": np.int64(8), "request": "x"}).request_id == "8"


@pytest.mark.parametrize("bad_id", [1.5, True, ["a"], {"id": 1}])
def test_bad_request_id(bad_id: Any) -> None:
    issue = only_issue([{"request_id": bad_id, "request": "x"}])
    assert issue.field == "request_id"
    assert "expected a non-empty string (or an integer)" in issue.message


def test_duplicate_request_ids_explicit_and_derived(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "evalset.jsonl",
        [
            {"request_id": "a", "request": "one"},
            {"request": "same question"},
            {"request_id": "a", "request": "two"},
            {"request": "same question"},
        ],
    )
    issues = issues_of(path)
    assert [(i.location, i.field) for i in issues] == [
        ("line 3", "request_id"),
        ("line 4", "request_id"),
    ]
    assert "duplicate request_id 'a' (first used at line 1)" in issues[0].message
    assert "first used at line 2" in issues[1].message


# ---- ground truth and context ----------------------------------------------------------------
def test_ground_truth_fields() -> None:
    row = load_one(
        {
            "request": "q",
            "expected_facts": ["fact one", "fact two"],
            "guidelines": ["Be polite"],
            "expected_retrieved_context": ["docs/a.md", {"doc_uri": "docs/b.md", "content": "B"}],
        }
    )
    assert row.expected_facts == ["fact one", "fact two"]
    assert row.expected_response is None
    assert row.guidelines == ["Be polite"]
    assert row.expected_retrieved_context == [
        {"content": None, "doc_uri": "docs/a.md"},
        {"content": "B", "doc_uri": "docs/b.md"},
    ]


def test_named_guidelines_accept_single_strings() -> None:
    row = load_one({"request": "q", "guidelines": {"tone": "Be kind", "format": ["Use bullets"]}})
    assert row.guidelines == {"tone": ["Be kind"], "format": ["Use bullets"]}


def test_empty_lists_count_as_absent_except_retrieved_context() -> None:
    row = load_one(
        {
            "request": "q",
            "expected_facts": [],
            "guidelines": [],
            "expected_retrieved_context": [],
            "retrieved_context": [],
            "expected_response": "",
        }
    )
    assert row.expected_facts is None
    assert row.guidelines is None
    assert row.expected_retrieved_context is None
    assert row.expected_response is None
    assert row.retrieved_context == []


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ({"expected_facts": "one fact"}, "expected_facts", "expected a list of strings, got str"),
        ({"expected_facts": ["ok", 3]}, "expected_facts", "item 1: expected a string, got int"),
        ({"expected_facts": ["ok", " "]}, "expected_facts", "item 1: empty fact"),
        ({"expected_response": 42}, "expected_response", "expected a string, got int"),
        ({"guidelines": "Be nice"}, "guidelines", "expected a list of strings or a dict"),
        ({"guidelines": {"tone": 3}}, "guidelines", "'tone': expected a list of strings, got int"),
        ({"guidelines": {"tone": []}}, "guidelines", "'tone': no guidelines"),
        ({"guidelines": ["a", None]}, "guidelines", "item 1: expected a string, got null"),
        (
            {"retrieved_context": "doc.md"},
            "retrieved_context",
            "expected a list of chunks",
        ),
        (
            {"expected_retrieved_context": [{"doc_uri": 5}]},
            "expected_retrieved_context",
            "expected_retrieved_context[0].doc_uri: expected a string, got int",
        ),
        ({"response": 12}, "response", "expected a string, a ChatCompletionResponse dict"),
    ],
)
def test_bad_fields(row: dict[str, Any], field: str, fragment: str) -> None:
    issue = only_issue([{"request": "q", **row}])
    assert issue.field == field
    assert fragment in issue.message


def test_both_ground_truths_is_an_issue() -> None:
    issue = only_issue([{"request": "q", "expected_response": "a", "expected_facts": ["b"]}])
    assert issue.field == "expected_facts"
    assert "at most one of expected_response and expected_facts" in issue.message


def test_both_ground_truths_reported_even_when_facts_are_malformed() -> None:
    issues = issues_of([{"request": "q", "expected_response": "a", "expected_facts": "b"}])
    messages = [i.message for i in issues]
    assert any("expected a list of strings" in m for m in messages)
    assert any("at most one" in m for m in messages)


def test_precomputed_chat_completion_response() -> None:
    row = load_one(
        {
            "request": "q",
            "response": {
                "choices": [{"message": {"role": "assistant", "content": "An answer"}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                "retrieved_context": ["kb/1.md"],
            },
        }
    )
    assert row.response == "An answer"
    assert row.response_usage == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert row.retrieved_context == [{"content": None, "doc_uri": "kb/1.md"}]


def test_row_retrieved_context_wins_over_response_context() -> None:
    row = load_one(
        {
            "request": "q",
            "response": {"content": "A", "retrieved_context": ["from-response.md"]},
            "retrieved_context": [{"content": "row chunk", "doc_uri": "row.md"}],
        }
    )
    assert row.response == "A"
    assert row.response_usage is None
    assert row.retrieved_context == [{"content": "row chunk", "doc_uri": "row.md"}]


def test_string_response_and_empty_response() -> None:
    assert load_one({"request": "q", "response": "Plain"}).response == "Plain"
    assert load_one({"request": "q", "response": ""}).response is None


# ---- extra columns and to_record -------------------------------------------------------------
def test_extra_columns_are_kept_and_echoed() -> None:
    row = load_one(
        {
            "request_id": "r1",
            "request": "q",
            "response": {"content": "A"},
            "expected_facts": ["f"],
            "retrieved_context": ["a.md"],
            "category": "billing",
            "meta": {"difficulty": 3, "tags": ["x"]},
        }
    )
    assert row.extra == {"category": "billing", "meta": {"difficulty": 3, "tags": ["x"]}}
    record = row.to_record()
    assert record == {
        "request_id": "r1",
        "request": "q",
        "expected_response": None,
        "expected_facts": ["f"],
        "guidelines": None,
        "retrieved_context": [{"content": None, "doc_uri": "a.md"}],
        "expected_retrieved_context": None,
        "response": "A",
        "category": "billing",
        "meta": {"difficulty": 3, "tags": ["x"]},
    }
    json.dumps(record)  # JSON-able


def test_to_record_omits_absent_context_and_response() -> None:
    record = load_one({"request": "q"}).to_record()
    assert "retrieved_context" not in record
    assert "response" not in record
    assert record["expected_retrieved_context"] is None


def test_non_json_extra_is_an_issue() -> None:
    issue = only_issue([{"request": "q", "blob": object()}])
    assert issue.field == "blob"
    assert "not JSON-serializable" in issue.message


def test_row_is_frozen_and_strict() -> None:
    row = load_one({"request": "q"})
    with pytest.raises(pydantic.ValidationError):
        row.request_id = "other"
    with pytest.raises(pydantic.ValidationError):
        Row(request_id="a", request="q", messages=[], bogus=1)  # type: ignore[call-arg]


# ---- MLflow 3 form ---------------------------------------------------------------------------
def test_mlflow_form_full() -> None:
    row = load_one(
        {
            "inputs": {"question": "What is MLflow?"},
            "outputs": "An ML platform.",
            "expectations": {
                "expected_facts": ["open source"],
                "guidelines": ["Be brief"],
                "expected_retrieved_context": ["mlflow.md"],
                "reviewer": "ann",
            },
            "tags": {"topic": "intro"},
            "trace_id": "tr-123",
            "source": "prod",
        }
    )
    assert row.request_id == "tr-123"
    assert row.request == "What is MLflow?"
    assert row.messages == [{"role": "user", "content": "What is MLflow?"}]
    assert row.response == "An ML platform."
    assert row.expected_facts == ["open source"]
    assert row.guidelines == ["Be brief"]
    assert row.expected_retrieved_context == [{"content": None, "doc_uri": "mlflow.md"}]
    assert row.extra == {
        "expectations": {"reviewer": "ann"},
        "tags": {"topic": "intro"},
        "source": "prod",
    }


def test_mlflow_inputs_variants() -> None:
    assert load_one({"inputs": "Plain question"}).request_text == "Plain question"
    chat = {"messages": [{"role": "user", "content": "Chat question"}]}
    row = load_one({"inputs": chat})
    assert row.request == chat
    assert row.request_text == "Chat question"
    many = load_one({"inputs": {"city": "Paris", "days": 3}})
    assert many.request == {"city": "Paris", "days": 3}
    assert json.loads(many.request_text) == {"city": "Paris", "days": 3}


def test_mlflow_request_id_beats_trace_id_and_outputs_dict() -> None:
    row = load_one(
        {
            "request_id": "rid",
            "trace_id": "tid",
            "inputs": {"query": "q"},
            "outputs": {"response": "wrapped answer"},
        }
    )
    assert row.request_id == "rid"
    assert row.response == "wrapped answer"
    assert row.extra == {"trace_id": "tid"}


def test_mlflow_chat_completion_outputs() -> None:
    row = load_one(
        {"inputs": "q", "outputs": {"choices": [{"message": {"content": "A"}}], "usage": {}}}
    )
    assert row.response == "A"


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ({"inputs": "q", "request": "q"}, "inputs", "either 'request' or MLflow 'inputs'"),
        ({"inputs": 5}, "inputs", "expected a string or a dict, got int"),
        ({"inputs": "q", "outputs": 5}, "outputs", "expected a string"),
        ({"inputs": "q", "expectations": "x"}, "expectations", "expected a dict, got str"),
        (
            {"inputs": "q", "expectations": {"expected_facts": "one"}},
            "expectations.expected_facts",
            "expected a list of strings, got str",
        ),
        (
            {"inputs": "q", "guidelines": ["a"], "expectations": {"guidelines": ["b"]}},
            "expectations.guidelines",
            "also given as top-level 'guidelines'",
        ),
        ({"request": "q", "outputs": "A"}, "outputs", "belongs to the MLflow 3 form"),
    ],
)
def test_bad_mlflow_rows(row: dict[str, Any], field: str, fragment: str) -> None:
    issue = only_issue([row])
    assert issue.field == field
    assert fragment in issue.message


# ---- file formats ----------------------------------------------------------------------------
def test_jsonl_with_blank_lines_and_line_numbers(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "evalset.jsonl",
        [{"request": "first"}, "", "   ", {"request": "second", "expected_response": "2"}],
    )
    rows = load_rows(path)
    assert [r.request for r in rows] == ["first", "second"]
    assert [r.location for r in rows] == [f"{path}, line 1", f"{path}, line 4"]
    assert rows[1].expected_response == "2"


def test_ndjson_and_relative_path_with_base_dir(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "set.ndjson", [{"request": "x"}])
    rows = load_rows("set.ndjson", base_dir=tmp_path)
    assert rows[0].location == "set.ndjson, line 1"


def test_jsonl_bad_lines(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "evalset.jsonl",
        [{"request": "ok"}, '{"request": "unterminated', "[1, 2]", {"request": "fine"}],
    )
    issues = issues_of(path)
    assert [(i.location, i.field) for i in issues] == [("line 2", None), ("line 3", None)]
    assert issues[0].message.startswith("malformed JSON: Unterminated string")
    assert issues[1].message == "expected an object, got list"
    assert all(i.source == str(path) for i in issues)


@pytest.mark.parametrize("key", ["rows", "data", None])
def test_json_formats(tmp_path: Path, key: str | None) -> None:
    rows_data = [{"request": "a"}, {"request": "b", "request_id": "B"}]
    document: Any = rows_data if key is None else {key: rows_data}
    path = tmp_path / "set.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    rows = load_rows(path)
    assert [r.request_id for r in rows][1] == "B"
    assert rows[1].location == f"{path}, row 2"


def test_json_bad_row_location(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(json.dumps([{"request": "a"}, {"request": "b", "expected_facts": "x"}]))
    issue = only_issue(path)
    assert str(issue) == (
        f"{path}, row 2, field 'expected_facts': expected a list of strings, got str"
    )


@pytest.mark.parametrize(
    ("filename", "content", "fragment"),
    [
        ("bad.json", '[{"request": "a"},', "malformed JSON"),
        ("obj.json", '{"items": []}', "expected an array of rows"),
        ("bad.yaml", "- request: [unclosed\n", "malformed YAML"),
        ("scalar.yml", "just text\n", "expected a list of rows"),
    ],
)
def test_malformed_whole_files(tmp_path: Path, filename: str, content: str, fragment: str) -> None:
    (tmp_path / filename).write_text(content, encoding="utf-8")
    issue = only_issue(filename, base_dir=tmp_path)
    assert issue.location == "file"
    assert issue.source == filename
    assert fragment in issue.message


def test_yaml_list_and_rows_mapping(tmp_path: Path) -> None:
    (tmp_path / "list.yaml").write_text(
        "- request: What is Delta?\n"
        "  expected_facts:\n"
        "    - open table format\n"
        "  guidelines:\n"
        "    tone: Be friendly\n"
        "  added: 2024-05-01\n",
        encoding="utf-8",
    )
    (tmp_path / "suite.yml").write_text(
        "name: my suite\nrows:\n  - request: one\n  - request: two\n    request_id: second\n",
        encoding="utf-8",
    )
    (row,) = load_rows("list.yaml", base_dir=tmp_path)
    assert row.expected_facts == ["open table format"]
    assert row.guidelines == {"tone": ["Be friendly"]}
    assert row.extra == {"added": "2024-05-01"}  # YAML dates become ISO strings (JSON-able)
    rows = load_rows(tmp_path / "suite.yml", name="suite")
    assert [r.request_id for r in rows][1] == "second"
    assert rows[1].location == "suite, row 2"


def test_csv_with_json_text_fields(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "request_id": ["001", "002", "003"],
            "request": [
                "How many?",
                json.dumps({"messages": [{"role": "user", "content": "Chat in CSV"}]}),
                "{curly} but not JSON",
            ],
            "expected_facts": ['["one", "two"]', "", ""],
            "guidelines": ["", '{"tone": ["Be nice"]}', '["Short"]'],
            "response": [
                "",
                json.dumps({"choices": [{"message": {"content": "csv answer"}}]}),
                '{"answer": "JSON text that is the answer"}',
            ],
            "retrieved_context": ['[{"content": "c", "doc_uri": "u"}]', "", ""],
            "note": ["NA", "", "n/a"],
            "score": [1, 2, 3],
        }
    )
    path = tmp_path / "set.csv"
    frame.to_csv(path, index=False)
    rows = load_rows(path)
    assert [r.request_id for r in rows] == ["001", "002", "003"]  # not parsed as integers
    assert rows[0].expected_facts == ["one", "two"]
    assert rows[0].retrieved_context == [{"content": "c", "doc_uri": "u"}]
    assert rows[0].response is None
    assert rows[1].request_text == "Chat in CSV"
    assert rows[1].guidelines == {"tone": ["Be nice"]}
    assert rows[1].response == "csv answer"
    assert rows[2].request == "{curly} but not JSON"
    assert rows[2].guidelines == ["Short"]
    assert rows[2].response == '{"answer": "JSON text that is the answer"}'
    assert [r.extra for r in rows] == [
        {"note": "NA", "score": 1},
        {"note": None, "score": 2},
        {"note": "n/a", "score": 3},
    ]
    assert rows[2].location == f"{path}, line 4"


def test_csv_bad_json_text_names_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    pd.DataFrame(
        {"request": ["ok", "also ok"], "expected_facts": ['["fine"]', '["broken",']}
    ).to_csv(path, index=False)
    issue = only_issue(path)
    assert (issue.location, issue.field) == ("line 3", "expected_facts")
    assert issue.message.startswith("invalid JSON text")


def test_parquet_with_nested_columns(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "request_id": ["p1", None],
            "request": ["Parquet question", "Second"],
            "expected_facts": [["fact a", "fact b"], None],
            "retrieved_context": [
                [{"content": "chunk", "doc_uri": "doc.md"}],
                [{"content": None, "doc_uri": "other.md"}],
            ],
            "score": [0.5, None],
            "when": [dt.datetime(2024, 1, 2, 3, 4, 5), None],
        }
    )
    path = tmp_path / "set.parquet"
    pq.write_table(table, path)
    rows = load_rows(path)
    assert rows[0].request_id == "p1"
    assert rows[0].expected_facts == ["fact a", "fact b"]
    assert rows[0].retrieved_context == [{"content": "chunk", "doc_uri": "doc.md"}]
    assert rows[0].extra == {"score": 0.5, "when": "2024-01-02T03:04:05"}
    assert rows[1].request_id.startswith("second-")
    assert rows[1].expected_facts is None
    assert rows[1].extra == {"score": None, "when": None}
    assert rows[1].location == f"{path}, row 2"


def test_parquet_written_by_pandas_drops_index(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"request": ["a", "b"], "guidelines": [["g1"], ["g2", "g3"]]})
    path = tmp_path / "set.parquet"
    frame.set_index(pd.Index([10, 20])).to_parquet(path)
    rows = load_rows(path)
    assert [r.guidelines for r in rows] == [["g1"], ["g2", "g3"]]
    assert rows[0].extra == {}


def test_corrupt_parquet_is_a_file_issue(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    issue = only_issue(tmp_path / "bad.parquet")
    assert issue.location == "file"
    assert "cannot read Parquet file" in issue.message


def test_parquet_without_pyarrow_gives_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "set.parquet").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    issue = only_issue("set.parquet", base_dir=tmp_path)
    assert issue.location == "file"
    assert "needs pyarrow" in issue.message
    assert "pytest-genai-eval[parquet]" in issue.message


def test_missing_file(tmp_path: Path) -> None:
    issue = only_issue("nope.jsonl", base_dir=tmp_path)
    assert (issue.source, issue.location, issue.field) == ("nope.jsonl", "file", None)
    assert issue.message == f"file not found: {tmp_path / 'nope.jsonl'}"
    assert str(issue) == f"nope.jsonl: file not found: {tmp_path / 'nope.jsonl'}"


def test_directory_and_unknown_suffix(tmp_path: Path) -> None:
    (tmp_path / "dir.json").mkdir()
    assert "is a directory" in only_issue(tmp_path / "dir.json").message
    (tmp_path / "set.txt").write_text("request\nx\n")
    issue = only_issue("set.txt", base_dir=tmp_path)
    assert issue.location == "file"
    assert issue.message.startswith("unsupported file type '.txt'")
    assert ".jsonl" in issue.message


def test_empty_files_give_no_rows(tmp_path: Path) -> None:
    for name in ("e.jsonl", "e.csv", "e.yaml"):
        (tmp_path / name).write_text("")
        assert load_rows(tmp_path / name) == []


# ---- in-memory sets --------------------------------------------------------------------------
def test_dataframe_with_nan_and_numpy_cells() -> None:
    frame = pd.DataFrame(
        {
            "request_id": [np.int64(1), np.int64(2)],
            "request": ["first", "second"],
            "expected_response": ["an answer", np.nan],
            "expected_facts": [None, np.array(["x", "y"])],
            "weight": [np.float32(0.5), np.nan],
        }
    )
    rows = load_rows(frame)
    assert [r.request_id for r in rows] == ["1", "2"]
    assert rows[0].expected_response == "an answer"
    assert rows[0].expected_facts is None
    assert rows[1].expected_response is None
    assert rows[1].expected_facts == ["x", "y"]
    assert rows[0].extra == {"weight": 0.5}
    assert rows[1].extra == {"weight": None}
    assert rows[1].location == "DataFrame, row 2"
    json.dumps([r.to_record() for r in rows])


def test_dataframe_issue_names_row_and_custom_name() -> None:
    frame = pd.DataFrame({"request": ["ok", ""]})
    issue = only_issue(frame, name="golden")
    assert str(issue) == "golden, row 2, field 'request': empty request"


def test_list_of_dicts_default_name_and_non_mapping_entry() -> None:
    issues = issues_of([{"request": "x"}, "not a row"])
    assert [str(i) for i in issues] == ["rows, row 2: expected an object, got str"]


def test_load_rows_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="expects a file path"):
        load_rows(42)  # type: ignore[arg-type]


# ---- one error with every issue --------------------------------------------------------------
def test_several_bad_rows_produce_one_error_listing_all(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "evalset.jsonl",
        [
            {"request_id": "ok", "request": "fine"},
            {"request": 3},
            {"request": "q", "expected_response": "a", "expected_facts": ["b"]},
            "{oops",
            {"request": ""},
            {"request_id": "ok", "request": "dup", "expected_facts": "single"},
        ],
    )
    with pytest.raises(EvalSetError) as info:
        load_rows(path)
    err = info.value
    assert [(i.location, i.field) for i in err.issues] == [
        ("line 2", "request"),
        ("line 3", "expected_facts"),
        ("line 4", None),
        ("line 5", "request"),
        ("line 6", "expected_facts"),
        ("line 6", "request_id"),
    ]
    text = str(err)
    lines = text.splitlines()
    assert lines[0] == f"5 invalid row(s) in {path}:"
    assert len(lines) == 7
    assert all(line.startswith(f"  - {path}, line ") for line in lines[1:])
    assert (
        f"  - {path}, line 6, field 'expected_facts': expected a list of strings, got str" in lines
    )


def test_eval_set_error_pickles() -> None:
    err = EvalSetError([RowIssue("s.jsonl", "line 2", "request", "empty request")])
    clone = pickle.loads(pickle.dumps(err))
    assert isinstance(clone, EvalSetError)
    assert clone.issues == err.issues
    assert (
        str(clone)
        == str(err)
        == ("1 invalid row(s) in s.jsonl:\n  - s.jsonl, line 2, field 'request': empty request")
    )
