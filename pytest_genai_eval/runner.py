"""Asking judge endpoints: one client per endpoint, bounded concurrency, many small pools."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Mapping
from typing import Any

from .judges import JudgeAnswer, JudgeUnavailable, PromptTemplate
from .llm import ChatClient, EndpointSettings, LLMError

POOL_SIZE = 8  # connections per httpx client; several small pools beat one big pool


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
    ) -> None:
        self.default = default
        self.missing_reason = missing_reason
        self.concurrency = max(1, concurrency)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._stopping = stopping
        self._clients: dict[EndpointSettings, ChatClient] = {}

    def client(self, endpoint: EndpointSettings) -> ChatClient:
        client = self._clients.get(endpoint)
        if client is None:
            pool = min(POOL_SIZE, self.concurrency)
            client = ChatClient(endpoint, pool_size=pool, clients=math.ceil(self.concurrency / pool))
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
        async with self._slots:
            if self._stopping.is_set():
                raise LLMError("not run: the session stopped before this judge call")
            reply = await self.client(endpoint).complete_json(
                messages, dict(schema), schema_name=f"{judge}_verdict"
            )
        return JudgeAnswer(
            data=reply.data,
            model=reply.model or endpoint.model,
            prompt_version=template.version,
            usage=reply.usage,
            latency_seconds=reply.latency_seconds,
        )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
