"""The app under test over real HTTP: an OpenAI-compatible endpoint and a plain JSON endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_genai_eval.testing import JudgeCall, ScriptedJudge


@pytest.fixture
def app_server() -> Iterator[ScriptedJudge]:
    with ScriptedJudge(model="app-model") as server:
        yield server


def _doc(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())


def test_openai_chat_app(pytester: pytest.Pytester, judge: ScriptedJudge, app_server: ScriptedJudge) -> None:
    def reply(call: JudgeCall) -> str:
        return "The answer is 42." if "meaning" in call.last_user_message else "No idea."

    app_server.set_app(reply)
    pytester.makefile(
        ".yaml",
        genai_chat=f"""
app:
  type: openai
  base_url: {app_server.base_url}
  model: app-model
  system_prompt: You are terse.
rows:
  - request_id: meaning
    request: "What is the meaning of life?"
    expected_facts: ["42"]
""",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    (app_call,) = app_server.requests
    assert app_call.messages[0] == {"role": "system", "content": "You are terse."}
    assert app_call.body["model"] == "app-model"
    (judged,) = judge.calls(judge="correctness")
    assert judged.sections["response"] == "The answer is 42."
    row = _doc(pytester)["rows"][0]
    assert row["app_usage"]["total_tokens"] > 0
    assert row["latency_seconds"] > 0


def test_http_json_app_with_mapping(
    pytester: pytest.Pytester, judge: ScriptedJudge, app_server: ScriptedJudge, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> tuple[int, Any]:
        seen.append(body)
        if body["question"] == "fail please":
            return 500, {"error": "kaput"}
        return 200, {"data": {"answer": f"re: {body['question']}"}, "sources": ["kb://a"]}

    app_server.route("/answer", answer)
    monkeypatch.setenv("APP_TOKEN", "tok-SECRET-9")
    base = app_server.base_url.removesuffix("/v1")
    pytester.makefile(
        ".yaml",
        genai_http=f"""
app:
  type: http
  url: {base}/answer
  body: {{question: "{{request}}", id: "{{request_id}}"}}
  response_path: data.answer
  context_path: sources
  headers_env: {{X-Token: APP_TOKEN}}
rows:
  - request_id: ok
    request: "hello"
    expected_response: "re: hello"
  - request_id: broken
    request: "fail please"
    expected_response: "x"
""",
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    assert seen[0] == {"question": "hello", "id": "ok"} or seen[1] == {"question": "hello", "id": "ok"}
    out = result.stdout.str()
    assert "HTTP 500" in out and "kaput" in out
    assert "tok-SECRET-9" not in out
    rows = {r["request_id"]: r for r in _doc(pytester)["rows"]}
    assert rows["ok"]["response"] == "re: hello"
    assert rows["ok"]["retrieved_context"] == [{"content": None, "doc_uri": "kb://a"}]
    assert "HTTP 500" in rows["broken"]["app_error"]


def test_bad_app_spec_is_reported_at_collection(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_bad="app: {type: grpc}\nrows: [{request: hi}]\n")
    result = pytester.runpytest()
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*app.type: expected 'callable', 'openai' or 'http', got 'grpc'*"])


def test_unimportable_app(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_bad="app: nosuchmod:fn\nrows: [{request: hi}]\n")
    result = pytester.runpytest()
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*cannot import 'nosuchmod'*"])


def test_rows_need_response_without_app(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_bad="rows: [{request: hi}]\n")
    result = pytester.runpytest()
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*no app is configured, so every row needs a 'response'*"])
