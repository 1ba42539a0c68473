"""What differs between the Python versions pyproject declares (3.10 up): every module imports,
TOML suites parse (tomllib from 3.11, tomli before), and asyncio timeouts are caught as such
(``asyncio.TimeoutError`` is not the builtin ``TimeoutError`` on 3.10). .ci/test-pythons runs
this file on the lowest declared Python and on the newest one available."""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

import pytest_genai_eval
from pytest_genai_eval.suite import read_suite_file
from pytest_genai_eval.testing import ScriptedJudge
from pytest_genai_eval.transport import async_client

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def test_every_module_imports() -> None:
    names = [
        info.name
        for info in pkgutil.walk_packages(pytest_genai_eval.__path__, "pytest_genai_eval.")
    ]
    assert "pytest_genai_eval.suite" in names
    assert "pytest_genai_eval.judges.base" in names
    for name in names:
        importlib.import_module(name)


def test_declared_minimum_is_the_one_ci_tests() -> None:
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.10"' in pyproject
    assert "tomli>=2; python_version < '3.11'" in pyproject
    script = (Path(__file__).parent.parent / ".ci" / "test-pythons").read_text(encoding="utf-8")
    assert 'LOWEST="${PYTHONS_LOWEST:-3.10}"' in script


def test_toml_suite_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "genai_bot.toml"
    path.write_text(
        'name = "bot"\njudges = ["correctness"]\n\n[thresholds]\noverall = 0.9\n\n'
        '[[rows]]\nrequest = "What is 2+2?"\nexpected_response = "4"\n',
        encoding="utf-8",
    )
    doc = read_suite_file(path)
    assert doc == {
        "name": "bot",
        "judges": ["correctness"],
        "thresholds": {"overall": 0.9},
        "rows": [{"request": "What is 2+2?", "expected_response": "4"}],
    }
    expected = "tomllib" if sys.version_info >= (3, 11) else "tomli"
    assert expected in sys.modules


# ---- asyncio timeouts in the HTTP transport --------------------------------------------------
async def _get_with_server(
    handler: Handler, timeout: float, *, scheme: str = "http"
) -> httpx.Response:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        # https against a plain-TCP server: the TLS handshake never completes (connect phase)
        tls = ssl.create_default_context() if scheme == "https" else None
        async with async_client(tls=tls, timeout=timeout) as client:
            return await client.get(f"{scheme}://127.0.0.1:{port}/v1/models")
    finally:
        server.close()
        await server.wait_closed()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.read()  # never answers: waits for the client to give up and hang up
    finally:
        writer.close()


async def _stalls_after_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n")  # headers never end
        await writer.drain()
        await reader.read()
    finally:
        writer.close()


async def _answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()
    writer.close()


@pytest.mark.parametrize("handler", [_silent, _stalls_after_status])
def test_read_timeouts_are_httpx_read_timeouts(handler: Handler) -> None:
    with pytest.raises(
        httpx.ReadTimeout, match=r"timed out waiting for 127\.0\.0\.1:\d+ to answer"
    ):
        asyncio.run(_get_with_server(handler, timeout=0.2))


def test_connect_timeout_is_httpx_connect_timeout() -> None:
    with pytest.raises(httpx.ConnectTimeout, match=r"timed out connecting to 127\.0\.0\.1:\d+"):
        asyncio.run(_get_with_server(_silent, timeout=0.2, scheme="https"))


def test_transport_answers_when_in_time() -> None:
    response = asyncio.run(_get_with_server(_answers, timeout=5))
    assert (response.status_code, response.text) == (200, "ok")


# ---- the engine's row deadline ---------------------------------------------------------------
def test_row_deadline_is_reported_as_a_deadline(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    pytester.makepyfile(
        stuck="import asyncio\nasync def answer(req):\n    await asyncio.sleep(2)\n    return 'late'\n"
    )
    pytester.makefile(
        ".yaml",
        genai_slow="app: stuck:answer\nrows: [{request_id: s, request: q, expected_response: x}]\n",
    )
    result = pytester.runpytest("--genai-row-timeout", "0.2")
    result.stdout.fnmatch_lines(["*exceeded its deadline of 0.2 s*"])
    assert "internal error in pytest-genai-eval" not in result.stdout.str()
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    (row,) = doc["rows"]
    assert "exceeded its deadline of 0.2 s" in json.dumps(row)
    assert judge.calls() == []  # the row never reached the judge
