"""``genai-eval history --export parquet PATH``: the run history as one table for dashboards.

One row per run, oldest first: ``id``, ``recorded_at``, ``started_at``, ``finished_at``
(timestamps, UTC), ``duration_seconds``, ``complete``, ``status``, ``exit_code``,
``judge_model``, ``suites`` (comma-separated), ``baseline_status``, ``regressions``,
``git_commit``, ``git_branch``, ``git_dirty``, then one double column per run-level metric the
history keeps (named by the metric, e.g. ``response/overall_assessment/rating/percentage``;
null for runs that did not have it). Writing Parquet needs pyarrow (the ``parquet`` extra).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import GenAIEvalError
from .history import HistoryRun

__all__ = ["EXPORT_FORMATS", "ExportError", "history_columns", "utc_timestamp", "write_parquet"]

EXPORT_FORMATS = ("parquet",)
INSTALL_HINT = "pip install 'pytest-genai-eval[parquet]'"


class ExportError(GenAIEvalError):
    """The export cannot be written (or pyarrow is not installed)."""


def utc_timestamp(text: str | None) -> dt.datetime | None:
    """An ISO timestamp as an aware datetime (UTC when it names no zone); None if unreadable."""
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


_FIXED: dict[str, str] = {
    "id": "int64",
    "recorded_at": "timestamp",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "duration_seconds": "float64",
    "complete": "bool",
    "status": "string",
    "exit_code": "int64",
    "judge_model": "string",
    "suites": "string",
    "baseline_status": "string",
    "regressions": "int64",
    "git_commit": "string",
    "git_branch": "string",
    "git_dirty": "bool",
}


def history_columns(runs: Sequence[HistoryRun]) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """``(columns, types)``: the export's columns by name (oldest run first) and each column's
    type (``int64``, ``float64``, ``bool``, ``string`` or ``timestamp``)."""
    ordered = sorted(runs, key=lambda run: run.id)
    metric_names = sorted({name for run in ordered for name in run.metrics})
    clash = set(metric_names) & set(_FIXED)
    if clash:  # metric names have slashes; a clash would be a hand-made history
        metric_names = [m for m in metric_names if m not in clash]
    columns: dict[str, list[Any]] = {name: [] for name in (*_FIXED, *metric_names)}
    for run in ordered:
        fixed = {
            "id": run.id,
            "recorded_at": utc_timestamp(run.recorded_at),
            "started_at": utc_timestamp(run.started_at),
            "finished_at": utc_timestamp(run.finished_at),
            "duration_seconds": run.duration_seconds,
            "complete": run.complete,
            "status": run.status,
            "exit_code": run.exit_code,
            "judge_model": run.judge_model,
            "suites": ",".join(run.suites),
            "baseline_status": run.baseline_status,
            "regressions": run.regressions,
            "git_commit": run.git_commit,
            "git_branch": run.git_branch,
            "git_dirty": run.git_dirty,
        }
        for name, value in fixed.items():
            columns[name].append(value)
        for name in metric_names:
            columns[name].append(run.metric(name))
    types = {**_FIXED, **dict.fromkeys(metric_names, "float64")}
    return columns, types


def write_parquet(runs: Sequence[HistoryRun], path: Path) -> Path:
    """Write the runs as a Parquet file at ``path`` (atomically); returns the path."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ExportError(f"exporting Parquet needs pyarrow: {INSTALL_HINT} ({exc})") from None
    columns, types = history_columns(runs)
    arrow_types = {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    table = pa.table(
        {name: pa.array(values, type=arrow_types[types[name]]) for name, values in columns.items()}
    )
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc}") from None
    return path
