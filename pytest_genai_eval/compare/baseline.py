"""Loading and writing baselines: a baseline is an earlier ``evaluation_results.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..artifacts import (
    JSON_NAME,
    SCHEMA_VERSION,
    ArtifactError,
    _atomic_write,
    _dumps,
    load_results,
)
from ..document import RunDocument
from ..results import RowResult

__all__ = ("BaselineError", "load_baseline", "write_baseline")


class BaselineError(ArtifactError):
    """A baseline cannot be loaded or written; the message names the path and the problem."""


def _baseline_file(path: Path) -> Path:
    return path / JSON_NAME if path.is_dir() else path


def load_baseline(path: Path | str) -> tuple[RunDocument, list[RowResult]]:
    """Load a baseline: a results directory or an ``evaluation_results.json`` file, validated.

    The document's ``source`` is the file's path. Raises :class:`BaselineError` (an
    :class:`~pytest_genai_eval.artifacts.ArtifactError`) naming the path and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise BaselineError(
            f"baseline not found: {path} (expected a results directory or an {JSON_NAME}; "
            "write one from a run with --genai-update-baseline)"
        )
    file = _baseline_file(path)
    if path.is_dir() and not file.exists():
        raise BaselineError(f"baseline directory {path} holds no {JSON_NAME}")
    try:
        return load_results(file)
    except BaselineError:
        raise
    except ArtifactError as exc:
        raise BaselineError(f"cannot use baseline: {exc}") from exc


def write_baseline(
    source: Path
    | str
    | RunDocument
    | Mapping[str, Any]
    | tuple[RunDocument | Mapping[str, Any], Sequence[RowResult]],
    dest: Path | str,
) -> Path:
    """Make a run the new baseline, atomically (readers see the old file or the new one).

    ``source``: a results directory or ``evaluation_results.json`` (validated, then copied byte
    for byte), a full document with ``"rows"`` (as in the file), or ``(document, rows)``.
    ``dest``: the baseline file, or an existing directory (then ``dest/evaluation_results.json``).
    Parent directories are created. Returns the file written.
    """
    target = Path(dest)
    if target.is_dir():
        target = target / JSON_NAME
    if isinstance(source, (str, Path)):
        src = _baseline_file(Path(source))
        try:
            load_results(src)  # refuse to install a broken baseline
            data = src.read_bytes()
        except ArtifactError as exc:
            raise BaselineError(f"cannot write baseline from {source}: {exc}") from exc
        except OSError as exc:
            raise BaselineError(f"cannot read {src}: {exc}") from exc
    else:
        if isinstance(source, tuple):
            doc, rows = source
            head = doc.to_json_dict() if isinstance(doc, RunDocument) else dict(doc)
            full = {**head, "rows": [r.to_dict() for r in rows]}
        else:
            full = source.to_json_dict() if isinstance(source, RunDocument) else dict(source)
            if not isinstance(full.get("rows"), list):
                raise BaselineError("cannot write baseline: the document has no 'rows' list")
        full.pop("_source", None)
        full.setdefault("schema_version", SCHEMA_VERSION)
        full = {"schema_version": full.pop("schema_version"), **full}
        data = (_dumps(full, indent=2) + "\n").encode("utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, data)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {target}: {exc}") from exc
    return target
