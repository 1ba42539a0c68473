from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pytest_genai_eval.artifacts import (
    SCHEMA_VERSION,
    ArtifactError,
    read_results,
    row_record,
    write_results,
)
from pytest_genai_eval.results import Assessment, RowResult, TokenUsage

ALL_FILES = {
    "evaluation_results.json",
    "eval_results.jsonl",
    "eval_results.csv",
    "eval_results.parquet",
}


def _rich_row() -> RowResult:
    return RowResult(
        suite="qa",
        request_id="r1",
        row={
            "request": "Quelle est la capitale ?",
            "expected_response": "Paris",
            "expected_facts": ["Paris", "capitale"],
            "guidelines": {"tone": ["be polite"]},
            "priority": 3,
            "response": "echo must not win",
            "status": "echo must not win",
        },
        response="C'est Paris, évidemment.",
        retrieved_context=[{"doc_uri": "doc://fr/1", "content": "Paris est la capitale"}],
        latency_seconds=1.25,
        app_usage=TokenUsage(50, 20, 70),
        assessments=[
            Assessment(
                "correctness",
                "correctness",
                rating="yes",
                rationale="Matches.",
                usage=TokenUsage(100, 10, 110),
                model="judge-1",
            ),
            Assessment(
                "guideline_adherence/tone",
                "guideline_adherence",
                rating="no",
                rationale="Too smug:\n'évidemment'",
            ),
            Assessment("chunk_relevance", "chunk_relevance", rating="yes", value=1.0),
            Assessment("document_recall", "document_recall", kind="check", value=0.5, rating="no"),
            Assessment("max_length", "max_length", kind="check", rating="yes"),
            Assessment("has_citation", "has_citation", kind="python", skipped="no citations"),
            Assessment("safety", "safety", error="HTTP 500"),
        ],
        nodeid="tests/test_qa.py::test_qa[r1]",
        shard_key="abc",
    )


def _results() -> list[RowResult]:
    plain = RowResult(
        suite="qa",
        request_id="r2",
        row={"request": "hi", "priority": "high"},  # mixed type with r1's int priority
        response="hello",
        latency_seconds=0.5,
        assessments=[Assessment("correctness", "correctness", rating="yes")],
        nodeid="tests/test_qa.py::test_qa[r2]",
    )
    broken = RowResult(
        suite="other",
        request_id="r3",
        row={"request": "boom", "only_here": True},
        app_error="Timeout",
    )
    return [_rich_row(), plain, broken]


def _document() -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "complete": True,
        "started_at": "2024-01-01T00:00:00Z",
        "config": {"judge_model": "judge-1", "note": "ünïcode"},
        "metrics": {"agent/latency_seconds/average": math.nan, "rows/count": 3},
        "verdict": "fail",
    }


# ---- row_record ------------------------------------------------------------------------------


def test_row_record_columns_in_order() -> None:
    record = row_record(_rich_row())
    assert list(record) == [
        "suite",
        "request_id",
        "request",
        "expected_response",
        "expected_facts",
        "guidelines",
        "priority",
        "response",
        "retrieved_context",
        "app_error",
        "agent/latency_seconds",
        "agent/total_token_count",
        "agent/input_token_count",
        "agent/output_token_count",
        "response/llm_judged/correctness/rating",
        "response/llm_judged/correctness/rationale",
        "response/llm_judged/correctness/error_message",
        "response/llm_judged/correctness/skipped_reason",
        "response/llm_judged/guideline_adherence/tone/rating",
        "response/llm_judged/guideline_adherence/tone/rationale",
        "response/llm_judged/guideline_adherence/tone/error_message",
        "response/llm_judged/guideline_adherence/tone/skipped_reason",
        "retrieval/llm_judged/chunk_relevance/precision",
        "retrieval/llm_judged/chunk_relevance/rating",
        "retrieval/llm_judged/chunk_relevance/rationale",
        "retrieval/llm_judged/chunk_relevance/error_message",
        "retrieval/llm_judged/chunk_relevance/skipped_reason",
        "retrieval/ground_truth/document_recall",
        "retrieval/ground_truth/document_recall/rating",
        "retrieval/ground_truth/document_recall/rationale",
        "retrieval/ground_truth/document_recall/error_message",
        "retrieval/ground_truth/document_recall/skipped_reason",
        "response/check/max_length/rating",
        "response/check/max_length/rationale",
        "response/check/max_length/error_message",
        "response/check/max_length/skipped_reason",
        "response/custom/has_citation/rating",
        "response/custom/has_citation/rationale",
        "response/custom/has_citation/error_message",
        "response/custom/has_citation/skipped_reason",
        "response/llm_judged/safety/rating",
        "response/llm_judged/safety/rationale",
        "response/llm_judged/safety/error_message",
        "response/llm_judged/safety/skipped_reason",
        "response/overall_assessment/rating",
        "response/overall_assessment/rationale",
        "flaky",
        "status",
        "nodeid",
    ]


def test_row_record_values() -> None:
    record = row_record(_rich_row())
    assert record["suite"] == "qa"
    assert record["response"] == "C'est Paris, évidemment."  # the input echo did not win
    assert record["status"] == "fail"
    assert record["expected_facts"] == ["Paris", "capitale"]
    assert record["agent/latency_seconds"] == 1.25
    assert record["agent/total_token_count"] == 70
    assert record["agent/input_token_count"] == 50
    assert record["agent/output_token_count"] == 20
    assert record["retrieval/llm_judged/chunk_relevance/precision"] == 1.0
    assert record["retrieval/ground_truth/document_recall"] == 0.5
    assert record["response/llm_judged/guideline_adherence/tone/rating"] == "no"
    assert record["response/llm_judged/safety/error_message"] == "HTTP 500"
    assert record["response/custom/has_citation/skipped_reason"] == "no citations"
    assert record["response/overall_assessment/rating"] == "no"
    # document_recall outranks nothing in ROOT_CAUSE_ORDER; guideline_adherence comes first
    assert record["response/overall_assessment/rationale"] == (
        "Root cause: guideline_adherence/tone. Too smug:\n'évidemment'"
    )
    assert record["nodeid"] == "tests/test_qa.py::test_qa[r1]"


def test_row_record_without_usage_or_assessments() -> None:
    record = row_record(_results()[2])
    assert record["agent/total_token_count"] is None
    assert record["agent/latency_seconds"] is None
    assert record["app_error"] == "Timeout"
    assert record["status"] == "error"
    assert record["response/overall_assessment/rating"] is None
    assert record["response/overall_assessment/rationale"] == "Not assessed: app: Timeout"
    assert not any(k.endswith("/error_message") for k in record)


# ---- write / read ----------------------------------------------------------------------------


def test_write_results_files_and_round_trip(tmp_path: Path) -> None:
    directory = tmp_path / "nested" / "out"
    document = _document()
    results = _results()
    paths = write_results(directory, document, results)

    assert set(paths) == {"json", "jsonl", "csv", "parquet"}
    assert {p.name for p in paths.values()} == ALL_FILES
    assert {p.name for p in directory.iterdir()} == ALL_FILES
    assert "rows" not in document  # the caller's dict is not modified

    loaded_document, loaded = read_results(directory)
    assert loaded_document["complete"] is True
    assert loaded_document["config"] == {"judge_model": "judge-1", "note": "ünïcode"}
    assert loaded_document["metrics"] == {"agent/latency_seconds/average": None, "rows/count": 3}
    assert "rows" not in loaded_document
    assert [r.to_dict() for r in loaded] == [r.to_dict() for r in results]
    first = loaded[0]
    assert first.key == ("qa", "r1")
    assert first.status == "fail"
    assert first.app_usage == TokenUsage(50, 20, 70)
    assert first.assessments[0].usage == TokenUsage(100, 10, 110)
    assert first.root_cause is not None and first.root_cause.name == "guideline_adherence/tone"
    assert loaded[2].status == "error"

    # the same document read through the file path
    again_document, again = read_results(paths["json"])
    assert again_document == loaded_document
    assert len(again) == 3


def test_json_is_pretty_utf8_and_nan_free(tmp_path: Path) -> None:
    paths = write_results(tmp_path, _document(), _results())
    text = paths["json"].read_text(encoding="utf-8")
    assert "NaN" not in text
    assert "ünïcode" in text  # ensure_ascii=False
    assert '\n  "schema_version": 1,' in text  # indent=2
    data = json.loads(text)
    assert data["metrics"]["agent/latency_seconds/average"] is None
    assert len(data["rows"]) == 3
    assert data["rows"][0]["status"] == "fail"


def test_nan_inside_rows_becomes_null(tmp_path: Path) -> None:
    row = RowResult("s", "1", {"score": math.inf}, latency_seconds=math.nan)
    paths = write_results(tmp_path, {"schema_version": 1}, [row])
    _, loaded = read_results(tmp_path)
    assert loaded[0].latency_seconds is None
    assert loaded[0].row == {"score": None}
    line = json.loads(paths["jsonl"].read_text(encoding="utf-8"))
    assert line["agent/latency_seconds"] is None
    assert line["score"] is None


def test_schema_version_defaulted_when_missing(tmp_path: Path) -> None:
    write_results(tmp_path, {"complete": False}, [])
    document, rows = read_results(tmp_path)
    assert document == {"schema_version": SCHEMA_VERSION, "complete": False}
    assert rows == []


def test_jsonl_contents(tmp_path: Path) -> None:
    paths = write_results(tmp_path, _document(), _results())
    lines = paths["jsonl"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    assert [json.loads(line) for line in lines] == [row_record(r) for r in _results()]
    frame = pd.read_json(paths["jsonl"], lines=True)
    assert list(frame["request_id"]) == ["r1", "r2", "r3"]
    assert list(frame["status"]) == ["fail", "pass", "error"]


def test_csv_contents(tmp_path: Path) -> None:
    paths = write_results(tmp_path, _document(), _results())
    frame = pd.read_csv(paths["csv"], keep_default_na=False)
    records = [row_record(r) for r in _results()]
    # union of keys in first-seen order: r1's columns, then r3's extra input column
    assert list(frame.columns) == [*records[0], "only_here"]
    assert list(frame["status"]) == ["fail", "pass", "error"]
    assert json.loads(frame["retrieved_context"][0]) == [
        {"doc_uri": "doc://fr/1", "content": "Paris est la capitale"}
    ]
    assert json.loads(frame["expected_facts"][0]) == ["Paris", "capitale"]
    assert frame["response"][0] == "C'est Paris, évidemment."
    assert frame["response/llm_judged/guideline_adherence/tone/rationale"][0] == (
        "Too smug:\n'évidemment'"
    )
    assert frame["agent/total_token_count"][0] == "70"
    assert frame["agent/total_token_count"][1] == ""  # None -> empty cell
    assert frame["only_here"][2] == "True"
    assert frame["only_here"][0] == ""


def test_parquet_contents(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    paths = write_results(tmp_path, _document(), _results())
    frame = pd.read_parquet(paths["parquet"])
    records = [row_record(r) for r in _results()]
    assert list(frame.columns) == [*records[0], "only_here"]
    assert list(frame["request_id"]) == ["r1", "r2", "r3"]
    # list/dict cells are JSON text
    assert json.loads(frame["retrieved_context"][0]) == [
        {"doc_uri": "doc://fr/1", "content": "Paris est la capitale"}
    ]
    assert json.loads(frame["guidelines"][0]) == {"tone": ["be polite"]}
    assert frame["retrieval/llm_judged/chunk_relevance/precision"][0] == 1.0
    assert frame["agent/latency_seconds"][1] == 0.5
    # int 3 and str "high" in one column -> text
    assert list(frame["priority"][:2]) == ["3", "high"]


def test_parquet_skipped_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    paths = write_results(tmp_path, _document(), _results())
    assert set(paths) == {"json", "jsonl", "csv"}
    assert {p.name for p in tmp_path.iterdir()} == ALL_FILES - {"eval_results.parquet"}


def test_empty_results(tmp_path: Path) -> None:
    paths = write_results(tmp_path, _document(), [])
    assert paths["csv"].read_text(encoding="utf-8") == ""
    assert paths["jsonl"].read_text(encoding="utf-8") == ""
    _, rows = read_results(tmp_path)
    assert rows == []


# ---- atomicity -------------------------------------------------------------------------------


def test_rewrite_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    write_results(tmp_path, _document(), _results())
    write_results(tmp_path, {**_document(), "verdict": "pass"}, _results()[:1])
    assert {p.name for p in tmp_path.iterdir()} == ALL_FILES
    document, rows = read_results(tmp_path)
    assert document["verdict"] == "pass"
    assert len(rows) == 1


def test_crash_mid_write_keeps_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_results(tmp_path, _document(), _results())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def crash(fd: int) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk on fire"):
        write_results(tmp_path, {**_document(), "verdict": "pass"}, [])
    monkeypatch.undo()

    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # nothing truncated, nothing replaced, no temp files


def test_failed_replace_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise PermissionError("locked")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_results(tmp_path, _document(), _results())
    assert list(tmp_path.iterdir()) == []


# ---- ArtifactError ---------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found") as info:
        read_results(tmp_path)
    assert str(tmp_path / "evaluation_results.json") in str(info.value)


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    file = _write(tmp_path / "evaluation_results.json", '{"schema_version": 1,\n  "rows": [}')
    with pytest.raises(ArtifactError) as info:
        read_results(file)
    message = str(info.value)
    assert message.startswith(str(file))
    assert "invalid JSON at line 2, column 12" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"rows": []}, "missing key 'schema_version'"),
        ({"schema_version": 1}, "missing key 'rows'"),
        ({"schema_version": 99, "rows": []}, "unsupported schema_version 99"),
        ({"schema_version": "1", "rows": []}, "'schema_version' must be an integer"),
        ({"schema_version": 1, "rows": {}}, "'rows' must be a list"),
        ({"schema_version": 1, "rows": [{"request_id": "x"}]}, "rows[0]: missing key 'suite'"),
        ({"schema_version": 1, "rows": [{"suite": "s", "request_id": "1"}, 7]}, "rows[1] must be"),
        (
            {"schema_version": 1, "rows": [{"suite": "s", "request_id": "1", "assessments": [3]}]},
            "rows[0]: invalid row",
        ),
        ([1, 2], "expected a JSON object, got list"),
    ],
)
def test_malformed_documents(tmp_path: Path, content: Any, problem: str) -> None:
    file = _write(tmp_path / "results.json", json.dumps(content))
    with pytest.raises(ArtifactError) as info:
        read_results(file)
    assert str(file) in str(info.value)
    assert problem in str(info.value)
