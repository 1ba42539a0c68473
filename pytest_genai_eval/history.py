"""Run history: a small SQLite database (stdlib ``sqlite3``) with one row per run.

Each run records when it ran, its verdict (status and exit code), the suites, the judge model, the
prompt versions per suite, key metrics (run level and per suite, as JSON), the baseline verdict
when there was one, and the git commit and branch. Reports draw trends from it; ``genai-eval
history`` prints it, and ``genai-eval history --export parquet PATH`` writes it as one table
(``history_export.py``).

Safe under concurrent use by several processes (pytest-xdist controllers, parallel CI jobs on one
machine): no connection is kept open between calls, every write is one ``BEGIN IMMEDIATE``
transaction, and a locked database is waited for (``timeout``) rather than failed on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cost import COST_METRICS
from .document import RunDocument, as_document
from .errors import GenAIEvalError

__all__ = (
    "DEFAULT_HISTORY_DB",
    "HistoryError",
    "HistoryRun",
    "HistoryStore",
    "git_info",
    "key_metrics",
)

DEFAULT_HISTORY_DB = Path(".genai-cache") / "history.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration_seconds REAL,
    complete INTEGER,
    status TEXT,
    exit_code INTEGER,
    judge_model TEXT,
    suites TEXT NOT NULL,
    prompt_versions TEXT NOT NULL,
    metrics TEXT NOT NULL,
    suite_metrics TEXT NOT NULL,
    baseline_status TEXT,
    regressions INTEGER,
    git_commit TEXT,
    git_branch TEXT,
    git_dirty INTEGER
);
CREATE TABLE IF NOT EXISTS run_suites (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    suite TEXT NOT NULL,
    PRIMARY KEY (run_id, suite)
);
CREATE INDEX IF NOT EXISTS run_suites_by_suite ON run_suites (suite, run_id);
"""

_COLUMNS = (
    "id, recorded_at, started_at, finished_at, duration_seconds, complete, status, exit_code, "
    "judge_model, suites, prompt_versions, metrics, suite_metrics, baseline_status, regressions, "
    "git_commit, git_branch, git_dirty"
)


class HistoryError(GenAIEvalError):
    """The history database cannot be opened, read or written; the message names the file."""


def key_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics worth a trend: pass rates and their counts and intervals, row counts,
    latency, token use, estimated cost, error counts and retrieval averages (not cache or skip
    counters)."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            continue
        keep = (
            name.startswith(("rows/", "agent/latency_seconds/", "retrieval/"))
            or "/rating/" in name
            or name.endswith("error_count")
            or name
            in (
                "agent/total_token_count/average",
                "agent/total_token_count/sum",
                "judge/total_token_count/sum",
                *COST_METRICS,
            )
        ) and "/root_cause/" not in name
        if keep:
            out[name] = value
    return out


@dataclass(frozen=True)
class HistoryRun:
    """One recorded run (see the module docstring)."""

    id: int
    recorded_at: str
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    complete: bool | None
    status: str | None
    exit_code: int | None
    judge_model: str | None
    suites: tuple[str, ...]
    prompt_versions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    suite_metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    baseline_status: str | None = None
    regressions: int | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None

    def metric(self, name: str, suite: str | None = None) -> float | None:
        """A metric of the whole run, or of one suite."""
        source = self.metrics if suite is None else self.suite_metrics.get(suite, {})
        value = source.get(name)
        return float(value) if value is not None else None

    @property
    def when(self) -> str:
        return self.started_at or self.recorded_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recorded_at": self.recorded_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": self.duration_seconds,
            "complete": self.complete,
            "status": self.status,
            "exit_code": self.exit_code,
            "judge_model": self.judge_model,
            "suites": list(self.suites),
            "prompt_versions": {k: dict(v) for k, v in self.prompt_versions.items()},
            "metrics": dict(self.metrics),
            "suite_metrics": {k: dict(v) for k, v in self.suite_metrics.items()},
            "baseline_status": self.baseline_status,
            "regressions": self.regressions,
            "git_commit": self.git_commit,
            "git_branch": self.git_branch,
            "git_dirty": self.git_dirty,
        }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class HistoryStore:
    """The history database at ``path`` (created on the first :meth:`append`).

    ``timeout``: seconds to wait for another process's write to finish.
    """

    def __init__(self, path: Path | str, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HistoryStore({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                uri = self.path.resolve().as_uri() + "?mode=rwc"
            else:
                uri = self.path.resolve().as_uri() + "?mode=rw"
            connection = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"{self.path}: cannot open history database: {exc}") from exc
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            yield connection
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: history database error: {exc}") from exc
        finally:
            connection.close()

    @staticmethod
    def _ensure_schema(connection: sqlite3.Connection) -> None:
        """Create the tables (inside the caller's write transaction)."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"history database schema version {version} is newer than this version of "
                f"pytest-genai-eval supports ({SCHEMA_VERSION})"
            )
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        if version < SCHEMA_VERSION:
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def append(
        self,
        document: RunDocument | Mapping[str, Any],
        *,
        git: Mapping[str, Any] | None = None,
        recorded_at: str | None = None,
    ) -> int:
        """Record one run from its results document (a :class:`RunDocument`, or the
        ``evaluation_results.json`` content with or without ``rows``; an optional ``"baseline"``
        entry is a :meth:`Comparison.to_dict`). ``git``: :func:`git_info` output, or None.
        Returns the new run's id."""
        rows = document.get("rows") if isinstance(document, Mapping) else None
        doc = as_document(document)
        verdict = doc.verdict
        suites = list(doc.suites)
        for row in rows or ():
            if isinstance(row, Mapping) and row.get("suite") not in suites and row.get("suite"):
                suites.append(str(row["suite"]))
        prompt_versions = {
            name: dict(entry.config.prompt_versions or {}) for name, entry in doc.suites.items()
        }
        suite_metrics = {name: key_metrics(entry.metrics) for name, entry in doc.suites.items()}
        baseline = _mapping(doc.baseline)
        baseline_verdict = _mapping(baseline.get("verdict"))
        counts = _mapping(baseline.get("counts"))
        git = git or {}
        dirty = git.get("dirty")
        now = recorded_at or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        values = (
            now,
            doc.started_at,
            doc.finished_at,
            doc.duration_seconds,
            None if doc.complete is None else int(doc.complete),
            verdict.status if verdict is not None else None,
            verdict.exit_code if verdict is not None else None,
            doc.judge_model,
            _json(suites),
            _json(prompt_versions),
            _json(key_metrics(doc.metrics)),
            _json(suite_metrics),
            baseline_verdict.get("status"),
            _opt_int(counts.get("regression")),
            git.get("commit"),
            git.get("branch"),
            None if dirty is None else int(bool(dirty)),
        )
        with self._connect(create=True) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                self._ensure_schema(connection)
                cursor = connection.execute(
                    f"INSERT INTO runs ({_COLUMNS.split(', ', 1)[1]}) "
                    f"VALUES ({', '.join('?' * len(values))})",
                    values,
                )
                run_id = int(cursor.lastrowid or 0)
                connection.executemany(
                    "INSERT OR IGNORE INTO run_suites (run_id, suite) VALUES (?, ?)",
                    [(run_id, suite) for suite in suites],
                )
                connection.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                raise
        return run_id

    def runs(self, limit: int | None = 50, suite: str | None = None) -> list[HistoryRun]:
        """The newest ``limit`` runs (all with ``None``), newest first; with ``suite``, only
        runs that included that suite. A missing database has no runs."""
        if not self.path.exists():
            return []
        query = f"SELECT {_COLUMNS} FROM runs"
        params: list[Any] = []
        if suite is not None:
            query += " WHERE id IN (SELECT run_id FROM run_suites WHERE suite = ?)"
            params.append(suite)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(max(0, int(limit)))
        with self._connect(create=False) as connection:
            try:
                rows = connection.execute(query, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise
        return [_run_from_row(row) for row in rows]

    def count(self) -> int:
        if not self.path.exists():
            return 0
        with self._connect(create=False) as connection:
            try:
                return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return 0
                raise


def _loads(text: Any, default: Any) -> Any:
    if not isinstance(text, str):
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default


def _run_from_row(row: tuple[Any, ...]) -> HistoryRun:
    (
        run_id,
        recorded_at,
        started_at,
        finished_at,
        duration,
        complete,
        status,
        exit_code,
        judge_model,
        suites,
        prompt_versions,
        metrics,
        suite_metrics,
        baseline_status,
        regressions,
        git_commit,
        git_branch,
        git_dirty,
    ) = row
    return HistoryRun(
        id=int(run_id),
        recorded_at=str(recorded_at),
        started_at=started_at,
        finished_at=finished_at,
        duration_seconds=duration,
        complete=None if complete is None else bool(complete),
        status=status,
        exit_code=exit_code,
        judge_model=judge_model,
        suites=tuple(_loads(suites, [])),
        prompt_versions=_loads(prompt_versions, {}),
        metrics=_loads(metrics, {}),
        suite_metrics=_loads(suite_metrics, {}),
        baseline_status=baseline_status,
        regressions=regressions,
        git_commit=git_commit,
        git_branch=git_branch,
        git_dirty=None if git_dirty is None else bool(git_dirty),
    )


# ---- git ----------------------------------------------------------------------------------------
_CI_BRANCH_VARS = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")


def _git(args: list[str], cwd: Path, env: Mapping[str, str]) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.strip()


def git_info(
    cwd: Path | str | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """``{"commit", "branch", "dirty"}`` of the git checkout at ``cwd``, or None when git is not
    installed or ``cwd`` is not in a repository. On a detached HEAD (CI checkouts) the branch comes
    from the CI's variables (``GITHUB_HEAD_REF``, ``GITHUB_REF_NAME``, ``CI_COMMIT_REF_NAME``,
    ``BRANCH_NAME``) when set, else it is None. ``dirty``: tracked files are modified."""
    env = dict(os.environ if env is None else env)
    where = Path(cwd) if cwd is not None else Path.cwd()
    commit = _git(["rev-parse", "HEAD"], where, env)
    if not commit:
        return None
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where, env)
    if not branch or branch == "HEAD":
        branch = next((env[v] for v in _CI_BRANCH_VARS if env.get(v)), None)
    status = _git(["status", "--porcelain", "--untracked-files=no"], where, env)
    return {"commit": commit, "branch": branch, "dirty": None if status is None else bool(status)}
