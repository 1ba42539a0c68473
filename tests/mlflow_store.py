"""A real local MLflow tracking store (SQLite, in tmp_path) for the tests that need one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:  # imported with the test module, before pytester snapshots sys.modules: a pytester run's
    # teardown would otherwise drop a half of MLflow's lazily imported modules
    import mlflow
except ImportError:  # the mlflow extra is not installed
    mlflow = None


@pytest.fixture(name="mlflow_store")
def mlflow_store_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    """``(mlflow, tracking URI)``: MLflow pointed at ``tmp_path/mlflow.db`` through its own
    settings (``MLFLOW_TRACKING_URI``), its tracer reset so traces go there too; restored after."""
    if mlflow is None:
        pytest.skip("the mlflow extra is not installed")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # resets MLflow's tracer, which keeps the URI it started with
    try:
        yield mlflow, uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.flush_trace_async_logging()
        mlflow.set_tracking_uri(None)
