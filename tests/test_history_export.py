"""``genai-eval history --export parquet PATH`` and the Delta table of run metrics."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.cli import main
from pytest_genai_eval.delta_log import DELTA_COLUMNS, DeltaLogError, append_run, run_records
from pytest_genai_eval.document import as_document
from pytest_genai_eval.history import HistoryStore, key_metrics
from pytest_genai_eval.history_export import history_columns

from .test_history import OVERALL, document

COST = "agent/estimated_cost/sum"


def _history(tmp_path: Path) -> Path:
    db = tmp_path / "history.sqlite"
    store = HistoryStore(db)
    store.append(document(0.9, started="2026-03-01T10:00:00+00:00"), git={"commit": "abc", "branch": "main", "dirty": False})
    newer = document(0.7, started="2026-03-02T10:00:00+00:00", suites=("support", "billing"), status="failed")
    newer["metrics"][COST] = 1.25
    store.append(newer)
    return db


def test_key_metrics_keep_estimated_cost() -> None:
    assert key_metrics({COST: 2.5, "judge/estimated_cost/sum": 0.1, "agent/estimated_cost/average": None}) == {
        COST: 2.5,
        "judge/estimated_cost/sum": 0.1,
    }


def test_history_columns_one_row_per_run_oldest_first(tmp_path: Path) -> None:
    runs = HistoryStore(_history(tmp_path)).runs()
    columns, types = history_columns(runs)
    assert columns["id"] == [1, 2]
    assert columns[OVERALL] == [0.9, 0.7]
    assert columns[COST] == [None, 1.25]  # the first run had no such metric
    assert columns["suites"] == ["support", "support,billing"]
    assert columns["started_at"][1] == dt.datetime(2026, 3, 2, 10, tzinfo=dt.timezone.utc)
    assert columns["git_commit"] == ["abc", None]
    assert types["started_at"] == "timestamp" and types[OVERALL] == "float64" and types["id"] == "int64"
    assert "judge/cache_hit_count" not in columns  # the history keeps key metrics only


def test_export_parquet_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    db, out = _history(tmp_path), tmp_path / "export" / "runs.parquet"
    assert main(["history", "--db", str(db), "--export", "parquet", str(out)]) == 0
    assert capsys.readouterr().out == f"exported 2 run(s) to {out}\n"
    table = pq.read_table(out)
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [1, 2]
    assert [r[OVERALL] for r in rows] == [0.9, 0.7]
    assert [r["status"] for r in rows] == ["passed", "failed"]
    assert rows[0][COST] is None and rows[1][COST] == 1.25
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("rows/count").type) == "double"
    # --limit keeps the newest runs; --suite filters like the listing
    assert main(["history", "--db", str(db), "--export", "parquet", str(out), "--limit", "1"]) == 0
    assert pq.read_table(out).column("id").to_pylist() == [2]
    assert main(["history", "--db", str(db), "--export", "parquet", str(out), "--suite", "billing"]) == 0
    assert pq.read_table(out).num_rows == 1
    assert not list(out.parent.glob(".*.tmp"))  # written atomically


def test_export_errors_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = _history(tmp_path)
    assert main(["history", "--db", str(db), "--export", "csv", str(tmp_path / "x.csv")]) == 4
    assert "--export: unknown format 'csv'; formats: parquet" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    assert main(["history", "--db", str(db), "--export", "parquet", str(tmp_path / "x.parquet")]) == 4
    err = capsys.readouterr().err
    assert "exporting Parquet needs pyarrow: pip install 'pytest-genai-eval[parquet]'" in err
    assert not (tmp_path / "x.parquet").exists()


# ---- Delta -----------------------------------------------------------------------------------


def _run_document() -> dict[str, Any]:
    doc = document(0.75, suites=("support",))
    doc["metrics"]["agent/latency_seconds/p99"] = None
    return doc


def test_run_records_are_one_row_per_metric_and_scope() -> None:
    records = run_records(as_document(_run_document()), git={"commit": "c0ffee", "branch": "main"}, run_id="r1")
    assert {tuple(r) for r in records} == {tuple(DELTA_COLUMNS)}
    by_key = {(r["scope"], r["metric"]): r for r in records}
    assert by_key[("run", OVERALL)]["value"] == 0.75
    assert by_key[("support", OVERALL)]["value"] == 0.75
    assert by_key[("run", "agent/latency_seconds/p99")]["value"] is None
    first = records[0]
    assert (first["run_id"], first["status"], first["exit_code"], first["judge_model"], first["git_commit"]) == (
        "r1", "passed", 0, "judge-m", "c0ffee"
    )
    assert first["started_at"] == dt.datetime(2026, 3, 1, 10, tzinfo=dt.timezone.utc)


def test_missing_deltalake_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "deltalake", None)
    with pytest.raises(DeltaLogError) as info:
        append_run(str(tmp_path / "t"), as_document(_run_document()))
    assert "needs the deltalake package: pip install 'pytest-genai-eval[delta]'" in str(info.value)


def _deltalake() -> Any:
    return pytest.importorskip(
        "deltalake", reason="deltalake (the delta extra) cannot be installed here: pip install 'pytest-genai-eval[delta]'"
    )


def test_append_run_and_read_back(tmp_path: Path) -> None:
    deltalake = _deltalake()
    pytest.importorskip("pyarrow", reason="reading the table back uses pyarrow")
    where = str(tmp_path / "runs")
    assert append_run(where, as_document(_run_document()), run_id="first") == 0
    assert append_run(where, as_document(_run_document()), run_id="second") == 1
    table = deltalake.DeltaTable(where)
    assert table.version() == 1
    rows = table.to_pyarrow_table().to_pylist()
    assert {r["run_id"] for r in rows} == {"first", "second"}
    first = [r for r in rows if r["run_id"] == "first"]
    assert len(first) == len(run_records(as_document(_run_document())))
    overall = {r["scope"]: r["value"] for r in first if r["metric"] == OVERALL}
    assert overall == {"run": 0.75, "support": 0.75}
    assert [f.name for f in table.schema().fields] == list(DELTA_COLUMNS)
    assert str(table.to_pyarrow_table().schema.field("recorded_at").type).startswith("timestamp[us")


def test_a_run_appends_to_the_delta_table(pytester: pytest.Pytester) -> None:
    deltalake = _deltalake()
    pytest.importorskip("pyarrow", reason="reading the table back uses pyarrow")
    pytester.makefile(".yaml", genai_delta="name: delta\njudges: []\nchecks: [{type: contains, values: [a]}]\nrows: [{request_id: r1, request: q, response: a}, {request_id: r2, request: q, response: b}]\n")
    pytester.makeini("[pytest]\ngenai_delta_table = tables/genai_runs\n")
    for _ in range(2):
        result = pytester.runpytest("--genai-results-dir", "out", "--genai-threshold", "overall=0.5", "-p", "no:cacheprovider")
        assert result.ret == 0, result.stdout.str()
    table = deltalake.DeltaTable(str(pytester.path / "tables" / "genai_runs"))  # relative to the ini file
    rows = table.to_pyarrow_table().to_pylist()
    assert len({r["run_id"] for r in rows}) == 2
    rates = [r for r in rows if r["metric"] == "response/check/contains/rating/percentage"]
    assert sorted((r["scope"], r["value"]) for r in rates) == [("delta", 0.5), ("delta", 0.5), ("run", 0.5), ("run", 0.5)]
    assert {r["status"] for r in rows} == {"passed"}


def test_a_failing_delta_table_is_a_warning_not_a_lost_run(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_delta="judges: []\nchecks: [{type: contains, values: [a]}]\nrows: [{request: q, response: a}]\n")
    (pytester.path / "not-a-dir").write_text("a file where the table should be")
    result = pytester.runpytest("--genai-results-dir", "out", "--genai-delta-table", "not-a-dir/t", "-p", "no:cacheprovider")
    assert result.ret == 0
    assert "Delta table" in result.stdout.str()
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    assert doc["verdict"]["status"] == "passed"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--genai-delta-table", "s3://bucket/genai_runs"], "s3://bucket/genai_runs"),  # a URI as is
        (["--genai-delta-table", "tables/runs"], "{invocation}/tables/runs"),  # a path made absolute
        ([], "None"),
    ],
)
def test_delta_table_setting_resolves_paths_and_keeps_uris(
    pytester: pytest.Pytester, args: list[str], expected: str
) -> None:
    pytester.makeconftest(
        """
from pytest_genai_eval.keys import SESSION_KEY

def pytest_collection_finish(session):
    print("DELTA", session.config.stash[SESSION_KEY].settings.delta_table)
"""
    )
    result = pytester.runpytest("-s", *args)
    line = next(line for line in result.outlines if line.startswith("DELTA"))
    assert line == "DELTA " + expected.format(invocation=pytester.path)
