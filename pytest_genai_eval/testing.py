"""A scripted, OpenAI-compatible chat-completions server for testing evaluation suites offline.

:class:`ScriptedJudge` starts a real HTTP server on ``127.0.0.1`` (a free port) that speaks enough
of the OpenAI chat-completions protocol for an evaluation run: judges get scripted verdicts, the
application under test gets scripted answers, and faults (HTTP errors, slow replies, unreadable
JSON, servers without structured-output support) can be injected on demand. Everything the server
receives is recorded so a test can assert on what was asked.

Typical use, through the ``genai_scripted_judge`` fixture::

    def test_flags_wrong_answers(genai_scripted_judge):
        genai_scripted_judge.on(judge="correctness", contains="Paris", rating="no")
        ...  # point the suite's judge endpoint at genai_scripted_judge.base_url
        assert len(genai_scripted_judge.calls("correctness")) == 3

How a request is classified:

* A request whose system message has a line ``Judge: <name>`` is a **judge call**. Its answer
  is, in order of precedence: the handler (:meth:`ScriptedJudge.set_handler`), the newest
  matching rule (:meth:`ScriptedJudge.on`), the default verdict. Verdicts are sent as the JSON
  object ``{"rationale": ..., "rating": ...}`` in the message content, wrapped according to
  :meth:`ScriptedJudge.reply_style`.
* Any other request is an **application call**: the server plays the application under test and
  answers with :meth:`ScriptedJudge.set_app`'s function (default: ``"echo: "`` + the last user
  message).

User messages may carry named sections, written as ``<<<NAME>>>`` ... ``<<<END NAME>>>``
blocks; they are parsed into :attr:`JudgeCall.sections` (keys lower-cased) so rules can match on
one section only, e.g. ``on(section="response", contains="Paris")``.

Order of processing for each chat request: record it, sleep ``delay``, injected failures
(:meth:`ScriptedJudge.fail_next`), rejected ``response_format`` types
(:meth:`ScriptedJudge.reject_response_format`), chaos faults (:meth:`ScriptedJudge.chaos`),
then the answer.

Random fault injection, for testing retries: ``judge.chaos(rate=0.3, seed=1)`` gives each judge
call, independently, a fault with probability ``rate``, of a kind drawn from
:data:`CHAOS_KINDS` (or ``kinds=...``): HTTP 500, 503 or 429 (``Retry-After: 0``), a connection
closed without a response, content without JSON, a rating outside the scale (``"maybe"``), a JSON
reply cut off with ``finish_reason: "length"``, an empty ``choices`` list, or a refusal
(``message.refusal`` set, ``content`` null). ``max_per_question=N`` caps the faults one question
receives, so that with a client retry budget of ``N`` no call may fail::

    judge.chaos(rate=0.3, seed=1, max_per_question=8)
    ...  # run the suite with --genai-judge-retries 8
    assert all(judge.injected_faults.values())  # every kind happened
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

__all__ = [
    "CHAOS_KINDS",
    "JudgeCall",
    "ScriptedJudge",
    "Verdict",
    "genai_scripted_judge",
]

_JUDGE_LINE = re.compile(r"^Judge:\s*(\S+)", re.MULTILINE)
_SECTION = re.compile(r"<<<(?P<name>[^<>\n]+?)>>>(?P<body>.*?)<<<END (?P=name)>>>", re.DOTALL)
_REPLY_STYLES = ("json", "fenced", "prose", "garbage")
_CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
_MODELS_PATHS = ("/v1/models", "/models")

CHAOS_KINDS: tuple[str, ...] = (
    "http_500",  # HTTP 500 with an OpenAI-style error body
    "http_503",  # HTTP 503 with an OpenAI-style error body
    "http_429",  # HTTP 429 with "Retry-After: 0"
    "drop",  # the connection is closed without a response
    "garbage",  # content without any JSON
    "out_of_scale",  # a rating of "maybe" (a score above the schema's maximum for score judges)
    "truncated",  # half a JSON verdict with finish_reason "length"
    "no_choices",  # "choices": []
    "refusal",  # message.refusal "I can't help with that", content null
)
_CHAOS_REFUSAL = "I can't help with that"
_CHAOS_TRUNCATED = '{"rationale": "All criteria are m'


@dataclass(frozen=True)
class Verdict:
    """A scripted judge verdict, sent as ``{"rationale": ..., "rating": ...}``.

    ``rating`` is normally ``"yes"`` or ``"no"``; it is not validated, so a test can also script
    an out-of-schema rating such as ``"maybe"``.
    """

    rating: str
    rationale: str = "scripted verdict"

    def to_dict(self) -> dict[str, Any]:
        """The verdict as the JSON object the server sends."""
        return {"rationale": self.rationale, "rating": self.rating}


def _content_text(content: Any) -> str:
    """The text of a message ``content``: a string, or a list of ``{"type": "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


def _parse_sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    for match in _SECTION.finditer(text):
        body = match.group("body")
        if body.startswith("\n"):
            body = body[1:]
        if body.endswith("\n"):
            body = body[:-1]
        sections[match.group("name").strip().lower()] = body
    return sections


@dataclass
class JudgeCall:
    """What the server parsed out of one chat-completions request.

    Attributes:
        judge: the name from a ``Judge: <name>`` line in the system message, or ``None`` when
            there is no such line (then the request is an application call).
        sections: ``<<<NAME>>>`` ... ``<<<END NAME>>>`` blocks of the user message(s), keyed by
            the lower-cased name; the single newline after the opening and before the closing
            marker is dropped.
        messages: the request's ``messages``.
        body: the full JSON request body.
        headers: the request headers, names lower-cased.
        response_format: the request's ``response_format``, if any.
        fault: the :data:`CHAOS_KINDS` fault :meth:`ScriptedJudge.chaos` injected into this
            request, or ``None``.
    """

    judge: str | None
    sections: dict[str, str]
    messages: list[dict[str, Any]]
    body: dict[str, Any]
    headers: dict[str, str]
    response_format: dict[str, Any] | None
    fault: str | None = None

    @property
    def text(self) -> str:
        """All message contents joined with newlines."""
        return "\n".join(
            _content_text(m.get("content")) for m in self.messages if isinstance(m, dict)
        )

    @property
    def first_user_message(self) -> str:
        """The content of the first user message ("" if there is none): the question itself,
        before any repair turns a client appended."""
        for message in self.messages:
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    @property
    def last_user_message(self) -> str:
        """The content of the last user message ("" if there is none)."""
        for message in reversed(self.messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    @classmethod
    def from_body(cls, body: dict[str, Any], headers: dict[str, str]) -> JudgeCall:
        """Parse a chat-completions request body."""
        raw_messages = body.get("messages")
        messages: list[dict[str, Any]] = (
            [m for m in raw_messages if isinstance(m, dict)]
            if isinstance(raw_messages, list)
            else []
        )
        judge: str | None = None
        for message in messages:
            if message.get("role") in ("system", "developer"):
                match = _JUDGE_LINE.search(_content_text(message.get("content")))
                if match:
                    judge = match.group(1)
                    break
        sections: dict[str, str] = {}
        for message in messages:
            if message.get("role") == "user":
                sections.update(_parse_sections(_content_text(message.get("content"))))
        response_format = body.get("response_format")
        return cls(
            judge=judge,
            sections=sections,
            messages=messages,
            body=body,
            headers=headers,
            response_format=response_format if isinstance(response_format, dict) else None,
        )


Handler = Callable[[JudgeCall], "Verdict | dict[str, Any] | str | None"]
AppFunction = Callable[[JudgeCall], str]
RouteFunction = Callable[[dict[str, Any]], tuple[int, Any]]


@dataclass
class _Rule:
    judge: str | None
    contains: str | None
    section: str | None
    verdict: Verdict
    remaining: int | None

    def matches(self, call: JudgeCall) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.judge is not None and call.judge != self.judge:
            return False
        if self.contains is None:
            return True
        haystack = call.sections.get(self.section.lower(), "") if self.section else call.text
        return self.contains in haystack


@dataclass
class _Fault:
    remaining: int
    status: int
    retry_after: float | None
    body: str | None


@dataclass
class _Chaos:
    rate: float
    rng: random.Random
    kinds: tuple[str, ...]
    max_per_question: int | None
    per_question: dict[tuple[str | None, str], int] = field(default_factory=dict)


@dataclass
class _State:
    rules: list[_Rule] = field(default_factory=list)
    handler: Handler | None = None
    app: AppFunction | None = None
    routes: dict[str, RouteFunction] = field(default_factory=dict)
    requests: list[JudgeCall] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    style: str = "json"
    style_remaining: int | None = None
    rejected_formats: frozenset[str] = frozenset()
    chaos: _Chaos | None = None
    chaos_counts: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, owner: ScriptedJudge) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are expected (timeout tests); stay quiet.
        return


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(
        self,
        status: int,
        payload: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode("utf-8"), headers=headers)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._send_json(status, {"error": {"message": message, "type": kind}})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in _MODELS_PATHS:
            owner = self.server.owner
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": owner.model,
                            "object": "model",
                            "created": int(time.time()),
                            "owned_by": "pytest-genai-eval",
                        }
                    ],
                },
            )
            return
        self._error(404, f"no such endpoint: GET {path}", "not_found_error")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        route = owner._route_for(path)
        if path not in _CHAT_PATHS and route is None:
            self._error(404, f"no such endpoint: POST {path}", "not_found_error")
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if not isinstance(body, dict):
            self._error(400, "request body must be a JSON object")
            return
        if route is not None:
            try:
                status, data = route(body)
            except Exception as exc:  # a broken test route is reported, not raised in a thread
                self._error(
                    500, f"route handler raised {type(exc).__name__}: {exc}", "server_error"
                )
                return
            if isinstance(data, bytes):
                self._send(status, data)
            else:
                self._send_json(status, data)
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        call = JudgeCall.from_body(body, headers)
        owner._begin(call)
        try:
            answer = owner._answer(call)
            if answer is None:  # a dropped connection: close it without a response
                self.close_connection = True
                return
            status, payload, content_type, extra = answer
            if owner._chaos_on():
                # One connection per request while chaos is on: an HTTP client transparently
                # re-sends a request once when a reused keep-alive connection turns out closed,
                # which would hide a "drop" from the client's retry count.
                extra = {**extra, "Connection": "close"}
            self._send(status, payload, content_type=content_type, headers=extra)
        finally:
            owner._end()


class ScriptedJudge:
    """Scripted OpenAI-compatible chat-completions server on 127.0.0.1.

    Args:
        model: the model name the server reports (``/v1/models`` and each completion).
        default: the verdict for judge calls that no handler or rule answers.
        delay: seconds to sleep before answering each chat request (settable later through the
            ``delay`` attribute).

    Use as a context manager (``with ScriptedJudge() as judge: ...``) or call :meth:`start` and
    :meth:`stop`. All methods are thread-safe and may be called while requests are being served.

    Endpoints: ``POST /v1/chat/completions`` (also ``/chat/completions``), ``GET /v1/models``,
    and any extra JSON endpoints added with :meth:`route`.

    Fault injection: :meth:`fail_next` (HTTP errors, in order), :meth:`reply_style` (fenced,
    prose or JSON-less replies), :meth:`reject_response_format` (no structured output), ``delay``
    (slow replies) and :meth:`chaos` (seeded random faults of every kind in
    :data:`CHAOS_KINDS`, at most ``max_per_question`` per question, counted in
    :attr:`injected_faults`).
    """

    def __init__(
        self,
        *,
        model: str = "scripted-judge",
        default: Verdict = Verdict("yes", "All criteria are met."),
        delay: float = 0.0,
    ) -> None:
        self.model = model
        self.default = default
        self.delay = delay
        self._lock = threading.Lock()
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ScriptedJudge:
        """Start serving on a free port of 127.0.0.1 (no-op when already started)."""
        if self._server is not None:
            return self
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ScriptedJudge:{server.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._server = server
        self._thread = thread
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (no-op when not started)."""
        server, thread = self._server, self._thread
        self._server = None
        self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ScriptedJudge:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on (raises ``RuntimeError`` before :meth:`start`)."""
        if self._server is None:
            raise RuntimeError(
                "ScriptedJudge is not started; call start() or use it as a context manager"
            )
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (no path), for :meth:`route` endpoints."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ``http://127.0.0.1:<port>/v1`` (valid after :meth:`start`)."""
        return f"{self.url}/v1"

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"ScriptedJudge(model={self.model!r}, {where})"

    # ------------------------------------------------------------------ scripting

    def on(
        self,
        *,
        judge: str | None = None,
        contains: str | None = None,
        section: str | None = None,
        rating: str = "no",
        rationale: str = "scripted rule",
        times: int | None = None,
    ) -> ScriptedJudge:
        """Add a rule answering judge calls with ``Verdict(rating, rationale)``.

        A rule matches a judge call when ``judge`` is ``None`` or equals the call's judge name,
        and ``contains`` is ``None`` or is a substring of the named ``section`` (case-insensitive
        name; a missing section is "") or, without ``section``, of the whole prompt text.
        Rules are checked newest first and the first match wins; with ``times=N`` a rule answers
        at most N calls. Returns ``self`` for chaining.
        """
        if times is not None and times < 1:
            raise ValueError("times must be a positive integer or None")
        rule = _Rule(judge, contains, section, Verdict(rating, rationale), times)
        with self._lock:
            self._state.rules.append(rule)
        return self

    def set_handler(
        self, fn: Callable[[JudgeCall], Verdict | dict[str, Any] | str | None] | None
    ) -> None:
        """Set a function consulted for judge calls before the rules (``None`` removes it).

        Its result: a :class:`Verdict` is sent as verdict JSON; a ``dict`` is sent as the JSON
        content (both wrapped by :meth:`reply_style`); a ``str`` is sent as the raw message
        content; ``None`` falls through to the rules and the default verdict. If the function
        raises, the request gets HTTP 500 with the exception in the error message.
        """
        with self._lock:
            self._state.handler = fn

    def set_app(self, fn: Callable[[JudgeCall], str] | None) -> None:
        """Set the reply function for application calls (requests without a ``Judge:`` line).

        The reply content is ``fn(call)``; ``None`` restores the default, ``"echo: "`` + the
        content of the last user message.
        """
        with self._lock:
            self._state.app = fn

    def route(self, path: str, fn: Callable[[dict[str, Any]], tuple[int, Any]]) -> None:
        """Add a plain JSON ``POST`` endpoint, e.g. ``route("/answer", fn)``.

        ``fn(body)`` returns ``(status, json_body)``; a ``bytes`` body is sent as is (with
        ``Content-Type: application/json``), e.g. to test a client against malformed replies.
        Useful for testing applications that are not OpenAI-compatible HTTP services. These
        requests are not recorded in :attr:`requests`.
        """
        if not path.startswith("/"):
            path = "/" + path
        with self._lock:
            self._state.routes[path] = fn

    def _route_for(self, path: str) -> RouteFunction | None:
        with self._lock:
            return self._state.routes.get(path)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        n: int,
        *,
        status: int = 500,
        retry_after: float | None = None,
        body: str | None = None,
    ) -> None:
        """Make the next ``n`` chat requests fail with HTTP ``status``.

        ``retry_after`` adds a ``Retry-After`` header (seconds; fractions are sent as such, e.g.
        ``"0.2"``). ``body`` replaces the default OpenAI-style JSON error body. Several calls
        queue up: ``fail_next(1, status=500); fail_next(1, status=429)`` fails the next request
        with 500 and the one after with 429.
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        if n == 0:
            return
        with self._lock:
            self._state.faults.append(_Fault(n, status, retry_after, body))

    def reply_style(self, style: str, *, times: int | None = None) -> None:
        """Choose how verdict JSON is wrapped in the message content of judge replies.

        ``"json"`` (default): the bare JSON object; ``"fenced"``: a Markdown ```` ```json ````
        block; ``"prose"``: ``"Here is my verdict: {...} Hope this helps."``; ``"garbage"``: no
        JSON at all. With ``times=N`` only the next N judge replies use the style, then it goes
        back to ``"json"``.
        """
        if style not in _REPLY_STYLES:
            raise ValueError(f"unknown reply style {style!r}; expected one of {_REPLY_STYLES}")
        if times is not None and times < 1:
            raise ValueError("times must be a positive integer or None")
        with self._lock:
            self._state.style = style
            self._state.style_remaining = times

    def reject_response_format(self, *types: str) -> None:
        """Reject requests whose ``response_format.type`` is one of ``types`` with HTTP 400.

        The error body mirrors servers without structured-output support:
        ``{"error": {"message": "response_format type '<t>' is not supported", "type":
        "invalid_request_error"}}``. Each call replaces the rejected set; no arguments accept
        every type again.
        """
        with self._lock:
            self._state.rejected_formats = frozenset(types)

    def chaos(
        self,
        rate: float = 0.3,
        *,
        seed: int = 0,
        kinds: Iterable[str] = CHAOS_KINDS,
        max_per_question: int | None = None,
    ) -> ScriptedJudge:
        """Inject random faults into judge calls, reproducibly; ``rate=0`` turns chaos off.

        Each judge call (a request with a ``Judge:`` line; application calls are never touched)
        gets, independently, a fault with probability ``rate``, its kind drawn uniformly from
        ``kinds`` (default :data:`CHAOS_KINDS`). The draws come from ``random.Random(seed)``, taken
        under the server's lock in arrival order, so the sequence of draws is fixed by the seed
        (which request gets which draw depends on arrival order when requests overlap).

        ``max_per_question``: at most this many faults for one question, a question being the
        judge name plus the content of the first user message, i.e. the original question
        before any repair turns a client appended (a retry or repair re-ask of a call is the
        same question). With ``max_per_question=N`` and a client retry budget of ``N`` retries,
        no call can run out of attempts.

        A chaos fault replaces the answer; it does not consult the handler or the rules (so a
        rule's ``times`` is not used up by it). While chaos is on, every response closes its
        connection (``Connection: close``), so each request uses a fresh connection and a
        ``drop`` always reaches the client as a failed attempt. Each call replaces the previous
        chaos settings and clears :attr:`injected_faults` and the per-question tallies;
        :meth:`reset` turns chaos off. Injected faults are recorded in :attr:`injected_faults`
        and in each request's :attr:`JudgeCall.fault`. Returns ``self``.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        chosen = tuple(kinds)
        unknown = sorted(set(chosen) - set(CHAOS_KINDS))
        if unknown or not chosen:
            raise ValueError(
                f"unknown chaos kind(s) {unknown}; expected some of {CHAOS_KINDS}"
                if unknown
                else "kinds must name at least one fault kind"
            )
        if max_per_question is not None and max_per_question < 0:
            raise ValueError("max_per_question must be >= 0 or None")
        with self._lock:
            state = self._state
            state.chaos = (
                _Chaos(rate, random.Random(seed), chosen, max_per_question) if rate > 0 else None
            )
            state.chaos_counts = dict.fromkeys(chosen, 0) if rate > 0 else {}
        return self

    # ------------------------------------------------------------------ observation

    @property
    def injected_faults(self) -> dict[str, int]:
        """How many faults of each kind :meth:`chaos` injected (every chosen kind, zeros too)."""
        with self._lock:
            return dict(self._state.chaos_counts)

    @property
    def requests(self) -> list[JudgeCall]:
        """Every chat request received, in arrival order (including failed and rejected ones)."""
        with self._lock:
            return list(self._state.requests)

    def calls(self, judge: str | None = None) -> list[JudgeCall]:
        """The judge calls received (requests with a ``Judge:`` line), optionally for one judge."""
        return [
            call
            for call in self.requests
            if call.judge is not None and (judge is None or call.judge == judge)
        ]

    @property
    def max_in_flight(self) -> int:
        """The highest number of chat requests handled at the same moment."""
        with self._lock:
            return self._state.max_in_flight

    def reset(self) -> None:
        """Clear rules, the handler, recorded requests, injected faults and ``max_in_flight``.

        Faults are: pending :meth:`fail_next` failures, the :meth:`reply_style`, the
        :meth:`reject_response_format` set and :meth:`chaos` (off, counts cleared). The app
        function, routes, ``delay`` and the default verdict are kept.
        """
        with self._lock:
            state = self._state
            state.rules.clear()
            state.handler = None
            state.requests.clear()
            state.faults.clear()
            state.style = "json"
            state.style_remaining = None
            state.rejected_formats = frozenset()
            state.chaos = None
            state.chaos_counts = {}
            state.max_in_flight = 0

    # ------------------------------------------------------------------ request handling

    def _begin(self, call: JudgeCall) -> None:
        with self._lock:
            state = self._state
            state.requests.append(call)
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)

    def _end(self) -> None:
        with self._lock:
            self._state.in_flight -= 1

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            faults = self._state.faults
            if not faults:
                return None
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            return fault

    def _chaos_on(self) -> bool:
        with self._lock:
            return self._state.chaos is not None

    def _take_chaos(self, call: JudgeCall) -> str | None:
        """The chaos fault for this request, if any (drawn and recorded under the lock)."""
        if call.judge is None:
            return None
        with self._lock:
            state = self._state
            chaos = state.chaos
            if chaos is None or chaos.rng.random() >= chaos.rate:
                return None
            kind = chaos.rng.choice(chaos.kinds)
            question = (call.judge, call.first_user_message)
            count = chaos.per_question.get(question, 0)
            if chaos.max_per_question is not None and count >= chaos.max_per_question:
                return None
            chaos.per_question[question] = count + 1
            state.chaos_counts[kind] = state.chaos_counts.get(kind, 0) + 1
            call.fault = kind
            return kind

    def _take_style(self) -> str:
        with self._lock:
            state = self._state
            style = state.style
            if state.style_remaining is not None:
                state.style_remaining -= 1
                if state.style_remaining <= 0:
                    state.style = "json"
                    state.style_remaining = None
            return style

    def _match_rule(self, call: JudgeCall) -> Verdict | None:
        with self._lock:
            for rule in reversed(self._state.rules):
                if rule.matches(call):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.verdict
        return None

    def _judge_content(self, call: JudgeCall) -> str:
        with self._lock:
            handler = self._state.handler
        result: Verdict | dict[str, Any] | str | None = handler(call) if handler else None
        if isinstance(result, str):
            return result
        if result is None:
            result = self._match_rule(call) or self.default
        data = result.to_dict() if isinstance(result, Verdict) else result
        text = json.dumps(data)
        style = self._take_style()
        if style == "fenced":
            return f"```json\n{text}\n```"
        if style == "prose":
            return f"Here is my verdict: {text} Hope this helps."
        if style == "garbage":
            return "I think it is fine."
        return text

    def _app_content(self, call: JudgeCall) -> str:
        with self._lock:
            app = self._state.app
        if app is None:
            return "echo: " + call.last_user_message
        return app(call)

    def _answer(self, call: JudgeCall) -> tuple[int, bytes, str, dict[str, str]] | None:
        """Status, body, content type and extra headers for one chat request; ``None`` to close
        the connection without a response."""
        delay = self.delay
        if delay > 0:
            time.sleep(delay)
        fault = self._take_fault()
        if fault is not None:
            extra: dict[str, str] = {}
            if fault.retry_after is not None:
                seconds = fault.retry_after
                extra["Retry-After"] = (
                    str(int(seconds)) if seconds == int(seconds) else str(seconds)
                )
            if fault.body is None:
                payload = json.dumps(
                    {
                        "error": {
                            "message": f"scripted failure (HTTP {fault.status})",
                            "type": "server_error",
                        }
                    }
                ).encode("utf-8")
                return fault.status, payload, "application/json", extra
            try:
                json.loads(fault.body)
                content_type = "application/json"
            except json.JSONDecodeError:
                content_type = "text/plain; charset=utf-8"
            return fault.status, fault.body.encode("utf-8"), content_type, extra
        with self._lock:
            rejected = self._state.rejected_formats
        format_type = call.response_format.get("type") if call.response_format else None
        if isinstance(format_type, str) and format_type in rejected:
            payload = json.dumps(
                {
                    "error": {
                        "message": f"response_format type '{format_type}' is not supported",
                        "type": "invalid_request_error",
                    }
                }
            ).encode("utf-8")
            return 400, payload, "application/json", {}
        kind = self._take_chaos(call)
        if kind is not None:
            return self._chaos_answer(kind, call)
        try:
            content = (
                self._judge_content(call) if call.judge is not None else self._app_content(call)
            )
        except Exception as exc:  # report a broken test handler to the client, not the thread
            payload = json.dumps(
                {
                    "error": {
                        "message": f"scripted handler raised {type(exc).__name__}: {exc}",
                        "type": "server_error",
                    }
                }
            ).encode("utf-8")
            return 500, payload, "application/json", {}
        return self._completion(call, {"role": "assistant", "content": content})

    def _completion(
        self, call: JudgeCall, message: dict[str, Any] | None, finish_reason: str = "stop"
    ) -> tuple[int, bytes, str, dict[str, str]]:
        """A 200 chat completion with ``message`` as its only choice (no choices for ``None``)."""
        content = message.get("content") if message is not None else None
        prompt_tokens = len(call.text) // 4 + 1
        completion_tokens = len(content if isinstance(content, str) else "") // 4 + 1
        choices = (
            [{"index": 0, "message": message, "finish_reason": finish_reason}]
            if message is not None
            else []
        )
        completion = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return 200, json.dumps(completion).encode("utf-8"), "application/json", {}

    def _chaos_answer(
        self, kind: str, call: JudgeCall
    ) -> tuple[int, bytes, str, dict[str, str]] | None:
        if kind == "drop":
            return None
        if kind.startswith("http_"):
            status = int(kind.removeprefix("http_"))
            error_type = "rate_limit_error" if status == 429 else "server_error"
            payload = json.dumps(
                {"error": {"message": f"chaos: HTTP {status}", "type": error_type}}
            ).encode("utf-8")
            extra = {"Retry-After": "0"} if status == 429 else {}
            return status, payload, "application/json", extra
        if kind == "no_choices":
            return self._completion(call, None)
        if kind == "refusal":
            message = {"role": "assistant", "content": None, "refusal": _CHAOS_REFUSAL}
            return self._completion(call, message)
        if kind == "truncated":
            message = {"role": "assistant", "content": _CHAOS_TRUNCATED}
            return self._completion(call, message, finish_reason="length")
        if kind == "garbage":
            return self._completion(call, {"role": "assistant", "content": "I think it is fine."})
        return self._completion(  # out_of_scale
            call, {"role": "assistant", "content": json.dumps(_out_of_scale(call))}
        )


def _out_of_scale(call: JudgeCall) -> dict[str, Any]:
    """A verdict outside the requested scale: a score above the schema's ``maximum`` when the
    request asks for a score (1e9 when it has no schema), else the rating ``"maybe"``."""
    schema: Any = None
    if call.response_format is not None:
        schema = call.response_format.get("schema")
        inner = call.response_format.get("json_schema")
        if isinstance(inner, dict):
            schema = inner.get("schema")
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict) and isinstance(properties.get("score"), dict):
        maximum = properties["score"].get("maximum")
        numeric = isinstance(maximum, (int, float)) and not isinstance(maximum, bool)
        score = maximum + 1 if numeric else 1e9
        return {"rationale": "chaos: out of scale", "score": score}
    if properties is None and '"score"' in call.text:
        return {"rationale": "chaos: out of scale", "score": 1e9}
    return {"rationale": "chaos: out of scale", "rating": "maybe"}


@pytest.fixture
def genai_scripted_judge() -> Iterator[ScriptedJudge]:
    """A started :class:`ScriptedJudge`, stopped after the test."""
    with ScriptedJudge() as judge:
        yield judge
