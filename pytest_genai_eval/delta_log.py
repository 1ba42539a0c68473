"""Appending each run's metrics to a Delta table, for dashboards without Spark.

``--genai-delta-table PATH`` (ini ``genai_delta_table``; a local path or a URI that deltalake
understands, such as ``s3://bucket/genai_runs``, with the object store's credentials from the
environment) appends one row per metric of the run, run level and per suite, after the run:

* ``run_id`` (string): one id per run (a UUID), the same on all its rows;
* ``recorded_at``, ``started_at`` (timestamp, UTC): when the row was appended, when the run
  started;
* ``status`` (string), ``exit_code`` (long), ``complete`` (boolean): the verdict, the
  process's exit code, false for interrupted or stopped runs;
* ``judge_model``, ``git_commit``, ``git_branch`` (string, may be null);
* ``scope`` (string): ``run`` or the suite's name;
* ``metric`` (string), ``value`` (double; null when the metric had no data).

The table is long (one metric per row) so its schema never changes as judges, checks and
suites come and go; pivot on ``metric`` in the dashboard. Writing needs the ``delta`` extra
(``pip install 'pytest-genai-eval[delta]'``: the ``deltalake`` package, which brings its own
Arrow arrays; pyarrow is not needed). A failure is a warning after the run, like the history's:
the run is never lost over it.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .document import RunDocument
from .errors import GenAIEvalError
from .history_export import utc_timestamp

if TYPE_CHECKING:
    from arro3.core import Array

__all__ = ["DELTA_COLUMNS", "DeltaLogError", "append_run", "run_records"]

INSTALL_HINT = "pip install 'pytest-genai-eval[delta]'"

# column -> Arrow type name (see _array)
DELTA_COLUMNS: Mapping[str, str] = {
    "run_id": "string",
    "recorded_at": "timestamp",
    "started_at": "timestamp",
    "status": "string",
    "exit_code": "int64",
    "complete": "bool",
    "judge_model": "string",
    "git_commit": "string",
    "git_branch": "string",
    "scope": "string",
    "metric": "string",
    "value": "float64",
}


class DeltaLogError(GenAIEvalError):
    """The Delta table cannot be written (or the delta extra is not installed)."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def run_records(
    document: RunDocument,
    *,
    git: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    recorded_at: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows one run appends: one per metric, run level then per suite."""
    git = git or {}
    verdict = document.verdict
    common = {
        "run_id": run_id or uuid.uuid4().hex,
        "recorded_at": recorded_at or dt.datetime.now(dt.timezone.utc),
        "started_at": utc_timestamp(document.started_at),
        "status": verdict.status if verdict is not None else None,
        "exit_code": verdict.exit_code if verdict is not None else None,
        "complete": document.complete,
        "judge_model": document.judge_model,
        "git_commit": git.get("commit"),
        "git_branch": git.get("branch"),
    }
    scopes: list[tuple[str, Mapping[str, Any]]] = [("run", document.metrics)]
    scopes += [(name, entry.metrics) for name, entry in document.suites.items()]
    return [
        {**common, "scope": scope, "metric": name, "value": _number(value)}
        for scope, metrics in scopes
        for name, value in sorted(metrics.items())
    ]


def _array(values: list[Any], kind: str) -> Array:
    from arro3.core import Array, DataType

    if kind == "timestamp":  # arro3 builds timestamps from integers (microseconds since 1970)
        micros = [None if v is None else int(v.timestamp() * 1_000_000) for v in values]
        return Array(micros, DataType.int64()).cast(DataType.timestamp("us", tz="UTC"))
    types = {
        "string": DataType.string(),
        "int64": DataType.int64(),
        "bool": DataType.bool(),
        "float64": DataType.float64(),
    }
    return Array(values, types[kind])


def append_run(
    location: str,
    document: RunDocument,
    *,
    git: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> int:
    """Append the run's metrics to the Delta table at ``location`` (created on first use);
    returns the table's new version."""
    try:
        from arro3.core import Table
        from deltalake import DeltaTable, write_deltalake
    except ImportError as exc:
        raise DeltaLogError(
            f"writing the Delta table {location} needs the deltalake package: {INSTALL_HINT} "
            f"({exc})"
        ) from None
    records = run_records(document, git=git, run_id=run_id)
    columns: dict[str, Any] = {  # Arrow arrays (from_pydict's parameter type is invariant)
        name: _array([r[name] for r in records], kind) for name, kind in DELTA_COLUMNS.items()
    }
    try:
        write_deltalake(location, Table.from_pydict(columns), mode="append")
        return int(DeltaTable(location).version())
    except Exception as exc:  # deltalake raises its own errors, OSError and ValueError alike
        raise DeltaLogError(
            f"could not append to the Delta table {location}: {type(exc).__name__}: {exc}"
        ) from exc
