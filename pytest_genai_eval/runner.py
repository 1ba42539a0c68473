"""Asking judge endpoints: the verdict cache, bounded concurrency, a rate limit, one client per
endpoint."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

from .cache import VerdictCache, cache_key
from .judges import JudgeAnswer, JudgeUnavailable, PromptTemplate
from .llm import ChatClient, EndpointSettings, LLMError
from .redact import Redactor
from .results import TokenUsage


class RateLimiter:
    """At most ``per_minute`` call starts per minute, evenly spaced."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


class LLMJudgeRunner:
    """Implements ``judges.JudgeRunner``.

    ``endpoint`` selects a judge other than the default (judge panels); ``sample`` is the index of
    a repeated evaluation (part of the cache key, so repeats are separate verdicts).
    """

    def __init__(
        self,
        *,
        default: EndpointSettings | None,
        missing_reason: str,
        concurrency: int,
        stopping: threading.Event,
        cache: VerdictCache | None = None,
        requests_per_minute: float | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.default = default
        # Knows every endpoint's secrets (from the first call to it on); answers are redacted
        # before they are cached or returned.
        self.redactor = redactor if redactor is not None else Redactor()
        self.missing_reason = missing_reason
        self.concurrency = max(1, concurrency)
        self.cache = cache
        self.calls = 0
        self._slots = asyncio.Semaphore(self.concurrency)
        self._limiter = RateLimiter(requests_per_minute) if requests_per_minute else None
        self._stopping = stopping
        self._clients: dict[EndpointSettings, ChatClient] = {}

    def client(self, endpoint: EndpointSettings) -> ChatClient:
        client = self._clients.get(endpoint)
        if client is None:
            self.redactor.add(endpoint.api_key.reveal() if endpoint.api_key else None)
            self.redactor.add_url(endpoint.base_url)
            # one client whose pool holds `concurrency` connections (aiohttp's pool serves one
            # big pool as well as several small ones)
            client = ChatClient(endpoint, pool_size=self.concurrency)
            self._clients[endpoint] = client
        return client

    async def ask(
        self,
        template: PromptTemplate,
        variables: Mapping[str, str],
        schema: Mapping[str, Any],
        *,
        judge: str,
        endpoint: EndpointSettings | None = None,
        sample: int = 0,
    ) -> JudgeAnswer:
        endpoint = endpoint or self.default
        if endpoint is None:
            raise JudgeUnavailable(self.missing_reason)
        messages = template.render(variables)
        key: str | None = None
        if self.cache is not None and self.cache.mode != "off":
            key = cache_key(
                model=endpoint.model,
                prompt_version=template.version,
                messages=messages,
                schema=schema,
                temperature=endpoint.temperature,
                max_tokens=endpoint.max_tokens,
                sample=sample,
            )
            entry = self.cache.get(key)
            if entry is not None:
                return JudgeAnswer(
                    data=dict(entry["data"]),
                    model=str(entry.get("model") or endpoint.model),
                    prompt_version=template.version,
                    usage=TokenUsage(),
                    cached=True,
                )
            if self.cache.mode == "ci":
                raise LLMError(
                    f"verdict not in the cache ({self.cache.directory}) and --genai-cache=ci "
                    "forbids calling the judge"
                )
        async with self._slots:
            if self._stopping.is_set():
                raise LLMError("not run: the session stopped before this judge call")
            if self._limiter is not None:
                await self._limiter.wait()
            self.calls += 1
            reply = await self.client(endpoint).complete_json(
                messages, dict(schema), schema_name=f"{judge}_verdict"
            )
        model = reply.model or endpoint.model
        reply.data = self.redactor.scrub(reply.data)  # a judge that echoes a key: never stored
        if key is not None and self.cache is not None:
            self.cache.put(
                key,
                {
                    "judge": judge,
                    "model": model,
                    "prompt_version": template.version,
                    "data": reply.data,
                    "usage": reply.usage.to_dict(),
                },
            )
        return JudgeAnswer(
            data=reply.data,
            model=model,
            prompt_version=template.version,
            usage=reply.usage,
            latency_seconds=reply.latency_seconds,
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
