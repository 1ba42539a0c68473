"""Hooks a ``conftest.py`` or another plugin can implement (registered with
``pytest_addhooks``), like pytest-benchmark's ``pytest_benchmark_update_json``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from .results import RowResult


def pytest_genai_eval_row_result(config: pytest.Config, result: RowResult) -> None:
    """Called once per evaluated row, in the process that evaluated it (an xdist worker too),
    before the row is reported, gated and written. ``result`` may be changed in place (e.g. a
    column added to ``result.row``); it is already redacted."""


def pytest_genai_eval_results_document(
    config: pytest.Config, document: dict[str, Any], results: Sequence[RowResult]
) -> None:
    """Called once per run on the process that writes the results, with the run document (the
    JSON form of ``evaluation_results.json`` without its rows) before it is written: add keys to
    it, or export it elsewhere. The verdict is final: changing it does not change the exit code."""
