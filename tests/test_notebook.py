"""Evaluating outside pytest, including from inside a running event loop (Jupyter-like)."""

from __future__ import annotations

import asyncio

import pytest

from pytest_genai_eval.llm import EndpointSettings
from pytest_genai_eval.notebook import evaluate_rows
from pytest_genai_eval.testing import ScriptedJudge

ROWS = [
    {"request_id": "a", "request": "q", "response": "right", "expected_response": "right"},
    {"request_id": "b", "request": "q", "response": "wrong", "expected_response": "right"},
]


def test_evaluate_rows_returns_results_and_metrics(judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", contains="wrong", section="response", rating="no", rationale="nope")
    run = evaluate_rows(ROWS, judges=["correctness"])
    assert [r.status for r in run.results] == ["pass", "fail"]
    assert run.metrics["response/llm_judged/correctness/rating/percentage"] == 0.5
    table = run.table()
    assert list(table["response/llm_judged/correctness/rating"]) == ["yes", "no"]


def test_works_inside_a_running_event_loop(judge: ScriptedJudge) -> None:
    async def notebook_cell() -> list[str]:
        # as in Jupyter, a loop is already running in this thread
        run = evaluate_rows(ROWS, judges=["correctness"], judge=EndpointSettings(judge.base_url, judge.model))
        return [r.status for r in run.results]

    assert asyncio.run(notebook_cell()) == ["pass", "pass"]


def test_without_judge_nothing_passes_silently() -> None:
    run = evaluate_rows(ROWS, judges=["correctness"])
    assert [r.status for r in run.results] == ["skipped", "skipped"]
    assert run.metrics["response/llm_judged/correctness/rating/percentage"] is None


def test_bad_rows_raise_before_any_call(judge: ScriptedJudge) -> None:
    from pytest_genai_eval.evalset import EvalSetError

    with pytest.raises(EvalSetError, match="row 1"):
        evaluate_rows([{"request": ""}])
    assert judge.requests == []
