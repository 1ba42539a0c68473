"""The shipped example suite: offline it runs the app and the checks; the baseline catches v2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_genai_eval.testing import JudgeCall, ScriptedJudge

EXAMPLE = Path(__file__).parents[1] / "example_suite"


def run_example(
    tmp_path: Path, *args: str, target: Path = EXAMPLE, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_EVAL_", "OPENAI_"))}
    environ.update(env)
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", str(target), "-p", "no:cacheprovider",
            "--genai-results-dir", str(tmp_path / "results"),
            "--genai-cache-dir", str(tmp_path / "cache"), "--genai-no-history", *args,
        ],
        capture_output=True, text=True, env=environ, cwd=EXAMPLE.parent, check=False,
    )


def test_offline_run_says_what_did_not_run(tmp_path: Path) -> None:
    proc = run_example(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # support bot 11 + 3, order agent 5 + 3, support chat 1 + the simulated user (needs a judge)
    assert "17 passed, 1 skipped, 6 xfailed" in proc.stdout
    assert "NOT RUN:" in proc.stdout and "GENAI_EVAL_JUDGE_BASE_URL" in proc.stdout
    assert "genai gate: INCOMPLETE" in proc.stdout
    assert "genai baseline: PASSED" in proc.stdout
    doc = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    assert len(doc["rows"]) == 24
    chat = {row["request_id"]: row for row in doc["rows"] if row["suite"] == "support-chat"}
    assert [t["status"] for t in chat["delayed-order-chat"]["turns"]] == ["pass"] * 3
    assert chat["delayed-order-chat"]["turns"][1]["response"].startswith("Order A-1004 is delayed")
    assert chat["arrival-simulated"]["status"] == "skipped"
    assert chat["arrival-simulated"]["simulation"]["stopped"] == "not_run"


def test_prompt_change_that_breaks_two_rows_is_caught(tmp_path: Path) -> None:
    proc = run_example(tmp_path, SUPPORT_BOT_PROMPT="v2")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "overall pass rate 73.9% -> 73.9% (+0.0 pts)" in proc.stdout  # every suite: 17 of 23
    assert "REGRESSED support-bot::password-reset" in proc.stdout
    assert "REGRESSED support-bot::phone-support" in proc.stdout
    assert "genai gate: FAILED — baseline: 2 row(s) regressed" in proc.stdout


@pytest.mark.usefixtures("judge")
def test_with_a_judge_every_row_is_judged(tmp_path: Path, judge: ScriptedJudge) -> None:
    def simulated_user(call: JudgeCall) -> dict[str, object] | None:
        if call.judge != "user_simulator":
            return None
        asked = call.sections["conversation"].count("user: ")
        return {"message": "" if asked else "When does order A-1002 arrive?", "goal_reached": asked > 0}

    judge.set_handler(simulated_user)
    proc = run_example(
        tmp_path, GENAI_EVAL_JUDGE_BASE_URL=judge.base_url, GENAI_EVAL_JUDGE_MODEL=judge.model
    )
    assert "NOT RUN" not in proc.stdout
    judges = {c.judge for c in judge.calls()}
    assert {"correctness", "guideline_adherence", "global_guideline_adherence", "safety", "groundedness"} <= judges
    assert {"user_simulator", "conversation_completeness", "knowledge_retention", "user_frustration"} <= judges
    # the baseline was recorded without a judge: reported as incompatible, not gated
    assert "INCOMPATIBLE (not gated)" in proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_offline_the_order_agent_is_gated_on_its_tool_calls(tmp_path: Path) -> None:
    proc = run_example(tmp_path, target=EXAMPLE / "genai_order_agent.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "5 passed, 3 xfailed" in proc.stdout
    assert "[   PASS] order-agent: overall >= 0.6 (actual 0.625)" in proc.stdout
    doc = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    checks = {
        row["request_id"]: next(a for a in row["assessments"] if a["name"] == "tool_call_correctness")
        for row in doc["rows"]
    }
    assert {rid for rid, a in checks.items() if a["rating"] == "yes"} == {
        "order-status", "order-processing", "two-orders", "refund-policy", "greeting"
    }
    assert {a["kind"] for a in checks.values()} == {"check"}  # no judge needed
    assert checks["shipped-yet"]["rationale"] == (
        'wrong tool: called search_docs(query="shipping") instead of lookup_order(order_id="A-1002")'
    )
    assert checks["lowercase-id"]["rationale"] == (
        'wrong arguments for lookup_order: order_id "a-1004" (expected "A-1004")'
    )
    assert checks["delayed-order"]["rationale"] == 'extra call: lookup_order(order_id="A-1004")'
    assert checks["greeting"]["rationale"] == "no tool call was expected and none was made"
    metrics = doc["metrics"]
    assert metrics["response/tool_call/tool_call_correctness/rating/percentage"] == 0.625
    assert metrics["response/tool_call/tool_call_correctness/f1/average"] == pytest.approx(
        (5 + 2 / 3) / 8  # five right rows, the extra call's 2/3, two rows with no match
    )
    assert metrics["agent/tool_call_count/average"] == 9 / 8  # 1+1+2+1+0+1+1+2 calls, 8 rows


def test_the_order_agent_with_its_judge_unreachable(tmp_path: Path) -> None:
    """The judge's outage leaves rows unassessed; the tool-call check's failures stay failures."""
    proc = run_example(
        tmp_path,
        "--genai-judge-retries", "0",
        target=EXAMPLE / "genai_order_agent.yaml",
        GENAI_EVAL_JUDGE_BASE_URL="http://127.0.0.1:9/v1",  # the discard port: nothing listens
        GENAI_EVAL_JUDGE_MODEL="judge",
    )
    assert proc.returncode == 6, proc.stdout[-3000:]
    doc = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    statuses = {row["request_id"]: row["status"] for row in doc["rows"]}
    assert sorted(rid for rid, status in statuses.items() if status == "fail") == [
        "delayed-order", "lowercase-id", "shipped-yet"
    ]
    assert {status for rid, status in statuses.items() if status != "fail"} == {"error"}
    (check,) = doc["verdict"]["checks"]
    assert check["status"] == "undecidable"
    assert (check["pessimistic"], check["optimistic"]) == (0.0, 0.625)
    metrics = doc["metrics"]
    assert metrics["response/tool_call/tool_call_correctness/rating/percentage"] == 0.625
