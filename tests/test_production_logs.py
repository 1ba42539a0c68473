"""Production logs as evaluation sets: OpenTelemetry GenAI spans (an OTLP JSON export) and MLflow
traces; deterministic sampling (``--genai-sample``); trace ids kept in the results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.sampling import sampled
from pytest_genai_eval.sources import load_source_rows, parse_row_source

from .mlflow_store import mlflow_store_fixture  # noqa: F401 - the fixture mlflow_store

OTLP = Path(__file__).parent / "data" / "production" / "otlp_genai_traces.json"
AGENT_TRACE = "5b8efff798038103d269b633813fc60c"


def test_otlp_export_gives_one_row_per_trace() -> None:
    rows = load_source_rows(OTLP, parse_row_source())  # recognized by shape
    by_trace = {row.extra["trace_id"]: row for row in rows}
    assert list(by_trace) == [AGENT_TRACE, "0af7651916cd43dd8448eb211c80319c", "1cf8e8c2b3a24b6d9b21e0c1e2f3a4b5"]
    agent = by_trace[AGENT_TRACE]  # the outer invoke_agent span, not the chat call inside it
    assert agent.request_id == AGENT_TRACE and agent.extra["span_id"] == "eee19b7ec3c1b174"
    assert agent.messages == [{"role": "user", "content": "How do I reset my password?"}]
    assert agent.response == "Open Settings, then Security, then Reset password."
    assert agent.extra["span_latency_seconds"] == pytest.approx(2.5)
    events = by_trace["0af7651916cd43dd8448eb211c80319c"]  # semconv <= 1.27: span events
    assert events.request_text == "What are your opening hours?" and events.response == "9am to 5pm, Monday to Friday."
    assert events.response_usage == {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    assert events.extra["model"] == "gpt-4o-mini"
    indexed = by_trace["1cf8e8c2b3a24b6d9b21e0c1e2f3a4b5"]  # gen_ai.prompt.N.* attributes
    assert indexed.request_text == "Can I change my delivery address?" and indexed.response == "Yes, until the order ships."


def test_otlp_jsonl_from_the_collector_file_exporter(tmp_path: Path) -> None:
    document = json.loads(OTLP.read_text())
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps(document) + "\n" + json.dumps({"resourceSpans": []}) + "\n")
    rows = load_source_rows(path, parse_row_source(format="otel"))
    assert len(rows) == 3 and rows[0].location.endswith(f"line 1, trace {AGENT_TRACE}")


def test_otlp_without_genai_spans_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "http.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", "spanId": "cd", "name": "GET /"}]}]}]}))
    with pytest.raises(Exception, match="no GenAI span with a prompt"):
        load_source_rows(path, parse_row_source())


def test_mlflow_trace_export_from_a_real_store(tmp_path: Path, mlflow_store: tuple[Any, str]) -> None:
    mlflow, uri = mlflow_store
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("prod", artifact_location=str(tmp_path / "artifacts"))
    trace_ids = []
    for question, answer in [("Where is my order?", "It ships today."), ("Can I pay by card?", "Yes.")]:
        root = client.start_trace("chat", inputs={"messages": [{"role": "user", "content": question}]}, experiment_id=experiment)
        client.end_trace(root.trace_id, outputs={"choices": [{"message": {"role": "assistant", "content": answer}}]})
        trace_ids.append(root.trace_id)
    mlflow.flush_trace_async_logging()
    traces = [client.get_trace(trace_id) for trace_id in trace_ids]
    path = tmp_path / "traces.json"
    path.write_text(json.dumps([trace.to_dict() for trace in traces]))
    rows = load_source_rows(path, parse_row_source())  # recognized by shape
    assert [row.request_id for row in rows] == trace_ids
    assert [row.extra["trace_id"] for row in rows] == trace_ids
    assert rows[0].request_text == "Where is my order?" and rows[0].response == "It ships today."
    # one trace alone (Trace.to_json()) loads too
    single = tmp_path / "one.json"
    single.write_text(traces[1].to_json())
    (row,) = load_source_rows(single, parse_row_source(format="mlflow_traces"))
    assert row.response == "Yes."


def test_sampling_is_deterministic_and_stable() -> None:
    rows = [("s", f"r{i}") for i in range(100)]
    first = sampled(rows, 10, seed=0)
    assert len(first) == 10 and first == sampled(list(reversed(rows)), 10, seed=0)
    assert first != sampled(rows, 10, seed=1)
    grown = sampled([*rows, *[("s", f"new{i}") for i in range(100)]], 10, seed=0)
    assert len(grown) == 10
    assert sampled(rows, 20, seed=0) >= first  # a larger sample keeps the smaller one
    assert len(sampled([*rows, ("t", "x")], 5, seed=0)) == 6  # per suite


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]])
def test_sampled_production_logs_keep_their_trace_ids(pytester: pytest.Pytester, xdist: list[str]) -> None:
    shutil.copy(OTLP, pytester.path / "traces.json")
    pytester.makefile(".yaml", genai_prod="data: traces.json\njudges: []\nchecks: [{type: length, min_chars: 1}]\n")
    pytester.makeini("[pytest]\ngenai_sample_seed = 3\n")
    result = pytester.runpytest("--genai-results-dir", "out", "--genai-sample", "2", "-p", "no:cacheprovider", *xdist)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    expected = {request_id for _, request_id in sampled(
        [("prod", t) for t in (AGENT_TRACE, "0af7651916cd43dd8448eb211c80319c", "1cf8e8c2b3a24b6d9b21e0c1e2f3a4b5")], 2, seed=3
    )}
    assert {row["request_id"] for row in doc["rows"]} == expected
    assert {row["row"]["trace_id"] for row in doc["rows"]} == expected  # the trace id, a column
    table = (pytester.path / "out" / "eval_results.jsonl").read_text().splitlines()
    assert {json.loads(line)["trace_id"] for line in table} == expected
