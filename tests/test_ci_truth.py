"""CI sees the truth: a gate that fails without a failing item is a failing JUnit test case;
``--lf`` reruns tolerated failures; ``genai_judge.check()`` records without gating."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from pytest_genai_eval.testing import ScriptedJudge

XDIST = ["", "-n 2"]


def suite(pytester: pytest.Pytester, threshold: float = 0.9, name: str = "tolerant") -> None:
    rows = "\n".join(
        f'  - {{request_id: r{i}, request: "q{i}", response: "answer {i}", expected_response: "a"}}'
        for i in range(4)
    )
    pytester.makefile(
        ".yaml",
        **{f"genai_{name}": f"name: {name}\njudges: [correctness]\nthresholds: {{overall: {threshold}}}\nrows:\n{rows}\n"},
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    flat = ["--genai-cache", "off", *(a for x in args for a in x.split())]
    return pytester.runpytest_subprocess(*flat) if "-n" in flat else pytester.runpytest(*flat)


def junit(pytester: pytest.Pytester) -> ET.Element:
    return ET.parse(pytester.path / "junit.xml").getroot()


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {f"{c.get('classname')}::{c.get('name')}": c for c in root.iter("testcase")}


@pytest.mark.parametrize("xdist", XDIST)
def test_missed_threshold_is_a_failing_junit_case(
    pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str
) -> None:
    judge.on(judge="correctness", contains="answer 1", rating="no", rationale="wrong")
    suite(pytester)
    result = run(pytester, xdist, "--junitxml=junit.xml")
    assert result.ret == 1
    result.assert_outcomes(passed=3, xfailed=1)  # no row item failed...
    root = junit(pytester)
    suite_node = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite_node is not None
    assert int(suite_node.get("failures", "0")) == 1  # ...but the JUnit XML says it failed
    gate = cases(root)["genai-gate::tolerant"]
    failure = gate.find("failure")
    assert failure is not None
    assert "overall >= 0.9 missed (actual 0.75)" in (failure.text or "")


def test_baseline_rule_failure_is_a_failing_junit_case(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite(pytester, threshold=0.5)
    run(pytester, "--genai-baseline", "base", "--genai-update-baseline").assert_outcomes(passed=4)
    judge.on(judge="correctness", contains="answer 1", rating="no", rationale="broke")
    result = run(pytester, "--genai-baseline", "base", "--genai-baseline-max-regressions", "0", "--junitxml=junit.xml")
    assert result.ret == 1
    gate = cases(junit(pytester))["genai-gate::baseline"]
    assert "1 row(s) regressed (pass → fail), 0 allowed" in (gate.find("failure").text or "")  # type: ignore[union-attr]


def test_passing_gate_adds_no_case(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    suite(pytester)
    result = run(pytester, "--junitxml=junit.xml")
    assert result.ret == 0
    assert not [name for name in cases(junit(pytester)) if name.startswith("genai-gate")]


def test_last_failed_reruns_tolerated_rows(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", contains="answer 2", rating="no", rationale="wrong")
    suite(pytester, threshold=0.5)
    first = run(pytester, "-p", "cacheprovider")
    first.assert_outcomes(passed=3, xfailed=1)
    assert first.ret == 0
    rerun = run(pytester, "-p", "cacheprovider", "--lf", "-v")
    rerun.assert_outcomes(xfailed=1, passed=0)
    rerun.stdout.fnmatch_lines(["*genai_tolerant.yaml::r2 XFAIL*"])


def test_a_gate_entry_leaves_last_failed_once_the_gate_passes(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", contains="answer 1", rating="no", rationale="wrong")
    suite(pytester)
    assert run(pytester, "-p", "cacheprovider").ret == 1
    lastfailed = json.loads((pytester.path / ".pytest_cache/v/cache/lastfailed").read_text())
    assert "genai-gate::tolerant" in lastfailed
    assert "genai_tolerant.yaml::r1" in lastfailed
    judge.reset()
    assert run(pytester, "-p", "cacheprovider").ret == 0
    lastfailed_file = pytester.path / ".pytest_cache/v/cache/lastfailed"
    after = json.loads(lastfailed_file.read_text()) if lastfailed_file.exists() else {}
    assert not [k for k in after if k.startswith("genai-gate")]


CHECK_TESTS = """
def test_judge_says_no_to_a_wrong_answer(genai_judge):
    verdict = genai_judge.check(request="Capital of France?", response="Lyon",
                                expected_facts=["Paris is the capital"])
    assert not verdict
    assert verdict.result.root_cause.name == "correctness"

def test_judge_says_yes(genai_judge):
    assert genai_judge.check(request="Capital of France?", response="Paris",
                             expected_facts=["Paris is the capital"])
"""


def test_check_records_without_gating(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", contains="Lyon", rating="no", rationale="Lyon is not the capital")
    pytester.makepyfile(test_neg=CHECK_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "2 response(s) judged with genai_judge.check(): recorded in the results, not gated",
            "genai gate: NO ROWS (exit 0)",
        ]
    )
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    assert sorted((r["status"], r["gated"]) for r in doc["rows"]) == [("fail", False), ("pass", False)]
    assert doc["metrics"]["rows/count"] == 0  # recorded, not gated


def test_assert_pass_gates(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", contains="Lyon", rating="no", rationale="Lyon is not the capital")
    pytester.makepyfile(
        test_pos="""
def test_wrong(genai_judge):
    genai_judge.assert_pass(request="Capital of France?", response="Lyon",
                            expected_facts=["Paris is the capital"])
"""
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*[[]FAIL[]] correctness: Lyon is not the capital*"])
