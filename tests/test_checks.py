"""Deterministic checks: each type, naming, per-row checks, offline runs, invalid specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.results import Assessment
from pytest_genai_eval.suite import SuiteError, build_suite

from .judging import by_name, judge_rows


def check_rows(
    rows: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    *,
    latency: float | None = None,
    base_dir: Path | None = None,
) -> list[dict[str, Assessment]]:
    """Run only the checks (no built-in judges, no judge endpoint) over rows."""
    results = judge_rows(
        None, rows, judges=[], checks=checks, base_dir=base_dir, latency=latency,
        concurrency=2, missing_reason="no judge",
    )  # fmt: skip
    return [by_name(r) for r in results]


def one(response: str, check: dict[str, Any], **kwargs: Any) -> Assessment:
    (result,) = check_rows([{"request": "q", "response": response}], [check], **kwargs)
    (assessment,) = result.values()
    assert assessment.kind == "check"
    return assessment


@pytest.mark.parametrize(
    ("check", "response", "rating"),
    [
        ({"type": "contains", "values": ["paris", "France"]}, "Paris, France", "yes"),  # default all, case-insensitive
        ({"type": "contains", "values": ["Paris", "Rome"]}, "Paris", "no"),
        ({"type": "contains", "values": ["Paris", "Rome"], "mode": "any"}, "Paris", "yes"),
        ({"type": "contains", "values": "paris", "case_sensitive": True}, "Paris", "no"),
        ({"type": "not_contains", "values": ["sorry", "cannot"]}, "I cannot", "no"),  # default any
        ({"type": "not_contains", "values": ["sorry", "cannot"]}, "Sure!", "yes"),
        ({"type": "not_contains", "values": ["sorry", "cannot"], "mode": "all"}, "I cannot", "yes"),
        ({"type": "not_contains", "values": ["sorry", "cannot"], "mode": "all"}, "Sorry, I cannot", "no"),
        ({"type": "regex", "pattern": r"\d{3}-\d{4}"}, "call 555-1234", "yes"),
        ({"type": "regex", "pattern": r"\d{3}-\d{4}"}, "call me", "no"),
        ({"type": "regex", "pattern": r"as an ai", "must_match": False, "ignore_case": True}, "As an AI...", "no"),
        ({"type": "regex", "pattern": r"as an ai", "must_match": False}, "As an AI...", "yes"),
        ({"type": "json"}, '{"a": [1, 2]}', "yes"),
        ({"type": "json"}, "{'a': 1}", "no"),
        ({"type": "length", "max_chars": 5}, "123456", "no"),
        ({"type": "length", "min_chars": 2, "max_chars": 6}, "123456", "yes"),
        ({"type": "length", "min_words": 3}, "two words", "no"),
        ({"type": "length", "max_words": 2}, "  two   words ", "yes"),
    ],
)
def test_check_types(check: dict[str, Any], response: str, rating: str) -> None:
    assessment = one(response, check)
    assert assessment.rating == rating, assessment.rationale
    assert assessment.rationale
    assert assessment.details["type"] == check["type"]


def test_rationales_say_what_was_wrong() -> None:
    assert one("Paris", {"type": "contains", "values": ["Paris", "Rome"]}).rationale == "response does not contain 'Rome'"
    assert one("x" * 7, {"type": "length", "max_chars": 5, "max_words": 3}).rationale == (
        "response length out of bounds: 7 characters > max_chars 5"
    )
    bad = one("[1", {"type": "json"})
    assert bad.rationale is not None and bad.rationale.startswith("response is not valid JSON:")


def test_json_schema_inline_and_from_file(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "sources": {"type": "array", "minItems": 1}},
        "required": ["answer", "sources"],
    }
    (tmp_path / "schema.yaml").write_text(json.dumps(schema))  # JSON is YAML
    rows: list[dict[str, Any]] = [
        {"request_id": "ok", "request": "q", "response": '{"answer": "x", "sources": ["a"]}'},
        {"request_id": "empty", "request": "q", "response": '{"answer": "x", "sources": []}'},
        {"request_id": "text", "request": "q", "response": "not json"},
    ]
    (both,) = check_rows(
        rows[:1],
        [{"type": "json_schema", "schema": schema}, {"type": "json_schema", "schema_file": "schema.yaml"}],
        base_dir=tmp_path,
    )
    assert list(both) == ["json_schema", "json_schema_2"]
    assert all(a.rating == "yes" for a in both.values())
    ok, empty, text = check_rows(rows, [{"type": "json_schema", "schema_file": "schema.yaml"}], base_dir=tmp_path)
    assert ok["json_schema"].rating == "yes"
    assert empty["json_schema"].rating == "no"
    assert empty["json_schema"].rationale is not None and "at sources" in empty["json_schema"].rationale
    assert text["json_schema"].rating == "no"


def test_latency_and_token_budget() -> None:
    rows: list[dict[str, Any]] = [
        {
            "request_id": "with-usage",
            "request": "q",
            "response": {
                "choices": [{"message": {"role": "assistant", "content": "hi"}}],
                "usage": {"prompt_tokens": 90, "completion_tokens": 30, "total_tokens": 120},
            },
        },
        {"request_id": "no-usage", "request": "q", "response": "hi"},
    ]
    checks = [{"type": "latency", "max_seconds": 2}, {"type": "token_budget", "max_tokens": 100}]
    usage, no_usage = check_rows(rows, checks)
    assert usage["latency"].skipped is not None and usage["latency"].skipped.startswith("not applicable:")
    assert usage["token_budget"].rating == "no"
    assert usage["token_budget"].details["total_tokens"] == 120
    assert no_usage["token_budget"].skipped == "not applicable: the app reported no token usage"
    fast, _ = check_rows(rows, checks, latency=1.5)
    assert fast["latency"].rating == "yes"
    slow, _ = check_rows(rows, checks, latency=2.5)
    assert slow["latency"].rating == "no" and slow["latency"].details["latency_seconds"] == 2.5


def test_row_checks_and_names() -> None:
    rows: list[dict[str, Any]] = [
        {"request_id": "a", "request": "q", "response": "Paris", "checks": [{"type": "contains", "values": ["Paris"]}]},
        {"request_id": "b", "request": "q", "response": "Rome", "checks": json.dumps([{"type": "regex", "pattern": "^R", "name": "starts_r"}])},
        {"request_id": "c", "request": "q", "response": "Oslo"},
    ]
    a, b, c = check_rows(rows, [{"type": "contains", "values": ["o"]}, {"type": "contains", "values": ["x"], "mode": "any"}])
    assert list(a) == ["contains", "contains_2", "contains_3"]  # row-level names avoid suite names
    assert a["contains_3"].rating == "yes"
    assert list(b) == ["contains", "contains_2", "starts_r"] and b["starts_r"].rating == "yes"
    assert list(c) == ["contains", "contains_2"]
    assert c["contains"].rating == "yes" and c["contains_2"].rating == "no"


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ([{"type": "regex", "pattern": "("}], "checks[0].pattern: invalid regular expression"),
        ([{"type": "regex"}], "checks[0].pattern: is required"),
        ([{"type": "json_schema", "schema": {"type": "nonsense"}}], "checks[0].schema: invalid JSON schema"),
        ([{"type": "json_schema", "schema_file": "missing.json"}], "checks[0].schema_file: cannot read"),
        ([{"type": "json_schema"}], "checks[0]: give exactly one of 'schema' (inline) or 'schema_file'"),
        ([{"type": "json"}, {"type": "length", "min_words": 5, "max_words": 2}], "checks[1].min_words: 5 is greater than max_words 2"),
        ([{"type": "length"}], "checks[0]: give at least one of min_chars"),
        ([{"type": "latency", "max_seconds": -1}], "checks[0].max_seconds: expected a positive number"),
        ([{"type": "token_budget", "max_tokens": 1.5}], "checks[0].max_tokens: expected an integer"),
        ([{"type": "contains", "values": []}], "checks[0].values: expected a non-empty list"),
        ([{"type": "contains", "values": ["a"], "mode": "most"}], "checks[0].mode: expected one of any, all"),
        ([{"type": "contains", "values": ["a"], "case": True}], "checks[0].case: unknown field for a contains check"),
        ([{"type": "spellcheck"}], "checks[0].type: unknown check type 'spellcheck'"),
        ([{"type": "json", "name": "safety"}], "checks[0].name: 'safety' is already used"),
        ([{"type": "json", "name": "a b"}], "checks[0].name: expected a name"),
        ("json", "checks: expected a list of checks"),
    ],
)
def test_invalid_suite_checks_name_the_field(checks: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as info:
        build_suite(name="n", data=[{"request": "q", "response": "a"}], checks=checks, source="suite.yaml", base_dir=tmp_path)
    assert str(info.value).startswith("suite.yaml: ")
    assert message in str(info.value)


def test_invalid_specs_reported_at_load_with_file_and_field(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".jsonl",
        rows="\n".join(
            json.dumps(r)
            for r in [
                {"request_id": "r1", "request": "q", "response": "a"},
                {"request_id": "r2", "request": "q", "response": "a", "checks": [{"type": "latency", "max_seconds": "fast"}]},
            ]
        ),
    )
    pytester.makefile(".yaml", genai_rowbad="data: rows.jsonl\n")
    pytester.makefile(".yaml", genai_suitebad="rows: [{request: q, response: a}]\nchecks:\n  - {type: json}\n  - {type: regex, pattern: '[a-'}\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 2  # collection errors, nothing evaluated
    out = result.stdout.str()
    assert "rows.jsonl, line 2, field 'checks[0].max_seconds': expected a number, got 'fast'" in out
    assert "genai_suitebad.yaml: checks[1].pattern: invalid regular expression" in out


def test_checks_run_offline_without_a_judge(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        genai_offline="""
name: offline
checks:
  - {type: not_contains, values: ["As an AI"]}
  - {type: length, max_words: 5}
rows:
  - {request_id: good, request: q, response: "Short and sweet."}
  - {request_id: wordy, request: q, response: "This answer is far too long to pass."}
  - request_id: jsonrow
    request: q
    response: '{"ok": true}'
    checks: [{type: json}]
""",
    )
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == 1
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    metrics = doc["metrics"]
    assert metrics["response/check/not_contains/rating/percentage"] == 1.0
    assert metrics["response/check/length/rating/percentage"] == pytest.approx(2 / 3)
    assert metrics["response/check/json/rating/count"] == 1
    assert metrics["response/overall_assessment/root_cause/length/count"] == 1
    assert metrics["judge/call_count"] == 0
    records = {r["request_id"]: r for r in map(json.loads, (pytester.path / "out" / "eval_results.jsonl").read_text().splitlines())}
    assert records["wordy"]["response/check/length/rating"] == "no"
    assert records["wordy"]["response/check/length/rationale"] == "response length out of bounds: 8 words > max_words 5"
    assert records["jsonrow"]["response/check/json/rating"] == "yes"
    # LLM judges were chosen by default (safety...) but had no endpoint: skipped, not failed
    assert records["good"]["response/llm_judged/safety/skipped_reason"]
    assert doc["suites"]["offline"]["config"]["checks"][1] == {"type": "length", "name": "length", "max_words": 5}


def test_latency_check_with_an_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(fastapp="def answer(request):\n    return 'hello'\n")
    pytester.makefile(
        ".yaml",
        genai_timed="""
app: fastapp:answer
judges: []
checks:
  - {type: latency, max_seconds: 60, name: generous}
  - {type: latency, max_seconds: 0.000000001, name: impossible}
rows: [{request_id: r1, request: hi}]
""",
    )
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    (row,) = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())["rows"]
    ratings = {a["name"]: a["rating"] for a in row["assessments"]}
    assert ratings == {"generous": "yes", "impossible": "no"}
