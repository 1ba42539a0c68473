#!/usr/bin/env python3
"""Load-test the benchmark judge server, to show it is far faster than what it must serve.

Starts ``judge_server.py`` as its own process (127.0.0.1 only) and drives it with

* ``raw``: plain asyncio sockets, one coroutine per keep-alive connection,
* ``httpx``: several ``httpx.AsyncClient`` instances with small pools, on httpx's own transport
  (httpcore),
* ``aiohttp``: one ``aiohttp.ClientSession``, and
* ``plugin``: the plugin's own ``ChatClient`` (httpx's API on aiohttp's pool, see
  ``pytest_genai_eval/transport.py``), shaped as the plugin shapes it (``--clients`` clients),

with a bounded number of requests and a time limit. Prints one JSON object per run::

    python benchmarks/check_server.py                          # delay 0 and 0.1, all clients
    python benchmarks/check_server.py --delay 0 --mode raw --requests 20000
    python benchmarks/check_server.py --tls --delay 0.1 --mode plugin   # over HTTPS

The reported rate is the client's and the server's together (both are Python, on 2 cores);
``client_cpu_ms_per_request`` is the load generator's own CPU cost per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import ssl
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from judge_server import ServerProcess

# A request about as large as a real judge call (system prompt + sections, ~2.5 KB).
PAYLOAD: dict[str, Any] = {
    "model": "bench-judge",
    "messages": [
        {
            "role": "system",
            "content": "Judge: correctness\n" + "You are an impartial evaluator. " * 40,
        },
        {
            "role": "user",
            "content": "<<<REQUEST>>>\nWhat is fact 1?\n<<<END REQUEST>>>\n" + "x" * 900,
        },
    ],
    "temperature": 0.0,
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "correctness_verdict",
            "schema": {"type": "object"},
            "strict": True,
        },
    },
}
BODY = json.dumps(PAYLOAD).encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def raw_load(
    base_url: str, requests: int, connections: int, time_limit: float, tls: ssl.SSLContext | None
) -> dict[str, Any]:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if tls else 80)
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    remaining = requests
    done = 0
    errors = 0
    deadline = time.perf_counter() + time_limit

    async def worker() -> None:
        nonlocal remaining, done, errors
        reader, writer = await asyncio.open_connection(host, port, ssl=tls)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                writer.write(request)
                status = await _read_response(reader)
                if status == 200:
                    done += 1
                else:
                    errors += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"ok": done, "errors": errors, "seconds": round(elapsed, 3)}


async def httpx_load(
    base_url: str,
    requests: int,
    clients: int,
    pool: int,
    time_limit: float,
    tls: ssl.SSLContext | None,
) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    instances = [
        httpx.AsyncClient(
            limits=limits, timeout=httpx.Timeout(60.0, pool=None), verify=tls or False
        )
        for _ in range(clients)
    ]
    url = base_url + "/v1/chat/completions"
    remaining = requests
    done = 0
    errors = 0
    deadline = time.perf_counter() + time_limit

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining, done, errors
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            response = await client.post(url, json=PAYLOAD)
            response.json()
            if response.status_code == 200:
                done += 1
            else:
                errors += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in instances for _ in range(pool)))
    finally:
        for client in instances:
            await client.aclose()
    elapsed = time.perf_counter() - started
    return {"ok": done, "errors": errors, "seconds": round(elapsed, 3)}


async def plugin_load(
    base_url: str, requests: int, clients: int, pool: int, time_limit: float, ca_file: str | None
) -> dict[str, Any]:
    """The same load through the plugin's ChatClient (its transport, retries, parsing)."""
    from pytest_genai_eval.llm import ChatClient, EndpointSettings

    settings = EndpointSettings(
        base_url=base_url + "/v1", model="bench-judge", max_retries=0, ca_bundle=ca_file
    )
    remaining = requests
    done = 0
    errors = 0
    deadline = time.perf_counter() + time_limit
    async with ChatClient(settings, pool_size=pool, clients=clients) as client:

        async def worker() -> None:
            nonlocal remaining, done, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                try:
                    await client.chat(PAYLOAD["messages"])
                    done += 1
                except Exception:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients * pool)))
        elapsed = time.perf_counter() - started
    return {"ok": done, "errors": errors, "seconds": round(elapsed, 3)}


async def aiohttp_load(
    base_url: str, requests: int, connections: int, time_limit: float, tls: ssl.SSLContext | None
) -> dict[str, Any]:
    """The same load through one aiohttp session (only when aiohttp is importable)."""
    import aiohttp

    url = base_url + "/v1/chat/completions"
    remaining = requests
    done = 0
    errors = 0
    deadline = time.perf_counter() + time_limit
    connector = aiohttp.TCPConnector(limit=connections, ssl=tls if tls is not None else True)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining, done, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                async with session.post(url, json=PAYLOAD) as response:
                    await response.json()
                    if response.status == 200:
                        done += 1
                    else:
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {"ok": done, "errors": errors, "seconds": round(elapsed, 3)}


def run_check(
    server: ServerProcess,
    *,
    mode: str,
    delay: float,
    requests: int,
    concurrency: int,
    clients: int,
    time_limit: float,
) -> dict[str, Any]:
    server.reset(delay=delay)
    tls = server.client_tls()
    pool = max(1, concurrency // clients)
    cpu = time.process_time()
    if mode == "raw":
        outcome = asyncio.run(raw_load(server.base_url, requests, concurrency, time_limit, tls))
        shape = f"{concurrency} raw keep-alive connections"
    elif mode == "aiohttp":
        outcome = asyncio.run(aiohttp_load(server.base_url, requests, concurrency, time_limit, tls))
        shape = f"1 aiohttp.ClientSession, {concurrency} connections"
    elif mode == "plugin":
        ca_file = str(server.ca_file) if server.tls else None
        outcome = asyncio.run(
            plugin_load(server.base_url, requests, clients, pool, time_limit, ca_file)
        )
        shape = f"ChatClient, {clients} clients x pool {pool}"
    else:
        outcome = asyncio.run(httpx_load(server.base_url, requests, clients, pool, time_limit, tls))
        shape = f"{clients} httpx.AsyncClient x pool {pool}"
    cpu = time.process_time() - cpu
    stats = server.stats()
    seconds = outcome["seconds"] or 1e-9
    ideal = concurrency / delay if delay > 0 else None
    return {
        "mode": mode,
        "scheme": "https" if server.tls else "http",
        "shape": shape,
        "delay": delay,
        "concurrency": concurrency,
        "requests_ok": outcome["ok"],
        "errors": outcome["errors"],
        "seconds": outcome["seconds"],
        "req_per_s": round(outcome["ok"] / seconds, 1),
        "client_cpu_ms_per_request": round(
            1000 * cpu / max(1, outcome["ok"] + outcome["errors"]), 3
        ),
        "ideal_req_per_s": round(ideal, 1) if ideal else None,
        "server_requests": stats["requests"],
        "server_max_in_flight": stats["max_in_flight"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load-test benchmarks/judge_server.py")
    parser.add_argument("--delay", type=float, action="append", help="server delay (repeatable)")
    parser.add_argument(
        "--mode",
        choices=("raw", "httpx", "aiohttp", "plugin", "all"),
        action="append",
        help="client(s) to use (repeatable; default: all: raw, httpx, aiohttp, plugin)",
    )
    parser.add_argument("--requests", type=int, default=20000, help="requests per run (bounded)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--clients", type=int, default=8, help="httpx clients (httpx mode)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per run at most")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--tls", action="store_true", help="serve and call over HTTPS")
    args = parser.parse_args(argv)
    delays = args.delay or [0.0, 0.1]
    modes: list[str] = args.mode or ["all"]
    if "all" in modes:
        modes = ["raw", "httpx"]
        if importlib.util.find_spec("aiohttp") is not None:
            modes += ["aiohttp", "plugin"]
    results = []
    with ServerProcess(delay=0.0, max_seconds=600.0, tls=args.tls) as server:
        for delay in delays:
            for mode in modes:
                # At 100 ms a run of 3,000 requests is the benchmark's own shape; at zero delay,
                # many more requests give a stable rate.
                requests = args.requests if delay == 0 else min(args.requests, 3000)
                result = run_check(
                    server,
                    mode=mode,
                    delay=delay,
                    requests=requests,
                    concurrency=args.concurrency,
                    clients=args.clients,
                    time_limit=args.time_limit,
                )
                print(json.dumps(result), flush=True)
                results.append(result)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
