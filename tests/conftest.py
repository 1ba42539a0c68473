"""Shared fixtures: a clean environment and a scripted judge for pytester-based tests."""

from __future__ import annotations

from collections.abc import Iterator

import pandas
import pyarrow
import pytest

from pytest_genai_eval.testing import ScriptedJudge

# pandas and pyarrow are loaded once here, before any in-process pytester run: pytester unloads
# the modules a run imported, and pandas re-registers its pyarrow extension types on a re-import.
pyarrow.Table.from_pandas(pandas.DataFrame({"warm": [1]}))
pandas.io.parquet.get_engine("pyarrow")  # registers pandas' pyarrow extension types, once

pytest_plugins = ["pytester"]

_ENV = (
    "GENAI_EVAL_JUDGE_BASE_URL",
    "GENAI_EVAL_JUDGE_MODEL",
    "GENAI_EVAL_JUDGE_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "GITHUB_STEP_SUMMARY",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may see a real judge configuration from the machine."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _inner_sessions_settle_asyncio(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inner pytest sessions (pytester) have no ini file: settle pytest-asyncio's loop scope so it
    does not warn in every one of them. Set after pytester, which clears PYTEST_ADDOPTS."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")


@pytest.fixture
def judge(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedJudge]:
    """A scripted judge, configured for the pytest runs a test starts."""
    with ScriptedJudge() as server:
        monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", server.model)
        yield server
