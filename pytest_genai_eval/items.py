"""Suite files collected by pytest, and one item per row."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .engine import RowJob
from .evalset import EvalSetError
from .keys import JOB_KEY, SESSION_KEY
from .session import DuplicateSuiteError
from .suite import SuiteError, SuiteSpec, load_suite_file
from .verdict import describe, raise_if_failed, raise_if_not_evaluated, record_properties


class SuiteFileError(Exception):
    """Shown as a collection error naming the file, row and field."""


def is_suite_file(path: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)


class SuiteFile(pytest.File):
    """A suite file: data, app, judges, guidelines and thresholds, no Python needed."""

    def collect(self) -> Iterator[pytest.Item]:
        session = self.config.stash[SESSION_KEY]
        try:
            try:
                shown = str(self.path.relative_to(self.config.rootpath))
            except ValueError:
                shown = str(self.path)
            suite = session.register_suite(load_suite_file(self.path, shown=shown))
        except (SuiteError, EvalSetError, DuplicateSuiteError) as exc:
            raise SuiteFileError(str(exc)) from None
        for index, row in enumerate(suite.rows):
            yield RowItem.from_parent(self, name=row.request_id, suite=suite, row_index=index)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SuiteFileError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class RowItem(pytest.Item):
    """One evaluation row. Its result is computed by the engine; the item reads and reports it."""

    def __init__(self, *, suite: SuiteSpec, row_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.row = suite.rows[row_index]
        self.stash[JOB_KEY] = RowJob(suite=suite, row=self.row, nodeid=self.nodeid)
        self.add_marker("genai")

    def setup(self) -> None:
        session = self.config.stash[SESSION_KEY]
        self._result = session.evaluate(self.stash[JOB_KEY])
        record_properties(self, self._result)
        raise_if_not_evaluated(self._result, self.row.location)

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        thresholds = [*self.suite.thresholds, *session.settings.thresholds]
        raise_if_failed(self._result, thresholds, self.row.location)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, pytest.fail.Exception):
            return str(excinfo.value)
        result = getattr(self, "_result", None)
        if result is not None:
            return describe(result, self.row.location)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.suite.name}::{self.row.request_id}"
