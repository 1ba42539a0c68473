"""The scripted OpenAI-compatible server speaks the protocol and does what it is told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pytest_genai_eval.testing import CHAOS_KINDS, JudgeCall, ScriptedJudge, Verdict


@pytest.fixture
def judge() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # One client per test: building an httpx client (SSL context) costs ~50 ms.
    with httpx.Client(timeout=5) as client:
        yield client


def judge_messages(name: str | None, user: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if name is not None:
        messages.append(
            {"role": "system", "content": f"You are a grader.\nJudge: {name}\nBe strict."}
        )
    messages.append({"role": "user", "content": user})
    return messages


def post_chat(
    http: httpx.Client,
    server: ScriptedJudge,
    messages: list[dict[str, Any]],
    **extra: Any,
) -> httpx.Response:
    body = {"model": "whatever", "messages": messages, **extra}
    return http.post(server.base_url + "/chat/completions", json=body)


def content_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert isinstance(content, str)
    return content


def verdict_of(response: httpx.Response) -> dict[str, Any]:
    data = json.loads(content_of(response))
    assert isinstance(data, dict)
    return data


# ---- protocol -------------------------------------------------------------------------------------


def test_chat_completion_shape_and_usage(judge: ScriptedJudge, http: httpx.Client) -> None:
    messages = judge_messages("correctness", "Is 2+2=4?")
    response = post_chat(http, judge, messages)
    body = response.json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "scripted-judge"
    choice = body["choices"][0]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert json.loads(content) == {"rationale": "All criteria are met.", "rating": "yes"}
    prompt_text = "\n".join(m["content"] for m in messages)
    usage = body["usage"]
    assert usage["prompt_tokens"] == len(prompt_text) // 4 + 1
    assert usage["completion_tokens"] == len(content) // 4 + 1
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_both_chat_paths_and_models_endpoint(http: httpx.Client) -> None:
    with ScriptedJudge(model="tiny-judge", default=Verdict("no", "nope")) as server:
        root = server.base_url.removesuffix("/v1")
        assert server.base_url.startswith("http://127.0.0.1:")
        first = http.post(
            root + "/chat/completions",
            json={"messages": judge_messages("x", "hi")},
        )
        second = http.post(
            root + "/v1/chat/completions",
            json={"messages": judge_messages("x", "hi")},
        )
        assert verdict_of(first) == verdict_of(second) == {"rationale": "nope", "rating": "no"}
        assert first.json()["model"] == "tiny-judge"
        models = http.get(server.base_url + "/models").json()
        assert [m["id"] for m in models["data"]] == ["tiny-judge"]


def test_bad_json_is_400_and_unknown_path_is_404(judge: ScriptedJudge, http: httpx.Client) -> None:
    bad = http.post(
        judge.base_url + "/chat/completions",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    assert "error" in bad.json()
    assert http.post(judge.base_url + "/nowhere", json={}).status_code == 404
    assert http.get(judge.base_url + "/nowhere").status_code == 404


def test_stop_closes_the_port(http: httpx.Client) -> None:
    server = ScriptedJudge().start()
    url = server.base_url
    assert http.get(url + "/models", headers={"Connection": "close"}).status_code == 200
    server.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(url + "/models", timeout=1)
    with pytest.raises(RuntimeError):
        _ = server.base_url


# ---- recording -------------------------------------------------------------------------------------


def test_requests_are_recorded_with_judge_sections_and_headers(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    user = (
        "Grade this.\n<<<REQUEST>>>\nWhat is the capital of France?\n<<<END REQUEST>>>\n"
        "<<<Response>>>\nParis.\nDefinitely.\n<<<END Response>>>"
    )
    post_chat(
        http,
        judge,
        judge_messages("correctness", user),
        response_format={"type": "json_object"},
    )
    post_chat(http, judge, judge_messages(None, "plain app call"))
    requests = judge.requests
    assert len(requests) == 2
    call = requests[0]
    assert call.judge == "correctness"
    assert call.sections == {
        "request": "What is the capital of France?",
        "response": "Paris.\nDefinitely.",
    }
    assert call.response_format == {"type": "json_object"}
    assert call.body["model"] == "whatever"
    assert call.headers["content-type"] == "application/json"
    assert "Judge: correctness" in call.text and "Grade this." in call.text
    assert requests[1].judge is None
    assert [c.judge for c in judge.calls()] == ["correctness"]
    assert judge.calls("other") == []
    # A copy: mutating it does not touch the server's record.
    requests.clear()
    assert len(judge.requests) == 2


def test_reset_clears_rules_handler_faults_and_records(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    judge.on(rating="no")
    judge.set_handler(lambda call: Verdict("no", "handler"))
    judge.fail_next(3, status=503)
    judge.reply_style("garbage")
    judge.reject_response_format("json_object")
    judge.chaos(rate=1.0)
    judge.reset()
    assert judge.requests == []
    assert judge.max_in_flight == 0
    assert judge.injected_faults == {}
    response = post_chat(
        http, judge, judge_messages("j", "x"), response_format={"type": "json_object"}
    )
    assert verdict_of(response)["rating"] == "yes"


# ---- rules and handler ------------------------------------------------------------------------------


def test_rules_by_judge_and_contains(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.on(judge="safety", rating="no", rationale="unsafe")
    judge.on(contains="banana", rating="no", rationale="no bananas")
    assert verdict_of(post_chat(http, judge, judge_messages("safety", "hello"))) == {
        "rationale": "unsafe",
        "rating": "no",
    }
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", "hello")))["rating"]
        == "yes"
    )
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", "a banana")))["rationale"]
        == "no bananas"
    )


def test_rules_newest_first(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.on(judge="correctness", rating="no", rationale="old")
    judge.on(judge="correctness", rating="yes", rationale="new")
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", "q")))["rationale"] == "new"
    )


def test_rule_on_section_only_looks_at_that_section(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    judge.on(judge="correctness", section="response", contains="Lyon", rationale="wrong city")
    asks_about_lyon = "<<<REQUEST>>>\nIs Lyon the capital?\n<<<END REQUEST>>>\n<<<RESPONSE>>>\nNo, Paris.\n<<<END RESPONSE>>>"
    answers_lyon = "<<<REQUEST>>>\nWhat is the capital?\n<<<END REQUEST>>>\n<<<RESPONSE>>>\nLyon\n<<<END RESPONSE>>>"
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", asks_about_lyon)))["rating"]
        == "yes"
    )
    assert verdict_of(post_chat(http, judge, judge_messages("correctness", answers_lyon))) == {
        "rationale": "wrong city",
        "rating": "no",
    }


def test_rule_times_limits_answers(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.on(judge="groundedness", rating="no", times=2)
    ratings = [
        verdict_of(post_chat(http, judge, judge_messages("groundedness", "q")))["rating"]
        for _ in range(4)
    ]
    assert ratings == ["no", "no", "yes", "yes"]


def test_on_returns_self_for_chaining(judge: ScriptedJudge, http: httpx.Client) -> None:
    assert judge.on(judge="a").on(judge="b", rating="yes") is judge
    with pytest.raises(ValueError):
        judge.on(times=0)


def test_handler_takes_precedence_and_can_fall_through(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    judge.on(judge="correctness", rating="no", rationale="rule")
    seen: list[JudgeCall] = []

    def handler(call: JudgeCall) -> Verdict | dict[str, Any] | str | None:
        seen.append(call)
        if "verdict" in call.text:
            return Verdict("yes", "from handler")
        if "dict" in call.text:
            return {"rating": "maybe", "extra": 1}
        if "raw" in call.text:
            return "raw content"
        return None

    judge.set_handler(handler)
    assert verdict_of(post_chat(http, judge, judge_messages("correctness", "verdict"))) == {
        "rationale": "from handler",
        "rating": "yes",
    }
    assert verdict_of(post_chat(http, judge, judge_messages("correctness", "dict"))) == {
        "rating": "maybe",
        "extra": 1,
    }
    assert content_of(post_chat(http, judge, judge_messages("correctness", "raw"))) == "raw content"
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", "none")))["rationale"]
        == "rule"
    )
    assert len(seen) == 4
    judge.set_handler(None)
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", "verdict")))["rationale"]
        == "rule"
    )


def test_handler_exception_becomes_500(judge: ScriptedJudge, http: httpx.Client) -> None:
    def broken(call: JudgeCall) -> Verdict | None:
        raise KeyError("oops")

    judge.set_handler(broken)
    response = post_chat(http, judge, judge_messages("j", "x"))
    assert response.status_code == 500
    assert "KeyError" in response.json()["error"]["message"]


# ---- application mode and routes ----------------------------------------------------------------


def test_app_mode_echoes_last_user_message_by_default(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    judge.on(rating="no")  # rules are for judge calls only
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    assert content_of(post_chat(http, judge, messages)) == "echo: second"


def test_set_app_replaces_the_app_but_not_judges(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.set_app(lambda call: call.last_user_message.upper())
    assert content_of(post_chat(http, judge, judge_messages(None, "shout"))) == "SHOUT"
    assert (
        verdict_of(post_chat(http, judge, judge_messages("correctness", "shout")))["rating"]
        == "yes"
    )


def test_route_serves_plain_json(judge: ScriptedJudge, http: httpx.Client) -> None:
    def answer(body: dict[str, Any]) -> tuple[int, Any]:
        if "question" not in body:
            return 422, {"detail": "question missing"}
        return 200, {"answer": body["question"][::-1], "sources": ["a.md"]}

    judge.route("/answer", answer)
    ok = http.post(judge.url + "/answer", json={"question": "abc"})
    assert ok.status_code == 200
    assert ok.json() == {"answer": "cba", "sources": ["a.md"]}
    missing = http.post(judge.url + "/answer", json={})
    assert missing.status_code == 422
    assert judge.requests == []  # routes are not chat requests


def test_route_sends_a_bytes_body_as_is(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.route("/raw", lambda body: (200, b'{"choices": [trunc'))
    response = http.post(judge.url + "/raw", json={})
    assert response.status_code == 200
    assert response.content == b'{"choices": [trunc'
    assert response.headers["content-type"] == "application/json"


# ---- fault injection -------------------------------------------------------------------------------


def test_fail_next_with_retry_after(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.fail_next(2, status=429, retry_after=0.25)
    judge.fail_next(1, status=503, body="overloaded")
    messages = judge_messages("j", "x")
    first, second, third, fourth = (post_chat(http, judge, messages) for _ in range(4))
    assert first.status_code == second.status_code == 429
    assert first.headers["retry-after"] == "0.25"
    assert "error" in first.json()
    assert third.status_code == 503
    assert third.text == "overloaded"
    assert "retry-after" not in third.headers
    assert fourth.status_code == 200
    assert len(judge.requests) == 4  # failed ones are recorded too


def test_fail_next_integer_retry_after(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.fail_next(1, status=500, retry_after=2)
    assert post_chat(http, judge, judge_messages("j", "x")).headers["retry-after"] == "2"


@pytest.mark.parametrize(
    ("style", "expected_prefix", "parseable"),
    [
        ("json", '{"rationale"', True),
        ("fenced", "```json\n", False),
        ("prose", "Here is my verdict: {", False),
        ("garbage", "I think", False),
    ],
)
def test_reply_styles(
    judge: ScriptedJudge, http: httpx.Client, style: str, expected_prefix: str, parseable: bool
) -> None:
    judge.reply_style(style)
    content = content_of(post_chat(http, judge, judge_messages("j", "x")))
    assert content.startswith(expected_prefix)
    if style in ("fenced", "prose"):
        assert '{"rationale": "All criteria are met.", "rating": "yes"}' in content
    if style == "garbage":
        assert "{" not in content
    try:
        json.loads(content)
        loaded = True
    except json.JSONDecodeError:
        loaded = False
    assert loaded is parseable


def test_reply_style_times_then_back_to_json(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.reply_style("garbage", times=2)
    # App replies do not use up the style.
    assert content_of(post_chat(http, judge, judge_messages(None, "hi"))) == "echo: hi"
    contents = [content_of(post_chat(http, judge, judge_messages("j", "x"))) for _ in range(3)]
    assert contents[0] == contents[1] == "I think it is fine."
    assert json.loads(contents[2])["rating"] == "yes"
    with pytest.raises(ValueError):
        judge.reply_style("yaml")


def test_reject_response_format(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.reject_response_format("json_schema", "json_object")
    schema_format = {"type": "json_schema", "json_schema": {"name": "v", "schema": {}}}
    rejected = post_chat(http, judge, judge_messages("j", "x"), response_format=schema_format)
    assert rejected.status_code == 400
    assert rejected.json() == {
        "error": {
            "message": "response_format type 'json_schema' is not supported",
            "type": "invalid_request_error",
        }
    }
    assert (
        post_chat(
            http, judge, judge_messages("j", "x"), response_format={"type": "json_object"}
        ).status_code
        == 400
    )
    assert post_chat(http, judge, judge_messages("j", "x")).status_code == 200
    assert (
        post_chat(
            http, judge, judge_messages("j", "x"), response_format={"type": "text"}
        ).status_code
        == 200
    )
    assert len(judge.requests) == 4
    judge.reject_response_format()
    assert (
        post_chat(http, judge, judge_messages("j", "x"), response_format=schema_format).status_code
        == 200
    )


# ---- concurrency and delay ----------------------------------------------------------------------------


def test_max_in_flight_with_concurrent_requests() -> None:
    with ScriptedJudge(delay=0.1) as server:
        statuses: list[int] = []
        lock = threading.Lock()
        ready = threading.Barrier(7)

        def worker() -> None:
            with httpx.Client(timeout=5) as http:  # built before the clock starts
                ready.wait()
                response = post_chat(http, server, judge_messages("j", "x"))
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        ready.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        assert statuses == [200] * 6
        assert server.max_in_flight == 6
        assert elapsed < 0.45  # served concurrently, not one after another (6 x 0.1 s)


def test_sequential_requests_have_max_in_flight_one(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    for _ in range(3):
        post_chat(http, judge, judge_messages("j", "x"))
    assert judge.max_in_flight == 1


def test_delay_is_applied_and_settable(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.delay = 0.15
    started = time.perf_counter()
    post_chat(http, judge, judge_messages("j", "x"))
    assert time.perf_counter() - started >= 0.15
    judge.delay = 0.0
    started = time.perf_counter()
    post_chat(http, judge, judge_messages("j", "x"))
    assert time.perf_counter() - started < 0.15


def test_keep_alive_connection_is_reused(judge: ScriptedJudge, http: httpx.Client) -> None:
    ports: set[int] = set()
    for _ in range(20):
        response = post_chat(http, judge, judge_messages("j", "x"))
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert response.headers.get("connection", "").lower() != "close"
        stream = response.extensions["network_stream"]
        ports.add(stream.get_extra_info("client_addr")[1])
    assert len(judge.requests) == 20
    assert len(ports) == 1  # one keep-alive connection served all 20 requests


# ---- chaos -----------------------------------------------------------------------------------------


def test_chaos_kinds_are_what_the_docs_say(judge: ScriptedJudge, http: httpx.Client) -> None:
    seen: dict[str, httpx.Response] = {}
    for kind in CHAOS_KINDS:
        judge.chaos(rate=1.0, kinds=[kind])
        if kind == "drop":
            with pytest.raises(httpx.RemoteProtocolError):
                post_chat(http, judge, judge_messages("j", kind))
        else:
            seen[kind] = post_chat(http, judge, judge_messages("j", kind))
        assert judge.injected_faults == {kind: 1}
        assert judge.requests[-1].fault == kind
    for status in (500, 503, 429):
        response = seen[f"http_{status}"]
        assert response.status_code == status
        assert response.json()["error"]["message"] == f"chaos: HTTP {status}"
    assert seen["http_429"].headers["retry-after"] == "0"
    assert "retry-after" not in seen["http_503"].headers
    choices = {kind: seen[kind].json()["choices"] for kind in seen if not kind.startswith("http")}
    assert choices["no_choices"] == []
    assert choices["garbage"][0]["message"]["content"] == "I think it is fine."
    assert json.loads(choices["out_of_scale"][0]["message"]["content"])["rating"] == "maybe"
    truncated = choices["truncated"][0]
    assert truncated["finish_reason"] == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated["message"]["content"])
    assert choices["refusal"][0]["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": "I can't help with that",
    }
    assert all(response.headers["connection"] == "close" for response in seen.values())


def test_chaos_out_of_scale_scores_exceed_the_schema_maximum(
    judge: ScriptedJudge, http: httpx.Client
) -> None:
    judge.chaos(rate=1.0, kinds=["out_of_scale"])
    schema = {"type": "object", "properties": {"score": {"type": "number", "maximum": 5}}}
    strict = {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}
    loose = {"type": "json_object", "schema": schema}
    for response_format in (strict, loose):
        response = post_chat(http, judge, judge_messages("j", "x"), response_format=response_format)
        assert verdict_of(response) == {"rationale": "chaos: out of scale", "score": 6}
    text_mode = [
        {"role": "system", "content": 'Judge: j\nAnswer {"rationale": ..., "score": <1 to 5>}'},
        {"role": "user", "content": "y"},
    ]
    assert verdict_of(post_chat(http, judge, text_mode))["score"] == 1e9


def test_chaos_caps_faults_per_question(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.chaos(rate=1.0, kinds=["http_500"], max_per_question=2)
    question = judge_messages("j", "the question")
    statuses = [post_chat(http, judge, question).status_code for _ in range(2)]
    # A repair re-ask (the question plus more turns) is the same question: no third fault.
    repair = [
        *question,
        {"role": "assistant", "content": "bad"},
        {"role": "user", "content": "Your previous reply could not be used."},
    ]
    statuses.append(post_chat(http, judge, repair).status_code)
    # Another judge or another question has its own count.
    statuses.append(post_chat(http, judge, judge_messages("k", "the question")).status_code)
    statuses.append(post_chat(http, judge, judge_messages("j", "another")).status_code)
    assert statuses == [500, 500, 200, 500, 500]
    assert judge.injected_faults == {"http_500": 4}
    assert [call.fault for call in judge.requests] == ["http_500"] * 2 + [None] + ["http_500"] * 2


def test_chaos_is_reproducible_from_its_seed(judge: ScriptedJudge, http: httpx.Client) -> None:
    def faults(seed: int) -> list[str | None]:
        judge.reset()
        judge.chaos(rate=0.5, seed=seed, kinds=["http_500", "http_503", "garbage", "refusal"])
        for i in range(40):
            post_chat(http, judge, judge_messages("j", f"q{i}"))
        return [call.fault for call in judge.requests]

    first, again, other = faults(7), faults(7), faults(8)
    assert first == again
    assert first != other
    assert 8 < sum(f is not None for f in first) < 32  # about half of 40
    assert set(first) == {None, "http_500", "http_503", "garbage", "refusal"}


def test_chaos_spares_app_calls_and_turns_off(judge: ScriptedJudge, http: httpx.Client) -> None:
    judge.chaos(rate=1.0)
    assert content_of(post_chat(http, judge, judge_messages(None, "hello"))) == "echo: hello"
    assert judge.requests[-1].fault is None
    assert sum(judge.injected_faults.values()) == 0
    judge.chaos(rate=0)
    response = post_chat(http, judge, judge_messages("j", "x"))
    assert verdict_of(response)["rating"] == "yes"
    assert response.headers.get("connection", "").lower() != "close"  # keep-alive again
    assert judge.injected_faults == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 1.5}, "rate must be between 0 and 1"),
        ({"rate": -0.1}, "rate must be between 0 and 1"),
        ({"kinds": ["http_500", "meteor"]}, "unknown chaos kind(s) ['meteor']"),
        ({"kinds": []}, "kinds must name at least one fault kind"),
        ({"max_per_question": -1}, "max_per_question must be >= 0"),
    ],
)
def test_chaos_argument_errors(judge: ScriptedJudge, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        judge.chaos(**kwargs)
    assert message in str(info.value)


# ---- the pytest fixture --------------------------------------------------------------------------------


def test_genai_scripted_judge_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        from pytest_genai_eval.testing import ScriptedJudge, genai_scripted_judge  # noqa: F401

        def test_uses_it(genai_scripted_judge):
            assert isinstance(genai_scripted_judge, ScriptedJudge)
            r = httpx.get(genai_scripted_judge.base_url + "/models")
            assert r.status_code == 200
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
