"""The HTTP transport (aiohttp under httpx's API, transport.py) and TLS, against real servers on
127.0.0.1: a ScriptedJudge behind a TLS-terminating proxy, and small asyncio servers that
misbehave on purpose (never answer, stall, drop the connection, refuse, skip the handshake).
Certificates come from a throwaway CA made by trustme."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import ssl
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from pytest_genai_eval.evalset import load_rows
from pytest_genai_eval.llm import ChatClient, EndpointSettings, LLMTransportError, Secret
from pytest_genai_eval.targets import (
    AppCallError,
    ChatTarget,
    HttpJsonTarget,
    TargetConfigError,
    build_target,
)
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge
from pytest_genai_eval.transport import TLSConfigError, async_client, tls_context

KEY = "sk-transport-5c1d9e7a3b6f0a2c4e8d1b3f"
USER, PASSWORD = "alice", "pw-7f3e1a9c5b2d8e40"
SECRETS = (
    KEY,
    PASSWORD,
    base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
)
MESSAGES = [{"role": "user", "content": "hi"}]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# ---- certificates, servers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(autouse=True)
def _no_ca_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


class TLSProxy:
    """Terminates TLS on 127.0.0.1 and forwards the bytes to a plain-HTTP port (a
    ScriptedJudge), both ways; a side that closes closes the other. Runs its own event loop in a
    thread (the client under test runs in the test's loop)."""

    def __init__(self, backend_port: int, context: ssl.SSLContext) -> None:
        self.backend_port = backend_port
        self.context = context
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name="TLSProxy", daemon=True)

    def __enter__(self) -> TLSProxy:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
        for task in self._connections:  # every socket closed before the loop goes
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await asyncio.sleep(0.05)  # the closed transports release their sockets

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()
            writer.close()
            self._connections.discard(task)

    def base_url(self, userinfo: str = "") -> str:
        return f"https://{userinfo}127.0.0.1:{self.port}/v1"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@pytest.fixture
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as server:
        yield server


@pytest.fixture
def proxy(judge: ScriptedJudge, server_tls: ssl.SSLContext) -> Iterator[TLSProxy]:
    with TLSProxy(judge.port, server_tls) as tls_proxy:
        yield tls_proxy


@contextlib.asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A small server in the test's own event loop; yields its base URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


async def _request_head(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
    return head


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await _request_head(reader)
        await reader.read()  # never answers; waits for the client to hang up
    except Exception:
        pass
    finally:
        writer.close()


async def _stalls_in_the_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await _request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        await writer.drain()
        await reader.read()
    except Exception:
        pass
    finally:
        writer.close()


async def _drops(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await _request_head(reader)
    writer.close()


async def _drops_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await _request_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
        await writer.drain()
    writer.close()


async def _malformed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await _request_head(reader)
        writer.write(b"SPDY/9 banana\r\n\r\n")
        await writer.drain()
    writer.close()


class CountingServer:
    """Answers every request with ``ok``; counts connections and requests in flight.
    ``close_each``: answer with ``Connection: close`` and close."""

    def __init__(self, *, delay: float = 0.0, close_each: bool = False) -> None:
        self.delay = delay
        self.close_each = close_each
        self.connections = 0
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.heads: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await _request_head(reader)
                except (asyncio.IncompleteReadError, OSError):
                    return
                self.heads.append(head)
                self.requests += 1
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                await asyncio.sleep(self.delay)
                self.in_flight -= 1
                close = b"Connection: close\r\n" if self.close_each else b""
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + close + b"\r\nok")
                await writer.drain()
                if self.close_each:
                    return
        finally:
            writer.close()


def _client_tls(ca_file: Path) -> ssl.SSLContext:
    return tls_context(str(ca_file))


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


# ---- HTTPS with a private CA -----------------------------------------------------------------


def test_chat_over_https_with_the_ca_bundle_setting(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the explicit setting wins over SSL_CERT_FILE (here a file that does not exist)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file.parent / "missing.pem"))
    settings = EndpointSettings(
        base_url=proxy.base_url(), model="m", api_key=Secret(KEY), ca_bundle=str(ca_file)
    )

    async def main() -> str:
        async with ChatClient(settings) as client:
            return (await client.chat(MESSAGES)).content

    assert asyncio.run(main()) == "echo: hi"
    (call,) = judge.requests
    assert call.headers["authorization"] == f"Bearer {KEY}"


def test_chat_over_https_with_ssl_cert_file(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    settings = EndpointSettings(base_url=proxy.base_url(), model="m")

    async def main() -> str:
        async with ChatClient(settings) as client:
            return (await client.chat(MESSAGES)).content

    assert asyncio.run(main()) == "echo: hi"
    assert len(judge.requests) == 1


def test_a_relative_ca_bundle_is_taken_from_the_current_directory(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ca_file.parent)
    settings = EndpointSettings(base_url=proxy.base_url(), model="m", ca_bundle=ca_file.name)

    async def main() -> str:
        async with ChatClient(settings) as client:
            return (await client.chat(MESSAGES)).content

    assert asyncio.run(main()) == "echo: hi"


def test_https_without_the_ca_is_a_clean_certificate_error(
    judge: ScriptedJudge, proxy: TLSProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = EndpointSettings(
        base_url=proxy.base_url(f"{USER}:{PASSWORD}@"),
        model="m",
        api_key=Secret(KEY),
        max_retries=1,
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> None:
        async with ChatClient(settings, sleep=sleep) as client:
            await client.chat(MESSAGES)

    with pytest.raises(LLMTransportError) as info:
        asyncio.run(main())
    error = info.value
    message = str(error)
    assert "certificate verification failed" in message
    assert f"127.0.0.1:{proxy.port}" in message
    # a certificate that cannot be verified is a configuration matter: no retry, no wait
    assert (error.fault, error.attempts, len(waits)) == ("transport", 1, 0)
    assert judge.requests == []  # nothing got through
    shown = [message, repr(error), "".join(traceback.format_exception(error))]
    shown += [record.getMessage() for record in caplog.records]
    assert [_leaks(text) for text in shown] == [[] for _ in shown]


def test_a_ca_bundle_that_cannot_be_used_fails_before_any_call(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    settings = EndpointSettings(
        base_url="https://127.0.0.1:9/v1", model="m", ca_bundle=str(missing)
    )
    with pytest.raises(LLMTransportError, match=r"missing\.pem' does not exist") as info:
        ChatClient(settings)
    assert (info.value.fault, info.value.attempts) == ("transport", 0)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TLSConfigError, match="holds no usable PEM certificate"):
        tls_context(str(garbage))
    # plain http never builds a TLS context: the bundle is not even looked at
    ChatClient(
        EndpointSettings(base_url="http://127.0.0.1:9/v1", model="m", ca_bundle=str(missing))
    )


def test_tls_context_precedence(ca: trustme.CA, ca_file: Path, tmp_path: Path) -> None:
    other = trustme.CA()
    other_file = tmp_path / "other.pem"
    other.cert_pem.write_to_path(str(other_file))

    def subjects(context: ssl.SSLContext) -> list[Any]:
        return [cert["subject"] for cert in context.get_ca_certs()]

    mine, theirs = subjects(tls_context(str(ca_file))), subjects(tls_context(str(other_file)))
    assert len(mine) == 1 and mine != theirs
    env = {"SSL_CERT_FILE": str(other_file)}
    assert subjects(tls_context(str(ca_file), environ=env)) == mine  # explicit setting first
    assert subjects(tls_context(None, environ=env)) == theirs  # then SSL_CERT_FILE
    assert subjects(tls_context("", environ=env)) == theirs  # an empty setting is unset
    with pytest.raises(TLSConfigError, match="SSL_CERT_FILE"):
        tls_context(None, environ={"SSL_CERT_FILE": str(tmp_path / "nope.pem")})
    with pytest.raises(TLSConfigError, match="SSL_CERT_DIR"):
        tls_context(None, environ={"SSL_CERT_FILE": "", "SSL_CERT_DIR": str(tmp_path / "nope")})
    system = tls_context(None, environ={})  # the system store (or certifi's), not our CA
    assert system.verify_mode == ssl.CERT_REQUIRED and system.check_hostname
    assert mine[0] not in subjects(system)


def test_http_target_and_chat_target_take_a_ca_bundle_from_the_suite(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path, tmp_path: Path
) -> None:
    judge.route("/answer", lambda body: (200, {"answer": f"got {body['q']}"}))
    spec = {
        "type": "http",
        "url": f"https://127.0.0.1:{proxy.port}/answer",
        "body": {"q": "{request}"},
        "response_path": "answer",
        "ca_bundle": ca_file.name,  # relative: to the suite file's directory
    }
    target = build_target(spec, base_dir=ca_file.parent)
    assert isinstance(target, HttpJsonTarget)
    assert target.ca_bundle == str(ca_file)
    chat = build_target(
        {"type": "openai", "base_url": proxy.base_url(), "model": "m", "ca_bundle": str(ca_file)},
        base_dir=tmp_path,
    )
    assert isinstance(chat, ChatTarget) and chat.settings.ca_bundle == str(ca_file)
    (row,) = load_rows([{"request_id": "r1", "request": "ping"}])

    async def main() -> tuple[str, str]:
        try:
            http_output = await target.call(row)
            chat_output = await chat.call(row)
        finally:
            await target.aclose()
            await chat.aclose()
        return http_output.text, chat_output.text

    assert asyncio.run(main()) == ("got ping", "echo: ping")
    with pytest.raises(TargetConfigError, match="ca_bundle"):
        build_target({**spec, "ca_bundle": "nope.pem"}, base_dir=tmp_path)


def test_app_targets_report_an_unusable_ca_bundle_as_an_app_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    targets = [
        HttpJsonTarget(url="https://127.0.0.1:9/answer", ca_bundle=str(garbage)),
        ChatTarget(
            EndpointSettings(base_url="https://127.0.0.1:9/v1", model="m", ca_bundle=str(garbage))
        ),
    ]
    (row,) = load_rows([{"request_id": "r1", "request": "ping"}])
    for target in targets:
        with pytest.raises(AppCallError, match=r"garbage\.pem' holds no usable PEM certificate"):
            asyncio.run(target.call(row))


# ---- faults over the transport, http and https -----------------------------------------------


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _tls_pair(scheme: str, server_tls: ssl.SSLContext, ca_file: Path) -> tuple[Any, Any]:
    if scheme == "http":
        return None, None
    return server_tls, _client_tls(ca_file)


async def _get(base: str, tls: ssl.SSLContext | None, timeout: float) -> httpx.Response:
    async with async_client(tls=tls, timeout=timeout) as client:
        return await client.post(base + "/v1/chat/completions", json={"x": 1})


@pytest.mark.parametrize(
    ("handler", "error", "message"),
    [
        (_silent, httpx.ReadTimeout, "timed out waiting for 127.0.0.1:"),
        (_stalls_in_the_body, httpx.ReadTimeout, "timed out waiting for 127.0.0.1:"),
        (_drops, httpx.RemoteProtocolError, "closed the connection without a response"),
        (_drops_mid_body, httpx.RemoteProtocolError, "before the end of the response body"),
        (_malformed, httpx.RemoteProtocolError, "malformed response from 127.0.0.1:"),
    ],
)
def test_faults_are_httpx_exceptions(
    scheme: str,
    server_tls: ssl.SSLContext,
    ca_file: Path,
    handler: Handler,
    error: type[httpx.TransportError],
    message: str,
) -> None:
    serve_tls, client_tls = _tls_pair(scheme, server_tls, ca_file)

    async def main() -> float:
        async with serving(handler, serve_tls) as base:
            started = time.perf_counter()
            with pytest.raises(error, match=re.escape(message)) as info:
                await _get(base, client_tls, timeout=0.3)
            assert info.value.request.url.host == "127.0.0.1"
            assert info.value.__cause__ is None and info.value.__suppress_context__
            return time.perf_counter() - started

    elapsed = asyncio.run(main())
    if error is httpx.ReadTimeout:
        assert 0.3 <= elapsed < 10  # the read timeout fired: the server never answered


def test_refused_connection_is_a_connect_error(scheme: str, ca_file: Path) -> None:
    async def main() -> None:
        async with serving(_drops) as base:
            port = int(base.rsplit(":", 1)[1])
        # the server is closed: nothing listens on the port now
        tls = _client_tls(ca_file) if scheme == "https" else None
        with pytest.raises(
            httpx.ConnectError, match=re.escape(f"cannot connect to 127.0.0.1:{port}")
        ):
            await _get(f"{scheme}://127.0.0.1:{port}", tls, timeout=5)

    asyncio.run(main())


def test_a_tls_handshake_that_never_completes_is_a_connect_timeout(ca_file: Path) -> None:
    async def main() -> float:
        async with serving(_silent) as base:  # plain TCP: never answers the TLS hello
            port = base.rsplit(":", 1)[1]
            started = time.perf_counter()
            with pytest.raises(httpx.ConnectTimeout, match=r"timed out connecting to 127\.0\.0\.1"):
                await _get(f"https://127.0.0.1:{port}", _client_tls(ca_file), timeout=0.3)
            return time.perf_counter() - started

    assert 0.3 <= asyncio.run(main()) < 10


def test_connections_are_reused_and_bounded(
    scheme: str, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    serve_tls, client_tls = _tls_pair(scheme, server_tls, ca_file)
    server = CountingServer(delay=0.02)

    async def main() -> None:
        async with (
            serving(server, serve_tls) as base,
            async_client(tls=client_tls, max_connections=3, timeout=5) as client,
        ):
            for _ in range(5):  # one after the other: one keep-alive connection
                assert (await client.get(base + "/")).text == "ok"
            assert server.connections == 1
            replies = await asyncio.gather(*(client.get(base + "/") for _ in range(12)))
            assert [r.status_code for r in replies] == [200] * 12

    asyncio.run(main())
    assert server.requests == 17
    assert server.max_in_flight == 3  # the pool's bound, nothing else limited it here
    assert server.connections == 3


def test_connection_close_answers_are_honoured(
    scheme: str, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    serve_tls, client_tls = _tls_pair(scheme, server_tls, ca_file)
    server = CountingServer(close_each=True)

    async def main() -> list[str]:
        async with (
            serving(server, serve_tls) as base,
            async_client(tls=client_tls, max_connections=2, timeout=5) as client,
        ):
            return [(await client.get(base + "/")).text for _ in range(4)]

    assert asyncio.run(main()) == ["ok"] * 4
    assert server.connections == 4  # a fresh connection after each "Connection: close"


def test_streaming_reads_the_body_in_pieces_and_releases_the_connection() -> None:
    chunks = [b"a" * 50_000, b"b" * 50_000]

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await _request_head(reader)
            except (asyncio.IncompleteReadError, OSError):
                break
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for chunk in chunks:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                await asyncio.sleep(0.01)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        writer.close()

    async def main() -> tuple[int, bytes]:
        async with (
            serving(chunked) as base,
            async_client(tls=None, max_connections=1, timeout=5) as client,
        ):
            pieces = 0
            async with client.stream("GET", base + "/") as response:
                async for _ in response.aiter_raw():
                    pieces += 1
            # the only connection went back to the pool: a second request does not wait
            second = await asyncio.wait_for(client.get(base + "/"), 5)
            return pieces, second.content

    pieces, body = asyncio.run(main())
    assert pieces >= 2
    assert body == b"".join(chunks)


def test_a_closed_transport_refuses_requests() -> None:
    async def main() -> None:
        client = async_client(tls=None, timeout=5)
        await client.aclose()
        transport = client._transport
        with pytest.raises(httpx.ConnectError, match="closed"):
            await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/"))

    asyncio.run(main())


# ---- the ChatClient over the transport -------------------------------------------------------


def test_dropped_connections_are_retried_over_https(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path
) -> None:
    judge.chaos(rate=1.0, kinds=["drop"], max_per_question=2)
    settings = EndpointSettings(
        base_url=proxy.base_url(), model="m", ca_bundle=str(ca_file), max_retries=2
    )

    async def no_wait(seconds: float) -> None:
        return None

    async def main() -> Any:
        async with ChatClient(settings, sleep=no_wait) as client:
            return await client.complete_json(
                [{"role": "system", "content": "Judge: correctness"}, *MESSAGES],
                {"type": "object"},
                schema_name="verdict",
            )

    reply = asyncio.run(main())
    assert (reply.attempts, reply.faults) == (3, ("transport", "transport"))
    assert judge.injected_faults["drop"] == 2


def test_timeouts_over_https_are_timeout_faults(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path
) -> None:
    release = threading.Event()

    def stalled(call: JudgeCall) -> str:
        release.wait(30)
        return "too late"

    judge.set_app(stalled)
    settings = EndpointSettings(
        base_url=proxy.base_url(), model="m", ca_bundle=str(ca_file), timeout=0.2, max_retries=0
    )

    async def main() -> None:
        try:
            async with ChatClient(settings) as client:
                await client.chat(MESSAGES)
        finally:
            # the timed-out connection's TLS shutdown (close_notify both ways) ends in this loop
            await asyncio.sleep(0.1)

    try:
        with pytest.raises(LLMTransportError, match=r"timed out after 0\.2 s") as info:
            asyncio.run(main())
    finally:
        release.set()
    assert (info.value.fault, info.value.attempts) == ("timeout", 1)


def test_pool_size_bounds_requests_in_flight_over_https(
    judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path
) -> None:
    judge.delay = 0.05
    settings = EndpointSettings(base_url=proxy.base_url(), model="m", ca_bundle=str(ca_file))

    async def main() -> list[str]:
        async with ChatClient(settings, pool_size=3, clients=2) as client:
            replies = await asyncio.gather(*(client.chat(MESSAGES) for _ in range(18)))
        return [reply.content for reply in replies]

    assert asyncio.run(main()) == ["echo: hi"] * 18
    assert judge.max_in_flight == 6


# ---- secrets ---------------------------------------------------------------------------------


def test_url_userinfo_becomes_basic_auth_and_leaves_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = CountingServer()

    async def main() -> httpx.Response:
        async with (
            serving(server) as base,
            async_client(tls=None, timeout=5) as client,
        ):
            url = base.replace("http://", f"http://{USER}:{PASSWORD}@") + "/x"
            return await client.get(url)

    response = asyncio.run(main())
    (head,) = server.heads
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.decode().partition(":") for line in head.split(b"\r\n")[1:])
    )
    assert headers["authorization"] == f"Basic {token}"
    assert head.startswith(b"GET /x HTTP/1.1")
    assert response.url.userinfo == b"" and PASSWORD not in str(response.url)
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert any(f"GET http://127.0.0.1:{response.url.port}/x" in line for line in lines)
    assert [_leaks(line) for line in lines] == [[] for _ in lines]


def test_no_secret_in_any_log_record_or_error(
    judge: ScriptedJudge,
    proxy: TLSProxy,
    ca_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp", "aiohttp.client", "aiohttp.internal", "httpx", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    judge.chaos(rate=1.0, kinds=["drop", "http_500"], max_per_question=1)
    userinfo = f"{USER}:{PASSWORD}@"
    good = EndpointSettings(
        base_url=proxy.base_url(userinfo), model="m", api_key=Secret(KEY), ca_bundle=str(ca_file)
    )
    untrusted = EndpointSettings(
        base_url=proxy.base_url(userinfo), model="m", api_key=Secret(KEY), max_retries=0
    )
    refused = EndpointSettings(
        base_url=f"http://{userinfo}127.0.0.1:9/v1", model="m", api_key=Secret(KEY), max_retries=0
    )
    errors: list[BaseException] = []

    async def no_wait(seconds: float) -> None:
        return None

    async def main() -> None:
        async with ChatClient(good, sleep=no_wait) as client:
            await client.complete_json(
                [{"role": "system", "content": "Judge: correctness"}, *MESSAGES],
                {"type": "object"},
                schema_name="verdict",
            )
        for settings in (untrusted, refused):
            async with ChatClient(settings) as client:
                try:
                    await client.chat(MESSAGES)
                except LLMTransportError as exc:
                    errors.append(exc)

    asyncio.run(main())
    assert sum(judge.injected_faults.values()) == 1
    # the secrets were sent (URL userinfo as Basic auth, which takes the Authorization header)
    assert judge.requests[-1].headers["authorization"] == f"Basic {SECRETS[2]}"
    assert len(errors) == 2
    texts = [record.getMessage() for record in caplog.records]
    assert any("HTTP Request: POST https://127.0.0.1" in text for text in texts)
    for error in errors:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    assert [_leaks(text) for text in texts] == [[] for _ in texts]


# ---- the run-level CA bundle setting ---------------------------------------------------------------
SUITE = """
judges: [correctness]
rows: [{request_id: a, request: q, response: r, expected_response: r}]
"""


def test_ca_bundle_option_reaches_the_judge(
    pytester: pytest.Pytester, judge: ScriptedJudge, proxy: TLSProxy, ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", proxy.base_url())
    monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", judge.model)
    pytester.makefile(".yaml", genai_tls=SUITE)
    without = pytester.runpytest("--genai-cache", "off", "--genai-judge-retries", "0")
    assert without.ret == 6  # the proxy's CA is not trusted: a transport error, not a verdict
    assert "certificate verification failed" in without.stdout.str()
    trusted = pytester.runpytest("--genai-cache", "off", "--genai-ca-bundle", str(ca_file))
    assert trusted.ret == 0, trusted.stdout.str()
    assert len(judge.calls()) == 1  # the first run never reached the judge
    pytester.makeini(f"[pytest]\ngenai_ca_bundle = {ca_file}\n")
    assert pytester.runpytest("--genai-cache", "off").ret == 0


def test_a_missing_ca_bundle_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = pytester.runpytest("--genai-ca-bundle", str(tmp_path / "nope.pem"))
    assert result.ret == 4
    assert "nope.pem does not exist" in result.stderr.str()
