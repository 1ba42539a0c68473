"""Sharded runs: a deterministic partition of each suite, merged into the unsharded verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_genai_eval.merge import MergeError, merge_to
from pytest_genai_eval.testing import ScriptedJudge

from .test_engine import rows_suite


def _load(path: Path) -> dict:
    return json.loads((path / "evaluation_results.json").read_text())


def test_shards_partition_rows_and_merge_to_the_unsharded_verdict(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    judge.on(judge="correctness", contains="answer 1", rating="no", rationale="bad")
    rows_suite(pytester, 30, extra="thresholds: {overall: 0.7}\n")
    full = pytester.runpytest("--genai-results-dir", "full", "--genai-cache", "off")
    assert full.ret == 1  # 19/30 < 0.7
    seen: list[str] = []
    for k in (1, 2, 3):
        shard = pytester.runpytest(
            "--genai-shard", f"{k}/3", "--genai-results-dir", f"s{k}", "--genai-cache", "off"
        )
        ids = [r["request_id"] for r in _load(pytester.path / f"s{k}")["rows"]]
        assert ids, f"shard {k} is empty"
        seen += ids
        again = pytester.runpytest("--genai-shard", f"{k}/3", "--collect-only", "-q")
        assert sorted(i for i in ids) == sorted(
            line.split("::")[1] for line in again.stdout.lines if "::" in line
        )  # deterministic
        assert shard.ret in (0, 1)
    assert sorted(seen) == sorted(f"r{i:03d}" for i in range(30))  # disjoint and complete

    outcome = merge_to(pytester.path / "merged", [pytester.path / f"s{k}" for k in (1, 2, 3)])
    merged, unsharded = _load(pytester.path / "merged"), _load(pytester.path / "full")
    assert merged["metrics"] == unsharded["metrics"]
    assert merged["verdict"]["status"] == unsharded["verdict"]["status"] == "failed"
    assert merged["verdict"]["exit_code"] == outcome.gate.exit_code == 1
    assert [r["request_id"] for r in merged["rows"]] == [r["request_id"] for r in unsharded["rows"]]


def test_merge_refuses_overlap_and_missing_shards(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    rows_suite(pytester, 6)
    pytester.runpytest("--genai-shard", "1/2", "--genai-results-dir", "a")
    with pytest.raises(MergeError, match=r"shard\(s\) 2/2 missing"):
        merge_to(pytester.path / "m", [pytester.path / "a"])
    merge_to(pytester.path / "m", [pytester.path / "a"], allow_partial=True)
    assert _load(pytester.path / "m")["complete"] is False
    with pytest.raises(MergeError, match="shards must not overlap"):
        merge_to(pytester.path / "m2", [pytester.path / "a", pytester.path / "a"], allow_partial=True)


def test_bad_shard_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    rows_suite(pytester, 2)
    result = pytester.runpytest("--genai-shard", "3/2")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--genai-shard expects K/N*"])


def test_merge_command_exits_with_the_gate_code(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    import subprocess
    import sys

    judge.on(judge="correctness", contains="answer 2", rating="no", rationale="bad")
    rows_suite(pytester, 10)
    for k in (1, 2):
        pytester.runpytest("--genai-shard", f"{k}/2", "--genai-results-dir", f"s{k}")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_genai_eval", "merge", "merged", "s1", "s2"],
        cwd=pytester.path, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "merged 2 shard(s), 10 row(s)" in proc.stdout
    assert "genai gate: FAILED" in proc.stdout and "many::r002" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "pytest_genai_eval", "merge", "m2", "s1"],
        cwd=pytester.path, capture_output=True, text=True, check=False,
    )
    assert bad.returncode == 4 and "2/2 missing" in bad.stderr
