"""Column mapping, row transforms and grouped errors: a third-party set (FanOutQA's dev set, a
sample in tests/data/fanoutqa) loads unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_genai_eval.columns import ColumnError, ColumnMap, as_fact_list, as_text, lookup
from pytest_genai_eval.evalset import EvalSetError
from pytest_genai_eval.sources import load_source_rows, parse_row_source
from pytest_genai_eval.suite import SuiteError, build_suite

DATA = Path(__file__).parent / "data"
FANOUT = DATA / "fanoutqa" / "fanout-dev-sample.json"


def test_dotted_paths_reach_nested_fields() -> None:
    raw = {"answers": [{"text": "Paris"}], "a.b": 1, "meta": {"ids": [7, 8]}}
    assert lookup(raw, "answers.0.text") == "Paris"
    assert lookup(raw, "a.b") == 1  # a key containing dots is matched whole first
    assert lookup(raw, "meta.ids.-1") == 8
    missing = lookup(raw, "answers.3.text")
    assert missing is lookup(raw, "nope")  # the same "missing" marker


def test_the_text_rule_for_non_text_values() -> None:
    assert as_text({"Pat Burrell": "Right", "Mark Mulder": "Left"}) == "Pat Burrell: Right\nMark Mulder: Left"
    assert as_text(["a", 2]) == "a\n2"
    assert as_text(4) == "4" and as_text(False) == "false" and as_text(61.6) == "61.6"
    assert as_text({"x": {"y": 1}}) == 'x: {"y": 1}'
    assert as_fact_list({"Macau": 680000}) == ["Macau: 680000"]
    assert as_fact_list("Spain") == ["Spain"]


def test_fanoutqa_loads_unchanged_with_a_column_mapping() -> None:
    columns = {"id": "request_id", "question": "request", "answer": "expected_response"}
    rows = load_source_rows(FANOUT, parse_row_source(columns=columns))
    raw = json.loads(FANOUT.read_text())
    assert [r.request_id for r in rows] == [item["id"] for item in raw]
    assert rows[0].request_text == raw[0]["question"]
    # a dict answer becomes one "key: value" line per key; the other types by the same rule
    assert rows[0].expected_response == "\n".join(f"{k}: {v}" for k, v in raw[0]["answer"].items())
    assert [r.expected_response for r in rows[1:]] == ["Spain", "4", "\n".join(raw[3]["answer"]), "false"]
    assert "answer" not in rows[0].extra and "question" not in rows[0].extra  # moved, not copied
    assert rows[0].extra["decomposition"][0]["id"] == "bca4ab7d1f4df703"  # unmapped fields stay
    assert rows[0].extra["categories"] == raw[0]["categories"]


def test_fanoutqa_answers_as_expected_facts() -> None:
    rows = load_source_rows(FANOUT, parse_row_source(columns={"question": "request", "answer": "expected_facts"}))
    assert rows[0].expected_facts is not None and rows[0].expected_facts[:2] == ["Pat Burrell: Right", "Mark Mulder: Left"]
    assert rows[2].expected_facts == ["4"]


def test_nested_path_mapping_copies_the_field(tmp_path: Path) -> None:
    path = tmp_path / "squad.jsonl"
    path.write_text(json.dumps({"q": "Who?", "answers": {"text": ["Ada", "Ada L."]}}) + "\n")
    (row,) = load_source_rows(path, parse_row_source(columns={"q": "request", "answers.text.0": "expected_response"}))
    assert row.expected_response == "Ada"
    assert row.extra["answers"] == {"text": ["Ada", "Ada L."]}


def test_without_a_mapping_identical_errors_are_one_line() -> None:
    with pytest.raises(EvalSetError) as info:
        load_source_rows(FANOUT, parse_row_source())
    text = str(info.value)
    assert text.splitlines() == [
        f"5 invalid row(s) in {FANOUT}:",
        "  - 5 rows: field 'request': missing required field 'request' (rows 1, 2, 3, 4, 5)",
    ]


def test_a_dict_expected_response_names_the_way_out(tmp_path: Path) -> None:
    rows = [{"request": f"q{i}", "expected_response": {"a": i}} for i in range(12)]
    with pytest.raises(EvalSetError) as info:
        load_source_rows(rows, parse_row_source(), name="set")
    lines = str(info.value).splitlines()
    assert len(lines) == 2  # twelve identical problems, one line with a count and the first rows
    assert lines[1].startswith("  - 12 rows: field 'expected_response': expected a string, got dict; map one nested field")
    assert "'columns'" in lines[1] and lines[1].endswith("(rows 1, 2, 3, 4, 5, ... and 7 more)")


def test_a_source_in_no_row_is_an_error_naming_the_fields() -> None:
    with pytest.raises(EvalSetError) as info:
        load_source_rows(FANOUT, parse_row_source(columns={"questoin": "request"}))
    text = str(info.value)
    assert "field 'columns': 'questoin' is in no row (the first row's fields: answer, categories" in text


def test_a_mapped_column_already_present_is_an_error() -> None:
    with pytest.raises(EvalSetError) as info:
        load_source_rows([{"q": "x", "request": "y"}], parse_row_source(columns={"q": "request"}), name="set")
    assert "set, row 1, field 'request': mapped from 'q' by 'columns' but also present in the row" in str(info.value)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"a": "x.y"}, "columns.a: the target must be a row column name"),
        ({"a": "request", "b": "request"}, "'a' and 'b' both map to 'request'"),
        (["a"], "'columns' must map a field of the set to a row column"),
    ],
)
def test_bad_column_maps(columns: object, message: str) -> None:
    with pytest.raises(ColumnError, match=message):
        ColumnMap.parse(columns, "suite.yaml")


def test_transform_from_a_module(tmp_path: Path) -> None:
    (tmp_path / "fanout_rows.py").write_text(
        "def to_row(raw):\n"
        "    if raw['answer'] is False:\n"
        "        return None  # dropped\n"
        "    return {'request_id': raw['id'], 'request': raw['question'], 'expected_facts': raw['answer']}\n"
    )
    spec = parse_row_source(transform="fanout_rows:to_row", columns={"expected_facts": "expected_response"}, base_dir=tmp_path)
    rows = load_source_rows(FANOUT, spec)
    assert len(rows) == 4  # the row the transform dropped is gone
    assert rows[1].expected_response == "Spain"  # the mapping applies to what the transform returned


def test_transform_failures_name_the_row(tmp_path: Path) -> None:
    (tmp_path / "bad_rows.py").write_text("def to_row(raw):\n    return raw['missing']\n")
    spec = parse_row_source(transform="bad_rows:to_row", base_dir=tmp_path)
    with pytest.raises(EvalSetError) as info:
        load_source_rows(FANOUT, spec)
    assert "5 rows: transform bad_rows:to_row raised KeyError: 'missing' (rows 1, 2, 3, 4, 5)" in str(info.value)
    with pytest.raises(ColumnError, match="cannot import 'no_such_module'"):
        parse_row_source(transform="no_such_module:f")
    with pytest.raises(ColumnError, match="must be 'module:function'"):
        parse_row_source(transform="just_a_name")


def test_transform_callable_in_python() -> None:
    suite = build_suite(
        name="s",
        data=[{"question": "Q?", "gold": {"x": 1}, "response": "x: 1"}],
        transform=lambda raw: {**raw, "request": raw.pop("question")},
        columns={"gold": "expected_response"},
        judges=[],
    )
    assert suite.rows[0].request_text == "Q?" and suite.rows[0].expected_response == "x: 1"


def test_suite_file_keys(pytester: pytest.Pytester) -> None:
    (pytester.path / "fanout.json").write_text(FANOUT.read_text())
    pytester.makefile(
        ".yaml",
        genai_fanout=(
            "data: fanout.json\njudges: []\nchecks: [{type: length, min_chars: 1}]\n"
            "columns: {id: request_id, question: request, answer: expected_response, question_copy: response}\n"
            "transform: rows_hook:add_response\n"
        ),
    )
    pytester.makepyfile(rows_hook="def add_response(raw):\n    return {**raw, 'question_copy': 'an answer'}\n")
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=5)
    doc = json.loads((pytester.path / "out" / "evaluation_results.json").read_text())
    by_id = {row["request_id"]: row for row in doc["rows"]}
    assert by_id["7dcbbbdc7f1120cd"]["row"]["expected_response"].startswith("Pat Burrell: Right\n")
    assert by_id["7dcbbbdc7f1120cd"]["response"] == "an answer"


def test_unknown_format_is_a_suite_error() -> None:
    with pytest.raises(SuiteError, match="unknown format 'lmsys'; known formats: otel, mlflow_traces, promptfoo"):
        build_suite(name="s", data=[{"request": "q", "response": "a"}], format="lmsys")
