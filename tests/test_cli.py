"""``genai-eval`` / ``python -m pytest_genai_eval``: compare, history, report; exit codes.

The artifacts come from real pytest runs of a suite against the scripted judge on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_genai_eval.artifacts import JSON_NAME, read_results
from pytest_genai_eval.cli import main
from pytest_genai_eval.history import HistoryStore
from pytest_genai_eval.testing import ScriptedJudge

SUITE = """
name: support
judges: [correctness]
rows:
  - {request_id: a, request: "qa", response: "answer-a", expected_response: "answer-a"}
  - {request_id: b, request: "qb", response: "answer-b", expected_response: "answer-b"}
  - {request_id: c, request: "qc", response: "answer-c", expected_response: "answer-c"}
  - {request_id: d, request: "qd", response: "answer-d", expected_response: "answer-d"}
"""


JSON_GATE = ("--format", "json", "--max-regressions", "0")


@pytest.fixture
def two_runs(pytester: pytest.Pytester, judge: ScriptedJudge) -> tuple[Path, Path]:
    """A baseline where every row passes, and a run where row c regressed."""
    pytester.makefile(".yaml", genai_support=SUITE)
    base = pytester.path / "base"
    pytester.runpytest("--genai-results-dir", str(base), "--genai-cache", "off").assert_outcomes(
        passed=4
    )
    judge.on(
        judge="correctness",
        section="response",
        contains="answer-c",
        rating="no",
        rationale="Row c is wrong now.",
    )
    cur = pytester.path / "cur"
    result = pytester.runpytest("--genai-results-dir", str(cur), "--genai-cache", "off")
    result.assert_outcomes(passed=3, failed=1)
    return base, cur


def test_compare_text_and_exit_codes(
    two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cur = two_runs
    # 4/4 -> 3/4: McNemar p = 0.5; the 25-point drop is within noise (Wilson upper 95.4%)
    assert main(["compare", str(base), str(cur)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (
        "genai baseline: PASSED — 1 regression(s), 0 fix(es) on 4 paired row(s) (exit 0)"
    )
    assert (
        "paired test: 4 paired rows, b=1 (pass -> fail), c=0 (fail -> pass), one-sided exact McNemar p=0.5"
        in lines
    )
    assert "  support::c — correctness: Row c is wrong now." in lines
    assert any(line.startswith("  overall") and "-25.0 pts" in line for line in lines)
    # stricter rules turn the same comparison into a failure: exit 1
    assert main(["compare", str(base), str(cur), "--max-regressions", "0"]) == 1
    assert "FAILED — 1 row(s) regressed (pass → fail), 0 allowed" in capsys.readouterr().out
    assert main(["compare", str(base), str(cur), "--drop-test", "point"]) == 1
    assert "overall pass rate fell from 100.0% to 75.0%" in capsys.readouterr().out
    assert (
        main(["compare", str(base), str(cur), "--max-drop", "overall=30%", "--drop-test", "point"])
        == 0
    )
    capsys.readouterr()
    # comparing a run with itself: nothing changed; the file path works as well as the directory
    assert main(["compare", str(base / JSON_NAME), str(base)]) == 0
    assert "0 regression(s), 0 fix(es) on 4 paired row(s)" in capsys.readouterr().out


def test_compare_json_and_markdown(
    two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cur = two_runs
    assert main(["compare", str(base), str(cur), "--format", "json", "--alpha", "0.6"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"]["status"] == "failed"
    assert data["paired_test"]["b"] == 1 and data["paired_test"]["p_one_sided"] == 0.5
    assert data["rules"]["alpha"] == 0.6
    (regression,) = [r for r in data["rows"] if r["kind"] == "regression"]
    assert regression["request_id"] == "c"
    assert regression["flips"][0]["rationale"] == "Row c is wrong now."
    assert data["incompatible"] == []
    assert main(["compare", str(base), str(cur), "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("## ✅ Baseline: PASSED\n")
    assert "| ✅ | mcnemar |" in text


def test_incompatible_baseline_is_not_gated_unless_allowed(
    pytester: pytest.Pytester,
    judge: ScriptedJudge,
    two_runs: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, _ = two_runs
    other = pytester.path / "other"
    pytester.runpytest(
        "--genai-results-dir", str(other), "--genai-cache", "off", "--genai-judge-model", "judge-2"
    )
    capsys.readouterr()
    args = ["compare", str(base), str(other), "--max-regressions", "0"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("genai baseline: INCOMPATIBLE (not gated)")
    assert f"incompatible: judge model changed: baseline {judge.model}, this run judge-2" in out
    assert main([*args, "--allow-incompatible"]) == 1


def test_report_writes_html_and_markdown(
    tmp_path: Path, two_runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, cur = two_runs
    db = tmp_path / "h.sqlite"
    HistoryStore(db).append(read_results(base)[0], git=None)
    out = tmp_path / "out" / "page.html"
    md = tmp_path / "summary.md"
    capsys.readouterr()
    args = ["report", str(cur), "--baseline", str(base), "--out", str(out)]
    code = main([*args, "--markdown", str(md), "--history-db", str(db)])
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [f"report: {out}", f"summary: {md}"]
    page = out.read_text()
    assert 'data-request-id="c"' in page and 'data-change="regression"' in page
    assert "Row c is wrong now." in page
    assert "this run (" in page  # the trend: one recorded run plus this one
    summary = md.read_text()
    assert "| support::c | correctness | Row c is wrong now. |" in summary
    # default output: report.html in the results directory
    assert main(["report", str(cur / JSON_NAME)]) == 0
    assert (cur / "report.html").exists()
    assert "Baseline comparison" not in (cur / "report.html").read_text()


def test_history_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    store = HistoryStore(db)
    for rate, suite in ((0.5, "one"), (0.75, "two")):
        store.append(
            {
                "started_at": "2026-02-03T04:05:06+00:00",
                "config": {"judge": {"model": "judge-m"}},
                "verdict": {"status": "passed", "exit_code": 0},
                "metrics": {"response/overall_assessment/rating/percentage": rate, "rows/count": 8},
                "suites": {suite: {}},
            },
            git={"commit": "0123456789abcdef" * 2 + "01234567", "branch": "main", "dirty": False},
        )
    assert main(["history", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "id", "started", "status", "exit", "pass", "rate", "rows", "commit", "branch", "judge", "model",
    ]  # fmt: skip
    assert lines[1].split() == [
        "2", "2026-02-03T04:05:06", "passed", "0", "75.0%", "8", "0123456789", "main", "judge-m",
    ]  # fmt: skip
    assert len(lines) == 3
    assert main(["history", "--db", str(db), "--suite", "one", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in data] == [1] and data[0]["suites"] == ["one"]
    assert main(["history", "--db", str(db), "--limit", "0"]) == 0
    assert capsys.readouterr().out == "no runs recorded\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["compare"], "the following arguments are required: BASELINE, CURRENT"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["compare", "nope-1", "nope-2"], "baseline not found: nope-1"),
        (["compare", "a", "b", "--alpha", "2"], "must be between 0 and 1"),
        (["compare", "a", "b", "--max-drop", "overall"], "cannot read max-drop 'overall'"),
        (["compare", "a", "b", "--max-regressions", "-1"], "must be >= 0"),
        (["history", "--db", "missing.sqlite"], "no history database at missing.sqlite"),
        (["report", "missing-dir"], "results not found: missing-dir"),
    ],
)
def test_usage_errors_exit_4(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 4
    assert message in capsys.readouterr().err


def test_unreadable_input_exits_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"schema_version": 1, "rows": []}))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["compare", str(good), str(bad)]) == 4
    assert f"{bad}: invalid JSON at line 1" in capsys.readouterr().err
    assert main(["compare", str(bad), str(good)]) == 4
    assert "cannot use baseline" in capsys.readouterr().err
    assert main(["compare", str(good), str(good)]) == 0  # empty runs compare fine


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "compare" in out and "history" in out and "report" in out and "merge" in out
    assert main(["compare", "--help"]) == 0
    assert "--max-drop METRIC=MARGIN" in capsys.readouterr().out


def test_python_dash_m(two_runs: tuple[Path, Path]) -> None:
    base, cur = two_runs
    done = subprocess.run(
        [sys.executable, "-m", "pytest_genai_eval", "compare", str(base), str(cur), *JSON_GATE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["verdict"]["reasons"] == [
        "1 row(s) regressed (pass → fail), 0 allowed"
    ]
    usage = subprocess.run(
        [sys.executable, "-m", "pytest_genai_eval", "compare"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert usage.returncode == 4 and "required: BASELINE, CURRENT" in usage.stderr
