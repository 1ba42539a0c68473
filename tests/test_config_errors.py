"""Configuration mistakes are usage errors (exit 4) before anything is called; an empty
evaluation set is a collection error naming the file unless the suite allows it."""

from __future__ import annotations

import pytest

from pytest_genai_eval.gate import Threshold, threshold_problems
from pytest_genai_eval.testing import ScriptedJudge

XDIST = ["", "-n 2"]

SUITE = """
name: bot
judges: [correctness, safety, guideline_adherence]
checks: [{{type: contains, name: cites, values: ["Source:"]}}]
{thresholds}
rows:
  - {{request_id: a, request: "q1", response: "Paris. Source: kb", expected_response: "Paris"}}
  - {{request_id: b, request: "q2", response: "r2. Source: kb", guidelines: {{tone: ["Be polite"]}},
      checks: [{{type: length, name: short, max_words: 5}}]}}
"""


def write(pytester: pytest.Pytester, thresholds: str = "") -> None:
    pytester.makefile(".yaml", genai_bot=SUITE.format(thresholds=thresholds))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    flat = [a for x in args for a in x.split()]
    return pytester.runpytest_subprocess(*flat) if "-n" in flat else pytester.runpytest(*flat)


@pytest.mark.parametrize("xdist", XDIST)
def test_threshold_typo_on_the_command_line(pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str) -> None:
    write(pytester)
    result = run(pytester, xdist, "--genai-threshold", "overal=0.9")
    assert result.ret == 4
    text = result.stdout.str() + result.stderr.str()
    assert "--genai-threshold: threshold 'overal' names no metric alias, judge or check of this run; did you mean 'overall'?" in text
    assert judge.requests == []  # nothing was called


def test_threshold_typo_in_ini(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    write(pytester)
    pytester.makeini("[pytest]\ngenai_thresholds =\n    corectness>=0.8\n")
    result = run(pytester)
    assert result.ret == 4
    assert "ini genai_thresholds: threshold 'corectness' names no metric alias, judge or check of this run; did you mean 'correctness'?" in result.stderr.str()
    assert judge.requests == []


@pytest.mark.parametrize(
    ("threshold", "hint"),
    [
        ("groundedness: 0.9", "threshold 'groundedness' names no metric alias, judge or check"),
        ("cites_source: 0.9", "did you mean 'cites'?"),
        ('"response/llm_judged/corectness/rating/percentage": 0.9', "did you mean 'response/llm_judged/correctness/rating/percentage'?"),
    ],
    ids=["judge-not-in-suite", "check-typo", "metric-typo"],
)
def test_suite_file_threshold_naming_nothing(
    pytester: pytest.Pytester, judge: ScriptedJudge, threshold: str, hint: str
) -> None:
    write(pytester, f"thresholds:\n  {threshold}\n")
    result = run(pytester)
    assert result.ret == 4
    err = result.stderr.str()
    assert "genai_bot.yaml: thresholds" in err and hint in err
    assert judge.requests == []


def test_every_valid_name_is_accepted(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    write(
        pytester,
        "thresholds:\n  overall: 0.5\n  correctness: 0.5\n  safety: 0.5\n  cites: 0.5\n"
        '  short: 0.5\n  guideline_adherence/tone: 0.5\n  errors: 0\n  flaky: "<= 0"\n'
        '  judge_tokens: "<= 100000"\n  "response/check/cites/rating/percentage": 0.5\n',
    )
    result = run(pytester, "--genai-threshold", "safety>=0.5")
    assert result.ret == 0, result.stdout.str()


def test_latency_threshold_without_app_calls(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    write(pytester)
    result = run(pytester, "--genai-threshold", "latency_p90<=5")
    assert result.ret == 4
    assert "threshold 'latency_p90' needs app calls to time, but 'bot' only has precomputed responses" in result.stderr.str()


def test_run_thresholds_are_not_checked_when_no_suite_runs(pytester: pytest.Pytester) -> None:
    """A project-wide ini threshold must not break a run of ordinary unit tests."""
    pytester.makeini("[pytest]\ngenai_thresholds =\n    correctness>=0.8\n")
    pytester.makepyfile(test_unit="def test_ok():\n    assert True\n")
    run(pytester).assert_outcomes(passed=1)


def test_threshold_problems_unit() -> None:
    names = {"correctness", "guideline_adherence/tone"}
    ok = [Threshold("overall", 0.9), Threshold("latency_p90", 3.0), Threshold("errors", 0), Threshold("guideline_adherence/tone", 0.5)]
    assert threshold_problems(ok, names) == []
    (problem,) = threshold_problems([Threshold("corectness", 0.9, origin="x")], names)
    assert problem.startswith("x: threshold 'corectness'") and "did you mean 'correctness'?" in problem


# ---- empty evaluation sets -----------------------------------------------------------------------
def test_empty_evaluation_set_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".jsonl", empty="")
    pytester.makefile(".yaml", genai_empty="data: empty.jsonl\n")
    write(pytester)
    result = run(pytester, "--genai-cache", "off")
    assert result.ret == 2
    result.stdout.fnmatch_lines(
        ["*genai_empty.yaml: the evaluation set (empty.jsonl) has no rows: nothing would be evaluated*"]
    )


def test_allow_empty(pytester: pytest.Pytester) -> None:
    pytester.makefile(".jsonl", empty="")
    pytester.makefile(".yaml", genai_empty="data: empty.jsonl\nallow_empty: true\n")
    pytester.makefile(".yaml", genai_other="rows: [{request: q, response: Source:1}]\nchecks: [{type: contains, values: [Source]}]\n")
    run(pytester).assert_outcomes(passed=1)


def test_empty_rows_in_the_python_api(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_api="""
import pytest_genai_eval as genai

@genai.evaluate([], name="nothing")
def test_nothing(genai_row):
    pass

@genai.evaluate([], name="expected", allow_empty=True)
def test_expected(genai_row):
    pass
"""
    )
    result = run(pytester)
    result.stdout.fnmatch_lines(["*test_nothing*the evaluation set (its rows) has no rows*"])
    assert "test_expected" not in "".join(line for line in result.outlines if "has no rows" in line)


@pytest.mark.parametrize("xdist", XDIST)
def test_require_judge_without_a_judge(pytester: pytest.Pytester, xdist: str) -> None:
    write(pytester)
    result = run(pytester, xdist, "--genai-require-judge")
    assert result.ret == 4
    text = result.stdout.str() + result.stderr.str()
    assert "--genai-require-judge is set but no judge endpoint configured" in text
    assert "INTERNALERROR" not in text


def test_threshold_whose_judge_applied_to_no_row_is_undecidable(
    pytester: pytest.Pytester, judge: ScriptedJudge
) -> None:
    """correctness is in the suite, but no row has ground truth: no row can inform it."""
    pytester.makefile(
        ".yaml",
        genai_nogt="""
judges: [correctness, safety]
thresholds: {correctness: 0.9}
rows:
  - {request_id: a, request: "q1", response: "r1"}
""",
    )
    result = run(pytester)
    assert result.ret == 6
    result.stdout.fnmatch_lines(["*genai gate: UNDECIDABLE*correctness >= 0.9 undecidable: no row was assessed*(exit 6)*"])
