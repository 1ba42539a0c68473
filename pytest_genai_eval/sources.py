"""Where a suite's rows come from when they are not in this plugin's schema as they stand: another
tool's format (``format``, or recognized by shape; :mod:`.importers`), a row ``transform`` and a
column mapping (``columns``; :mod:`.columns`), applied in that order before every row is
validated (``evalset.build_rows``). A set in this plugin's schema loads exactly as before.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .columns import ColumnError, ColumnMap, RowTransform, load_transform
from .evalset import EvalSetError, Row, RowIssue, build_rows, read_entries
from .importers import FORMATS, Entry, FormatWarning, convert, detect, is_document
from .mlflow_source import MlflowSourceError, is_mlflow_source, read_traces

__all__ = ["RowSource", "load_source_rows", "parse_row_source"]


@dataclass(frozen=True)
class RowSource:
    """How to turn a set's raw rows into rows: all empty means "as they stand"."""

    format: str | None = None
    transform: RowTransform | None = None
    transform_name: str = ""
    columns: ColumnMap | None = None


def parse_row_source(
    *, format: Any = None, transform: Any = None, columns: Any = None,
    base_dir: Path | None = None, where: str = "suite",
) -> RowSource:
    """Validate the suite keys ``format``, ``transform`` and ``columns`` (a ColumnError names the
    suite and the key)."""
    if format is not None and format not in FORMATS:
        raise ColumnError(
            f"{where}: unknown format {format!r}; known formats: {', '.join(FORMATS)}"
        )
    loaded = load_transform(transform, base_dir, where)
    name = transform if isinstance(transform, str) else getattr(transform, "__name__", "transform")
    return RowSource(
        format=format,
        transform=loaded,
        transform_name=str(name),
        columns=ColumnMap.parse(columns, where),
    )


def _records(data: Any) -> list[Entry]:
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        data = data.to_dict(orient="records")
    return [(f"row {index}", item) for index, item in enumerate(data, start=1)]


def _whole_document(path: Path) -> Any:
    """A JSON or YAML file read whole (None when it cannot be: its first error stands)."""
    try:
        text = path.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8")
        if path.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception:
        return None


def _read(
    data: str | os.PathLike[str], base_dir: Path | None, name: str | None
) -> tuple[str, list[Entry], list[RowIssue]]:
    try:
        return read_entries(data, base_dir=base_dir, name=name)
    except EvalSetError as exc:
        path = Path(data)
        if not path.is_absolute():
            path = (base_dir if base_dir is not None else Path.cwd()) / path
        only_file_issue = len(exc.issues) == 1 and exc.issues[0].location == "file"
        if not only_file_issue or path.suffix.lower() not in (".json", ".yaml", ".yml"):
            raise
        document = _whole_document(path)
        if not is_document(document):
            raise
        return exc.source, [("file", document)], []


def _transform(
    spec: RowSource, source: str, entries: list[Entry], issues: list[RowIssue]
) -> list[Entry]:
    assert spec.transform is not None
    out: list[Entry] = []
    for location, raw in entries:
        if not isinstance(raw, Mapping):
            out.append((location, raw))  # validation names the wrong type
            continue
        try:
            row = spec.transform(dict(raw))
        except Exception as exc:
            issues.append(RowIssue(source, location, None,
                                   f"transform {spec.transform_name} raised "
                                   f"{type(exc).__name__}: {exc}"))
            continue
        if row is None:  # the transform dropped the row
            continue
        if not isinstance(row, Mapping):
            issues.append(RowIssue(source, location, None,
                                   f"transform {spec.transform_name} returned "
                                   f"{type(row).__name__}, expected a dict (or None to drop "
                                   "the row)"))
            continue
        out.append((location, dict(row)))
    return out


def _map_columns(
    columns: ColumnMap, source: str, entries: list[Entry], issues: list[RowIssue]
) -> list[Entry]:
    rows = [raw for _, raw in entries if isinstance(raw, Mapping)]
    for path in columns.unmatched(rows):
        keys = ", ".join(sorted(map(str, rows[0])))[:200] if rows else ""
        issues.append(RowIssue(source, "file", "columns",
                               f"{path!r} is in no row (the first row's fields: {keys})"))
    out: list[Entry] = []
    for location, raw in entries:
        if not isinstance(raw, Mapping):
            out.append((location, raw))
            continue
        row, problems = columns.apply(raw)
        issues += [RowIssue(source, location, field, message) for field, message in problems]
        out.append((location, row))
    return out


def load_source_rows(
    data: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Any,
    spec: RowSource,
    *,
    base_dir: Path | None = None,
    name: str | None = None,
    where: str = "suite",
) -> list[Row]:
    """Read, convert, transform and map a set's rows, then validate every row (one EvalSetError
    with every problem, identical ones grouped). ``mlflow://...`` reads traces from MLflow
    (:mod:`.mlflow_source`; a MlflowSourceError names ``where`` and the key)."""
    if is_mlflow_source(data):
        if spec.format not in (None, "mlflow_traces"):
            raise MlflowSourceError(f"{where}: 'format': traces read from MLflow are in the "
                                    f"format mlflow_traces, not {spec.format!r}")
        source, entries = str(data), read_traces(str(data), where)
        issues: list[RowIssue] = []
        spec = RowSource("mlflow_traces", spec.transform, spec.transform_name, spec.columns)
    elif isinstance(data, (str, os.PathLike)):
        source, entries, issues = _read(data, base_dir, name)
    else:
        source, entries, issues = name or "rows", _records(data), []
    fmt = spec.format or detect(entries)
    if fmt is not None:
        imported = convert(fmt, entries, source)
        entries, issues = imported.entries, [*issues, *imported.issues]
        for message in imported.warnings:
            warnings.warn(message, FormatWarning, stacklevel=2)
    if spec.transform is not None:
        entries = _transform(spec, source, entries, issues)
    if spec.columns is not None:
        entries = _map_columns(spec.columns, source, entries, issues)
    return build_rows(source, entries, issues)
