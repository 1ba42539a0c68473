"""Which judges run on which row: the default selection matrix (README, "Judges and checks"), subsets, exclusions
and "not applicable" for explicitly chosen judges that lack their inputs."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from pytest_genai_eval.judges import BUILTIN_JUDGES, EvalContext
from pytest_genai_eval.suite import SuiteError, SuiteSpec, build_suite
from pytest_genai_eval.testing import ScriptedJudge

CONTEXT = [{"doc_uri": "kb://a", "content": "Some context."}]


def make_row(*, truth: bool, context: bool, guidelines: bool, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"request": "Question?", "response": "Answer.", **extra}
    if truth:
        row["expected_facts"] = ["a fact"]
    if context:
        row["retrieved_context"] = CONTEXT
    if guidelines:
        row["guidelines"] = ["Be brief"]
    return row


def planned(suite: SuiteSpec) -> list[tuple[set[str], list[tuple[str, str]]]]:
    out = []
    for row in suite.rows:
        ctx = EvalContext(
            row=row,
            response=row.response,
            retrieved_context=row.retrieved_context,
            global_guidelines=suite.global_guidelines,
        )
        run, skipped = suite.judges.plan(ctx)
        out.append(({j.name for j in run}, [(a.name, a.skipped or "") for a in skipped]))
    return out


def expected_default(truth: bool, context: bool, guidelines: bool) -> set[str]:
    names = {"safety", "correctness" if truth else "relevance_to_query"}
    if guidelines:
        names.add("guideline_adherence")
    if context:
        names.add("groundedness")
        names.add("context_sufficiency" if truth else "chunk_relevance")
    return names


MATRIX = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize(("truth", "context", "guidelines"), MATRIX)
def test_default_selection_matrix(truth: bool, context: bool, guidelines: bool) -> None:
    suite = build_suite(name="m", data=[make_row(truth=truth, context=context, guidelines=guidelines)])
    ((run, skipped),) = planned(suite)
    assert run == expected_default(truth, context, guidelines)
    assert skipped == []  # the default selection never reports "not applicable"


def test_global_guidelines_and_document_recall_join_the_default() -> None:
    rows = [
        make_row(truth=False, context=True, guidelines=False, request_id="a", expected_retrieved_context=["kb://a"]),
        make_row(truth=True, context=False, guidelines=False, request_id="b"),
        # doc_uri-only context: no LLM context judge, but recall can be measured
        {"request_id": "c", "request": "q", "response": "a", "retrieved_context": ["kb://a"], "expected_retrieved_context": ["kb://b"]},
    ]
    suite = build_suite(name="g", data=rows, global_guidelines=["Be formal"])
    first, second, third = planned(suite)
    assert first[0] == expected_default(False, True, False) | {"global_guideline_adherence", "document_recall"}
    assert second[0] == {"correctness", "safety", "global_guideline_adherence"}
    assert third[0] == {"relevance_to_query", "safety", "global_guideline_adherence", "document_recall"}


def test_explicit_subset_reports_not_applicable() -> None:
    rows = [
        make_row(truth=False, context=False, guidelines=False, request_id="bare"),
        make_row(truth=True, context=True, guidelines=False, request_id="full"),
    ]
    suite = build_suite(
        name="s", data=rows, judges=["groundedness", "context_sufficiency", "document_recall", "safety"]
    )
    bare, full = planned(suite)
    assert bare[0] == {"safety"}
    reasons = dict(bare[1])
    assert set(reasons) == {"groundedness", "context_sufficiency", "document_recall"}
    assert all(r.startswith("not applicable: ") for r in reasons.values())
    assert "retrieved_context" in reasons["groundedness"]
    assert "expected_retrieved_context" in reasons["document_recall"]
    assert full[0] == {"groundedness", "context_sufficiency", "safety"}
    assert dict(full[1]) == {
        "document_recall": "not applicable: needs expected_retrieved_context with doc_uri values"
    }


def test_exclusion_removes_a_default_judge() -> None:
    suite = build_suite(
        name="x",
        data=[make_row(truth=False, context=True, guidelines=True)],
        exclude_judges=["safety", "chunk_relevance"],
    )
    ((run, _),) = planned(suite)
    assert run == {"relevance_to_query", "groundedness", "guideline_adherence"}
    assert "safety" not in suite.judges.names


def test_unknown_judge_lists_the_catalog() -> None:
    with pytest.raises(SuiteError) as info:
        build_suite(name="u", data=[make_row(truth=False, context=False, guidelines=False)], judges=["relevance"])
    message = str(info.value)
    assert "unknown judge 'relevance'" in message
    assert all(name in message for name in BUILTIN_JUDGES)
    with pytest.raises(SuiteError, match="document_recall asks no LLM"):
        build_suite(
            name="u",
            data=[make_row(truth=False, context=False, guidelines=False)],
            prompts={"document_recall": "x.txt"},
        )


def test_selection_end_to_end(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    rows = [
        {"request_id": f"{'t' if t else 'n'}{'c' if c else 'n'}{'g' if g else 'n'}", **make_row(truth=t, context=c, guidelines=g)}
        for t, c, g in MATRIX
    ]
    pytester.makefile(".yaml", genai_default="rows: " + json.dumps(rows))
    pytester.makefile(
        ".yaml",
        genai_subset="name: subset\njudges: [correctness, groundedness]\nexclude_judges: [correctness]\nrows: "
        + json.dumps([{"request_id": "s1", "request": "q", "response": "a"}]),
    )
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8, skipped=1)  # s1: groundedness not applicable, nothing ran
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    got = {
        r["request_id"]: {a["name"] for a in r["assessments"] if a["rating"] is not None}
        for r in doc["rows"]
        if r["suite"] == "default"
    }
    for t, c, g in MATRIX:
        key = f"{'t' if t else 'n'}{'c' if c else 'n'}{'g' if g else 'n'}"
        assert got[key] == expected_default(t, c, g), key
    calls = {c.judge for c in judge.calls()}
    assert calls == {
        "correctness", "relevance_to_query", "guideline_adherence", "groundedness", "safety",
        "context_sufficiency", "chunk_relevance",
    }
    (subset_row,) = [r for r in doc["rows"] if r["suite"] == "subset"]
    (only,) = subset_row["assessments"]
    assert only["name"] == "groundedness"
    assert only["skipped"] == "not applicable: needs retrieved_context with content"
    assert doc["metrics"]["judge/groundedness/skipped_count"] == 1
    assert doc["suites"]["subset"]["config"]["judge_selection"] == "explicit"
