#!/usr/bin/env python3
"""A fast, minimal OpenAI-compatible judge server for benchmarks (stdlib asyncio only).

Run it as its own process; it listens on 127.0.0.1 only::

    python benchmarks/judge_server.py --delay 0.1 --port 0

It prints one line ``LISTENING http://127.0.0.1:<port>`` on stdout when ready.

With ``--tls CA_FILE`` it serves HTTPS instead (``LISTENING https://127.0.0.1:<port>``): at start
it makes a throwaway certificate authority and a certificate for ``127.0.0.1`` and ``localhost``
signed by it (``trustme``, from the dev extras), and writes the CA certificate (PEM) to
``CA_FILE`` for clients to trust (``SSL_CERT_FILE=CA_FILE``). Keys live in memory only.

Endpoints:

* ``POST /v1/chat/completions`` (also ``/chat/completions``): waits ``delay`` seconds, then
  answers a ChatCompletion whose message content is ``{"rationale": "ok", "rating": "yes"}``,
  with a ``usage`` object.
* ``GET /stats``: ``{"requests": n, "max_in_flight": m, ...}`` (chat requests only).
* ``POST /reset``: zero the counters; an optional JSON body ``{"delay": 0.05}`` changes the delay.
* ``GET /v1/models``, ``GET /health``.

HTTP/1.1 with keep-alive, hand-written parsing (request line, headers, ``Content-Length``
body), one coroutine per connection, no thread per request. The process stops by itself after
``--max-seconds`` (default one hour), on SIGTERM/SIGINT, or (with ``--exit-on-stdin-eof``)
when its parent goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
VERDICT = json.dumps({"rationale": "ok", "rating": "yes"})
CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    501: "Not Implemented",
}


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Stats:
    requests: int = 0
    other_requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    connections: int = 0
    open_connections: int = 0
    max_open_connections: int = 0
    bad_requests: int = 0
    started: float = 0.0

    def reset(self) -> None:
        self.requests = self.other_requests = self.bad_requests = 0
        self.max_in_flight = self.in_flight
        self.connections = 0
        self.max_open_connections = self.open_connections
        self.started = time.perf_counter()

    def to_dict(self, delay: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "in_flight": self.in_flight,
            "other_requests": self.other_requests,
            "bad_requests": self.bad_requests,
            "connections": self.connections,
            "open_connections": self.open_connections,
            "max_open_connections": self.max_open_connections,
            "delay": delay,
            "seconds_since_reset": round(time.perf_counter() - self.started, 3),
        }


def _response(status: int, body: bytes, *, keep_alive: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


def _error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "benchmark_server"}}).encode()


class JudgeServer:
    def __init__(self, delay: float) -> None:
        self.delay = max(0.0, delay)
        self.stats = Stats(started=time.perf_counter())
        self._ids = 0

    # ---- connection handling ---------------------------------------------------------------------
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        stats.connections += 1
        stats.open_connections += 1
        stats.max_open_connections = max(stats.max_open_connections, stats.open_connections)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, OSError):  # ssl.SSLError too
                    return  # the client closed the connection (normal end of keep-alive)
                except asyncio.LimitOverrunError:
                    stats.bad_requests += 1
                    writer.write(_response(431, _error(431, "headers too large"), keep_alive=False))
                    return
                try:
                    method, path, keep_alive, length = self._parse_head(head)
                    body = await reader.readexactly(length) if length else b""
                except BadRequest as exc:
                    stats.bad_requests += 1
                    writer.write(
                        _response(exc.status, _error(exc.status, str(exc)), keep_alive=False)
                    )
                    return
                except (asyncio.IncompleteReadError, OSError):
                    return
                status, payload = await self.route(method, path, body)
                writer.write(_response(status, payload, keep_alive=keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except OSError:
            return
        finally:
            stats.open_connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    @staticmethod
    def _parse_head(head: bytes) -> tuple[str, str, bool, int]:
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise BadRequest(400, "malformed request line") from None
        length = 0
        connection = ""
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise BadRequest(400, "malformed header line")
            name = name.strip().lower()
            if name == "content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise BadRequest(400, "bad Content-Length") from None
                if length < 0:
                    raise BadRequest(400, "bad Content-Length")
                if length > MAX_BODY_BYTES:
                    raise BadRequest(413, "body too large")
            elif name == "connection":
                connection = value.strip().lower()
            elif name == "transfer-encoding" and value.strip().lower() != "identity":
                raise BadRequest(501, "chunked request bodies are not supported")
        # HTTP/1.1 keeps the connection open unless told otherwise; HTTP/1.0 only when asked.
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        path = target.split("?", 1)[0]
        return method.upper(), path, keep_alive, length

    # ---- routes ------------------------------------------------------------------------------------
    async def route(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path in CHAT_PATHS:
            if method != "POST":
                return 405, _error(405, "use POST")
            return await self.chat(body)
        self.stats.other_requests += 1
        if path == "/stats" and method == "GET":
            return 200, json.dumps(self.stats.to_dict(self.delay)).encode()
        if path == "/reset" and method == "POST":
            if body.strip():
                try:
                    options = json.loads(body)
                except json.JSONDecodeError:
                    return 400, _error(400, "reset body must be JSON")
                if isinstance(options, dict) and "delay" in options:
                    self.delay = max(0.0, float(options["delay"]))
            self.stats.reset()
            return 200, json.dumps(self.stats.to_dict(self.delay)).encode()
        if path in ("/v1/models", "/models") and method == "GET":
            return 200, b'{"object":"list","data":[{"id":"bench-judge","object":"model"}]}'
        if path == "/health":
            return 200, b'{"status":"ok"}'
        return 404, _error(404, f"no route for {method} {path}")

    async def chat(self, body: bytes) -> tuple[int, bytes]:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        if stats.in_flight > stats.max_in_flight:
            stats.max_in_flight = stats.in_flight
        try:
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            model = "bench-judge"
            try:
                request = json.loads(body) if body else {}
            except (json.JSONDecodeError, UnicodeDecodeError):
                return 400, _error(400, "request body is not JSON")
            if isinstance(request, dict) and isinstance(request.get("model"), str):
                model = request["model"]
            self._ids += 1
            prompt_tokens = max(1, len(body) // 4)
            reply = {
                "id": f"chatcmpl-bench-{self._ids}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": VERDICT},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": 12,
                    "total_tokens": prompt_tokens + 12,
                },
            }
            return 200, json.dumps(reply).encode()
        finally:
            stats.in_flight -= 1


def server_tls(ca_file: Path) -> ssl.SSLContext:
    """A server-side TLS context for 127.0.0.1 and localhost, signed by a new throwaway CA
    whose certificate is written to ``ca_file``."""
    import trustme  # dev extra; imported only for --tls

    authority = trustme.CA()
    certificate = authority.issue_cert(HOST, "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    authority.cert_pem.write_to_path(str(ca_file))
    return context


async def serve(
    delay: float,
    port: int,
    max_seconds: float,
    exit_on_stdin_eof: bool,
    port_file: Path | None,
    tls_ca_file: Path | None = None,
) -> None:
    server_state = JudgeServer(delay)
    tls = server_tls(tls_ca_file) if tls_ca_file is not None else None
    server = await asyncio.start_server(
        server_state.handle, HOST, port, backlog=2048, limit=MAX_HEADER_BYTES, ssl=tls
    )
    bound = server.sockets[0].getsockname()[1]
    if port_file is not None:
        port_file.write_text(str(bound))
    print(f"LISTENING {'https' if tls else 'http'}://{HOST}:{bound}", flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    watcher: asyncio.Task[None] | None = None
    if exit_on_stdin_eof:
        stdin = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)

        async def watch_stdin() -> None:  # EOF on stdin: the parent has gone away
            with contextlib.suppress(Exception):
                while await stdin.read(4096):
                    pass
            done.set()

        watcher = asyncio.create_task(watch_stdin())
    async with server:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=max_seconds)
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    stats = server_state.stats.to_dict(server_state.delay)
    with contextlib.suppress(OSError):  # the parent may have gone away
        print(f"STOPPED {json.dumps(stats)}", flush=True)


# ---- helpers for other benchmark scripts -------------------------------------------------------


class ServerProcess:
    """The judge server running as a child process (use as a context manager).

    ``tls=True`` serves HTTPS; the CA certificate to trust is written to ``ca_file`` (default: a
    new temporary directory), and :meth:`client_tls` is a client context that trusts it.
    """

    def __init__(
        self,
        delay: float = 0.0,
        *,
        max_seconds: float = 3600.0,
        tls: bool = False,
        ca_file: Path | None = None,
    ) -> None:
        self.delay = delay
        self.max_seconds = max_seconds
        self.tls = tls
        self.ca_file = ca_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""  # http://127.0.0.1:PORT (https:// with tls)
        self._client_tls: ssl.SSLContext | None = None

    def start(self, timeout: float = 20.0) -> ServerProcess:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--delay",
            str(self.delay),
            "--port",
            "0",
            "--max-seconds",
            str(self.max_seconds),
            "--exit-on-stdin-eof",
        ]
        if self.tls:
            if self.ca_file is None:
                self.ca_file = Path(tempfile.mkdtemp(prefix="judge-ca-")) / "ca.pem"
            cmd += ["--tls", str(self.ca_file)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(b"LISTENING ") or not line:
                break
        if not line.startswith(b"LISTENING "):
            self.stop()
            raise RuntimeError(f"judge server did not start: {line!r}")
        self.base_url = line.split(b" ", 1)[1].strip().decode()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def client_tls(self) -> ssl.SSLContext | None:
        """A client TLS context trusting the server's CA (``None`` for plain HTTP)."""
        if self.tls and self._client_tls is None:
            self._client_tls = ssl.create_default_context(cafile=str(self.ca_file))
        return self._client_tls

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10, context=self.client_tls()) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def reset(self, delay: float | None = None) -> dict[str, Any]:
        if delay is not None:
            self.delay = delay
        return self._call("POST", "/reset", {"delay": delay} if delay is not None else {})

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        finally:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this long")
    parser.add_argument("--port-file", type=Path, default=None, help="also write the port here")
    parser.add_argument(
        "--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent gone)"
    )
    parser.add_argument(
        "--tls",
        type=Path,
        default=None,
        metavar="CA_FILE",
        help="serve HTTPS with a throwaway CA; write its certificate (PEM) to CA_FILE",
    )
    args = parser.parse_args(argv)
    asyncio.run(
        serve(
            args.delay,
            args.port,
            args.max_seconds,
            args.exit_on_stdin_eof,
            args.port_file,
            args.tls,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
