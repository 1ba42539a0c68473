"""One retry budget per judge call covers every fault, over real HTTP to the scripted server.

``EndpointSettings.max_retries`` retries after the first attempt: HTTP 429/5xx, dropped
connections, unreadable or out-of-scale JSON, truncated replies, empty choices and refusals all
use the same budget. The chaos mode of :class:`ScriptedJudge` injects them; with at most
``max_retries`` faults per question no call may fail, with one more it must.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_genai_eval import llm_judge
from pytest_genai_eval.engine import judge_row
from pytest_genai_eval.judges import EvalContext
from pytest_genai_eval.llm import (
    ChatClient,
    EndpointSettings,
    JsonReply,
    LLMError,
    LLMHTTPError,
    LLMOutputError,
    LLMTransportError,
    Secret,
    _Completion,
    _Fault,
    _parse_completion,
    extract_json_object,
)
from pytest_genai_eval.results import Assessment
from pytest_genai_eval.runner import LLMJudgeRunner
from pytest_genai_eval.suite import build_suite
from pytest_genai_eval.testing import CHAOS_KINDS, JudgeCall, ScriptedJudge

T = TypeVar("T")

KEY = "sk-test-4d2b9e7a1c3f5e8b0a6d4c2e9f1b3a5c"

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "rating": {"type": "string", "enum": ["yes", "no"]},
    },
    "required": ["rationale", "rating"],
    "additionalProperties": False,
}
QUESTION: list[dict[str, Any]] = [
    {"role": "system", "content": "You grade answers.\nJudge: correctness"},
    {"role": "user", "content": "<<<RESPONSE>>>\nParis\n<<<END RESPONSE>>>"},
]
DEFAULT_VERDICT = {"rationale": "All criteria are met.", "rating": "yes"}

# The client's fault kind for each injected chaos fault, and whether it waits before retrying.
CLIENT_FAULT = {
    "http_500": "http",
    "http_503": "http",
    "http_429": "http",
    "drop": "transport",
    "garbage": "no_json",
    "out_of_scale": "schema",
    "truncated": "truncated",
    "no_choices": "no_choices",
    "refusal": "refusal",
}
WAITS = frozenset({"http_500", "http_503", "http_429", "drop"})
# What the repair message says, and the bad reply it quotes (None: no assistant turn).
REPAIR = {
    "garbage": ("the reply contains no JSON object", "I think it is fine."),
    "out_of_scale": ("'maybe' is not one of ['yes', 'no']", '"rating": "maybe"'),
    "truncated": ("cut off at the token limit", '{"rationale": "All criteria are m'),
    "no_choices": ("the response had no choices", None),
    "refusal": ("it was a refusal", "I can't help with that"),
}


@pytest.fixture
def server() -> Iterator[ScriptedJudge]:
    with ScriptedJudge() as judge:
        yield judge


class RecordingSleep:
    """A ``sleep`` that records the requested waits and does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def with_client(
    server: ScriptedJudge,
    fn: Callable[[ChatClient], Awaitable[T]],
    *,
    max_retries: int,
    sleep: RecordingSleep | None = None,
    **settings_overrides: Any,
) -> T:
    endpoint = EndpointSettings(
        server.base_url, "judge-model", max_retries=max_retries, **settings_overrides
    )

    async def main() -> T:
        async with ChatClient(endpoint, sleep=sleep) as client:
            return await fn(client)

    return asyncio.run(main())


def ask(client: ChatClient) -> Awaitable[JsonReply]:
    return client.complete_json(QUESTION, VERDICT_SCHEMA, schema_name="verdict")


# ---- one fault kind at a time ------------------------------------------------------------------


@pytest.mark.parametrize("kind", CHAOS_KINDS)
def test_each_fault_kind_is_retried_within_the_budget(server: ScriptedJudge, kind: str) -> None:
    server.chaos(rate=1.0, kinds=[kind], max_per_question=2)
    sleep = RecordingSleep()
    reply = with_client(server, ask, max_retries=2, sleep=sleep)
    assert reply.data == DEFAULT_VERDICT
    assert reply.attempts == 3 == len(server.requests)
    assert reply.faults == (CLIENT_FAULT[kind],) * 2
    assert server.injected_faults == {kind: 2}
    first, second, last = server.requests
    if kind in WAITS:
        # transport faults: the same request again after a backoff wait (Retry-After: 0 for 429)
        assert len(sleep.waits) == 2
        if kind == "http_429":
            assert sleep.waits == [0.0, 0.0]
        else:  # full jitter: the n-th wait is drawn from [0, 0.5 * 2**n]
            assert 0 <= sleep.waits[0] <= 0.5 and 0 <= sleep.waits[1] <= 1.0
        assert first.messages == second.messages == last.messages == QUESTION
        assert reply.repaired is False
    else:
        # content faults: asked again at once, with the last bad reply and what was wrong
        assert sleep.waits == []
        assert reply.repaired is True
        reason, quoted = REPAIR[kind]
        for repair in (second, last):
            assert repair.messages[:2] == QUESTION
            assert reason in repair.messages[-1]["content"]
            assert repair.messages[-1]["content"].startswith(
                "Your previous reply could not be used"
            )
            if quoted is None:
                assert len(repair.messages) == 3
            else:
                assert len(repair.messages) == 4  # only the last bad reply, never a history
                assert repair.messages[2]["role"] == "assistant"
                assert quoted in repair.messages[2]["content"]


@pytest.mark.parametrize("kind", CHAOS_KINDS)
def test_a_spent_budget_is_an_error_naming_the_last_fault(server: ScriptedJudge, kind: str) -> None:
    server.chaos(rate=1.0, kinds=[kind])
    with pytest.raises(LLMError) as info:
        with_client(server, ask, max_retries=2, sleep=RecordingSleep(), api_key=Secret(KEY))
    error = info.value
    fault = CLIENT_FAULT[kind]
    expected_class = {"http": LLMHTTPError, "transport": LLMTransportError}.get(
        fault, LLMOutputError
    )
    assert type(error) is expected_class
    assert (error.fault, error.attempts) == (fault, 3)
    message = str(error)
    assert "failed after 3 attempts" in message
    assert f"last fault ({fault})" in message
    assert len(server.requests) == 3
    assert KEY not in message and KEY not in repr(error)
    if isinstance(error, LLMHTTPError):
        assert error.status == int(kind.removeprefix("http_"))


def test_a_non_retryable_status_ends_the_call_at_once(server: ScriptedJudge) -> None:
    server.reply_style("garbage", times=1)
    server.fail_next(1, status=400, body='{"error": {"message": "context length exceeded"}}')
    server.fail_next(1, status=401, body='{"error": {"message": "bad key"}}')
    with pytest.raises(LLMHTTPError) as info:
        with_client(server, ask, max_retries=8, sleep=RecordingSleep())
    assert info.value.status == 400
    assert info.value.attempts == 1
    assert len(server.requests) == 1


# ---- mixed faults: exactly the budget, and one more ---------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_max_retries_mixed_faults_succeed(server: ScriptedJudge, seed: int) -> None:
    server.chaos(rate=1.0, seed=seed, max_per_question=8)
    sleep = RecordingSleep()
    reply = with_client(server, ask, max_retries=8, sleep=sleep)
    assert reply.data == DEFAULT_VERDICT
    assert reply.attempts == 9 == len(server.requests)
    injected = [call.fault for call in server.requests]
    assert injected[-1] is None and None not in injected[:-1]
    assert len(set(injected[:-1])) > 2  # mixed kinds
    assert list(reply.faults) == [CLIENT_FAULT[str(k)] for k in injected[:-1]]
    assert len(sleep.waits) == sum(k in WAITS for k in injected)
    # Usage is summed over every attempt that got a completion (content faults and the answer).
    answered = [c for c in server.requests if c.fault not in WAITS]
    assert reply.usage.prompt_tokens == sum(len(c.text) // 4 + 1 for c in answered)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_fault_more_than_the_budget_is_an_error(server: ScriptedJudge, seed: int) -> None:
    server.chaos(rate=1.0, seed=seed, max_per_question=9)
    with pytest.raises(LLMError) as info:
        with_client(server, ask, max_retries=8, sleep=RecordingSleep())
    assert info.value.attempts == 9 == len(server.requests)
    last = server.requests[-1].fault
    assert last is not None and info.value.fault == CLIENT_FAULT[last]
    assert "failed after 9 attempts" in str(info.value)


def test_format_downgrades_do_not_use_the_budget(server: ScriptedJudge) -> None:
    server.reject_response_format("json_schema", "json_object")
    server.reply_style("garbage", times=1)
    reply = with_client(server, ask, max_retries=1, sleep=RecordingSleep())
    assert reply.mode == "text"
    assert (reply.attempts, reply.faults) == (2, ("no_json",))
    assert len(server.requests) == 4  # two rejected formats, the garbage, the answer


# ---- the judges: out-of-scale answers are re-asked within the budget -----------------------------


def judge_one_row(
    server: ScriptedJudge, row: dict[str, Any], *, max_retries: int, **suite: Any
) -> dict[str, Assessment]:
    spec = build_suite(name="t", data=[row], **suite)

    async def go() -> dict[str, Assessment]:
        runner = LLMJudgeRunner(
            default=EndpointSettings(server.base_url, server.model, max_retries=max_retries),
            missing_reason="no judge",
            concurrency=4,
            stopping=threading.Event(),
        )
        try:
            (parsed,) = spec.rows
            ctx = EvalContext(row=parsed, response=parsed.response, retrieved_context=None)
            return {a.name: a for a in await judge_row(spec, ctx, runner)}
        finally:
            await runner.aclose()

    return asyncio.run(go())


def scripted_answers(answers: dict[str, list[str]]) -> Callable[[JudgeCall], str | None]:
    """A handler giving each judge its listed raw replies in turn, then the defaults."""
    lock = threading.Lock()

    def handle(call: JudgeCall) -> str | None:
        with lock:
            queue = answers.get(call.judge or "", [])
            return queue.pop(0) if queue else None

    return handle


def test_score_and_yes_no_judges_re_ask_out_of_scale_answers(server: ScriptedJudge) -> None:
    helpfulness = llm_judge("helpfulness", "${request}\n${response}", scale=(1, 5), threshold=3)
    server.set_handler(
        scripted_answers(
            {
                "helpfulness": [
                    '{"rationale": "too high", "score": 9}',
                    '{"rationale": "not a number", "score": NaN}',
                    '{"rationale": "fine", "score": 4}',
                ],
                "correctness": [
                    '{"rationale": "unsure", "rating": "maybe"}',
                    '{"rationale": "capitalised", "rating": "No"}',
                    '{"rationale": "wrong city", "rating": "no"}',
                ],
            }
        )
    )
    row = {
        "request_id": "r",
        "request": "Capital?",
        "response": "Lyon",
        "expected_response": "Paris",
    }
    verdicts = judge_one_row(
        server, row, max_retries=2, judges=["correctness"], custom_judges=[helpfulness]
    )
    score, correct = verdicts["helpfulness"], verdicts["correctness"]
    assert (score.value, score.rating, score.error) == (4.0, "yes", None)
    assert (correct.rating, correct.rationale, correct.error) == ("no", "wrong city", None)
    asks = server.calls("helpfulness")
    assert len(asks) == 3
    assert "maximum" in asks[1].messages[-1]["content"]  # 9 > 5: the schema says why
    assert "not finite" in asks[2].messages[-1]["content"]  # NaN passes JSON Schema's maximum
    assert len(server.calls("correctness")) == 3


def test_a_judge_out_of_budget_is_an_error_not_a_verdict(server: ScriptedJudge) -> None:
    server.chaos(rate=1.0, kinds=["out_of_scale"])
    row = {
        "request_id": "r",
        "request": "Capital?",
        "response": "Paris",
        "expected_response": "Paris",
    }
    verdicts = judge_one_row(server, row, max_retries=3, judges=["correctness"])
    verdict = verdicts["correctness"]
    assert verdict.rating is None
    assert verdict.error is not None
    assert "failed after 4 attempts" in verdict.error and "last fault (schema)" in verdict.error
    assert len(server.calls("correctness")) == 4


# ---- the headline: a whole run under 30% mixed faults ---------------------------------------------

ROWS = 200


def chaos_suite(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    """200 rows x 3 judges (correctness, guideline adherence, a 1-5 score); the expected
    verdicts per row."""
    rows = []
    expected: dict[str, dict[str, Any]] = {}
    for i in range(ROWS):
        wrong, rude, terse = i % 7 == 0, i % 11 == 0, i % 13 == 0
        words = [f"answer {i}"] + ["WRONG"] * wrong + ["RUDE"] * rude + ["TERSE"] * terse
        request_id = f"r{i:03d}"
        rows.append(
            {
                "request_id": request_id,
                "request": f"question {i}",
                "response": " ".join(words),
                "expected_response": f"answer {i}",
                "guidelines": ["Be polite"],
            }
        )
        expected[request_id] = {
            "correctness": "no" if wrong else "yes",
            "guideline_adherence": "no" if rude else "yes",
            "helpfulness": 2.0 if terse else 5.0,
            "overall": "no" if wrong or rude or terse else "yes",
        }
    doc = {
        "name": "chaos",
        "judges": ["correctness", "guideline_adherence"],
        "custom_judges": [
            {
                "name": "helpfulness",
                "prompt": "${request}\n${response}",
                "scale": [1, 5],
                "threshold": 3,
            }
        ],
        "rows": rows,
    }
    pytester.makefile(".yaml", genai_chaos=json.dumps(doc))  # JSON is YAML
    return expected


def test_a_run_under_30_percent_mixed_faults_has_no_errors(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    expected = chaos_suite(pytester)
    judge.on(judge="correctness", section="response", contains="WRONG", rating="no")
    judge.on(judge="guideline_adherence", section="response", contains="RUDE", rating="no")

    def helpfulness(call: JudgeCall) -> dict[str, Any] | None:
        if call.judge != "helpfulness":
            return None
        terse = "TERSE" in call.sections.get("response", "")
        return {"rationale": "scored", "score": 2 if terse else 5}

    judge.set_handler(helpfulness)
    judge.chaos(rate=0.3, seed=1, max_per_question=8)
    started = time.perf_counter()
    pytester.runpytest(
        "--genai-judge-retries", "8",
        "--genai-cache", "off",
        "--genai-concurrency", "64",
        "-p", "no:randomly",
        "-q",
    )  # fmt: skip
    duration = time.perf_counter() - started
    injected = judge.injected_faults
    print(f"\n200x3 under chaos: {duration:.1f} s, {len(judge.calls())} judge requests, {injected}")

    results_dir = pytester.path / "genai-results"
    doc = json.loads((results_dir / "evaluation_results.json").read_text())
    metrics = doc["metrics"]
    assert metrics["judge/error_count"] == 0
    assert metrics["rows/count"] == ROWS
    assert metrics["rows/error_count"] == 0
    # every kind of fault happened, about 30% of the requests were faulted ...
    assert set(injected) == set(CHAOS_KINDS) and all(n > 0 for n in injected.values())
    requests = len(judge.calls())
    faults = sum(injected.values())
    assert 0.2 < faults / requests < 0.4
    # ... and each fault cost exactly one more request: no call gave up, none asked twice
    assert requests == 3 * ROWS + faults
    # the verdicts are the scripted ones
    records = [
        json.loads(line) for line in (results_dir / "eval_results.jsonl").read_text().splitlines()
    ]
    assert len(records) == ROWS
    for record in records:
        want = expected[record["request_id"]]
        got = {
            "correctness": record["response/llm_judged/correctness/rating"],
            "guideline_adherence": record["response/llm_judged/guideline_adherence/rating"],
            "helpfulness": record["response/llm_judged/helpfulness/score"],
            "overall": record["response/overall_assessment/rating"],
        }
        assert got == want, record["request_id"]
    passing = sum(w["overall"] == "yes" for w in expected.values())
    assert metrics["rows/pass_count"] == passing
    assert metrics["rows/fail_count"] == ROWS - passing
    assert duration < 60  # measured: a few seconds; the backoff waits are the bulk of it


# ---- nothing but a reply, None or a clean LLMError ------------------------------------------------

PROPERTY = settings(derandomize=True, database=None, max_examples=200, deadline=None)
JSONISH = st.text(alphabet='{}[]":,.0123456789eE+-nulltrufasNIy \n\t\\`json', max_size=40)


@PROPERTY
@given(st.one_of(st.text(), JSONISH))
def test_extract_json_object_takes_any_text(text: str) -> None:
    value = extract_json_object(text)
    assert value is None or isinstance(value, dict)


@PROPERTY
@given(head=JSONISH, fragment=JSONISH.filter(bool), repeat=st.integers(1_000, 60_000), tail=JSONISH)
def test_extract_json_object_is_quick_on_long_repetitive_text(
    head: str, fragment: str, repeat: int, tail: str
) -> None:
    text = head + fragment * repeat + tail
    started = time.perf_counter()
    value = extract_json_object(text)
    assert value is None or isinstance(value, dict)
    assert time.perf_counter() - started < 2.0  # linear: milliseconds; quadratic: seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000, None),  # json.loads raised RecursionError
        ('{"a":' * 100_000, None),  # so did raw_decode
        ("{" * 100_000, None),  # a failed decode at every "{": 3 s before the bound
        (('{"a":[' + "1," * 300) * 300, None),  # every object start decodes to the end
        ("```" * 50_000, None),
        ("```" + " \t" * 50_000 + "x", None),  # the fence regex backtracked: 19 s for 2,000
        ("x" * 1_000_000 + '{"rating": "yes"}', {"rating": "yes"}),
        ("{not json} " * 10 + '{"rating": "no"}', {"rating": "no"}),
    ],
    ids=[
        "brackets",
        "nested-objects",
        "braces",
        "quadratic",
        "fences",
        "fence-then-spaces",
        "long-prose",
        "prose",
    ],
)
def test_extract_json_object_adversarial_inputs(text: str, expected: Any) -> None:
    started = time.perf_counter()
    value = extract_json_object(text)
    assert time.perf_counter() - started < 1.0  # each took seconds, or raised, before the bounds
    assert value == expected


def completion_bodies() -> st.SearchStrategy[bytes]:
    """Response bodies: random bytes, random JSON, and chat completions with odd parts."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
    json_values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=10,
    )
    message = st.fixed_dictionaries(
        {},
        optional={
            "role": json_values,
            "content": st.one_of(st.text(max_size=60), json_values),
            "refusal": json_values,
        },
    )
    choice = st.fixed_dictionaries(
        {}, optional={"message": st.one_of(message, json_values), "finish_reason": json_values}
    )
    completion = st.fixed_dictionaries(
        {},
        optional={
            "choices": st.one_of(st.lists(st.one_of(choice, json_values), max_size=2), json_values),
            "usage": st.one_of(
                st.dictionaries(
                    st.sampled_from(["prompt_tokens", "completion_tokens", "total_tokens"]),
                    json_values,
                ),
                json_values,
            ),
            "model": json_values,
        },
    )
    encoded = st.one_of(completion, json_values).map(
        lambda value: json.dumps(value, allow_nan=True).encode()
    )
    return st.one_of(st.binary(max_size=200), encoded, encoded.map(lambda b: b[: len(b) // 2]))


@PROPERTY
@given(completion_bodies())
def test_any_response_body_is_a_completion_or_a_fault(body: bytes) -> None:
    result = _parse_completion(body)
    assert isinstance(result, (_Completion, _Fault))
    if isinstance(result, _Completion):
        assert isinstance(result.content, str)
        assert min(result.usage.to_dict().values()) >= 0


def test_deep_and_huge_bodies_are_faults_not_crashes() -> None:
    for body in (
        b"[" * 100_000,
        b'{"choices": ' + b"[" * 100_000,
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": 1e999}}',
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "'
        + b"9" * 50
        + b'"}}',
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": '
        + b"9" * 5000
        + b"}}",
        b"\xff\xfe\x00garbage",
    ):
        assert isinstance(_parse_completion(body), (_Completion, _Fault))
    overflow = _parse_completion(
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": 1e999}}'
    )
    assert isinstance(overflow, _Completion) and overflow.usage.prompt_tokens == 0


@pytest.fixture(scope="module")
def raw_server() -> Iterator[tuple[ScriptedJudge, list[bytes]]]:
    """A server whose /raw/v1/chat/completions answers with whatever body the test put last."""
    current: list[bytes] = [b""]
    with ScriptedJudge() as judge:
        judge.route("/raw/v1/chat/completions", lambda body: (200, current[-1]))
        yield judge, current


@settings(derandomize=True, database=None, max_examples=60, deadline=None)
@given(completion_bodies())
def test_any_reply_body_over_http_is_a_reply_or_an_llm_error(
    raw_server: tuple[ScriptedJudge, list[bytes]], body: bytes
) -> None:
    server, current = raw_server
    current.append(body)
    endpoint = EndpointSettings(server.url + "/raw/v1", "m", max_retries=0)

    async def both() -> None:
        async with ChatClient(endpoint) as client:
            for call in (
                client.chat([{"role": "user", "content": "x"}]),
                client.complete_json(QUESTION, VERDICT_SCHEMA, schema_name="verdict"),
            ):
                try:
                    reply = await call
                except LLMError as exc:
                    assert exc.attempts == 1 and exc.fault is not None
                else:
                    assert reply.attempts == 1

    asyncio.run(both())
