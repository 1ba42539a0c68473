"""Gating against a baseline inside pytest runs, history, reports and JUnit properties."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pytest_genai_eval.testing import ScriptedJudge

XDIST = ["", "-n 2"]


def suite(pytester: pytest.Pytester, n: int = 12, threshold: str = "0.5") -> None:
    rows = "\n".join(
        f'  - {{request_id: r{i:02d}, request: "question {i}", response: "answer {i}.", expected_response: "answer {i}."}}'
        for i in range(n)
    )
    pytester.makefile(
        ".yaml",
        genai_base=f"name: base\njudges: [correctness]\nthresholds: {{overall: {threshold}}}\nrows:\n{rows}\n",
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # the scripted verdicts change between runs while the inputs do not: no verdict cache
    flat = ["--genai-cache", "off", *(a for arg in args for a in arg.split())]
    return pytester.runpytest_subprocess(*flat) if "-n" in flat else pytester.runpytest(*flat)


def fail_rows(judge: ScriptedJudge, *ids: int) -> None:
    judge.reset()
    for i in ids:
        judge.on(judge="correctness", contains=f"answer {i}.", section="response", rating="no", rationale=f"row {i} is wrong")


def load(path: Path) -> dict:
    return json.loads((path / "evaluation_results.json").read_text())


@pytest.mark.parametrize("xdist", XDIST)
def test_regressions_with_a_steady_average_are_caught(pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str) -> None:
    suite(pytester)
    fail_rows(judge, 1, 2)
    first = run(pytester, xdist, "--genai-baseline", "baseline", "--genai-update-baseline")
    assert first.ret == 0, first.stdout.str()
    assert (pytester.path / "baseline" / "evaluation_results.json").exists()

    fail_rows(judge, 3, 4)  # two rows break, two get fixed: the average stays 10/12
    second = run(
        pytester, xdist, "--genai-baseline", "baseline",
        "--genai-baseline-max-regressions", "1",
    )
    assert second.ret == 1
    out = second.stdout.str()
    assert "REGRESSED base::r03 — correctness: row 3 is wrong" in out
    assert "REGRESSED base::r04" in out
    assert "overall pass rate 83.3% -> 83.3% (+0.0 pts)" in out
    assert "genai gate: FAILED" in out and "baseline:" in out
    doc = load(pytester.path / "genai-results")
    cmp = doc["baseline"]
    assert cmp["paired_test"]["b"] == 2 and cmp["paired_test"]["c"] == 2
    assert cmp["paired_test"]["p_one_sided"] == pytest.approx(11 / 16)
    kinds = {r["request_id"]: r["kind"] for r in cmp["rows"]}
    assert kinds["r03"] == kinds["r04"] == "regression"
    assert kinds["r01"] == kinds["r02"] == "fix"
    assert doc["verdict"]["exit_code"] == 1

    # the same change without a regression-count rule: the paired test says it is noise
    third = run(pytester, xdist, "--genai-baseline", "baseline")
    assert third.ret == 0
    third.stdout.fnmatch_lines(["*genai baseline: PASSED*"])


def test_significant_drop_fails_on_the_paired_test(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite(pytester, n=12, threshold="0.1")
    fail_rows(judge)
    run(pytester, "--genai-baseline", "b", "--genai-update-baseline").assert_outcomes(passed=12)
    fail_rows(judge, 0, 1, 2, 3, 4, 5)  # b=6, c=0: p = 1/64
    result = run(pytester, "--genai-baseline", "b")
    assert result.ret == 1
    cmp = load(pytester.path / "genai-results")["baseline"]
    assert cmp["paired_test"]["p_one_sided"] == pytest.approx(1 / 64)
    assert cmp["verdict"]["status"] == "failed"


def test_incompatible_baseline_is_reported_not_gated(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite(pytester)
    fail_rows(judge)
    run(pytester, "--genai-baseline", "b", "--genai-update-baseline")
    fail_rows(judge, 0, 1, 2, 3, 4, 5)
    result = run(pytester, "--genai-baseline", "b", "--genai-judge-model", "another-judge")
    assert result.ret == 0  # 50% meets the 0.5 threshold; the incompatible baseline does not gate
    result.stdout.fnmatch_lines(["*genai baseline: INCOMPATIBLE (not gated)*"])
    forced = run(pytester, "--genai-baseline", "b", "--genai-judge-model", "another-judge", "--genai-baseline-force")
    assert forced.ret == 1


def test_missing_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    suite(pytester)
    result = run(pytester, "--genai-baseline", "nope")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--genai-baseline:*nope*"])


def test_history_records_every_run(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite(pytester, n=3)
    run(pytester)
    fail_rows(judge, 0)
    run(pytester)
    db = pytester.path / ".genai-cache" / "history.sqlite"
    assert db.exists()
    from pytest_genai_eval.history import HistoryStore

    runs = HistoryStore(db).runs()
    assert len(runs) == 2
    assert [r.status for r in runs] == ["passed", "passed"]  # 2/3 >= 0.5
    run(pytester, "--genai-no-history")
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("select count(*) from runs").fetchone()
    assert count == 2


def test_reports_and_step_summary(pytester: pytest.Pytester, judge: ScriptedJudge, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    suite(pytester, n=3, threshold="0.9")
    fail_rows(judge, 2)
    result = run(pytester)
    assert result.ret == 1
    results = pytester.path / "genai-results"
    html = (results / "report.html").read_text()
    assert "row 2 is wrong" in html and "http://" not in html.split("<body", 1)[1].split("data:")[0].replace("http://www.w3.org", "")
    md = (results / "summary.md").read_text()
    assert "row 2 is wrong" in md
    assert summary.read_text() == md or md in summary.read_text()


def test_junit_properties_carry_ratings(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite(pytester, n=2, threshold="0.1")
    fail_rows(judge, 1)
    run(pytester, "--junitxml", "junit.xml")
    xml = (pytester.path / "junit.xml").read_text()
    assert '<property name="genai/correctness/rating" value="yes"' in xml
    assert '<property name="genai/correctness/rating" value="no"' in xml
    assert '<property name="genai/root_cause" value="correctness"' in xml
