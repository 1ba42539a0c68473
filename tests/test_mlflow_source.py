"""Production logs straight from MLflow: ``data: "mlflow://experiments/<name-or-id>?..."`` reads
traces from the tracking server MLFLOW_TRACKING_URI names (a real SQLite store in tmp_path)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.mlflow_source import MlflowQuery, MlflowSourceError, _hidden, parse_query
from pytest_genai_eval.sampling import sampled
from pytest_genai_eval.sources import load_source_rows, parse_row_source
from pytest_genai_eval.suite import SuiteError, build_suite

from .mlflow_store import mlflow_store_fixture  # noqa: F401 - the fixture mlflow_store

QUESTIONS = [("Where is my order?", "It ships today."), ("Can I pay by card?", "Yes."),
             ("Do you ship abroad?", "To the EU only."), ("How do I return an item?", "Use the form."),
             ("Is there a warranty?", "Two years.")]  # fmt: skip
CHECKS = [{"type": "length", "min_chars": 1}]


def _write_traces(mlflow: Any, uri: str, tmp_path: Path, name: str = "prod") -> tuple[str, list[str]]:
    """Five production traces, oldest first; the first carries an expectation."""
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(name, artifact_location=str(tmp_path / "artifacts"))
    trace_ids = []
    for question, answer in QUESTIONS:
        root = client.start_trace("chat", inputs={"messages": [{"role": "user", "content": question}]},
                                  experiment_id=experiment, tags={"env": "prod"})
        client.end_trace(root.trace_id, outputs={"choices": [{"message": {"role": "assistant", "content": answer}}]})
        trace_ids.append(root.trace_id)
        time.sleep(0.005)  # distinct timestamps: "oldest first" is then creation order
    mlflow.flush_trace_async_logging()
    mlflow.log_expectation(trace_id=trace_ids[0], name="expected_response", value="It ships today.")
    return experiment, trace_ids


def test_the_uri_form() -> None:
    assert parse_query("mlflow://experiments/prod", "s.yaml") == MlflowQuery("prod")
    assert parse_query("mlflow://experiments/Shop%20bot?filter=tags.env = 'prod'&max_results=50", "s") == (
        MlflowQuery("Shop bot", "tags.env = 'prod'", 50)
    )
    assert parse_query("mlflow://experiments//Users/me/bot", "s").experiment == "/Users/me/bot"
    for bad, message in [("mlflow:prod", "is not an MLflow source"), ("mlflow://runs/1", "is not an MLflow source"),
                         ("mlflow://experiments/", "is not an MLflow source"),
                         ("mlflow://experiments/p?limit=3", "unknown option"),
                         ("mlflow://experiments/p?max_results=0", "positive whole number")]:  # fmt: skip
        with pytest.raises(MlflowSourceError, match=message) as raised:
            parse_query(bad, "genai_prod.yaml")
        assert str(raised.value).startswith("genai_prod.yaml: 'data': ")
    assert _hidden("postgresql://bot:s3cret@db:5432/mlflow") == "postgresql://db:5432/mlflow"  # never shown


def test_each_trace_is_the_row_the_json_importer_makes(tmp_path: Path, mlflow_store: tuple[Any, str]) -> None:
    mlflow, uri = mlflow_store
    experiment, trace_ids = _write_traces(mlflow, uri, tmp_path)
    suite = build_suite(name="prod", data="mlflow://experiments/prod", judges=[], checks=CHECKS)
    assert [row.request_id for row in suite.rows] == trace_ids  # oldest first
    assert [row.extra["trace_id"] for row in suite.rows] == trace_ids
    first = suite.rows[0]
    assert first.request_text == "Where is my order?" and first.response == "It ships today."
    assert first.expected_response == "It ships today."  # the trace's expectation
    exported = tmp_path / "traces.json"
    exported.write_text(json.dumps([mlflow.MlflowClient().get_trace(t).to_dict() for t in trace_ids]))
    from_json = load_source_rows(exported, parse_row_source())
    assert [row.model_dump(exclude={"location"}) for row in suite.rows] == [
        row.model_dump(exclude={"location"}) for row in from_json
    ]
    # by id; the newest N; a filter; a transform still applies after the conversion
    by_id = build_suite(name="prod", data=f"mlflow://experiments/{experiment}", judges=[], checks=CHECKS)
    assert [row.request_id for row in by_id.rows] == trace_ids
    newest = build_suite(name="prod", data="mlflow://experiments/prod?max_results=2", judges=[], checks=CHECKS)
    assert [row.request_id for row in newest.rows] == trace_ids[-2:]
    none = build_suite(name="prod", data="mlflow://experiments/prod?filter=tags.env = 'dev'", judges=[],
                       checks=CHECKS, allow_empty=True)
    assert none.rows == []


def test_errors_name_the_suite_and_the_key(
    tmp_path: Path, mlflow_store: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow, uri = mlflow_store
    _write_traces(mlflow, uri, tmp_path)
    with pytest.raises(SuiteError, match=r"^genai_prod.yaml: 'data': no MLflow experiment named .*'nope'"):
        build_suite(name="p", data="mlflow://experiments/nope", source="genai_prod.yaml", judges=[], checks=CHECKS)
    with pytest.raises(SuiteError, match=r"^genai_prod.yaml: 'format': .* mlflow_traces, not 'otel'"):
        build_suite(name="p", data="mlflow://experiments/prod", format="otel", source="genai_prod.yaml",
                    judges=[], checks=CHECKS)
    with pytest.raises(SuiteError, match=r"^genai_prod.yaml: 'data': could not read the traces"):
        build_suite(name="p", data="mlflow://experiments/prod?filter=no such filter", source="genai_prod.yaml",
                    judges=[], checks=CHECKS)
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    with pytest.raises(SuiteError, match=r"^genai_prod.yaml: 'data': reading traces from MLflow needs mlflow"):
        build_suite(name="p", data="mlflow://experiments/prod", source="genai_prod.yaml", judges=[], checks=CHECKS)


def _pytest(path: Path, suite: str, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess (see test_mlflow_log: pytester's in-process runs break MLflow's
    lazily imported SQL store)."""
    (path / "genai_prod.yaml").write_text(suite)
    command = [sys.executable, "-m", "pytest", "--genai-results-dir", "out", "--genai-cache", "off",
               "-p", "no:cacheprovider", *args]  # fmt: skip
    return subprocess.run(command, cwd=path, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]])
def test_a_suite_evaluates_sampled_traces_from_the_server(
    tmp_path: Path, mlflow_store: tuple[Any, str], xdist: list[str]
) -> None:
    mlflow, uri = mlflow_store
    _, trace_ids = _write_traces(mlflow, uri, tmp_path)
    suite = "data: \"mlflow://experiments/prod?filter=tags.env = 'prod'&max_results=4\"\njudges: []\n" \
            "checks: [{type: length, min_chars: 1}]\n"  # fmt: skip
    done = _pytest(tmp_path, suite, "--genai-sample", "3", "--genai-sample-seed", "5", *xdist)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    doc = json.loads((tmp_path / "out" / "evaluation_results.json").read_text())
    expected = {request_id for _, request_id in sampled([("prod", t) for t in trace_ids[-4:]], 3, seed=5)}
    assert {row["request_id"] for row in doc["rows"]} == expected
    assert {row["row"]["trace_id"] for row in doc["rows"]} == expected


def test_a_missing_experiment_is_a_collection_error(tmp_path: Path, mlflow_store: tuple[Any, str]) -> None:
    done = _pytest(tmp_path, 'data: "mlflow://experiments/absent"\njudges: []\n')
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "genai_prod.yaml: 'data': no MLflow experiment named (or with the id) 'absent'" in output
