"""A lean HTTP/1.1 keep-alive transport for httpx, for plain-``http://`` endpoints.

Judges and apps under test often run on the same machine or network (a llama.cpp, vLLM or
Ollama server, a local app). For those, httpx's default transport spends far more CPU per request
than the request itself (connection-pool bookkeeping, anyio locks): measured here at about 2 ms
per call, which caps a run at a few hundred judge calls per second. This transport keeps httpx's
client API (requests, responses, exceptions, timeouts) and speaks HTTP/1.1 directly over asyncio
streams: a pool of keep-alive connections per host, ``Content-Length`` and chunked bodies.
``https://`` and proxies stay with httpx's own transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field

import httpx

MAX_HEADER_BYTES = 64 * 1024


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class _HostPool:
    slots: asyncio.Semaphore
    idle: deque[_Connection] = field(default_factory=deque)


class _StaleConnection(Exception):
    """A reused keep-alive connection was closed by the server before it answered."""


class FastHTTPTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 8, timeout: float | None = 60.0) -> None:
        self.max_connections = max(1, max_connections)
        self.timeout = timeout
        self._pools: dict[tuple[str, int], _HostPool] = {}
        self._closed = False

    def _pool(self, host: str, port: int) -> _HostPool:
        pool = self._pools.get((host, port))
        if pool is None:
            pool = _HostPool(asyncio.Semaphore(self.max_connections))
            self._pools[(host, port)] = pool
        return pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(
                "FastHTTPTransport serves http:// only", request=request
            )
        if self._closed:
            raise httpx.ConnectError("transport is closed", request=request)
        host = request.url.host
        port = request.url.port or 80
        timeout = _timeout(request, self.timeout)
        pool = self._pool(host, port)
        payload = _serialize(request, await request.aread())
        async with pool.slots:
            for attempt in (0, 1):
                conn, reused = await self._connect(pool, host, port, timeout, request)
                try:
                    response = await _exchange(conn, payload, timeout, request, reused)
                except _StaleConnection:
                    conn.close()
                    if attempt == 0:
                        continue  # the server dropped an idle connection: once more, fresh
                    raise httpx.RemoteProtocolError(
                        "server closed the connection without a response", request=request
                    ) from None
                except BaseException:
                    conn.close()
                    raise
                if _keep_alive(response):
                    pool.idle.append(conn)
                else:
                    conn.close()
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(
        self,
        pool: _HostPool,
        host: str,
        port: int,
        timeout: float | None,
        request: httpx.Request,
    ) -> tuple[_Connection, bool]:
        while pool.idle:
            conn = pool.idle.popleft()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn, True
            conn.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=MAX_HEADER_BYTES), timeout
            )
        except (TimeoutError, asyncio.TimeoutError):  # two classes before Python 3.11
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(
                f"cannot connect to {host}:{port}: {exc}", request=request
            ) from None
        return _Connection(reader, writer), False

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.popleft().close()
        self._pools.clear()


def _timeout(request: httpx.Request, default: float | None) -> float | None:
    config = request.extensions.get("timeout") or {}
    value = config.get("read", default) if isinstance(config, dict) else default
    return float(value) if value is not None else None


def _serialize(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path.decode("ascii") or "/"
    lines = [f"{request.method} {target} HTTP/1.1"]
    seen_length = False
    for name, value in request.headers.multi_items():
        lower = name.lower()
        if lower == "accept-encoding":
            continue  # bodies come back as sent: no decompression layer here
        if lower == "content-length":
            seen_length = True
        if lower == "transfer-encoding":
            continue
        lines.append(f"{name}: {value}")
    lines.append("Accept-Encoding: identity")
    if not seen_length:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body


async def _exchange(
    conn: _Connection,
    payload: bytes,
    timeout: float | None,
    request: httpx.Request,
    reused: bool,
) -> httpx.Response:
    try:
        conn.writer.write(payload)
        await asyncio.wait_for(conn.writer.drain(), timeout)
        status_line = await asyncio.wait_for(conn.reader.readline(), timeout)
    except (TimeoutError, asyncio.TimeoutError):  # two classes before Python 3.11
        raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
    except (ConnectionError, OSError) as exc:
        if reused:
            raise _StaleConnection() from exc
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from None
    if not status_line:
        if reused:
            raise _StaleConnection()
        raise httpx.RemoteProtocolError(
            "server closed the connection without a response", request=request
        )
    try:
        return await asyncio.wait_for(_read_response(conn, status_line, request), timeout)
    except (TimeoutError, asyncio.TimeoutError):  # two classes before Python 3.11
        raise httpx.ReadTimeout("timed out reading the response", request=request) from None
    except asyncio.IncompleteReadError:
        raise httpx.RemoteProtocolError("incomplete response body", request=request) from None
    except (ConnectionError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from None


async def _read_response(
    conn: _Connection, status_line: bytes, request: httpx.Request
) -> httpx.Response:
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(
            f"malformed status line {status_line[:80]!r}", request=request
        )
    http_version, status = parts[0], int(parts[1])
    headers: list[tuple[bytes, bytes]] = []
    size = 0
    while True:
        line = await conn.reader.readline()
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise httpx.RemoteProtocolError("response headers too large", request=request)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        name, sep, value = line.partition(b":")
        if not sep:
            raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}", request=request)
        headers.append((name.strip(), value.strip()))
    lookup = {name.lower(): value for name, value in headers}
    body: bytes
    if request.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif b"chunked" in lookup.get(b"transfer-encoding", b"").lower():
        body = await _read_chunked(conn.reader, request)
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
    elif b"content-length" in lookup:
        try:
            length = int(lookup[b"content-length"])
        except ValueError:
            raise httpx.RemoteProtocolError("bad Content-Length", request=request) from None
        body = await conn.reader.readexactly(length)
    else:
        body = await conn.reader.read()  # until the server closes the connection
        lookup[b"connection"] = b"close"
    keep = http_version == "HTTP/1.1" and lookup.get(b"connection", b"").lower() != b"close"
    response = httpx.Response(
        status,
        headers=headers,
        content=body,
        request=request,
        extensions={"http_version": http_version.encode(), "keep_alive": keep},
    )
    return response


async def _read_chunked(reader: asyncio.StreamReader, request: httpx.Request) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise httpx.RemoteProtocolError("malformed chunk size", request=request) from None
        if size == 0:
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)  # CRLF after each chunk


def _keep_alive(response: httpx.Response) -> bool:
    return bool(response.extensions.get("keep_alive"))
