"""The shipped example suite: offline it runs the app and the checks; the baseline catches v2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_genai_eval.testing import ScriptedJudge

EXAMPLE = Path(__file__).parents[1] / "example_suite"


def run_example(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_EVAL_", "OPENAI_"))}
    environ.update(env)
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", str(EXAMPLE), "-p", "no:cacheprovider",
            "--genai-results-dir", str(tmp_path / "results"),
            "--genai-cache-dir", str(tmp_path / "cache"), "--genai-no-history",
        ],
        capture_output=True, text=True, env=environ, cwd=EXAMPLE.parent, check=False,
    )


def test_offline_run_says_what_did_not_run(tmp_path: Path) -> None:
    proc = run_example(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "11 passed, 3 xfailed" in proc.stdout
    assert "NOT RUN:" in proc.stdout and "GENAI_EVAL_JUDGE_BASE_URL" in proc.stdout
    assert "genai gate: INCOMPLETE" in proc.stdout
    assert "genai baseline: PASSED" in proc.stdout
    doc = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    assert len(doc["rows"]) == 14


def test_prompt_change_that_breaks_two_rows_is_caught(tmp_path: Path) -> None:
    proc = run_example(tmp_path, SUPPORT_BOT_PROMPT="v2")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "overall pass rate 78.6% -> 78.6% (+0.0 pts)" in proc.stdout
    assert "REGRESSED support-bot::password-reset" in proc.stdout
    assert "REGRESSED support-bot::phone-support" in proc.stdout
    assert "genai gate: FAILED — baseline: 2 row(s) regressed" in proc.stdout


@pytest.mark.usefixtures("judge")
def test_with_a_judge_every_row_is_judged(tmp_path: Path, judge: ScriptedJudge) -> None:
    proc = run_example(
        tmp_path, GENAI_EVAL_JUDGE_BASE_URL=judge.base_url, GENAI_EVAL_JUDGE_MODEL=judge.model
    )
    assert "NOT RUN" not in proc.stdout
    judges = {c.judge for c in judge.calls()}
    assert {"correctness", "guideline_adherence", "global_guideline_adherence", "safety", "groundedness"} <= judges
    # the baseline was recorded without a judge: reported as incompatible, not gated
    assert "INCOMPATIBLE (not gated)" in proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:]
