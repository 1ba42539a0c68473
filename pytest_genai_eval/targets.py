"""Calling the application under test: a Python callable, an OpenAI-compatible endpoint, or a
plain JSON HTTP endpoint. Rows that carry ``response`` need no target."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from .errors import AppError, ConfigurationError
from .evalset import Row
from .llm import ChatClient, EndpointSettings, LLMError, Secret
from .outputs import AppOutput, parse_app_output
from .redact import Redactor, public_url, url_secrets
from .threads import run_in_daemon_thread
from .transport import TLSConfigError, async_client, needs_tls, tls_context


class TargetConfigError(ConfigurationError, ValueError):
    """The app specification is invalid (raised before anything is called)."""


class AppCallError(AppError):
    """The app failed on one row; the message is what the row's report shows."""


@dataclass
class TimedOutput:
    output: AppOutput
    latency_seconds: float


class Target(Protocol):
    description: str

    async def call(self, row: Row) -> AppOutput: ...

    async def aclose(self) -> None: ...


def app_input(row: Row) -> dict[str, Any]:
    """What the app receives: ``{"messages": [...]}`` (plus any other keys of a dict request)."""
    if isinstance(row.request, dict) and "messages" in row.request:
        payload = dict(row.request)
        payload["messages"] = list(row.messages)
        return payload
    return {"messages": list(row.messages)}


def short_traceback(exc: BaseException, limit: int = 4) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    head = f"{type(exc).__name__}: {exc}"
    return head + ("\n" + "\n".join(lines) if lines else "")


# ---- Python callable ----------------------------------------------------------------------------


@dataclass
class CallableTarget:
    fn: Callable[..., Any]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.description:
            module = getattr(self.fn, "__module__", "?")
            name = getattr(self.fn, "__qualname__", repr(self.fn))
            self.description = f"{module}:{name}"

    async def call(self, row: Row) -> AppOutput:
        """Sync functions run in a daemon thread of their own (a call that never returns cannot
        keep the process alive once its row's deadline passed), timed inside that thread; async
        functions run on the engine loop, timed around the await."""
        payload = app_input(row)
        try:
            if inspect.iscoroutinefunction(self.fn):
                started = time.perf_counter()
                value = await self.fn(payload)
                latency = time.perf_counter() - started
            else:
                timed = await run_in_daemon_thread(self.fn, payload)
                value, latency = timed.value, timed.seconds
                if inspect.isawaitable(value):
                    started = time.perf_counter()
                    value = await value
                    latency += time.perf_counter() - started
        except Exception as exc:
            raise AppCallError(short_traceback(exc)) from exc
        try:
            output = parse_app_output(value)
        except ValueError as exc:
            raise AppCallError(f"unusable app output: {exc}") from exc
        return dataclasses.replace(output, latency_seconds=latency)

    async def aclose(self) -> None:
        return None


def import_callable(spec: str, base_dir: Path | None = None) -> Callable[..., Any]:
    """Resolve ``"package.module:function"`` (attribute paths allowed after the colon)."""
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise TargetConfigError(f"app {spec!r}: expected 'module:function'")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise TargetConfigError(f"app {spec!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetConfigError(f"app {spec!r}: {module_name!r} has no {attr_path!r}") from None
    if not callable(obj):
        raise TargetConfigError(f"app {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


# ---- OpenAI-compatible chat completions --------------------------------------------------------


@dataclass
class ChatTarget:
    settings: EndpointSettings
    system_prompt: str | None = None
    description: str = ""
    _client: ChatClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.description:
            self.description = f"openai:{self.settings.model}@{public_url(self.settings.base_url)}"

    def secrets(self) -> list[str]:
        """What the redaction layer must know: the key and the URL's userinfo."""
        key = self.settings.api_key
        return [s for s in (key.reveal() if key else None, *url_secrets(self.settings.base_url)) if s]

    async def call(self, row: Row) -> AppOutput:
        messages = list(row.messages)
        if self.system_prompt:
            messages = [{"role": "system", "content": self.system_prompt}, *messages]
        try:
            if self._client is None:  # raises LLMError when the CA bundle cannot be used
                self._client = ChatClient(self.settings)
            reply = await self._client.chat(messages)
        except LLMError as exc:
            raise AppCallError(str(exc)) from exc
        return AppOutput(
            text=reply.content,
            retrieved_context=None,
            usage=reply.usage,
            raw=reply.raw,
            latency_seconds=reply.latency_seconds,
            finish_reason=reply.finish_reason,
            model=reply.model,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


# ---- plain JSON HTTP endpoint -------------------------------------------------------------------


def _fill(template: Any, row: Row) -> Any:
    """Replace the placeholders "{request}", "{messages}", "{request_id}" in a JSON template."""
    if isinstance(template, str):
        if template == "{messages}":
            return list(row.messages)
        if template == "{request}":
            return row.request_text
        if template == "{request_id}":
            return row.request_id
        return template.replace("{request}", row.request_text).replace(
            "{request_id}", row.request_id
        )
    if isinstance(template, dict):
        return {k: _fill(v, row) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, row) for v in template]
    return template


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit():
            index = int(part)
            if index >= len(value):
                raise KeyError(path)
            value = value[index]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(path)
    return value


@dataclass
class HttpJsonTarget:
    url: str
    body: Any = field(default_factory=lambda: {"messages": "{messages}"})
    response_path: str | None = None
    context_path: str | None = None
    headers_env: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    description: str = ""
    ca_bundle: str | None = None  # CAs for an https:// url (see EndpointSettings.ca_bundle)
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.description:
            self.description = f"http:{public_url(self.url)}"

    def __repr__(self) -> str:
        return f"HttpJsonTarget(url={public_url(self.url)!r}, headers_env={dict(self.headers_env)!r})"

    def _header_values(self) -> dict[str, str]:
        return {
            header: value
            for header, env_name in self.headers_env.items()
            if (value := os.environ.get(env_name))
        }

    def secrets(self) -> list[str]:
        """What the redaction layer must know: header values from the environment (and their
        tokens) and the URL's userinfo."""
        return [*self._header_values().values(), *url_secrets(self.url)]

    async def call(self, row: Row) -> AppOutput:
        if self._client is None:
            # aiohttp's pool under httpx's API (transport.py); TLS context only for https
            try:
                tls = tls_context(self.ca_bundle) if needs_tls(self.url) else None
            except TLSConfigError as exc:
                raise AppCallError(f"cannot call {public_url(self.url)}: {exc}") from None
            self._client = async_client(tls=tls, timeout=self.timeout)
        headers = self._header_values()
        redact = Redactor(headers.values())
        redact.add_url(self.url)
        shown = public_url(self.url)
        try:
            response = await self._client.post(self.url, json=_fill(self.body, row), headers=headers)
        except httpx.HTTPError as exc:
            raise AppCallError(redact(f"{type(exc).__name__} calling {shown}: {exc}")) from exc
        if response.status_code >= 400:
            # redacted whole, then clipped: a clipped secret could no longer be recognized
            excerpt = redact(response.text)[:300]
            raise AppCallError(f"HTTP {response.status_code} from {shown}: {excerpt}")
        try:
            data = response.json()
        except json.JSONDecodeError as exc:
            raise AppCallError(f"{self.url} returned non-JSON: {exc}") from exc
        try:
            value = _dig(data, self.response_path) if self.response_path else data
        except KeyError:
            raise AppCallError(
                f"{self.url} reply has no {self.response_path!r}: {json.dumps(data)[:200]}"
            ) from None
        try:
            output = parse_app_output(value)
        except ValueError as exc:
            raise AppCallError(f"unusable app output at {self.response_path!r}: {exc}") from exc
        if self.context_path:
            from .outputs import normalize_context

            try:
                chunks = normalize_context(_dig(data, self.context_path), self.context_path)
            except (KeyError, ValueError) as exc:
                raise AppCallError(f"bad retrieved context at {self.context_path!r}: {exc}") from exc
            output = dataclasses.replace(output, retrieved_context=chunks)
        # From sending the request to reading the whole body, as httpx measures it.
        return dataclasses.replace(output, latency_seconds=response.elapsed.total_seconds())

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


# ---- building a target from a specification ---------------------------------------------------


def _ca_bundle(spec: Mapping[str, Any], base_dir: Path | None, where: str) -> str | None:
    """The app's ``ca_bundle`` as an absolute path (relative: to ``base_dir``, the suite file's
    directory, else the working directory; ``~`` expanded); it must exist."""
    value = spec.get("ca_bundle")
    if value is None or value == "":
        return None
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.exists():
        raise TargetConfigError(f"{where}.ca_bundle: {str(path)!r} does not exist")
    return str(path)


def build_target(spec: Any, *, base_dir: Path | None = None, where: str = "app") -> Target | None:
    """A target from a suite file's ``app`` value or a Python object."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return CallableTarget(import_callable(spec, base_dir), description=spec)
    if callable(spec):
        return CallableTarget(spec)
    if not isinstance(spec, Mapping):
        raise TargetConfigError(f"{where}: expected 'module:function' or a mapping, got {spec!r}")
    kind = spec.get("type", "callable" if "callable" in spec else None)
    if kind == "callable":
        return CallableTarget(import_callable(str(spec.get("callable")), base_dir))
    if kind == "openai":
        for key in ("base_url", "model"):
            if not spec.get(key):
                raise TargetConfigError(f"{where}: type openai needs {key!r}")
        key_env = spec.get("api_key_env")
        api_key = os.environ.get(str(key_env)) if key_env else None
        settings = EndpointSettings(
            base_url=str(spec["base_url"]),
            model=str(spec["model"]),
            api_key=Secret(api_key) if api_key else None,
            timeout=float(spec.get("timeout", 60.0)),
            temperature=float(spec.get("temperature", 0.0)),
            ca_bundle=_ca_bundle(spec, base_dir, where),
        )
        system_prompt = spec.get("system_prompt")
        return ChatTarget(settings, system_prompt=str(system_prompt) if system_prompt else None)
    if kind == "http":
        if not spec.get("url"):
            raise TargetConfigError(f"{where}: type http needs 'url'")
        headers_env = spec.get("headers_env") or {}
        if not isinstance(headers_env, Mapping):
            raise TargetConfigError(f"{where}.headers_env: expected a mapping header -> env var")
        return HttpJsonTarget(
            url=str(spec["url"]),
            body=spec.get("body", {"messages": "{messages}"}),
            response_path=spec.get("response_path"),
            context_path=spec.get("context_path"),
            headers_env={str(k): str(v) for k, v in headers_env.items()},
            timeout=float(spec.get("timeout", 60.0)),
            ca_bundle=_ca_bundle(spec, base_dir, where),
        )
    from .registry import available, plugin_target  # targets of installed packages

    plugin = plugin_target(str(kind), spec, base_dir, where) if isinstance(kind, str) else None
    if plugin is not None:
        target: Target = plugin
        return target
    installed = sorted(available("targets"))
    extra = f", or one of installed packages: {', '.join(installed)}" if installed else ""
    raise TargetConfigError(
        f"{where}.type: expected 'callable', 'openai' or 'http'{extra}, got {kind!r}"
    )


async def call_timed(target: Target, row: Row) -> TimedOutput:
    """Call the app. The latency is the one the target measured around the call itself; only a
    target that measures nothing is timed here, around the await."""
    start = time.perf_counter()
    output = await target.call(row)
    measured = output.latency_seconds
    return TimedOutput(output, time.perf_counter() - start if measured is None else measured)
