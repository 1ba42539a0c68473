"""Calling the app: a sync app that never returns cannot keep the process alive, and an app's
latency is its own call's time, not the time its result waited for a busy event loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_genai_eval.testing import ScriptedJudge

EXAMPLE = Path(__file__).parents[1] / "example_suite"


def doc(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())


@pytest.mark.parametrize("app", ["forever", "slow"])
def test_a_hanging_sync_app_ends_with_its_row_deadline(pytester: pytest.Pytester, app: str) -> None:
    pytester.makepyfile(
        hang='''
import threading, time

def forever(request):
    threading.Event().wait()  # never returns

def slow(request):
    time.sleep(30)
    return "too late"

def fine(request):
    return "ok"
'''
    )
    pytester.makefile(
        ".yaml",
        genai_hang=f"""
checks: [{{type: contains, values: [ok]}}]
app: hang:{app}
rows:
  - {{request_id: stuck, request: "q1"}}
""",
    )
    pytester.makefile(
        ".yaml",
        genai_fine="""
checks: [{type: contains, values: [ok]}]
app: hang:fine
rows:
  - {request_id: quick, request: "q2"}
""",
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--genai-row-timeout", "1", "-p", "no:cacheprovider", timeout=60)
    elapsed = time.monotonic() - started
    # the deadline (1 s) plus pytest's own start-up and shutdown (slow on a loaded CI machine):
    # well under the 30 s the slow app would hold the process, and not forever
    assert elapsed < 20, elapsed
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*exceeded its deadline of 1 s*"])
    rows = {r["request_id"]: r for r in doc(pytester)["rows"]}
    assert rows["stuck"]["status"] == "error" and rows["quick"]["status"] == "pass"


def test_sync_app_latency_is_its_own_call_time(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    """20 ms apps while 100 ms judges are in flight: the recorded latency is the app's."""
    judge.delay = 0.1
    pytester.makepyfile(
        app20='''
import time

def answer(request):
    time.sleep(0.02)
    return "the answer"
'''
    )
    rows = "\n".join(f'  - {{request_id: r{i:02d}, request: "q{i}", expected_response: "x"}}' for i in range(40))
    pytester.makefile(".yaml", genai_timed=f"app: app20:answer\njudges: [correctness, safety]\nrows:\n{rows}\n")
    result = pytester.runpytest("--genai-concurrency", "16", "--genai-cache", "off")
    result.assert_outcomes(passed=40)
    latencies = sorted(r["latency_seconds"] for r in doc(pytester)["rows"])
    assert latencies[0] >= 0.019, latencies  # the app's own 20 ms are in every measurement
    # ...and little else: measured on the loop, the busy loop's turns added 70-100 ms here
    assert doc(pytester)["metrics"]["agent/latency_seconds/p50"] < 0.05, latencies


def test_example_bot_p50_under_50ms_while_judges_are_in_flight(tmp_path: Path, judge: ScriptedJudge) -> None:
    judge.delay = 0.1
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_EVAL_", "OPENAI_"))}
    environ.update(GENAI_EVAL_JUDGE_BASE_URL=judge.base_url, GENAI_EVAL_JUDGE_MODEL=judge.model)
    subprocess.run(
        [
            sys.executable, "-m", "pytest", str(EXAMPLE), "-p", "no:cacheprovider",
            "--genai-results-dir", str(tmp_path / "results"), "--genai-cache", "off",
            "--genai-no-history",
        ],
        capture_output=True, text=True, env=environ, cwd=EXAMPLE.parent, check=False,
    )
    metrics = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())["metrics"]
    assert metrics["agent/latency_seconds/p50"] < 0.05
    assert metrics["judge/call_count"] > 50  # the judges really were in flight meanwhile


def test_http_app_latency_is_send_to_body_read(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    def slow_answer(body: dict) -> tuple[int, dict]:
        time.sleep(0.05)
        return 200, {"answer": "ok"}

    judge.route("/answer", slow_answer)
    pytester.makefile(
        ".yaml",
        genai_http=f"""
app: {{type: http, url: "{judge.url}/answer", response_path: answer}}
checks: [{{type: contains, values: [ok]}}]
rows:
  - {{request_id: one, request: q}}
""",
    )
    pytester.runpytest("--genai-cache", "off").assert_outcomes(passed=1)
    (row,) = doc(pytester)["rows"]
    assert 0.05 <= row["latency_seconds"] < 0.5
