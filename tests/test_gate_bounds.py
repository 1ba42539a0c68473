"""Errors never move a rate: pass-rate thresholds and baseline rules are decided on bounds
(every unassessed row failed / every one passed); undecidable is exit 6, never 0 or 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_genai_eval.compare import RegressionRules, compare
from pytest_genai_eval.gate import Threshold, check_threshold
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.results import Assessment, RowResult
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

XDIST = ["", "-n 2"]
EXAMPLE = Path(__file__).parents[1] / "example_suite"


def row(rid: str, rating: str | None) -> RowResult:
    """One row whose single judge says ``rating`` (None: the judge errored)."""
    a = (
        Assessment("correctness", "correctness", error="HTTP 503")
        if rating is None
        else Assessment("correctness", "correctness", rating=rating)  # type: ignore[arg-type]
    )
    return RowResult(suite="s", request_id=rid, row={"request": rid}, response=rid, assessments=[a])


def rows(yes: int, no: int, errors: int) -> list[RowResult]:
    out = [row(f"y{i}", "yes") for i in range(yes)]
    out += [row(f"n{i}", "no") for i in range(no)]
    out += [row(f"e{i}", None) for i in range(errors)]
    return out


# ---- the rule, unit by unit --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "status", "passed"),
    [
        (0.6, "pass", True),  # 7/10 even if both errors failed
        (0.8, "undecidable", None),  # 7/10 .. 9/10
        (0.95, "fail", False),  # 9/10 even if both errors passed
    ],
)
def test_pass_rate_threshold_on_bounds(value: float, status: str, passed: bool | None) -> None:
    metrics = compute_metrics(rows(yes=7, no=1, errors=2))
    assert metrics["response/overall_assessment/rating/percentage"] == pytest.approx(7 / 8)
    assert metrics["response/overall_assessment/rating/unassessed_count"] == 2
    assert metrics["response/overall_assessment/rating/pessimistic_percentage"] == pytest.approx(0.7)
    assert metrics["response/overall_assessment/rating/optimistic_percentage"] == pytest.approx(0.9)
    for name in ("overall", "correctness"):
        check = check_threshold("s", Threshold(name, value), metrics)
        assert (check.status, check.passed) == (status, passed), name
        assert check.bounds == pytest.approx((0.7, 0.9))
        assert check.unassessed == 2


def test_without_unassessed_rows_the_rate_decides_as_before() -> None:
    metrics = compute_metrics(rows(yes=7, no=3, errors=0))
    assert check_threshold("s", Threshold("overall", 0.7), metrics).passed is True
    assert check_threshold("s", Threshold("overall", 0.71), metrics).passed is False
    assert check_threshold("s", Threshold("overall", 0.71), metrics).bounds is None


def test_only_errors_is_undecidable_not_zero() -> None:
    metrics = compute_metrics(rows(yes=0, no=0, errors=5))
    check = check_threshold("s", Threshold("overall", 0.5), metrics)
    assert check.undecidable and check.bounds == (0.0, 1.0)


def test_upper_bound_threshold_uses_the_other_bound() -> None:
    # a "<=" rate threshold: met only if even the optimistic rate is within it
    metrics = compute_metrics(rows(yes=7, no=1, errors=2))
    assert check_threshold("s", Threshold("overall", 0.95, op="<="), metrics).passed is True
    assert check_threshold("s", Threshold("overall", 0.8, op="<="), metrics).undecidable
    assert check_threshold("s", Threshold("overall", 0.6, op="<="), metrics).passed is False


def test_baseline_drop_rule_on_bounds() -> None:
    base = rows(yes=20, no=0, errors=0)
    # now: 14 pass, 0 fail, 6 error (the 6 that passed before): 14/20 .. 20/20
    now = [row(f"y{i}", "yes") for i in range(14)] + [row(f"y{i}", None) for i in range(14, 20)]
    doc = {"schema_version": 1}
    rules = RegressionRules(alpha=None, drop_test="point", max_drop={"overall": 0.05})
    c = compare((doc, base), (doc, now), rules)
    (check,) = c.checks
    assert check.undecidable and c.verdict.status == "undecidable" and c.verdict.exit_code == 6
    assert "if every unassessed row failed: overall pass rate fell from 100.0% to 70.0%" in check.detail
    # the paired test likewise: 6 rows could be 6 regressions (p = 1/64) or none
    c2 = compare((doc, base), (doc, now), RegressionRules(max_drop={}))
    assert c2.verdict.status == "undecidable"
    assert c2.paired.b == 0 and c2.paired.paired == 14  # what was observed is unchanged


# ---- end to end ------------------------------------------------------------------------------
SUITE = """
name: bounded
judges: [correctness]
thresholds:
  overall: {threshold}
  errors: 5
rows:
{rows}
"""


def bounded_suite(pytester: pytest.Pytester, threshold: float) -> None:
    body = "\n".join(
        f'  - {{request_id: r{i}, request: "q{i}", response: "answer {i}", expected_response: "a"}}'
        for i in range(10)
    )
    pytester.makefile(".yaml", genai_bounded=SUITE.format(threshold=threshold, rows=body))


def script(judge: ScriptedJudge) -> None:
    """r0-r6 yes, r7 no, r8 and r9: the judge fails (HTTP 500) on every attempt."""

    def handler(call: JudgeCall) -> Verdict:
        response = call.sections.get("response", "")
        if response in ("answer 8", "answer 9"):
            raise RuntimeError("judge outage for this row")
        if response == "answer 7":
            return Verdict("no", "wrong")
        return Verdict("yes", "right")

    judge.set_handler(handler)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    flat = ["--genai-cache", "off", "--genai-judge-retries", "0", *(a for x in args for a in x.split())]
    return pytester.runpytest_subprocess(*flat) if "-n" in flat else pytester.runpytest(*flat)


def verdict(pytester: pytest.Pytester) -> dict:
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    return doc


@pytest.mark.parametrize("xdist", XDIST)
@pytest.mark.parametrize(
    ("threshold", "code", "status", "check"),
    [(0.6, 0, "passed", "pass"), (0.8, 6, "undecidable", "undecidable"), (0.95, 1, "failed", "fail")],
)
def test_errors_never_move_the_verdict(
    pytester: pytest.Pytester,
    judge: ScriptedJudge,
    xdist: str,
    threshold: float,
    code: int,
    status: str,
    check: str,
) -> None:
    script(judge)
    bounded_suite(pytester, threshold)
    result = run(pytester, xdist)
    assert result.ret == code, result.stdout.str()
    doc = verdict(pytester)
    assert doc["verdict"]["status"] == status and doc["verdict"]["exit_code"] == code
    (overall,) = [c for c in doc["verdict"]["checks"] if c["name"] == "overall"]
    assert overall["status"] == check
    assert overall["pessimistic"] == pytest.approx(0.7)
    assert overall["optimistic"] == pytest.approx(0.9)
    assert overall["unassessed"] == 2
    assert doc["metrics"]["response/overall_assessment/rating/unassessed_count"] == 2
    out = result.stdout.str()
    assert "overall: 2 unassessed; pass rate between 70.0% (all failed) and 90.0% (all passed)" in out
    if status == "undecidable":
        result.stdout.fnmatch_lines(
            ["*genai gate: UNDECIDABLE — bounded: overall >= 0.8 undecidable: between 0.7 "
             "(every unassessed row failed) and 0.9 (every one passed), 2 unassessed row(s) (exit 6)"]
        )


def test_a_row_a_check_really_failed_stays_a_failure(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.fail_next(1000, status=503)  # every judge call errors
    pytester.makefile(
        ".yaml",
        genai_checked="""
name: checked
judges: [correctness]
checks: [{type: contains, values: ["ok"]}]
thresholds: {overall: 0.5, errors: 10}
rows:
  - {request_id: good, request: q1, response: "ok", expected_response: ok}
  - {request_id: bad, request: q2, response: "nope", expected_response: ok}
""",
    )
    result = run(pytester)
    doc = verdict(pytester)
    statuses = {r["request_id"]: r["status"] for r in doc["rows"]}
    assert statuses == {"good": "error", "bad": "fail"}  # the check said no: a failure
    m = doc["metrics"]
    assert m["response/overall_assessment/rating/count"] == 1  # only "bad" is rated
    assert m["response/overall_assessment/rating/pessimistic_percentage"] == 0.0
    assert m["response/overall_assessment/rating/optimistic_percentage"] == 0.5
    # pessimistic 0.0 < 0.5 <= optimistic 0.5: the outage leaves the threshold open, but the
    # check's failure is not erased by it (the rate is never computed from "good" alone)
    assert doc["verdict"]["status"] == "undecidable" and result.ret == 6


def test_example_suite_with_the_judge_unreachable_exits_6(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_EVAL_", "OPENAI_"))}
    environ.update(
        GENAI_EVAL_JUDGE_BASE_URL="http://127.0.0.1:9/v1",  # the discard port: nothing listens
        GENAI_EVAL_JUDGE_MODEL="judge",
    )
    proc = subprocess.run(
        [
            # the support bot's suite (the order agent's: test_example_suite.py)
            sys.executable, "-m", "pytest", str(EXAMPLE / "genai_support_bot.yaml"),
            "-p", "no:cacheprovider",
            "--genai-results-dir", str(tmp_path / "results"), "--genai-judge-retries", "0",
            "--genai-cache-dir", str(tmp_path / "cache"), "--genai-no-history",
        ],
        capture_output=True, text=True, env=environ, cwd=EXAMPLE.parent, check=False,
    )
    assert proc.returncode == 6, proc.stdout[-3000:]
    last = proc.stdout.strip().splitlines()
    gate = next(line for line in reversed(last) if line.startswith("genai gate:"))
    assert "overall >= 0.75 undecidable: between 0 (every unassessed row failed)" in gate
    assert gate.endswith("(exit 6)")
    doc = json.loads((tmp_path / "results" / "evaluation_results.json").read_text())
    assert doc["verdict"]["exit_code"] == 6
    (check,) = doc["verdict"]["checks"]
    assert check["status"] == "undecidable"
    assert (check["pessimistic"], check["optimistic"]) == (0.0, pytest.approx(11 / 14))
