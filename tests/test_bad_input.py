"""Bad input is a row or file issue, never a traceback: nesting limits, non-UTF-8 text, odd YAML,
identical issues grouped in the message, and property tests over arbitrary bytes and values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_genai_eval.evalset import (
    MAX_NESTING_DEPTH,
    EvalSetError,
    Row,
    RowIssue,
    load_rows,
    nesting_problem,
)
from pytest_genai_eval.suite import SuiteError, load_suite_file, read_suite_file

TOO_DEEP = "nested deeper than 64 levels"
# Reproducible in CI: the same examples on every run, no example database on disk.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def issues_of(data: Any, **kwargs: Any) -> list[RowIssue]:
    with pytest.raises(EvalSetError) as info:
        load_rows(data, **kwargs)
    return info.value.issues


def message_of(data: Any) -> str:
    with pytest.raises(EvalSetError) as info:
        load_rows(data)
    return str(info.value)


def nested_list(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def nested_text(depth: int) -> str:
    return "[" * depth + "]" * depth


# ---- the nesting limit -----------------------------------------------------------------------
def test_limit_is_64_levels_and_counts_the_outermost_list() -> None:
    assert MAX_NESTING_DEPTH == 64
    assert nesting_problem(nested_list(64)) is None
    assert nesting_problem(nested_list(65)) == TOO_DEEP
    assert nesting_problem({"a": nested_list(63)}) is None
    assert nesting_problem({"a": nested_list(64)}) == TOO_DEEP
    assert nesting_problem("x" * 1000) is None


def test_nesting_check_handles_cycles_and_repeated_values() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert nesting_problem(cycle) == TOO_DEEP
    shared = list(range(10))
    fan_out: Any = shared
    for _ in range(4):
        fan_out = [fan_out] * 10  # 100,000 values counted through repeats
    assert nesting_problem(fan_out, max_values=50_000) == "holds more than 50,000 values"
    assert nesting_problem(fan_out) is None


def test_row_value_at_the_limit_loads_and_one_deeper_is_a_field_issue() -> None:
    (row,) = load_rows([{"request": "q", "deep": nested_list(64)}])
    assert row.extra["deep"] == nested_list(64)
    (issue,) = issues_of([{"request": "q"}, {"request": "q2", "deep": nested_list(65)}])
    assert (issue.location, issue.field, issue.message) == ("row 2", "deep", TOO_DEEP)


def test_deep_jsonl_line_names_line_and_field_and_other_lines_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "evalset.jsonl"
    path.write_text(
        '{"request": "ok"}\n'
        '{"request": "q"}\n'
        f'{{"request_id": "x", "request": {nested_text(100_000)}}}\n'
        f'{{"request": "q2", "guidelines": {nested_text(70)}}}\n'
        '{"expected_response": "no request"}\n',
        encoding="utf-8",
    )
    issues = issues_of(path)
    assert [(i.location, i.field, i.message) for i in issues] == [
        ("line 3", "request", TOO_DEEP),  # too deep for the JSON parser itself
        ("line 4", "guidelines", TOO_DEEP),  # parsed, then over the limit
        ("line 5", "request", "missing required field 'request'"),
    ]
    assert str(issues[0]) == f"{path}, line 3, field 'request': {TOO_DEEP}"


def test_deep_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "evalset.jsonl"
    path.write_text(nested_text(100_000) + "\n", encoding="utf-8")
    (issue,) = issues_of(path)
    assert (issue.location, issue.field, issue.message) == ("line 1", None, TOO_DEEP)


@pytest.mark.parametrize("wrapped", [False, True])
def test_json_document_too_deep_to_parse_names_row_field_and_line(
    tmp_path: Path, wrapped: bool
) -> None:
    rows = f'[{{"request": "ok"}},\n {{"request": "q", "context": {nested_text(100_000)}}}]'
    path = tmp_path / "set.json"
    path.write_text(f'{{"name": "s",\n "rows": {rows}}}' if wrapped else rows, encoding="utf-8")
    (issue,) = issues_of(path)
    line = 3 if wrapped else 2
    assert (issue.location, issue.field) == ("row 2", "context")
    assert issue.message == f"{TOO_DEEP} (line {line})"


def test_json_document_deep_outside_the_rows_is_a_file_issue(tmp_path: Path) -> None:
    path = tmp_path / "set.json"
    path.write_text(f'{{"meta": {nested_text(100_000)}, "rows": []}}', encoding="utf-8")
    (issue,) = issues_of(path)
    assert (issue.location, issue.message) == ("file", f"{TOO_DEEP} (line 1)")


def test_yaml_too_deep_to_parse_and_yaml_cycles(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text(
        f"- request: ok\n- request: q\n  expected_facts: {nested_text(3000)}\n", encoding="utf-8"
    )
    (issue,) = issues_of(deep)
    assert (issue.location, issue.field, issue.message) == (
        "row 2",
        "expected_facts",
        f"{TOO_DEEP} (line 3)",
    )
    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text("- request: q\n  loop: &a [*a]\n", encoding="utf-8")
    (issue,) = issues_of(cyclic)
    assert (issue.location, issue.field, issue.message) == ("row 1", "loop", TOO_DEEP)


def test_yaml_alias_bomb_is_a_field_issue(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        levels.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\nrows:\n  - request: q\n    boom: [*g, *g]\n")
    (issue,) = issues_of(path)
    assert (issue.field, issue.message) == ("boom", "holds more than 1,000,000 values")


def test_deep_json_text_in_csv_cells(tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    pd.DataFrame(
        {
            "request": ["ok", "a", "b"],
            "expected_facts": ['["fine"]', nested_text(5000), nested_text(70)],
        }
    ).to_csv(path, index=False)
    issues = issues_of(path)
    assert [(i.location, i.field, i.message) for i in issues] == [
        ("line 3", "expected_facts", TOO_DEEP),
        ("line 4", "expected_facts", TOO_DEEP),
    ]


def test_deep_values_in_dataframes_and_request_text() -> None:
    frame = pd.DataFrame(
        {
            "request": ["ok", '{"messages": ' + nested_text(5000) + "}"],
            "tags": [np.array([1, 2]), nested_list(80)],
        }
    )
    issues = issues_of(frame)
    assert [(i.location, i.field, i.message) for i in issues] == [
        ("row 2", "tags", TOO_DEEP),
    ]
    (issue,) = issues_of([{"request": '{"messages": ' + nested_text(5000) + "}"}])
    assert (issue.field, issue.message) == ("request", TOO_DEEP)


# ---- UTF-8 -----------------------------------------------------------------------------------
def test_non_utf8_jsonl_line_is_a_row_issue_and_other_lines_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "evalset.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"request": "first"}\r\n'
        b'{"request": "caf\xc3\xa9 \xff"}\r\n'
        b'{"expected_response": "x"}\n'
        b'{"request": "fine"}\n'
    )
    issues = issues_of(path)
    assert [(i.location, i.field, i.message) for i in issues] == [
        ("line 2", None, "not valid UTF-8 (byte 0xff at column 19)"),  # characters, not bytes
        ("line 3", "request", "missing required field 'request'"),
    ]
    assert str(issues[0]) == f"{path}, line 2: not valid UTF-8 (byte 0xff at column 19)"


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        (
            "set.json",
            b'[{"request": "a"},\n {"request": "caf\xe9"}]',
            "line 2, column 18 (byte 0xe9)",
        ),
        (
            "set.yaml",
            b"- request: a\n- request: b\n  note: \xc3\xa9\xc3(\n",
            "line 3, column 10 (byte 0xc3)",
        ),
        ("set.csv", b"request,note\na,b\nc,\xff\n", "line 3, column 3 (byte 0xff)"),
    ],
)
def test_non_utf8_document_is_a_file_issue_naming_line_and_column(
    tmp_path: Path, name: str, content: bytes, where: str
) -> None:
    (tmp_path / name).write_bytes(content)
    (issue,) = issues_of(tmp_path / name)
    assert (issue.location, issue.message) == ("file", f"not valid UTF-8 text: {where}")


def test_utf8_bom_is_skipped(tmp_path: Path) -> None:
    for name, text in [
        ("bom.json", '[{"request": "a"}]'),
        ("bom.yaml", "- request: a\n"),
        ("bom.csv", "request\na\n"),
    ]:
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())
        (row,) = load_rows(tmp_path / name)
        assert row.request == "a"


# ---- other malformed input -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("- request: q\n  when: 2024-13-45\n", "ValueError: month must be in 1..12"),
        ("- request: !!int _\n", "IndexError"),
        ("- request: !!timestamp x\n", "AttributeError"),
        ("- request: !!bool maybe\n", "KeyError"),
    ],
)
def test_yaml_values_that_cannot_be_built_are_file_issues(
    tmp_path: Path, content: str, fragment: str
) -> None:
    (tmp_path / "odd.yaml").write_text(content, encoding="utf-8")
    (issue,) = issues_of(tmp_path / "odd.yaml")
    assert issue.location == "file"
    assert issue.message.startswith("malformed YAML: a value cannot be read (")
    assert fragment in issue.message


def test_integer_too_long_for_json(tmp_path: Path) -> None:
    path = tmp_path / "evalset.jsonl"
    path.write_text('{"request": "ok"}\n{"request": "q", "n": ' + "9" * 5000 + "}\n")
    (issue,) = issues_of(path)
    assert (issue.location, issue.field) == ("line 2", None)
    assert issue.message.startswith("malformed JSON: Exceeds the limit")
    (tmp_path / "set.json").write_text('[{"n": ' + "9" * 5000 + "}]")
    (issue,) = issues_of(tmp_path / "set.json")
    assert issue.location == "file"
    assert issue.message.startswith("malformed JSON: Exceeds the limit")


def test_request_that_is_not_json_serializable() -> None:
    (issue,) = issues_of([{"request": {"query": "q", "seen": {1, 2}}}])
    assert issue.field == "request"
    assert issue.message.startswith("the request is not JSON-serializable")


# ---- grouping identical issues ---------------------------------------------------------------
def test_identical_issues_are_grouped_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "evalset.jsonl"
    lines = ['{"request": "header row is fine"}']
    lines += ['{"expected_response": "x"}'] * 310
    lines += ['{"request": 3}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(EvalSetError) as info:
        load_rows(path)
    err = info.value
    assert len(err.issues) == 311  # the full list stays available
    assert {i.location for i in err.issues[:310]} == {f"line {n}" for n in range(2, 312)}
    text = str(err).splitlines()
    assert text == [
        f"311 invalid row(s) in {path}:",
        "  - 310 rows: field 'request': missing required field 'request' "
        "(lines 2, 3, 4, 5, 6, ... and 305 more)",
        f"  - {path}, line 312, field 'request': expected a non-empty string, a "
        "ChatCompletionRequest dict {'messages': [...]} or {'query': ..., 'history': [...]}, "
        "got int",
    ]


def test_small_groups_list_every_row_and_other_messages_stay_apart() -> None:
    rows: list[Any] = [{"request": ""}, {"request": ""}, {"request": "ok"}, "x", {"request": ""}]
    assert message_of(rows).splitlines() == [
        "4 invalid row(s) in rows:",
        "  - 3 rows: field 'request': empty request (rows 1, 2, 5)",
        "  - rows, row 4: expected an object, got str",
    ]


# ---- suite files -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "genai_a.yaml",
            b"name: a\ndescription: caf\xe9\n",
            "not valid UTF-8 text: line 2, column 17 (byte 0xe9)",
        ),
        ("genai_b.json", b'{"app": ' + nested_text(100_000).encode() + b"}", TOO_DEEP),
        ("genai_c.yaml", b"app: " + nested_text(5000).encode() + b"\n", TOO_DEEP),
        ("genai_d.toml", b"app = " + nested_text(5000).encode() + b"\n", TOO_DEEP),
        ("genai_e.toml", b"app = " + nested_text(70).encode() + b"\n", f"'app': {TOO_DEEP}"),
        ("genai_f.yaml", b"name: !!int _\n", "not a valid yaml file: IndexError"),
        ("genai_g.yaml", b"1: x\nname: y\n", "setting names must be strings, got 1"),
        ("genai_h.json", b'{"name": 1' + b"0" * 5000 + b"}", "not a valid json file: Exceeds"),
        ("genai_i.yaml", b"- just\n- a list\n", "a suite file must hold a mapping of settings"),
    ],
)
def test_bad_suite_files_are_suite_errors(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SuiteError) as info:
        read_suite_file(path)
    assert str(info.value).startswith(f"{path}: {expected}")


def test_suite_file_with_bom_and_deep_inline_row(tmp_path: Path) -> None:
    path = tmp_path / "genai_s.yaml"
    path.write_bytes(
        b"\xef\xbb\xbfname: s\nrows:\n  - request: q\n    response: a\n"
        b"    deep: " + nested_text(70).encode() + b"\n"
    )
    assert read_suite_file(path)["name"] == "s"
    with pytest.raises(EvalSetError) as info:
        load_suite_file(path)
    (issue,) = info.value.issues
    assert (issue.location, issue.field, issue.message) == ("row 1", "deep", TOO_DEEP)


# ---- properties ------------------------------------------------------------------------------
FIELDS = [
    "request",
    "request_id",
    "response",
    "expected_response",
    "expected_facts",
    "guidelines",
    "retrieved_context",
    "expected_retrieved_context",
    "inputs",
    "outputs",
    "expectations",
    "tags",
    "trace_id",
]
INNER_KEYS = [
    "messages",
    "query",
    "history",
    "role",
    "content",
    "text",
    "type",
    "doc_uri",
    "choices",
    "message",
    "usage",
    "prompt_tokens",
    "retrieved_context",
    "expected_facts",
    "guidelines",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["user", "assistant", "", " ", "{", "[1]", '{"messages": []}'])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(INNER_KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
# Values that are often right for their field, sometimes anything at all.
texts = st.text(min_size=1, max_size=12)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system"]) | json_values,
            "content": texts
            | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": texts}))
            | json_values,
        }
    ),
    max_size=3,
)
chunks = st.lists(
    texts | st.fixed_dictionaries({"content": texts | st.none(), "doc_uri": texts}) | json_values,
    max_size=3,
)
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "request": texts
    | st.fixed_dictionaries({"messages": messages})
    | st.fixed_dictionaries({"query": texts}, optional={"history": messages}),
    "request_id": texts | st.integers(),
    "response": texts
    | st.fixed_dictionaries(
        {
            "choices": st.lists(
                st.fixed_dictionaries({"message": st.fixed_dictionaries({"content": texts})})
            )
        },
        optional={
            "usage": st.dictionaries(
                st.sampled_from(["prompt_tokens", "total_tokens"]), st.integers()
            )
        },
    )
    | st.fixed_dictionaries({"content": texts}, optional={"retrieved_context": chunks}),
    "expected_response": texts,
    "expected_facts": st.lists(texts, max_size=3),
    "guidelines": st.lists(texts, max_size=3)
    | st.dictionaries(texts, texts | st.lists(texts, max_size=2), max_size=2),
    "retrieved_context": chunks,
    "expected_retrieved_context": chunks,
    "tags": st.dictionaries(texts, texts, max_size=2),
    "trace_id": texts,
}
MLFLOW_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "inputs": FIELD_VALUES["request"] | st.dictionaries(texts, json_values, max_size=3),
    "outputs": FIELD_VALUES["response"] | st.dictionaries(texts, texts, max_size=1),
    "expectations": st.fixed_dictionaries(
        {}, optional={"expected_facts": FIELD_VALUES["expected_facts"], "guidelines": texts}
    ),
    "tags": FIELD_VALUES["tags"],
}
anything = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), json_values, max_size=6)
rows_like = (
    st.fixed_dictionaries(
        {"request": FIELD_VALUES["request"]},
        optional={
            name: value | json_values for name, value in FIELD_VALUES.items() if name != "request"
        },
    )
    | st.fixed_dictionaries(
        {"inputs": MLFLOW_VALUES["inputs"]},
        optional={
            name: value | json_values for name, value in MLFLOW_VALUES.items() if name != "inputs"
        },
    )
    | anything
    | json_values
)
rows_strategy = st.lists(rows_like, max_size=4)


def check_loaded(data: Any) -> None:
    """``load_rows`` gives one row per entry, or an EvalSetError; nothing else."""
    try:
        rows = load_rows(data)
    except EvalSetError as exc:
        assert exc.issues
        assert str(exc).startswith(f"{len({i.location for i in exc.issues})} invalid row(s)")
        return
    assert all(isinstance(row, Row) for row in rows)
    if isinstance(data, list):
        assert len(rows) == len(data)
        for row in rows:
            json.dumps(row.to_record())


@PROPERTY
@given(rows_strategy)
def test_any_json_like_rows_load_or_raise_evalseterror(rows: list[Any]) -> None:
    check_loaded(rows)
    for row in rows:  # one bad row fails a whole set: each row alone reaches further
        check_loaded([row])


@PROPERTY
@given(
    st.lists(
        st.tuples(st.sampled_from(FIELDS), st.integers(0, 400), st.sampled_from(["list", "dict"])),
        min_size=1,
        max_size=3,
    )
)
def test_deep_values_are_field_issues(fields: list[tuple[str, int, str]]) -> None:
    row: dict[str, Any] = {"request": "q"}
    depths = {"request": 0}
    for name, depth, kind in fields:
        value: Any = "leaf"
        for _ in range(depth):
            value = [value] if kind == "list" else {"content": value}
        row[name], depths[name] = value, depth
    too_deep = {name for name, depth in depths.items() if depth > MAX_NESTING_DEPTH}
    try:
        load_rows([row])
    except EvalSetError as exc:
        found = {i.field for i in exc.issues if i.message == TOO_DEEP}
        assert found == too_deep
        return
    assert not too_deep


JSON_TOKENS = [
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\n",
    " ",
    '"request"',
    '"expected_facts"',
    '"x"',
    '""',
    "1",
    "-0.5e3",
    "true",
    "null",
    '"\\ud800"',
    '"\\u0000"',
    "9" * 4400,
    "[" * 80,
]
TOKENS = {
    ".jsonl": JSON_TOKENS,
    ".json": JSON_TOKENS,
    ".csv": [
        ",",
        '"',
        "\n",
        "\r\n",
        "request",
        "expected_facts",
        "guidelines",
        "x",
        "NA",
        "",
        '"[1, ""x""]"',
        '"{""messages"": []}"',
        "1e400",
        "9" * 30,
        "\x00",
        "[" * 80,
    ],
    ".yaml": [
        "- ",
        ": ",
        "\n",
        "  ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "request",
        "expected_facts",
        "x",
        "&a ",
        "*a",
        "!!int ",
        "!!float ",
        "!!bool ",
        "!!timestamp ",
        "!!binary ",
        "!!set ",
        "!!omap ",
        "!!str ",
        "!!python/tuple ",
        "_",
        "0x",
        "0b2",
        "2024-13-45",
        "1:2",
        "'",
        '"',
        "|",
        ">",
        "? ",
        "<<: ",
        "---\n",
        "%YAML 1.1\n",
        "[" * 80,
    ],
}


def document_bytes(suffix: str) -> st.SearchStrategy[bytes]:
    """Bytes that are sometimes nearly right: random bytes, runs of the format's own tokens,
    and serialized rows with bytes spliced in."""
    tokens = st.lists(st.sampled_from(TOKENS[suffix]), max_size=40).map(
        lambda parts: "".join(parts).encode("utf-8")
    )
    serialized = rows_strategy.map(lambda rows: _serialize(rows, suffix))
    spliced = st.tuples(serialized, st.integers(0, 10_000), st.binary(min_size=1, max_size=3)).map(
        lambda t: t[0][: t[1] % (len(t[0]) + 1)] + t[2] + t[0][t[1] % (len(t[0]) + 1) :]
    )
    return st.binary(max_size=300) | tokens | serialized | spliced


def _serialize(rows: list[Any], suffix: str) -> bytes:
    if suffix == ".jsonl":
        return "\n".join(json.dumps(row) for row in rows).encode("utf-8")
    if suffix == ".json":
        return json.dumps(rows).encode("utf-8")
    if suffix == ".yaml":
        import yaml

        return yaml.safe_dump(rows, allow_unicode=True).encode("utf-8")
    records = [row for row in rows if isinstance(row, dict)]
    return pd.DataFrame(records).to_csv(index=False).encode("utf-8")


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".yaml"])
def test_any_bytes_in_a_text_file_load_or_raise_evalseterror(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"evalset{suffix}"

    @PROPERTY
    @given(document_bytes(suffix))
    def check(content: bytes) -> None:
        path.write_bytes(content)
        check_loaded(path)

    check()


def test_any_bytes_in_a_parquet_file_load_or_raise_evalseterror(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "evalset.parquet"
    pd.DataFrame({"request": ["a", "b"], "expected_facts": [["x"], None]}).to_parquet(path)
    valid = path.read_bytes()

    @settings(PROPERTY, max_examples=60)
    @given(
        st.binary(max_size=300)
        | st.tuples(st.integers(0, len(valid)), st.binary(min_size=1, max_size=4)).map(
            lambda t: valid[: t[0]] + t[1] + valid[t[0] + len(t[1]) :]
        )
    )
    def check(content: bytes) -> None:
        path.write_bytes(content)
        check_loaded(path)

    check()
