"""The Python API: the evaluate decorator / marker, genai_row and genai_result, genai_judge."""

from __future__ import annotations

import json

import pytest

from pytest_genai_eval.testing import ScriptedJudge

APP_MODULE = '''
def answer(request):
    question = request["messages"][-1]["content"]
    if "boom" in question:
        raise RuntimeError("the app broke")
    return {"content": "Answer to: " + question,
            "retrieved_context": [{"doc_uri": "kb://faq", "content": "faq text"}]}

async def answer_async(request):
    return {"choices": [{"message": {"role": "assistant", "content": "async " + request["messages"][-1]["content"]}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}}
'''


def test_decorator_parametrizes_over_rows(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(app=APP_MODULE)
    pytester.makepyfile(
        test_bot='''
import pytest_genai_eval as genai
from app import answer

ROWS = [
    {"request_id": "one", "request": "first?", "expected_response": "Answer to: first?"},
    {"request_id": "two", "request": "second?", "guidelines": ["Be short"]},
]

@genai.evaluate(ROWS, app=answer)
def test_bot(genai_row, genai_result):
    assert genai_result.response.startswith("Answer to:")
    assert genai_row.request_id in ("one", "two")
    assert genai_result.retrieved_context[0]["doc_uri"] == "kb://faq"
'''
    )
    result = pytester.runpytest("-v")
    result.stdout.fnmatch_lines(["*test_bot.py::test_bot?one? PASSED*", "*test_bot.py::test_bot?two? PASSED*"])
    assert result.ret == 0
    assert len(judge.calls(judge="correctness")) == 1
    assert len(judge.calls(judge="guideline_adherence")) == 1


def test_marker_with_file_and_import_string(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(app=APP_MODULE)
    pytester.makefile(
        ".jsonl",
        rows="\n".join(json.dumps(r) for r in [
            {"request": "What is up?", "expected_facts": ["up is up"]},
            {"request": "please boom", "expected_facts": ["x"]},
        ]),
    )
    pytester.makepyfile(
        test_marker='''
import pytest

@pytest.mark.genai_eval(data="rows.jsonl", app="app:answer_async", thresholds={"errors": 1})
def test_rows():
    pass
'''
    )
    result = pytester.runpytest("-v")
    result.stdout.fnmatch_lines(["*test_rows?what-is-up-*? PASSED*", "*test_rows?please-boom-*? PASSED*"])
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    rows = {r["request_id"].split("-")[0]: r for r in doc["rows"]}
    assert rows["what"]["app_usage"]["total_tokens"] == 12
    assert rows["what"]["response"] == "async What is up?"


def test_app_exception_is_an_error_on_that_row(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(app=APP_MODULE)
    pytester.makepyfile(
        test_err='''
import pytest_genai_eval as genai

@genai.evaluate([{"request_id": "ok", "request": "fine", "expected_response": "x"},
                 {"request_id": "bad", "request": "boom now", "expected_response": "x"}], app="app:answer")
def test_app(genai_result):
    pass
'''
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == 6
    out = result.stdout.str()
    assert "RuntimeError: the app broke" in out
    assert "app.py" in out  # a short traceback names the frame
    assert "genai gate: ERRORS" in out


def test_test_body_assertions_still_apply(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(
        test_body='''
import pytest_genai_eval as genai

@genai.evaluate([{"request_id": "r", "request": "q", "response": "a short answer", "expected_response": "a"}])
def test_len(genai_result):
    assert len(genai_result.response) < 5, "too long"
'''
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*too long*"])


def test_judge_verdict_fails_decorated_test(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", rating="no", rationale="incorrect claim")
    pytester.makepyfile(
        test_v='''
import pytest_genai_eval as genai

@genai.evaluate([{"request_id": "r", "request": "q", "response": "a", "expected_response": "b"}])
def test_v():
    pass
'''
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*[[]FAIL[]] correctness: incorrect claim*"])


def test_genai_judge_fixture_in_an_ordinary_test(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    judge.on(judge="correctness", contains="60 days", rating="no", rationale="policy is 30 days")
    pytester.makepyfile(
        test_plain='''
def test_good(genai_judge):
    verdict = genai_judge.check(request="refund window?", response="30 days", expected_facts=["30 days"])
    assert verdict, verdict.explain()

def test_bad(genai_judge):
    genai_judge.assert_pass(request="refund window?", response="60 days", expected_facts=["30 days"])
'''
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*policy is 30 days*"])


def test_genai_judge_without_endpoint_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain='''
def test_good(genai_judge):
    genai_judge.assert_pass(request="q", response="a", expected_facts=["a"])
'''
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*not evaluated: no judge endpoint configured*"])


def test_works_beside_pytest_asyncio(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(
        test_async='''
import asyncio
import pytest
import pytest_genai_eval as genai

@pytest.mark.asyncio
async def test_loop_running(genai_judge):
    await asyncio.sleep(0)
    verdict = genai_judge.check(request="q", response="a", expected_response="a")
    assert verdict.passed

@genai.evaluate([{"request_id": "r", "request": "q", "response": "a", "expected_response": "a"}])
@pytest.mark.asyncio
async def test_rows(genai_result):
    await asyncio.sleep(0)
    assert genai_result.status == "pass"
'''
    )
    result = pytester.runpytest("-p", "asyncio", "--asyncio-mode=strict")
    result.assert_outcomes(passed=2)


def test_invalid_python_rows_fail_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad='''
import pytest_genai_eval as genai

@genai.evaluate([{"request": "q", "response": "a", "expected_response": "a", "expected_facts": ["a"]}])
def test_rows():
    pass
'''
    )
    result = pytester.runpytest()
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*row 1*expected_response*"])
