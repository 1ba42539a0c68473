"""``--genai-mlflow``: a run logged to a real local MLflow store (SQLite in tmp_path) and read back
with ``MlflowClient`` and ``mlflow.search_traces``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.testing import ScriptedJudge, Verdict

from .mlflow_store import mlflow_store_fixture  # noqa: F401 - the fixture mlflow_store

SECRET = "sk-test-0123456789abcdef"
OVERALL = "response/overall_assessment/rating/percentage"
SUITE = """\
name: mlf
judges: [correctness]
checks: [{type: contains, values: [a]}]
thresholds: {overall: 0.5}
rows:
  - {request_id: fr, request: "Capital of France?", response: Paris, expected_response: Paris}
  - {request_id: it, request: "Capital of Italy?", response: Paris, expected_response: Rome}
  - {request_id: es, request: "Capital of Spain?", response: Madrid, expected_response: Madrid}
"""


@pytest.fixture
def leaky_judge(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A judge whose rationales quote its API key: the key must never reach MLflow."""
    with ScriptedJudge(default=Verdict("yes", f"Correct. (debug: key {SECRET})")) as server:
        server.on(contains="Rome", rating="no", rationale=f"Wrong city. key={SECRET}")
        monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", server.model)
        monkeypatch.setenv("GENAI_EVAL_JUDGE_API_KEY", SECRET)
        yield server


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.ret = done.returncode
        self.output = done.stdout + done.stderr


def _run(path: Path, *args: str, conftest: str = "", ini: str = "") -> Run:
    """pytest in a subprocess, as in CI (not pytester: its teardown drops the modules a test
    imported, and MLflow's SQL store imports SQLAlchemy lazily, so the next test would break)."""
    (path / "genai_mlf.yaml").write_text(SUITE)
    (path / "conftest.py").write_text(conftest)
    (path / "pytest.ini").write_text(f"[pytest]\n{ini}")
    command = [sys.executable, "-m", "pytest", "--genai-results-dir", "out", "--genai-cache", "off",
               "-p", "no:cacheprovider", "-s", *args]  # fmt: skip
    return Run(subprocess.run(command, cwd=path, capture_output=True, text=True, timeout=300, check=False))


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]])
def test_run_logged_and_read_back(
    tmp_path: Path, mlflow_store: tuple[Any, str], leaky_judge: ScriptedJudge,
    monkeypatch: pytest.MonkeyPatch, xdist: list[str],
) -> None:
    mlflow, uri = mlflow_store
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "genai-tests")
    result = _run(tmp_path, "--genai-mlflow", *xdist)
    assert result.ret == 0, result.output  # 2 of 3 rows pass: overall 0.67 >= 0.5
    assert "could not log the run to MLflow" not in result.output
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("genai-tests")
    (run,) = client.search_runs([experiment.experiment_id])
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["genai.suites"] == "mlf"
    assert params["genai.judge_model"] == leaky_judge.model
    assert params["genai.prompt_version.correctness"]
    assert "overall" in params["genai.mlf.thresholds"]
    assert metrics[OVERALL] == pytest.approx(2 / 3)
    assert metrics[f"mlf/{OVERALL}"] == pytest.approx(2 / 3)
    assert metrics["rows/count"] == 3
    assert tags["genai.verdict"] == "passed" and tags["genai.exit_code"] == "0"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"evaluation_results.json", "report.html"} <= artifacts

    traces = mlflow.search_traces(locations=[experiment.experiment_id], run_id=run.info.run_id, return_type="list")
    assert len(traces) == 3
    by_row = {trace.info.tags["genai.request_id"]: trace for trace in traces}
    assert set(by_row) == {"fr", "it", "es"}
    italy = by_row["it"]
    assert italy.info.tags["genai.status"] == "fail" and italy.info.tags["genai.suite"] == "mlf"
    assert "Capital of Italy?" in italy.info.request_preview and "Paris" in italy.info.response_preview
    assessments = {(a.name, a.source.source_type): a for a in italy.info.assessments}
    judged = assessments[("correctness", "LLM_JUDGE")]
    assert judged.value == "no" and judged.source.source_id == leaky_judge.model
    assert judged.rationale.startswith("Wrong city.") and SECRET not in judged.rationale
    assert judged.metadata["mlflow.assessment.sourceRunId"] == run.info.run_id
    check = assessments[("contains", "CODE")]
    assert check.value == "yes"
    assert assessments[("expected_response", "HUMAN")].value == "Rome"  # ground truth: an expectation
    assert all(SECRET not in str(trace.to_dict()) for trace in traces)
    # the DataFrame form MLflow's evaluation views read
    frame = mlflow.search_traces(locations=[experiment.experiment_id], run_id=run.info.run_id)
    assert len(frame) == 3 and "assessments" in frame.columns


def test_logged_into_the_active_run(tmp_path: Path, mlflow_store: tuple[Any, str], leaky_judge: ScriptedJudge) -> None:
    mlflow, uri = mlflow_store
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("mine", artifact_location=str(tmp_path / "artifacts"))
    conftest = (  # the project's own run, open around the whole session
        "import mlflow\n"
        "def pytest_configure(config):\n"
        f"    run = mlflow.start_run(experiment_id={experiment!r})\n"
        "    open('run_id.txt', 'w').write(run.info.run_id)\n"
        "def pytest_unconfigure(config):\n"
        "    assert mlflow.active_run() is not None  # still open: it is the project's\n"
        "    mlflow.end_run()\n"
    )
    result = _run(tmp_path, "--genai-mlflow", conftest=conftest)
    assert result.ret == 0, result.output
    run_id = (tmp_path / "run_id.txt").read_text()
    (run,) = client.search_runs([experiment])
    assert run.info.run_id == run_id and run.data.params["genai.suites"] == "mlf"
    assert run.info.status == "FINISHED"
    assert len(mlflow.search_traces(locations=[experiment], run_id=run_id, return_type="list")) == 3


def test_a_failure_to_log_is_a_warning_and_the_verdict_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaky_judge: ScriptedJudge
) -> None:
    pytest.importorskip("mlflow")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a directory")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocked / 'mlflow.db'}")
    result = _run(tmp_path, "--genai-mlflow")
    assert result.ret == 0, result.output
    output = result.output
    assert "could not log the run to MLflow" in output
    assert (tmp_path / "out" / "evaluation_results.json").is_file()


def test_without_mlflow_installed_the_option_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judge: ScriptedJudge
) -> None:
    result = _run(
        tmp_path,
        conftest="import sys\nsys.modules['mlflow'] = None  # as if it were not installed\n",
        ini="genai_mlflow = true\n",  # the ini key
    )
    assert result.ret == 0
    assert "--genai-mlflow needs mlflow: pip install 'pytest-genai-eval[mlflow]'" in result.output


def test_mlflow_is_imported_only_when_asked(tmp_path: Path, judge: ScriptedJudge) -> None:
    conftest = (
        "import sys\n"
        "def pytest_unconfigure(config):\n"
        "    print('MLFLOW IMPORTED' if 'mlflow' in sys.modules else 'MLFLOW NOT IMPORTED')\n"
    )
    result = _run(tmp_path, conftest=conftest)
    assert result.ret == 0, result.output
    assert "MLFLOW NOT IMPORTED" in result.output
