"""Other tools' evaluation sets, each a file in that tool's documented format (tests/data/importers):
promptfoo, DeepEval, Ragas, OpenAI evals; named by the suite key ``format`` or recognized by shape."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from pytest_genai_eval.evalset import EvalSetError
from pytest_genai_eval.importers import FormatWarning, detect
from pytest_genai_eval.sources import load_source_rows, parse_row_source

DATA = Path(__file__).parent / "data" / "importers"


def _load(name: str, **keys: object) -> list:  # type: ignore[type-arg]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FormatWarning)
        return load_source_rows(DATA / name, parse_row_source(**keys))  # type: ignore[arg-type]


def test_promptfoo_config_prompts_vars_and_assertions() -> None:
    with pytest.warns(FormatWarning, match=r"assertion type 'javascript' has no equivalent here and was left out \(1 time\(s\): tests\[1\] assert\[2\]\)"):
        rows = load_source_rows(DATA / "promptfooconfig.yaml", parse_row_source())
    france, japan, italy = rows
    assert france.request_text == "Answer in one word: What is the capital of France?"  # the prompt, filled in
    assert france.extra["vars"] == {"question": "What is the capital of France?"}
    assert france.extra["description"] == "France"
    checks = {c["name"]: c for c in france.extra["checks"]}
    assert checks["not_contains"] == {"name": "not_contains", "type": "not_contains", "values": ["As an AI"], "mode": "any", "case_sensitive": False}  # defaultTest
    assert checks["contains"]["values"] == ["Paris"] and checks["contains"]["case_sensitive"] is False  # icontains
    assert france.guidelines == ["Names a single city"]  # llm-rubric -> guideline_adherence
    assert [c["type"] for c in japan.extra["checks"]] == ["not_contains", "equals"]  # javascript left out
    assert italy.expected_response == "Rome is the capital of Italy"  # factuality -> correctness
    assert {c["type"]: c for c in italy.extra["checks"]}["latency"]["max_seconds"] == 5.0  # ms -> s


def test_promptfoo_tests_file_context_and_request_var() -> None:
    with pytest.warns(FormatWarning, match="'similar' has no equivalent"):
        eiffel, hello = load_source_rows(DATA / "promptfoo_tests.yaml", parse_row_source(format="promptfoo"))
    assert eiffel.request_text == "Where is the Eiffel Tower?"  # the `query` var, no prompt in a tests file
    assert eiffel.retrieved_context == [{"content": "The Eiffel Tower is on the Champ de Mars in Paris.", "doc_uri": None}]
    assert eiffel.extra["checks"] == [{"name": "contains", "type": "contains", "values": ["Paris", "France"], "mode": "any", "case_sensitive": True}]
    assert hello.extra["checks"] == [{"name": "json", "type": "json"}]


def test_promptfoo_checks_run_in_a_suite(pytester: pytest.Pytester) -> None:
    shutil.copy(DATA / "promptfoo_tests.yaml", pytester.path / "tests.yaml")
    pytester.makepyfile(pfapp="def answer(request):\n    return 'Paris, France' if 'Eiffel' in str(request) else '{\"greeting\": \"hi\"}'\n")
    pytester.makefile(".yaml", genai_pf="data: tests.yaml\napp: pfapp:answer\njudges: []\n")
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider", "-W", "ignore::UserWarning")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=2)
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    names = sorted(a["name"] for row in doc["rows"] for a in row["assessments"] if a.get("rating"))
    assert names == ["contains", "json"]


def test_promptfoo_without_a_request_var_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("- vars: {city: Paris, country: France}\n  assert: [{type: contains, value: x}]\n")
    with pytest.raises(EvalSetError, match="field 'vars': no request: name a var one of question, query"):
        load_source_rows(path, parse_row_source(format="promptfoo"))


@pytest.mark.parametrize("name", ["deepeval_goldens.json", "deepeval_goldens_camel.json", "deepeval_goldens.csv"])
def test_deepeval_goldens(name: str) -> None:
    rows = _load(name)
    first = rows[0]
    assert first.request_text == "What is the refund window?"
    assert first.expected_response == "Refunds are accepted within 30 days of purchase."
    assert first.response in ("You can ask for a refund within 30 days.", "Thirty days.")
    assert first.retrieved_context is not None and first.retrieved_context[0]["content"] == "Our refund policy: 30 days from purchase."
    if name == "deepeval_goldens.json":
        assert first.expected_retrieved_context == [{"content": "Refunds are accepted within 30 days of purchase.", "doc_uri": None}]
        assert first.extra == {"additional_metadata": {"topic": "refunds"}, "comments": "from support tickets"}
        assert rows[1].expected_tool_calls is not None and rows[1].expected_tool_calls[0]["name"] == "shipping_lookup"
        assert rows[1].response is None  # a golden without actual_output: the app answers
    if name == "deepeval_goldens.csv":  # DeepEval's CSV lists are joined by ";"
        assert first.expected_retrieved_context is not None
        assert [c["content"] for c in first.expected_retrieved_context] == ["Refunds are accepted within 30 days.", "Refunds need a receipt."]


@pytest.mark.parametrize("name", ["ragas_samples.jsonl", "ragas_samples.csv"])
def test_ragas_samples(name: str) -> None:
    rows = _load(name)
    first = rows[0]
    assert first.request_text == "When was the Eiffel Tower built?"
    assert first.response == "It was built between 1887 and 1889."
    assert first.expected_response == "1887 to 1889"
    contexts = [c["content"] for c in first.retrieved_context or []]
    assert contexts[0] == "The Eiffel Tower was built from 1887 to 1889."
    if name.endswith(".csv"):  # pandas writes lists as Python list text
        assert contexts == ["The Eiffel Tower was built from 1887 to 1889.", "It is 330 m tall."]
    else:
        assert first.expected_retrieved_context == [{"content": "The Eiffel Tower was built from 1887 to 1889.", "doc_uri": None}]


def test_ragas_multi_turn_is_a_clear_error() -> None:
    rows = [{"user_input": [{"content": "hi", "type": "human"}], "reference": "x"}]
    with pytest.raises(EvalSetError, match="multi-turn Ragas samples"):
        load_source_rows(rows, parse_row_source(format="ragas"), name="set")


def test_openai_evals_samples() -> None:
    france, australia = _load("openai_evals_samples.jsonl")
    assert france.messages == [
        {"role": "system", "content": "Answer with the capital city only."},
        {"role": "user", "content": "France"},
    ]
    assert france.expected_response == "Paris"
    assert australia.expected_response == "Canberra" and australia.extra["ideal"] == ["Canberra", "Canberra, ACT"]
    assert france.location.endswith("line 1")  # JSONL keeps its line numbers


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"request": "q", "vars": {}}, None),  # this plugin's own schema is never converted
        ({"vars": {"q": 1}}, "promptfoo"),
        ({"input": "q", "actual_output": "a"}, "deepeval"),
        ({"input": "q", "expectedOutput": "a"}, "deepeval"),
        ({"user_input": "q"}, "ragas"),
        ({"input": [{"role": "user", "content": "q"}], "ideal": "a"}, "openai_evals"),
        ({"resourceSpans": []}, "otel"),
        ({"info": {}, "data": {"spans": []}}, "mlflow_traces"),
        ({"question": "q"}, None),  # unknown: the usual "missing request" error
    ],
)
def test_detection_by_shape(row: dict, expected: str | None) -> None:  # type: ignore[type-arg]
    assert detect([("row 1", row)]) == expected
