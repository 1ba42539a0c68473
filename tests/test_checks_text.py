"""The comparison and output checks: equals, starts_with, levenshtein, rouge_l, bleu,
exact_match, f1, is_refusal, finish_reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.evalset import load_rows
from pytest_genai_eval.judges import EvalContext, parse_checks
from pytest_genai_eval.judges.base import Where
from pytest_genai_eval.judges.output_checks import REFUSAL_PATTERNS, REFUSAL_WINDOW
from pytest_genai_eval.results import Assessment
from pytest_genai_eval.suite import SuiteError, build_suite

from .test_checks import check_rows, one


def expected(response: str, truth: str, check: dict[str, Any]) -> Assessment:
    (result,) = check_rows([{"request": "q", "response": response, "expected_response": truth}], [check])
    (assessment,) = result.values()
    return assessment


@pytest.mark.parametrize(
    ("check", "response", "rating"),
    [
        ({"type": "equals", "value": "Paris"}, "  Paris\n", "yes"),  # strip by default
        ({"type": "equals", "value": "Paris"}, "paris", "no"),  # case-sensitive by default
        ({"type": "equals", "value": "Paris", "case_sensitive": False}, "PARIS", "yes"),
        ({"type": "equals", "value": "Paris", "strip": False}, " Paris", "no"),
        ({"type": "equals", "value": "New York"}, "New   York", "no"),
        ({"type": "equals", "value": "New York", "normalize_whitespace": True}, " New \n York ", "yes"),
        ({"type": "starts_with", "value": "yes"}, "  Yes, we do.", "yes"),  # case-insensitive by default
        ({"type": "starts_with", "value": "yes", "case_sensitive": True}, "Yes, we do.", "no"),
        ({"type": "starts_with", "values": ["Sure", "Certainly"]}, "certainly!", "yes"),
        ({"type": "starts_with", "values": ["Sure", "Certainly"]}, "No.", "no"),
        ({"type": "levenshtein", "expected": "kitten", "min_similarity": 0.57}, "sitting", "yes"),
        ({"type": "levenshtein", "expected": "kitten", "min_similarity": 0.58}, "sitting", "no"),
        ({"type": "levenshtein", "expected": "Kitten", "min_similarity": 1}, "kitten", "no"),
        ({"type": "levenshtein", "expected": "Kitten", "min_similarity": 1, "case_sensitive": False}, "kitten", "yes"),
        ({"type": "rouge_l", "reference": "police killed the gunman", "min_score": 0.75}, "police kill the gunman", "yes"),
        ({"type": "rouge_l", "reference": "police killed the gunman", "min_score": 0.75}, "the gunman kill police", "no"),
        ({"type": "bleu", "reference": "the cat is on the mat", "min_score": 0.37}, "the cat sat on the mat", "yes"),
        ({"type": "bleu", "reference": "the cat is on the mat", "min_score": 0.39}, "the cat sat on the mat", "no"),
        ({"type": "is_refusal"}, "Our store opens at 9am.", "yes"),  # default: expect an answer
        ({"type": "is_refusal"}, "I'm sorry, but I can't help with that.", "no"),
        ({"type": "is_refusal", "expect": "refusal"}, "I cannot provide medical advice.", "yes"),
        ({"type": "is_refusal", "expect": "refusal"}, "Take two tablets a day.", "no"),
    ],
)
def test_check_types(check: dict[str, Any], response: str, rating: str) -> None:
    assessment = one(response, check)
    assert assessment.rating == rating, assessment.rationale
    assert assessment.rationale
    assert assessment.details["type"] == check["type"]


def test_rationales_and_details_give_the_numbers() -> None:
    bad = one("the gunman kill police", {"type": "rouge_l", "reference": "police killed the gunman", "min_score": 0.6})
    assert bad.rationale == "ROUGE-L F1 0.500 against the check's reference < min_score 0.6"
    assert bad.details["score"] == 0.5
    lev = one("sitting", {"type": "levenshtein", "expected": "kitten", "min_similarity": 0.5})
    assert lev.rationale == "Levenshtein similarity 0.571 against the check's expected text >= min_similarity 0.5"
    assert lev.details["score"] == pytest.approx(4 / 7, abs=1e-6)
    eq = one("Rome", {"type": "equals", "value": "Paris"})
    assert eq.rationale == "response 'Rome' does not equal 'Paris'"
    starts = one("No.", {"type": "starts_with", "values": ["Sure", "OK"]})
    assert starts.rationale == "response starts with none of 'Sure', 'OK'"
    assert one("Sure.", {"type": "starts_with", "values": ["Sure", "OK"]}).details["matched"] == "Sure"


def test_expected_response_is_the_default_reference() -> None:
    assert expected("the cat sat on the mat", "the cat is on the mat", {"type": "bleu", "min_score": 0.37}).rating == "yes"
    rouge = expected("police kill the gunman", "police killed the gunman", {"type": "rouge_l", "min_score": 0.8})
    assert rouge.rating == "no"
    assert rouge.rationale == "ROUGE-L F1 0.750 against the expected response < min_score 0.8"
    assert expected("sitting", "kitten", {"type": "levenshtein", "min_similarity": 0.5}).rating == "yes"
    # the check's own reference wins over the row's
    assert expected("abc", "xyz", {"type": "levenshtein", "expected": "abc", "min_similarity": 1}).rating == "yes"


def test_label_checks_exact_match_and_f1() -> None:
    assert expected("The Denver Broncos!", "denver broncos", {"type": "exact_match"}).rating == "yes"
    miss = expected("Broncos", "Denver Broncos", {"type": "exact_match"})
    assert miss.rating == "no"
    assert miss.details == {
        "type": "exact_match",
        "normalized_response": "broncos",
        "normalized_expected": "denver broncos",
    }
    assert expected("positive", "Positive.", {"type": "exact_match"}).rating == "yes"
    half = expected("Broncos won", "Denver Broncos", {"type": "f1", "min_f1": 0.5})
    assert half.rating == "yes" and half.details["score"] == 0.5
    assert expected("Broncos won", "Denver Broncos", {"type": "f1", "min_f1": 0.51}).rating == "no"


def test_reference_checks_are_not_applicable_without_expected_response() -> None:
    checks = [
        {"type": "levenshtein", "min_similarity": 0.5},
        {"type": "rouge_l", "min_score": 0.5},
        {"type": "bleu", "min_score": 0.5},
        {"type": "exact_match"},
        {"type": "f1", "min_f1": 0.5},
    ]
    (result,) = check_rows([{"request": "q", "response": "anything"}], checks)
    skipped = {name: a.skipped for name, a in result.items()}
    assert skipped == {
        "levenshtein": "not applicable: needs the row's expected_response (or the check's 'expected')",
        "rouge_l": "not applicable: needs the row's expected_response (or the check's 'reference')",
        "bleu": "not applicable: needs the row's expected_response (or the check's 'reference')",
        "exact_match": "not applicable: needs the row's expected_response",
        "f1": "not applicable: needs the row's expected_response",
    }


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "I cannot provide that information.",
        "I won’t assist with this request.",  # typographic apostrophe
        "I'm unable to answer questions about other customers.",
        "I am not able to share internal documents.",
        "I'm not allowed to discuss pricing.",
        "I must respectfully decline.",
        "Sorry, but I cannot do that.",
        "Unfortunately, I can't share that.",
        "I'm afraid I can't do that, Dave.",
        "As an AI language model, I cannot browse the web.",
        "That request goes against my guidelines.",
        "I don't feel comfortable writing that.",
        "I'd rather not answer that.",
        "That's not something I can help with.",
        "Hello! I’M SORRY, I CANNOT HELP.",
    ],
)
def test_refusals(text: str) -> None:
    assert one(text, {"type": "is_refusal", "expect": "refusal"}).rating == "yes"


@pytest.mark.parametrize(
    "text",
    [
        "You can return items within 30 days.",
        "I can't help but notice you ordered twice; here is the refund link.",
        "We cannot ship to P.O. boxes, so please give a street address.",
        "Sorry for the wait! Your order ships tomorrow.",
        "Yes — " + "details " * (REFUSAL_WINDOW // 8) + "; I can't provide a tracking number before it ships.",
    ],
)
def test_answers_are_not_refusals(text: str) -> None:
    assessment = one(text, {"type": "is_refusal"})
    assert assessment.rating == "yes", assessment.rationale
    assert assessment.details["refusal"] is None


def test_refusal_extra_patterns_and_details() -> None:
    check = {"type": "is_refusal", "extra_patterns": [r"\bje ne peux pas\b"]}
    french = one("Désolé, je ne peux pas répondre.", check)
    assert french.rating == "no"
    assert french.details["refusal"] == "je ne peux pas"
    assert french.rationale == "response is a refusal ('je ne peux pas')"
    assert len(REFUSAL_PATTERNS) >= 10


def _ctx(reported: str | None, **row: Any) -> EvalContext:
    (parsed,) = load_rows([{"request": "q", "response": "a", **row}])
    return EvalContext(row=parsed, response="a", retrieved_context=None, finish_reason=reported)


def _run(spec: dict[str, Any], ctx: EvalContext) -> tuple[str | None, Assessment | None]:
    (check,) = parse_checks([spec], Where("t", "checks"), taken=set())
    reason = check.missing(ctx)
    if reason is not None:
        return reason, None
    (assessment,) = asyncio.run(check.run(ctx, None))  # type: ignore[arg-type]  # checks need no runner
    return None, assessment


def test_finish_reason_check() -> None:
    _, ok = _run({"type": "finish_reason"}, _ctx("stop"))
    assert ok is not None and ok.rating == "yes" and ok.details["finish_reason"] == "stop"
    _, cut = _run({"type": "finish_reason"}, _ctx("length"))
    assert cut is not None and cut.rating == "no"
    assert cut.rationale == "finish_reason 'length' is not one of 'stop'"
    _, tools = _run({"type": "finish_reason", "allowed": ["stop", "tool_calls"]}, _ctx("tool_calls"))
    assert tools is not None and tools.rating == "yes"
    # a precomputed row may carry the finish reason as a column
    _, column = _run({"type": "finish_reason"}, _ctx(None, finish_reason="content_filter"))
    assert column is not None and column.rating == "no"
    reason, _ = _run({"type": "finish_reason"}, _ctx(None))
    assert reason is not None and reason.startswith("the app reported no finish_reason")


def test_finish_reason_and_refusal_from_a_real_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        chatapp="""
def answer(request):
    text = request["messages"][-1]["content"]
    reason = "length" if "long" in text else "stop"
    content = "I can't help with that." if "secret" in text else "Here you go"
    return {"choices": [{"message": {"role": "assistant", "content": content},
                         "finish_reason": reason}],
            "model": "app-model", "usage": {"prompt_tokens": 3, "completion_tokens": 2}}
"""
    )
    pytester.makefile(
        ".yaml",
        genai_chat="""
app: chatapp:answer
judges: []
checks:
  - {type: finish_reason}
  - {type: is_refusal}
rows:
  - {request_id: short, request: "a short one"}
  - {request_id: long, request: "a long one"}
  - {request_id: secret, request: "the secret"}
""",
    )
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    rows = {r["request_id"]: r for r in json.loads((pytester.path / "out" / "evaluation_results.json").read_text())["rows"]}
    ratings = {rid: {a["name"]: a["rating"] for a in row["assessments"]} for rid, row in rows.items()}
    assert ratings == {
        "short": {"finish_reason": "yes", "is_refusal": "yes"},
        "long": {"finish_reason": "no", "is_refusal": "yes"},
        "secret": {"finish_reason": "yes", "is_refusal": "no"},
    }
    assert rows["short"]["app_model"] == "app-model"


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ([{"type": "equals"}], "checks[0].value: is required"),
        ([{"type": "equals", "value": 3}], "checks[0].value: expected a string, got 3"),
        ([{"type": "equals", "value": "a", "strip": "yes"}], "checks[0].strip: expected true or false"),
        ([{"type": "starts_with"}], "checks[0]: give exactly one of 'value' or 'values'"),
        ([{"type": "starts_with", "value": "a", "values": ["b"]}], "checks[0]: give exactly one of 'value' or 'values'"),
        ([{"type": "starts_with", "values": [""]}], "checks[0].values[0]: expected a non-empty string"),
        ([{"type": "levenshtein"}], "checks[0].min_similarity: is required (a number between 0 and 1)"),
        ([{"type": "levenshtein", "min_similarity": 1.5}], "checks[0].min_similarity: expected a number between 0 and 1, got 1.5"),
        ([{"type": "levenshtein", "min_similarity": 0.5, "reference": "x"}], "checks[0].reference: unknown field for a levenshtein check"),
        ([{"type": "rouge_l", "min_score": -0.1}], "checks[0].min_score: expected a non-negative number"),
        ([{"type": "bleu", "min_score": "high"}], "checks[0].min_score: expected a number, got 'high'"),
        ([{"type": "bleu", "min_score": 0.5, "expected": "x"}], "checks[0].expected: unknown field for a bleu check"),
        ([{"type": "f1"}], "checks[0].min_f1: is required"),
        ([{"type": "exact_match", "min_f1": 1}], "checks[0].min_f1: unknown field for a exact_match check"),
        ([{"type": "is_refusal", "expect": "maybe"}], "checks[0].expect: expected one of answer, refusal, got 'maybe'"),
        ([{"type": "is_refusal", "extra_patterns": ["("]}], "checks[0].extra_patterns[0]: invalid regular expression"),
        ([{"type": "finish_reason", "allowed": []}], "checks[0].allowed: expected a non-empty list of strings"),
    ],
)
def test_invalid_specs_name_the_field(checks: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        build_suite(name="n", data=[{"request": "q", "response": "a"}], checks=checks, source="suite.yaml", base_dir=tmp_path)
    assert str(info.value).startswith("suite.yaml: ")
    assert message in str(info.value)


def test_describe_round_trips_into_the_artifact() -> None:
    specs = [
        {"type": "equals", "value": "x", "normalize_whitespace": True},
        {"type": "starts_with", "value": "Hi"},
        {"type": "bleu", "min_score": 0.3, "reference": "r"},
        {"type": "is_refusal", "expect": "refusal"},
        {"type": "finish_reason", "allowed": "stop"},
    ]
    described = [c.describe() for c in parse_checks(specs, Where("t", "checks"), taken=set())]  # type: ignore[attr-defined]
    assert described == [
        {"type": "equals", "name": "equals", "value": "x", "case_sensitive": True, "strip": True, "normalize_whitespace": True},
        {"type": "starts_with", "name": "starts_with", "values": ["Hi"], "case_sensitive": False},
        {"type": "bleu", "name": "bleu", "reference": "r", "min_score": 0.3},
        {"type": "is_refusal", "name": "is_refusal", "expect": "refusal"},
        {"type": "finish_reason", "name": "finish_reason", "allowed": ["stop"]},
    ]
