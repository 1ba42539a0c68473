"""ChatClient against the scripted server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from pytest_genai_eval.llm import (
    ChatClient,
    ChatReply,
    EndpointSettings,
    JsonReply,
    LLMError,
    LLMHTTPError,
    LLMOutputError,
    LLMTransportError,
    Secret,
    extract_json_object,
    parse_retry_after,
)
from pytest_genai_eval.results import TokenUsage
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

T = TypeVar("T")

KEY = "sk-test-8f3a9c1e5b7d2f4a6c8e0b1d3f5a7c9e"

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "rating": {"type": "string", "enum": ["yes", "no"]},
    },
    "required": ["rationale", "rating"],
    "additionalProperties": False,
}

JUDGE_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You grade answers.\nJudge: correctness"},
    {"role": "user", "content": "<<<RESPONSE>>>\nParis\n<<<END RESPONSE>>>"},
]


@pytest.fixture
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as server:
        yield server


def settings_for(server: ScriptedJudge, **overrides: Any) -> EndpointSettings:
    values: dict[str, Any] = {"base_url": server.base_url, "model": "judge-model"}
    values.update(overrides)
    return EndpointSettings(**values)


def run_with_client(
    settings: EndpointSettings,
    fn: Callable[[ChatClient], Awaitable[T]],
    **client_kwargs: Any,
) -> T:
    async def main() -> T:
        async with ChatClient(settings, **client_kwargs) as client:
            return await fn(client)

    return asyncio.run(main())


def ask_verdict(client: ChatClient) -> Awaitable[JsonReply]:
    return client.complete_json(JUDGE_MESSAGES, VERDICT_SCHEMA, schema_name="verdict")


class RecordingSleep:
    """A `sleep` that records the requested waits and does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# ---- Secret and settings -----------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret(KEY)
    assert secret.reveal() == KEY
    assert repr(secret) == "Secret('***')"
    assert str(secret) == "***"
    assert f"{secret}" == "***"
    assert secret == Secret(KEY)
    assert secret != Secret("other")
    assert hash(secret) == hash(Secret(KEY))
    assert secret
    assert not Secret("")


def test_settings_repr_and_public_dict_hide_the_key() -> None:
    settings = EndpointSettings(
        base_url="http://127.0.0.1:9/v1/", model="m", api_key=Secret(KEY), timeout=5.0
    )
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    public = settings.public_dict()
    assert KEY not in json.dumps(public)
    assert public == {
        "base_url": "http://127.0.0.1:9/v1/",
        "model": "m",
        "timeout": 5.0,
        "max_retries": 4,
        "temperature": 0.0,
        "api_key": "set",
    }
    assert settings.chat_url == "http://127.0.0.1:9/v1/chat/completions"
    assert EndpointSettings(base_url="http://h/v1", model="m").public_dict()["api_key"] == "unset"
    with_userinfo = EndpointSettings(base_url="http://user:pw@127.0.0.1:9/v1", model="m")
    assert with_userinfo.public_dict()["base_url"] == "http://127.0.0.1:9/v1"


# ---- plain chat -------------------------------------------------------------------------------------


def test_chat_sends_the_request_and_reads_the_reply(judge: ScriptedJudge) -> None:
    settings = settings_for(
        judge, base_url=judge.base_url + "/", api_key=Secret(KEY), max_tokens=64
    )
    messages = [{"role": "user", "content": "hello there"}]
    reply = run_with_client(settings, lambda client: client.chat(messages))
    assert isinstance(reply, ChatReply)
    assert reply.content == "echo: hello there"
    assert reply.model == "scripted-judge"
    assert reply.usage == TokenUsage(
        len("hello there") // 4 + 1,
        len("echo: hello there") // 4 + 1,
        len("hello there") // 4 + 1 + len("echo: hello there") // 4 + 1,
    )
    assert reply.raw["object"] == "chat.completion"
    assert 0 < reply.latency_seconds < 5
    (call,) = judge.requests
    assert call.body == {
        "model": "judge-model",
        "messages": messages,
        "temperature": 0.0,
        "max_tokens": 64,
    }
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.headers["content-type"] == "application/json"


def test_chat_overrides_and_no_authorization_without_key(judge: ScriptedJudge) -> None:
    run_with_client(
        settings_for(judge),
        lambda client: client.chat(
            [{"role": "user", "content": "x"}],
            temperature=0.7,
            max_tokens=5,
            response_format={"type": "json_object"},
        ),
    )
    (call,) = judge.requests
    assert call.body["temperature"] == 0.7
    assert call.body["max_tokens"] == 5
    assert call.response_format == {"type": "json_object"}
    assert "authorization" not in call.headers


def test_missing_content_is_retried_then_an_output_error(judge: ScriptedJudge) -> None:
    bodies: list[dict[str, Any]] = []

    def empty(body: dict[str, Any]) -> tuple[int, Any]:
        bodies.append(body)
        return 200, {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}

    judge.route("/broken/v1/chat/completions", empty)
    settings = EndpointSettings(base_url=judge.url + "/broken/v1", model="m", max_retries=2)
    sleep = RecordingSleep()
    with pytest.raises(LLMOutputError, match=r"choices\[0\]\.message\.content") as info:
        run_with_client(
            settings, lambda client: client.chat([{"role": "user", "content": "x"}]), sleep=sleep
        )
    assert (info.value.fault, info.value.attempts) == ("no_choices", 3)
    assert "failed after 3 attempts" in str(info.value)
    assert len(bodies) == 3
    assert bodies[0] == bodies[1] == bodies[2]  # chat() sends the same request again ...
    assert sleep.waits == []  # ... at once: a content fault is not a server in trouble


def test_chat_retries_a_refusal_and_reports_finish_reason(judge: ScriptedJudge) -> None:
    replies = iter(
        [
            {"choices": [{"message": {"content": None, "refusal": "I can't help with that"}}]},
            {
                "choices": [{"message": {"content": "half a sen"}, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            },
        ]
    )
    judge.route("/refuses/v1/chat/completions", lambda body: (200, next(replies)))
    settings = EndpointSettings(base_url=judge.url + "/refuses/v1", model="m")
    reply = run_with_client(
        settings, lambda client: client.chat([{"role": "user", "content": "x"}])
    )
    assert reply.content == "half a sen"  # a truncated plain reply is a reply
    assert reply.finish_reason == "length"
    assert reply.attempts == 2
    assert reply.usage == TokenUsage(5, 7, 12)


def test_missing_usage_is_zero(judge: ScriptedJudge) -> None:
    reply_body = {"model": "m2", "choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    judge.route("/nousage/v1/chat/completions", lambda body: (200, reply_body))
    settings = EndpointSettings(base_url=judge.url + "/nousage/v1", model="m")
    reply = run_with_client(
        settings, lambda client: client.chat([{"role": "user", "content": "x"}])
    )
    assert reply.content == "hi"
    assert reply.model == "m2"
    assert reply.usage == TokenUsage(0, 0, 0)


# ---- structured output ---------------------------------------------------------------------------


def test_json_schema_mode_sends_the_schema(judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", rating="no", rationale="wrong")
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.data == {"rationale": "wrong", "rating": "no"}
    assert reply.mode == "json_schema"
    assert reply.repaired is False
    assert (reply.attempts, reply.faults) == (1, ())
    assert reply.model == "scripted-judge"
    (call,) = judge.requests
    assert call.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
    }
    assert call.messages == JUDGE_MESSAGES


def test_fallback_to_json_object_then_text_is_remembered(judge: ScriptedJudge) -> None:
    judge.reject_response_format("json_schema", "json_object")

    async def two_calls(client: ChatClient) -> tuple[JsonReply, JsonReply, str]:
        first = await ask_verdict(client)
        second = await ask_verdict(client)
        return first, second, client.json_mode

    first, second, mode = run_with_client(settings_for(judge, max_retries=0), two_calls)
    assert first.data == second.data == {"rationale": "All criteria are met.", "rating": "yes"}
    assert first.mode == second.mode == mode == "text"
    # the downgrades did not use the budget: even with max_retries=0 the call succeeded
    assert first.attempts == second.attempts == 1
    formats = [call.response_format for call in judge.requests]
    assert formats == [
        {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
        },
        {"type": "json_object", "schema": VERDICT_SCHEMA},
        None,
        None,  # the second call starts where the first ended up
    ]


def test_fallback_stops_at_json_object_when_that_works(judge: ScriptedJudge) -> None:
    judge.reject_response_format("json_schema")
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.mode == "json_object"
    assert [c.response_format for c in judge.requests][1:] == [
        {"type": "json_object", "schema": VERDICT_SCHEMA}
    ]


def test_a_fresh_client_starts_with_json_schema_again(judge: ScriptedJudge) -> None:
    judge.reject_response_format("json_schema")
    run_with_client(settings_for(judge), ask_verdict)
    judge.reject_response_format()
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.mode == "json_schema"  # the downgrade is per client, not global


def test_unrelated_400_is_not_a_format_fallback(judge: ScriptedJudge) -> None:
    judge.fail_next(1, status=400, body='{"error": {"message": "context length exceeded"}}')
    with pytest.raises(LLMHTTPError) as info:
        run_with_client(settings_for(judge), ask_verdict)
    assert info.value.status == 400
    assert "context length exceeded" in str(info.value)
    assert len(judge.requests) == 1


@pytest.mark.parametrize("style", ["fenced", "prose"])
def test_fenced_and_prose_replies_are_parsed(judge: ScriptedJudge, style: str) -> None:
    judge.reply_style(style)
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.data == {"rationale": "All criteria are met.", "rating": "yes"}
    assert reply.repaired is False
    assert len(judge.requests) == 1


def test_extract_json_object_variants() -> None:
    assert extract_json_object('{"a": 1}') == {"a": 1}
    assert extract_json_object('```\n{"a": 2}\n```') == {"a": 2}
    assert extract_json_object('Sure!\n```json\n{"a": 3}\n```\nBye') == {"a": 3}
    assert extract_json_object('I think {not json} but {"a": {"b": "}"}} ok') == {"a": {"b": "}"}}
    assert extract_json_object("[1, 2]") is None
    assert extract_json_object("no json here") is None


def test_garbage_once_then_valid_is_repaired(judge: ScriptedJudge) -> None:
    judge.reply_style("garbage", times=1)
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.repaired is True
    assert (reply.attempts, reply.faults) == (2, ("no_json",))
    assert reply.data == {"rationale": "All criteria are met.", "rating": "yes"}
    first, repair = judge.requests
    assert repair.messages[: len(JUDGE_MESSAGES)] == JUDGE_MESSAGES
    assert repair.messages[-2] == {"role": "assistant", "content": "I think it is fine."}
    last = repair.messages[-1]
    assert last["role"] == "user"
    assert last["content"].startswith("Your previous reply could not be used: ")
    assert "no JSON object" in last["content"]
    assert json.dumps(VERDICT_SCHEMA, sort_keys=True) in last["content"]
    # usage is summed over both requests
    assert reply.usage.total_tokens > 0
    expected_prompt = sum(len(c.text) // 4 + 1 for c in (first, repair))
    assert reply.usage.prompt_tokens == expected_prompt
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_schema_invalid_reply_is_repaired_with_the_reason(judge: ScriptedJudge) -> None:
    answers = iter([{"rating": "maybe", "rationale": "hmm"}, None])

    def handler(call: JudgeCall) -> dict[str, Any] | None:
        return next(answers)

    judge.set_handler(handler)
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.repaired is True
    assert reply.data["rating"] == "yes"
    repair_prompt = judge.requests[1].messages[-1]["content"]
    assert "rating" in repair_prompt and "'maybe' is not one of" in repair_prompt


def test_garbage_always_is_an_output_error_when_the_budget_is_spent(judge: ScriptedJudge) -> None:
    judge.reply_style("garbage")
    with pytest.raises(LLMOutputError) as info:
        run_with_client(settings_for(judge, max_retries=3), ask_verdict)
    message = str(info.value)
    assert "no JSON object" in message
    assert "I think it is fine." in message
    assert "failed after 4 attempts" in message
    assert (info.value.fault, info.value.attempts) == ("no_json", 4)
    assert len(judge.requests) == 4  # max_retries=3: re-asked three times, not once
    # Every repair re-ask is the original question plus the last bad reply and the reason,
    # not a growing history of every bad reply.
    for repair in judge.requests[1:]:
        assert repair.messages[: len(JUDGE_MESSAGES)] == JUDGE_MESSAGES
        assert len(repair.messages) == len(JUDGE_MESSAGES) + 2


def test_the_default_budget_re_asks_more_than_once(judge: ScriptedJudge) -> None:
    judge.reply_style("garbage", times=3)
    reply = run_with_client(settings_for(judge), ask_verdict)  # max_retries=4 by default
    assert reply.data["rating"] == "yes"
    assert (reply.attempts, reply.faults) == (4, ("no_json",) * 3)


def test_usage_is_summed_over_chat_calls(judge: ScriptedJudge) -> None:
    async def three(client: ChatClient) -> list[ChatReply]:
        return [await client.chat([{"role": "user", "content": "x" * n}]) for n in (10, 100, 1000)]

    replies = run_with_client(settings_for(judge), three)
    total = TokenUsage()
    for reply in replies:
        total = total + reply.usage
    assert total.prompt_tokens == sum(n // 4 + 1 for n in (10, 100, 1000))
    assert total.total_tokens == total.prompt_tokens + total.completion_tokens


# ---- retries -------------------------------------------------------------------------------------


def test_retry_on_500_honours_retry_after(judge: ScriptedJudge) -> None:
    judge.fail_next(1, status=500, retry_after=0.2)
    started = time.perf_counter()
    reply = run_with_client(settings_for(judge), ask_verdict)
    elapsed = time.perf_counter() - started
    assert reply.data["rating"] == "yes"
    assert len(judge.requests) == 2
    assert elapsed >= 0.2
    assert elapsed < 1.5  # the Retry-After replaced the backoff, it did not add to it


def test_retry_on_429_honours_retry_after(judge: ScriptedJudge) -> None:
    judge.fail_next(1, status=429, retry_after=0.2)
    started = time.perf_counter()
    reply = run_with_client(
        settings_for(judge), lambda client: client.chat([{"role": "user", "content": "hi"}])
    )
    assert time.perf_counter() - started >= 0.2
    assert reply.content == "echo: hi"
    assert len(judge.requests) == 2


def test_backoff_is_exponential_with_full_jitter(judge: ScriptedJudge) -> None:
    judge.fail_next(3, status=503)
    sleep = RecordingSleep()
    reply = run_with_client(
        settings_for(judge, max_retries=3),
        lambda client: client.chat([{"role": "user", "content": "hi"}]),
        sleep=sleep,
    )
    assert reply.content == "echo: hi"
    assert len(judge.requests) == 4
    assert len(sleep.waits) == 3
    for retry, wait in enumerate(sleep.waits):
        assert 0.0 <= wait <= 0.5 * 2**retry


def test_retries_exhausted_is_an_http_error_with_the_status(judge: ScriptedJudge) -> None:
    judge.fail_next(10, status=503, retry_after=0.01)
    with pytest.raises(LLMHTTPError) as info:
        run_with_client(
            settings_for(judge, max_retries=2),
            lambda client: client.chat([{"role": "user", "content": "hi"}]),
        )
    assert info.value.status == 503
    assert "3 attempts" in str(info.value)
    assert (info.value.fault, info.value.attempts) == ("http", 3)
    assert len(judge.requests) == 3


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_client_errors_are_not_retried(judge: ScriptedJudge, status: int) -> None:
    judge.fail_next(1, status=status, body='{"error": {"message": "nope"}}')
    sleep = RecordingSleep()
    with pytest.raises(LLMHTTPError) as info:
        run_with_client(
            settings_for(judge),
            lambda client: client.chat([{"role": "user", "content": "hi"}]),
            sleep=sleep,
        )
    assert info.value.status == status
    assert "nope" in info.value.body
    assert len(judge.requests) == 1
    assert sleep.waits == []


def test_error_body_excerpt_is_short(judge: ScriptedJudge) -> None:
    judge.fail_next(1, status=400, body="x" * 5000)
    with pytest.raises(LLMHTTPError) as info:
        run_with_client(
            settings_for(judge), lambda client: client.chat([{"role": "user", "content": "hi"}])
        )
    assert len(info.value.body) == 300
    assert len(str(info.value)) < 500


def test_timeout_is_retried_then_an_error(judge: ScriptedJudge) -> None:
    # The server answers only once the test releases it, after the call: the call can only end
    # by the client's own timeouts. (A wall-clock bound just above the expected time, as this
    # test had before, fails whenever the test process pauses: a full garbage collection in a
    # pytest process with in-process pytester runs takes 0.3 s on a 2-core machine.)
    release = threading.Event()
    answered: list[str] = []

    def stalled_app(call: JudgeCall) -> str:
        release.wait(30)
        answered.append(call.last_user_message)
        return "too late"

    judge.set_app(stalled_app)
    sleep = RecordingSleep()
    elapsed: list[float] = []

    async def timed_chat(client: ChatClient) -> ChatReply:
        started = time.perf_counter()
        try:
            return await client.chat([{"role": "user", "content": "hi"}])
        finally:
            elapsed.append(time.perf_counter() - started)

    try:
        with pytest.raises(LLMTransportError, match="timed out") as info:
            run_with_client(
                settings_for(judge, timeout=0.05, max_retries=1), timed_chat, sleep=sleep
            )
        answered_before_the_error = list(answered)
    finally:
        release.set()
    assert isinstance(info.value, LLMError) and not isinstance(info.value, LLMHTTPError)
    assert (info.value.fault, info.value.attempts) == ("timeout", 2)
    # Both attempts gave up on their own: the server had not answered either of them.
    assert answered_before_the_error == []
    assert len(judge.requests) == 2
    assert len(sleep.waits) == 1
    # Each attempt waited its timeout, and the call did not wait for the (withheld) answers.
    assert 2 * 0.05 <= elapsed[0] < 15


def test_connection_refused_is_retried_then_an_error() -> None:
    server = ScriptedJudge().start()
    settings = settings_for(server, max_retries=2)
    server.stop()
    sleep = RecordingSleep()
    with pytest.raises(LLMTransportError, match="ConnectError") as info:
        run_with_client(
            settings, lambda client: client.chat([{"role": "user", "content": "hi"}]), sleep=sleep
        )
    assert "3 attempts" in str(info.value)
    assert (info.value.fault, info.value.attempts) == ("transport", 3)
    assert len(sleep.waits) == 2


def test_parse_retry_after() -> None:
    assert parse_retry_after("0.2") == 0.2
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("3600") == 60.0  # capped
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 10, usegmt=True)
    from_date = parse_retry_after(date, now=now)
    assert from_date is not None and 8.5 <= from_date <= 10.5
    assert parse_retry_after(email.utils.formatdate(now - 100, usegmt=True), now=now) == 0.0


# ---- the key never leaks ----------------------------------------------------------------------------


def test_key_echoed_in_a_401_body_is_redacted(judge: ScriptedJudge) -> None:
    judge.fail_next(1, status=401, body=json.dumps({"error": f"invalid key: Bearer {KEY}"}))
    settings = settings_for(judge, api_key=Secret(KEY))
    with pytest.raises(LLMHTTPError) as info:
        run_with_client(settings, lambda client: client.chat([{"role": "user", "content": "hi"}]))
    error = info.value
    assert judge.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent ...
    assert error.status == 401
    assert "invalid key" in str(error)  # ... the body is reported ...
    assert KEY not in str(error)  # ... without the key
    assert KEY not in repr(error)
    assert KEY not in error.body
    assert KEY not in repr(settings)
    assert len(judge.requests) == 1


def test_key_cut_by_the_excerpt_limit_does_not_leak_a_prefix(judge: ScriptedJudge) -> None:
    body = "x" * 290 + KEY
    judge.fail_next(1, status=403, body=body)
    settings = settings_for(judge, api_key=Secret(KEY))
    with pytest.raises(LLMHTTPError) as info:
        run_with_client(settings, lambda client: client.chat([{"role": "user", "content": "hi"}]))
    assert KEY[:10] not in str(info.value)


def test_key_echoed_in_a_reply_is_redacted_from_output_errors(judge: ScriptedJudge) -> None:
    def handler(call: JudgeCall) -> str:
        return f"I received {call.headers['authorization']} and no verdict"

    judge.set_handler(handler)
    settings = settings_for(judge, api_key=Secret(KEY))
    with pytest.raises(LLMOutputError) as info:
        run_with_client(settings, ask_verdict)
    assert "I received Bearer ***" in str(info.value)
    assert KEY not in str(info.value)


def test_client_repr_hides_the_key(judge: ScriptedJudge) -> None:
    async def rep(client: ChatClient) -> str:
        return repr(client)

    text = run_with_client(settings_for(judge, api_key=Secret(KEY)), rep)
    assert KEY not in text
    assert "judge-model" in text


# ---- connection pools -------------------------------------------------------------------------------


def test_pool_size_limits_concurrency(judge: ScriptedJudge) -> None:
    judge.delay = 0.05

    async def many(client: ChatClient) -> list[ChatReply]:
        messages = [{"role": "user", "content": "hi"}]
        return await asyncio.gather(*(client.chat(messages) for _ in range(12)))

    replies = run_with_client(settings_for(judge), many, pool_size=3)
    assert len(replies) == 12
    assert judge.max_in_flight == 3


def test_several_clients_round_robin(judge: ScriptedJudge) -> None:
    judge.delay = 0.05

    async def many(client: ChatClient) -> list[ChatReply]:
        messages = [{"role": "user", "content": "hi"}]
        return await asyncio.gather(*(client.chat(messages) for _ in range(12)))

    replies = run_with_client(settings_for(judge), many, pool_size=3, clients=2)
    assert {r.content for r in replies} == {"echo: hi"}
    assert judge.max_in_flight == 6


def test_concurrent_structured_calls(judge: ScriptedJudge) -> None:
    judge.delay = 0.02  # long enough for requests to overlap even on a busy machine
    judge.on(judge="correctness", contains="odd", rating="no", rationale="odd one")

    async def many(client: ChatClient) -> list[JsonReply]:
        calls = []
        for i in range(40):
            word = "odd" if i % 2 else "even"
            messages = [
                JUDGE_MESSAGES[0],
                {"role": "user", "content": f"<<<RESPONSE>>>\n{word}\n<<<END RESPONSE>>>"},
            ]
            calls.append(client.complete_json(messages, VERDICT_SCHEMA, schema_name="verdict"))
        return await asyncio.gather(*calls)

    replies = run_with_client(settings_for(judge), many, pool_size=4, clients=2)
    assert [r.data["rating"] for r in replies] == ["yes", "no"] * 20
    assert len(judge.calls("correctness")) == 40
    assert 1 < judge.max_in_flight <= 8


def test_scripted_verdicts_round_trip_through_the_client(judge: ScriptedJudge) -> None:
    judge.set_handler(lambda call: Verdict("no", f"saw {call.sections.get('response')}"))
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.data == {"rationale": "saw Paris", "rating": "no"}


def test_a_500_that_names_response_format_falls_back_without_retrying(judge: ScriptedJudge) -> None:
    """llama-cpp-python's server answers an unsupported response_format with HTTP 500."""
    judge.fail_next(
        1,
        status=500,
        body='{"error": {"message": "response_format.type: Input should be \'text\' or \'json_object\'"}}',
    )
    reply = run_with_client(settings_for(judge), ask_verdict)
    assert reply.mode == "json_object"
    assert len(judge.requests) == 2  # one rejected call, no retries of it, then json_object
