"""The Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_genai_eval.compare import RegressionRules, compare
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.report_md import (
    append_step_summary,
    md_escape,
    render_markdown,
    request_text,
    write_markdown,
)
from pytest_genai_eval.results import Assessment, RowResult


def row(rid: str, correctness: str, *, rationale: str = "", response: str = "ok") -> RowResult:
    return RowResult(
        suite="support",
        request_id=rid,
        row={"request": f"question {rid}"},
        response=response,
        latency_seconds=1.0,
        assessments=[
            Assessment(
                "correctness",
                "correctness",
                rating=correctness,  # type: ignore[arg-type]
                rationale=rationale or f"correctness {correctness}",
            ),
            Assessment("safety", "safety", rating="yes", rationale="safe"),
        ],
    )


def document(rows: list[RowResult], status: str = "failed") -> dict[str, Any]:
    return {
        "schema_version": 1,
        "duration_seconds": 4.25,
        "config": {"judge": {"model": "judge-m"}},
        "verdict": {
            "status": status,
            "exit_code": 1 if status == "failed" else 0,
            "line": "genai gate: FAILED — support: overall >= 0.9 missed (actual 0.5) (exit 1)",
            "reasons": ["support: overall >= 0.9 missed (actual 0.5)"],
            "notes": ["1 of 4 row(s) had no check that could run"],
            "checks": [
                {
                    "scope": "support",
                    "threshold": "overall >= 0.9",
                    "metric": "response/overall_assessment/rating/percentage",
                    "actual": 0.5,
                    "status": "fail",
                }
            ],
        },
        "metrics": compute_metrics(rows),
        "suites": {"support": {"config": {"prompt_versions": {"correctness": "v1"}}}},
    }


def runs() -> tuple[list[RowResult], list[RowResult]]:
    base = [row("a", "yes"), row("b", "yes"), row("c", "yes"), row("d", "no")]
    cur = [
        row("a", "yes"),
        row("b", "no", rationale="Says | 14 days <script>alert(1)</script> [click](http://x.test)"),
        row("c", "no", rationale="Omits the fee."),
        row("d", "yes"),
    ]
    return base, cur


def test_summary_with_a_baseline() -> None:
    base, cur = runs()
    comparison = compare((document(base, "passed"), base), (document(cur), cur))
    text = render_markdown(document(cur), cur, comparison)
    lines = text.splitlines()
    assert lines[0] == "## ❌ GenAI evaluation: FAILED"
    assert "**genai gate: FAILED — support: overall >= 0.9 missed (actual 0.5) (exit 1)**" in lines
    assert "- support: overall >= 0.9 missed (actual 0.5)" in lines
    assert "- note: 1 of 4 row(s) had no check that could run" in lines
    assert "4 row(s): 2 passed, 2 failed · judge `judge-m` · 4.2s" in lines
    # the metric table with the baseline's values and the change in points
    assert "| | pass rate | 95% CI | rated | baseline | change |" in lines
    assert "| overall | 50.0% | 15–85% | 4 | 75.0% | −25.0 pts |" in lines
    assert "| correctness | 50.0% | 15–85% | 4 | 75.0% | −25.0 pts |" in lines
    assert "| safety | 100.0% | 51–100% | 4 | 100.0% | ±0.0 pts |" in lines
    assert "latency p50/p90/p99 1.00s / 1.00s / 1.00s" in lines
    assert "| ❌ fail | support | overall >= 0.9 | 0.5 |  |" in lines
    # the baseline gate
    assert "### ✅ Baseline: PASSED" in lines
    assert "2 regression(s) · 1 fix(es) · 0 new · 0 removed · 0 response(s) changed" in lines
    assert (
        "Paired rows: 4; b (pass → fail) = 2, c (fail → pass) = 1; one-sided exact McNemar p = 0.5"
        in lines
    )
    # regressed rows with the judge that flipped and its rationale, escaped
    start = lines.index("### Regressions: 2 row(s) passed in the baseline and fail now")
    assert lines[start + 2 : start + 6] == [
        "| row | judge | rationale |",
        "|---|---|---|",
        "| support::b | correctness | Says \\| 14 days &lt;script>alert(1)&lt;/script> "
        "\\[click\\](http://x.test) |",
        "| support::c | correctness | Omits the fee. |",
    ]
    assert "<script" not in text


def test_summary_without_a_baseline_and_failing_rows_limit() -> None:
    rows = [row(f"r{i:02d}", "no", rationale=f"reason {i}") for i in range(12)] + [row("ok", "yes")]
    text = render_markdown(document(rows), rows, None, top_failing=3)
    lines = text.splitlines()
    assert "| | pass rate | 95% CI | rated |" in lines
    assert not any("baseline" in line.lower() for line in lines)
    start = lines.index("### Failing rows (top 3 of 12)")
    assert lines[start + 2 :] == [
        "| row | request | root cause | rationale |",
        "|---|---|---|---|",
        "| support::r00 | question r00 | correctness | reason 0 |",
        "| support::r01 | question r01 | correctness | reason 1 |",
        "| support::r02 | question r02 | correctness | reason 2 |",
    ]


def test_minimal_document_is_enough() -> None:
    rows = [row("a", "yes")]
    text = render_markdown({}, rows)
    assert text.startswith("## GenAI evaluation: UNKNOWN\n")
    assert "| overall | 100.0% | 21–100% | 1 |" in text  # metrics computed from the rows
    assert "Failing rows" not in text


def test_escaping_and_request_text() -> None:
    assert md_escape("a|b *c* _d_ `e` [f](g) <h> & ~i~ \\") == (
        "a\\|b \\*c\\* \\_d\\_ \\`e\\` \\[f\\](g) &lt;h> &amp; \\~i\\~ \\\\"
    )
    assert md_escape("line one\nline two", None) == "line one line two"
    assert md_escape("x" * 300, 10) == "xxxxxxxxx…"
    assert request_text({"request": "plain"}) == "plain"
    chat = {"messages": [{"role": "user", "content": "first"}, {"role": "user", "content": "last"}]}
    assert request_text({"request": chat}) == "last"
    assert request_text({"request": {"query": "q", "history": []}}) == "q"
    assert request_text({}) == ""


def test_incompatible_baseline_is_shown(tmp_path: Path) -> None:
    base, cur = runs()
    old = document(base, "passed")
    old["config"] = {"judge": {"model": "other"}}
    comparison = compare((old, base), (document(cur), cur), RegressionRules())
    text = render_markdown(document(cur), cur, comparison)
    assert "### ⚠️ Baseline: INCOMPATIBLE" in text
    assert "- judge model changed: baseline other, this run judge-m" in text


def test_write_markdown_and_step_summary(tmp_path: Path) -> None:
    target = write_markdown(tmp_path / "out" / "summary.md", "# hi\n")
    assert target.read_text() == "# hi\n"
    assert append_step_summary("x", environ={}) is None
    summary = tmp_path / "step.md"
    summary.write_text("before\n")
    assert append_step_summary("one", environ={"GITHUB_STEP_SUMMARY": str(summary)}) == summary
    append_step_summary("two\n", environ={"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == "before\none\ntwo\n"
