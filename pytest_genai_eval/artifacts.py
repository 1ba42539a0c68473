"""The results directory: ``evaluation_results.json`` plus per-row tables.

Files written by :func:`write_results` (every one atomically: temp file in the same directory,
flush + fsync, ``os.replace``; a crash mid-write never leaves a truncated file behind):

* ``evaluation_results.json`` - the run document built by the caller (``schema_version``,
  ``complete``, ``config``, ``metrics``, ``verdict``...) plus ``"rows"``: every
  :meth:`RowResult.to_dict`. This is the file :func:`read_results` loads back (baselines).
* ``eval_results.jsonl`` / ``eval_results.csv`` / ``eval_results.parquet`` - one flat
  :func:`row_record` per row, column names as in Mosaic AI Agent Evaluation's per-row table.
  Parquet is written only when ``pyarrow`` is importable. In CSV and Parquet, list/dict cells are
  JSON text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from pytest_genai_eval.document import SCHEMA_VERSION, RunDocument, as_document
from pytest_genai_eval.errors import ArtifactError
from pytest_genai_eval.metrics import (
    assessment_prefix,
    detail_columns,
    is_flaky,
    retrieval_value_column,
    score_column,
)
from pytest_genai_eval.pass_at_k import vote_columns
from pytest_genai_eval.results import RowResult
from pytest_genai_eval.vocabulary import OVERALL_BASE, OVERALL_RATING

__all__ = (
    "CSV_NAME",
    "JSONL_NAME",
    "JSON_NAME",
    "PARQUET_NAME",
    "SCHEMA_VERSION",
    "ArtifactError",
    "load_results",
    "read_results",
    "row_record",
    "write_results",
)


JSON_NAME = "evaluation_results.json"
JSONL_NAME = "eval_results.jsonl"
CSV_NAME = "eval_results.csv"
PARQUET_NAME = "eval_results.parquet"




# ---- per-row records -------------------------------------------------------------------------
def row_record(result: RowResult) -> dict[str, Any]:
    """One flat row of the per-row table (Agent Evaluation column names).

    Order: ``suite``, ``request_id``, the input row's own keys (request, expected_response,
    guidelines, extra columns...), then the computed columns. ``flaky`` (bool) is True when a
    judge panel's or repeat's votes disagreed on some assessment of the row; numeric custom
    judges add ``<prefix>/<name>/score``; voted assessments (repeats, panels) add
    ``<prefix>/<name>/flake_rate`` and, under pass_at_k / pass_hat_k, ``.../pass_at_k`` or
    ``.../pass_hat_k`` (the unbiased estimate). Rows whose output carries tool calls add
    ``agent/tool_calls`` (the calls: JSON in the JSONL, JSON text in CSV and Parquet) and
    ``agent/tool_call_count``; the tool-call check adds
    ``response/tool_call/tool_call_correctness/precision|recall|f1``. An input key that
    collides with a computed column is dropped: the computed value wins.
    """
    usage = result.app_usage
    computed: dict[str, Any] = {
        "response": result.response,
        "retrieved_context": result.retrieved_context,
        "app_error": result.app_error,
        "agent/latency_seconds": result.latency_seconds,
        "agent/total_token_count": usage.total_tokens if usage else None,
        "agent/input_token_count": usage.prompt_tokens if usage else None,
        "agent/output_token_count": usage.completion_tokens if usage else None,
    }
    if result.tool_calls is not None:  # rows whose output carries tool calls
        computed["agent/tool_calls"] = result.tool_calls
        computed["agent/tool_call_count"] = len(result.tool_calls)
    for a in result.assessments:
        base = f"{assessment_prefix(a)}/{a.name}"
        value_column = retrieval_value_column(a)
        if value_column is not None:
            computed[value_column] = a.value
        score = score_column(a)
        if score is not None:
            computed[score] = a.value
        computed.update(detail_columns(a))
        computed.update(vote_columns(a.details, base))
        computed[f"{base}/rating"] = a.rating
        computed[f"{base}/rationale"] = a.rationale
        computed[f"{base}/error_message"] = a.error
        computed[f"{base}/skipped_reason"] = a.skipped
    computed[OVERALL_RATING] = result.overall_rating
    computed[f"{OVERALL_BASE}/rationale"] = result.overall_rationale
    computed["flaky"] = any(is_flaky(a) for a in result.assessments)
    computed["status"] = result.status
    computed["nodeid"] = result.nodeid

    record: dict[str, Any] = {"suite": result.suite, "request_id": result.request_id}
    for key, value in result.row.items():
        if key not in record and key not in computed:
            record[key] = value
    record.update(computed)
    return record


# ---- JSON helpers ----------------------------------------------------------------------------
def _sanitize(value: Any) -> Any:
    """A JSON-safe copy: non-finite floats become None, tuples become lists, keys become str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return value


def _dumps(value: Any, *, indent: int | None = None) -> str:
    try:  # the common case: already JSON-safe, no copy needed
        return json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False, default=str)
    except (ValueError, TypeError):  # non-finite floats, non-string keys
        return json.dumps(
            _sanitize(value), ensure_ascii=False, indent=indent, allow_nan=False, default=str
        )


def _cell(value: Any) -> Any:
    """Table cell for CSV/Parquet: list/dict as JSON text, non-finite floats as None."""
    if isinstance(value, (dict, list, tuple)):
        return _dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---- atomic writes ---------------------------------------------------------------------------
def _fsync_directory(directory: Path) -> None:
    """Persist the rename itself (POSIX); silently skipped where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a
    partial one: temp file in the same directory, flush + fsync, then ``os.replace``."""
    def write(handle: BinaryIO) -> None:
        handle.write(data)

    _atomic_stream(path, write)


def _atomic_stream(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Like :func:`_atomic_write`, for content produced piece by piece."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


def write_results(
    directory: Path,
    document: RunDocument | Mapping[str, Any],
    results: Sequence[RowResult],
    *,
    parquet: bool = True,
) -> dict[str, Path]:
    """Write the results directory; returns ``{"jsonl"|"csv"|"parquet"|"json": path}`` for the
    files written (no ``"parquet"`` without pyarrow).

    ``document`` is not modified; the written copy gets ``"rows"`` (and ``schema_version`` when the
    caller left it out). The JSON document is written last, so its presence means the per-row
    tables next to it are complete. Every file is streamed row by row, so memory stays flat for
    large runs.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    columns: dict[str, set[type]] = {}

    def jsonl(handle: BinaryIO) -> None:
        for result in results:
            record = row_record(result)
            for key, value in record.items():
                kinds = columns.setdefault(key, set())
                if value is not None:
                    kinds.add(type(_cell(value)))
            handle.write((_dumps(record) + "\n").encode("utf-8"))

    path = directory / JSONL_NAME
    _atomic_stream(path, jsonl)
    written["jsonl"] = path

    names = list(columns)

    def csv_rows(handle: BinaryIO) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        if names:
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(names)
            for result in results:
                record = row_record(result)
                row = [_cell(record.get(column)) for column in names]
                writer.writerow(["" if value is None else value for value in row])
        text.flush()
        text.detach()

    path = directory / CSV_NAME
    _atomic_stream(path, csv_rows)
    written["csv"] = path

    if parquet and _write_parquet(directory / PARQUET_NAME, results, columns):
        written["parquet"] = directory / PARQUET_NAME

    data = document.to_json_dict() if isinstance(document, RunDocument) else dict(document)
    head: dict[str, Any] = {"schema_version": SCHEMA_VERSION, **data}
    head.pop("rows", None)

    def json_document(handle: BinaryIO) -> None:
        body = _dumps(head, indent=2)
        handle.write(body[: body.rfind("}")].rstrip().encode("utf-8"))
        handle.write((',\n  "rows": [' if head else '{\n  "rows": [').encode("utf-8"))
        for index, result in enumerate(results):
            prefix = "\n    " if index == 0 else ",\n    "
            handle.write((prefix + _dumps(result.to_dict())).encode("utf-8"))
        handle.write(("\n  ]\n}\n" if results else "]\n}\n").encode("utf-8"))

    path = directory / JSON_NAME
    _atomic_stream(path, json_document)
    written["json"] = path
    return written


def _write_parquet(path: Path, results: Sequence[RowResult], columns: dict[str, set[type]]) -> bool:
    """The per-row table as Parquet, in batches with one schema; False without pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    fields = []
    for name, kinds in columns.items():
        if kinds == {bool}:
            kind = pa.bool_()
        elif kinds and kinds <= {int}:
            kind = pa.int64()
        elif kinds and kinds <= {int, float}:
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    schema = pa.schema(fields)

    def convert(value: Any, kind: Any) -> Any:
        value = _cell(value)
        if value is None:
            return None
        if kind == pa.string() and not isinstance(value, str):
            return _dumps(value)
        return value

    def write(handle: BinaryIO) -> None:
        with pq.ParquetWriter(handle, schema) as writer:
            for start in range(0, max(len(results), 1), 2000):
                batch = [row_record(r) for r in results[start : start + 2000]]
                arrays = [
                    pa.array([convert(rec.get(f.name), f.type) for rec in batch], type=f.type)
                    for f in fields
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

    _atomic_stream(path, write)
    return True


# ---- reading back ----------------------------------------------------------------------------
def read_results(path: Path) -> tuple[dict[str, Any], list[RowResult]]:
    """Load ``evaluation_results.json`` (``path`` is the file or its directory).

    Returns ``(document, rows)``: the document without its ``"rows"`` key, and the parsed rows.
    Raises :class:`ArtifactError` naming the file and what is wrong.
    """
    path = Path(path)
    file = path / JSON_NAME if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{file}: results file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{file}: cannot read results file: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{file}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{file}: expected a JSON object, got {type(data).__name__}")
    if "schema_version" not in data:
        raise ArtifactError(f"{file}: missing key 'schema_version'")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ArtifactError(f"{file}: 'schema_version' must be an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise ArtifactError(
            f"{file}: unsupported schema_version {version} "
            f"(this version of pytest-genai-eval reads up to {SCHEMA_VERSION})"
        )
    if "rows" not in data:
        raise ArtifactError(f"{file}: missing key 'rows'")
    raw_rows = data.pop("rows")
    if not isinstance(raw_rows, list):
        raise ArtifactError(f"{file}: 'rows' must be a list, got {type(raw_rows).__name__}")
    rows: list[RowResult] = []
    for index, raw in enumerate(raw_rows):
        if not isinstance(raw, dict):
            raise ArtifactError(
                f"{file}: rows[{index}] must be an object, got {type(raw).__name__}"
            )
        try:
            rows.append(RowResult.from_dict(raw))
        except KeyError as exc:
            raise ArtifactError(f"{file}: rows[{index}]: missing key {exc.args[0]!r}") from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise ArtifactError(f"{file}: rows[{index}]: invalid row: {exc}") from exc
    return data, rows


def load_results(path: Path) -> tuple[RunDocument, list[RowResult]]:
    """Like :func:`read_results`, with the document validated into a :class:`RunDocument` (what
    compare, the reports and the CLI read). Raises :class:`ArtifactError` naming the file and the
    first field that is wrong."""
    path = Path(path)
    file = path / JSON_NAME if path.is_dir() else path
    data, rows = read_results(file)
    try:
        return as_document(data, source=str(file)), rows
    except ValueError as exc:
        raise ArtifactError(f"{file}: invalid results document: {exc}") from None
