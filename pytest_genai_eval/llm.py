"""An async client for OpenAI-compatible chat-completions endpoints (httpx).

:class:`ChatClient` sends chat requests with retries (exponential backoff with full jitter,
``Retry-After`` honoured) and asks for structured JSON output, falling back from
``json_schema`` to ``json_object`` to plain text on servers that do not support structured
output, with one repair re-ask when a reply cannot be used.

The API key is wrapped in :class:`Secret` and never appears in a repr, an error message or a log
line, even when a server echoes it back.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpcore  # noqa: F401  (see the note below)
import httpx

from .http11 import FastHTTPTransport
from .results import TokenUsage

__all__ = [
    "ChatClient",
    "ChatReply",
    "EndpointSettings",
    "JsonReply",
    "LLMError",
    "LLMHTTPError",
    "LLMOutputError",
    "Secret",
    "extract_json_object",
    "parse_retry_after",
]

# Note on ``import httpcore``: httpx 0.28 imports httpcore lazily and caches httpcore's exception
# classes the first time it maps one. If httpcore is first imported during a pytester in-process
# run, pytester's sys.modules restore drops it, a later import makes new exception classes, and
# httpx stops translating them (raw ``httpcore.ReadTimeout`` escapes instead of
# ``httpx.ReadTimeout``). Importing httpcore here, when the plugin loads, keeps one for the session.

logger = logging.getLogger(__name__)

RETRYABLE_STATUS: Final = frozenset({408, 409, 429, 500, 502, 503, 504})
JSON_MODES: Final = ("json_schema", "json_object", "text")
_FORMAT_REJECTION_STATUS: Final = frozenset({400, 404, 422, 500, 501})  # llama-cpp-python: 500
_FORMAT_REJECTION_WORDS: Final = (
    "response_format",
    "response format",
    "json_schema",
    "json_object",
    "schema",
    "not supported",
    "unsupported",
)
_BACKOFF_BASE: Final = 0.5
_BACKOFF_FACTOR: Final = 2.0
_BACKOFF_CAP: Final = 20.0
_RETRY_AFTER_CAP: Final = 60.0
_EXCERPT_CHARS: Final = 300
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


class Secret:
    """A secret string (an API key) that never shows itself in ``repr`` or ``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value. Use only where it must be sent (the Authorization header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def _redact(text: str, secret: Secret | None) -> str:
    if secret:
        return text.replace(secret.reveal(), "***")
    return text


def _public_url(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class EndpointSettings:
    """Where and how to call an OpenAI-compatible chat-completions endpoint.

    ``base_url`` is e.g. ``"http://127.0.0.1:8000/v1"`` (a trailing slash is fine); requests go
    to ``base_url + "/chat/completions"``. ``timeout`` is per HTTP attempt, in seconds;
    ``max_retries`` is the number of retries after the first attempt.
    """

    base_url: str
    model: str
    api_key: Secret | None = None
    timeout: float = 60.0
    max_retries: int = 4
    temperature: float = 0.0
    max_tokens: int | None = None

    @property
    def chat_url(self) -> str:
        """The chat-completions URL."""
        return self.base_url.rstrip("/") + "/chat/completions"

    def public_dict(self) -> dict[str, Any]:
        """The settings for artifacts and reports; the key only as ``"set"`` / ``"unset"``."""
        return {
            "base_url": _public_url(self.base_url),
            "model": self.model,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "temperature": self.temperature,
            "api_key": "set" if self.api_key else "unset",
        }


class LLMError(Exception):
    """A chat request failed. The message never contains the API key."""


class LLMHTTPError(LLMError):
    """The endpoint answered with a non-retryable HTTP error, or retries ran out on an HTTP status.

    ``status`` is the HTTP status; ``body`` a short (at most 300 characters), redacted excerpt
    of the response body.
    """

    def __init__(self, message: str, *, status: int, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class LLMOutputError(LLMError):
    """The reply could not be read as the required JSON, even after the repair re-ask."""


@dataclass
class ChatReply:
    """One chat completion. ``latency_seconds`` covers the whole call, retries included."""

    content: str
    usage: TokenUsage
    model: str
    latency_seconds: float
    raw: dict[str, Any]


@dataclass
class JsonReply:
    """A structured-output reply.

    ``usage`` is summed over every attempt, the repair re-ask included; ``mode`` is the
    structured-output mode that produced the reply (``"json_schema"``, ``"json_object"`` or
    ``"text"``); ``repaired`` tells whether the repair re-ask was needed.
    """

    data: dict[str, Any]
    usage: TokenUsage
    model: str
    mode: str
    repaired: bool
    latency_seconds: float
    raw: dict[str, Any] = field(default_factory=dict)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP-date), capped at 60."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), _RETRY_AFTER_CAP)


def extract_json_object(text: str) -> dict[str, Any] | None:
    """Read a JSON object from a model reply, tolerantly.

    Tries, in order: the whole text; the inside of a Markdown code fence (```` ``` ```` or
    ```` ```json ````); the first balanced ``{...}`` object in the text. Returns ``None`` if no
    JSON object can be read.
    """
    candidates = [text.strip()]
    candidates.extend(match.group(1).strip() for match in _FENCE.finditer(text))
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (json.JSONDecodeError, ValueError):
            continue
        if isinstance(value, dict):
            return value
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, ValueError):
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _read_json(content: str, validator: Any) -> tuple[dict[str, Any] | None, str]:
    """The reply's JSON object if ``validator`` accepts it, else ``(None, reason)``."""
    data = extract_json_object(content)
    if data is None:
        return None, "the reply contains no JSON object"
    if validator.is_valid(data):
        return data, ""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        return None, f"the JSON does not match the schema at {where}: {error.message}"
    return data, ""


def _format_for(mode: str, schema: dict[str, Any], schema_name: str) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": schema, "strict": True},
        }
    if mode == "json_object":
        # "schema" beside json_object is how llama-cpp-python constrains the output to a schema
        # (grammar-based); servers that do not know it ignore it or reject it, and a rejection
        # falls back to plain text like any other.
        return {"type": "json_object", "schema": schema}
    return None


def _is_format_rejection(error: LLMHTTPError) -> bool:
    if error.status not in _FORMAT_REJECTION_STATUS:
        return False
    body = error.body.lower()
    return any(word in body for word in _FORMAT_REJECTION_WORDS)


class ChatClient:
    """Async client for one OpenAI-compatible chat-completions endpoint.

    Args:
        settings: endpoint, model, key, timeout and retry budget.
        pool_size: HTTP connections per underlying ``httpx.AsyncClient``.
        clients: how many ``httpx.AsyncClient`` instances to round-robin over. One client with a
            big pool tops out at a few hundred requests per second on loopback; several clients
            with small pools go much further, so raise this for high-throughput local judges.
            At most ``pool_size * clients`` requests are in flight at once.
        sleep: the coroutine used to wait between retries (default ``asyncio.sleep``).

    Use it inside one event loop and close it with :meth:`aclose` (or ``async with``).
    The structured-output mode downgrade of :meth:`complete_json` is remembered per instance.
    """

    def __init__(
        self,
        settings: EndpointSettings,
        *,
        pool_size: int = 8,
        clients: int = 1,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        fast_transport: bool = True,
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        if clients < 1:
            raise ValueError("clients must be >= 1")
        self.settings = settings
        self.pool_size = pool_size
        self._sleep: Callable[[float], Awaitable[None]] = sleep or asyncio.sleep
        self._random = random.Random()
        self._json_mode = JSON_MODES[0]
        self._next = 0
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key.reveal()}"
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        # One TLS context shared by all clients (building one costs tens of milliseconds), and
        # none at all for plain-HTTP endpoints such as a local judge on 127.0.0.1.
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context() if settings.chat_url.startswith("https:") else False
        )
        plain = settings.chat_url.startswith("http:")
        self._clients = [
            httpx.AsyncClient(
                headers=headers,
                verify=verify,
                # No pool timeout: waiting for a free connection is the caller's concurrency, not
                # a slow server.
                timeout=httpx.Timeout(settings.timeout, pool=None),
                limits=limits,
                follow_redirects=False,
                # plain HTTP (local judges): the lean keep-alive transport, a fraction of the CPU
                transport=(
                    FastHTTPTransport(max_connections=pool_size, timeout=settings.timeout)
                    if plain and fast_transport
                    else None
                ),
            )
            for _ in range(clients)
        ]
        self._slots = [asyncio.Semaphore(pool_size) for _ in range(clients)]
        self._validators: dict[str, Any] = {}

    def __repr__(self) -> str:
        s = self.settings
        return f"ChatClient(model={s.model!r}, base_url={_public_url(s.base_url)!r})"

    @property
    def json_mode(self) -> str:
        """The structured-output mode the next :meth:`complete_json` call starts with."""
        return self._json_mode

    def _pick(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        index = self._next
        self._next = (index + 1) % len(self._clients)
        return self._clients[index], self._slots[index]

    async def _post(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        client, slots = self._pick()
        # Queue here rather than in httpx's pool: httpcore slows down badly with many waiting
        # requests (measured: 200 queued on one connection, 40 req/s instead of 250).
        async with slots:
            return await client.post(url, json=payload)

    def _backoff(self, retry: int) -> float:
        """Full-jitter exponential backoff before retry number ``retry`` (0-based)."""
        ceiling = min(_BACKOFF_CAP, _BACKOFF_BASE * _BACKOFF_FACTOR**retry)
        return self._random.uniform(0.0, ceiling)

    def _safe(self, text: str) -> str:
        return _redact(text, self.settings.api_key)

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        response_format: dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatReply:
        """Send one chat-completions request, retrying transient failures.

        Retries (up to ``settings.max_retries``) on HTTP 408, 409, 429, 500, 502, 503, 504,
        timeouts and transport errors, waiting with exponential backoff and full jitter (base
        0.5 s, factor 2, cap 20 s) or as long as a ``Retry-After`` header says (cap 60 s).

        Raises:
            LLMHTTPError: another HTTP error status, or retries ran out on an HTTP status.
            LLMError: retries ran out on timeouts or transport errors, or the reply has no
                ``choices[0].message.content`` string.
        """
        settings = self.settings
        payload: dict[str, Any] = {
            "model": settings.model,
            "messages": messages,
            "temperature": settings.temperature if temperature is None else temperature,
        }
        tokens = settings.max_tokens if max_tokens is None else max_tokens
        if tokens is not None:
            payload["max_tokens"] = tokens
        if response_format is not None:
            payload["response_format"] = response_format
        url = settings.chat_url
        started = time.perf_counter()
        attempt = 0
        while True:
            wait: float | None = None
            try:
                response = await self._post(url, payload)
            except httpx.TimeoutException as exc:
                problem = f"timed out after {settings.timeout:g} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status < 400:
                    return self._read_reply(response, started)
                excerpt = self._safe(response.text)[:_EXCERPT_CHARS]
                problem = f"HTTP {status}: {excerpt}"
                rejected_format = response_format is not None and any(
                    word in excerpt.lower() for word in _FORMAT_REJECTION_WORDS
                )
                if (
                    status not in RETRYABLE_STATUS
                    or attempt >= settings.max_retries
                    # a server that cannot do this response_format (llama-cpp-python answers 500):
                    # no point retrying, complete_json falls back to the next mode
                    or (rejected_format and status in _FORMAT_REJECTION_STATUS)
                ):
                    tried = f" after {attempt + 1} attempts" if attempt else ""
                    raise LLMHTTPError(
                        self._safe(f"chat request to {_public_url(url)} failed{tried}: {problem}"),
                        status=status,
                        body=excerpt,
                    )
                wait = parse_retry_after(response.headers.get("retry-after"))
            if attempt >= settings.max_retries:
                raise LLMError(
                    self._safe(
                        f"chat request to {_public_url(url)} failed after {attempt + 1} "
                        f"attempts: {problem}"
                    )
                )
            if wait is None:
                wait = self._backoff(attempt)
            attempt += 1
            logger.debug(
                "%s; retry %d/%d in %.2f s",
                self._safe(problem),
                attempt,
                settings.max_retries,
                wait,
            )
            await self._sleep(wait)

    def _read_reply(self, response: httpx.Response, started: float) -> ChatReply:
        url = _public_url(self.settings.chat_url)
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            excerpt = self._safe(response.text)[:200]
            raise LLMError(f"{url} returned a non-JSON body: {excerpt!r}") from None
        content: Any = None
        if isinstance(data, dict):
            choices = data.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                message = choices[0].get("message")
                if isinstance(message, dict):
                    content = message.get("content")
        if not isinstance(data, dict) or not isinstance(content, str):
            excerpt = self._safe(json.dumps(data))[:200]
            raise LLMError(f"{url} reply has no choices[0].message.content string: {excerpt}")
        usage_data = data.get("usage")
        try:
            usage = (
                TokenUsage.from_dict(usage_data) if isinstance(usage_data, dict) else None
            ) or TokenUsage()
        except (TypeError, ValueError):
            usage = TokenUsage()
        model = data.get("model")
        return ChatReply(
            content=content,
            usage=usage,
            model=model if isinstance(model, str) and model else self.settings.model,
            latency_seconds=time.perf_counter() - started,
            raw=data,
        )

    async def _chat_structured(
        self, messages: list[dict[str, Any]], schema: dict[str, Any], schema_name: str
    ) -> tuple[ChatReply, str]:
        """One structured-output request, downgrading the mode while the server rejects it."""
        mode = self._json_mode
        while True:
            try:
                reply = await self.chat(
                    messages, response_format=_format_for(mode, schema, schema_name)
                )
            except LLMHTTPError as exc:
                if mode == JSON_MODES[-1] or not _is_format_rejection(exc):
                    raise
                lower = JSON_MODES[JSON_MODES.index(mode) + 1]
                logger.info(
                    "%s rejected response_format %r (HTTP %d); falling back to %r",
                    _public_url(self.settings.base_url),
                    mode,
                    exc.status,
                    lower,
                )
                mode = lower
                # Only ever downgrade (concurrent calls may race here).
                if JSON_MODES.index(mode) > JSON_MODES.index(self._json_mode):
                    self._json_mode = mode
                continue
            return reply, mode

    def _validator(self, schema: dict[str, Any]) -> Any:
        """One compiled validator per distinct schema, kept by this client."""
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            from jsonschema import validators as schema_validators  # imported on first use

            validator = schema_validators.validator_for(schema)(schema)
            self._validators[key] = validator
        return validator

    async def complete_json(
        self, messages: list[dict[str, Any]], schema: dict[str, Any], *, schema_name: str
    ) -> JsonReply:
        """Ask for a JSON object matching ``schema``, with fallbacks and one repair re-ask.

        The first mode is ``json_schema`` (strict); if the server rejects ``response_format``
        (HTTP 400/422/404/501 mentioning it), the call is retried with ``json_object`` and then
        without ``response_format``; the downgrade is remembered by this client. The reply is
        read tolerantly (bare JSON, fenced JSON, or the first ``{...}`` in prose) and validated
        with ``jsonschema``. If that fails, the model is asked once more with the reason.

        Raises:
            LLMOutputError: the reply still cannot be used after the repair re-ask.
            LLMHTTPError, LLMError: as :meth:`chat`.
        """
        started = time.perf_counter()
        validator = self._validator(schema)
        reply, mode = await self._chat_structured(messages, schema, schema_name)
        usage = reply.usage
        data, reason = _read_json(reply.content, validator)
        repaired = False
        if data is None:
            repair_messages = [
                *messages,
                {"role": "assistant", "content": reply.content},
                {
                    "role": "user",
                    "content": (
                        f"Your previous reply could not be used: {reason}. Reply again with only "
                        "a JSON object that matches this JSON Schema: "
                        f"{json.dumps(schema, sort_keys=True)}"
                    ),
                },
            ]
            reply, mode = await self._chat_structured(repair_messages, schema, schema_name)
            usage = usage + reply.usage
            data, reason = _read_json(reply.content, validator)
            repaired = True
            if data is None:
                raise LLMOutputError(
                    self._safe(
                        f"could not read a JSON reply for {schema_name!r} after a repair "
                        f"re-ask: {reason}; reply began: {self._safe(reply.content)[:200]!r}"
                    )
                )
        return JsonReply(
            data=data,
            usage=usage,
            model=reply.model,
            mode=mode,
            repaired=repaired,
            latency_seconds=time.perf_counter() - started,
            raw=reply.raw,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
