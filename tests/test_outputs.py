from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pydantic
import pytest

from pytest_genai_eval.outputs import AppOutput, normalize_context, parse_app_output
from pytest_genai_eval.results import TokenUsage


def chat_completion(content: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        **extra,
    }


# ---- accepted shapes -------------------------------------------------------------------------
def test_plain_string() -> None:
    out = parse_app_output("Paris.")
    assert out == AppOutput(text="Paris.", retrieved_context=None, usage=None, raw="Paris.")


def test_chat_completion_with_usage() -> None:
    value = chat_completion(
        "Paris.", usage={"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    )
    out = parse_app_output(value)
    assert out.text == "Paris."
    assert out.usage == TokenUsage(12, 3, 15)
    assert out.retrieved_context is None
    assert out.raw is value


def test_chat_completion_usage_total_defaults_to_sum() -> None:
    out = parse_app_output(chat_completion("x", usage={"prompt_tokens": 4, "completion_tokens": 6}))
    assert out.usage == TokenUsage(4, 6, 10)


def test_chat_completion_content_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]
    assert parse_app_output(chat_completion(parts)).text == "Hello, world"


def test_string_response_dict() -> None:
    out = parse_app_output({"content": "Answer"})
    assert out.text == "Answer"
    assert out.usage is None


def test_retrieved_context_at_top_level() -> None:
    out = parse_app_output(
        {
            "content": "A",
            "retrieved_context": [
                {"content": "chunk one", "doc_uri": "docs/a.md", "score": 0.3},
                "docs/b.md",
            ],
        }
    )
    assert out.retrieved_context == [
        {"content": "chunk one", "doc_uri": "docs/a.md"},
        {"content": None, "doc_uri": "docs/b.md"},
    ]


def test_retrieved_context_under_databricks_output() -> None:
    value = chat_completion(
        "A", databricks_output={"retrieved_context": [{"content": "c", "doc_uri": None}]}
    )
    out = parse_app_output(value)
    assert out.text == "A"
    assert out.retrieved_context == [{"content": "c", "doc_uri": None}]


def test_top_level_context_wins_over_databricks_output() -> None:
    out = parse_app_output(
        {
            "content": "A",
            "retrieved_context": ["top.md"],
            "databricks_output": {"retrieved_context": ["nested.md"]},
        }
    )
    assert out.retrieved_context == [{"content": None, "doc_uri": "top.md"}]


class PydanticAnswer(pydantic.BaseModel):
    content: str
    retrieved_context: list[str] = []


@dataclass
class DataclassAnswer:
    choices: list[dict[str, Any]]
    usage: dict[str, int] = field(default_factory=dict)


def test_object_with_model_dump() -> None:
    answer = PydanticAnswer(content="from pydantic", retrieved_context=["a.md"])
    out = parse_app_output(answer)
    assert out.text == "from pydantic"
    assert out.retrieved_context == [{"content": None, "doc_uri": "a.md"}]
    assert out.raw is answer


def test_dataclass_instance() -> None:
    answer = DataclassAnswer(
        choices=[{"message": {"content": "from dataclass"}}],
        usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    )
    out = parse_app_output(answer)
    assert out.text == "from dataclass"
    assert out.usage == TokenUsage(1, 2, 3)


def test_list_of_strings_is_joined() -> None:
    assert parse_app_output(["first", "second"]).text == "first\nsecond"


# ---- rejected shapes -------------------------------------------------------------------------
def test_int_is_rejected_with_precise_reason() -> None:
    with pytest.raises(ValueError) as info:
        parse_app_output(42)
    assert str(info.value) == (
        "expected a string, a ChatCompletionResponse dict (choices[0].message.content) "
        "or {'content': ...}; got int"
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "got null"),
        ({"answer": "x"}, "got a dict with keys 'answer'"),
        ({"choices": []}, "choices: expected a non-empty list, got an empty list"),
        ({"choices": ["x"]}, "choices[0]: expected a dict, got str"),
        ({"choices": [{"text": "x"}]}, "choices[0].message: expected a dict, got null"),
        ({"choices": [{"message": {"role": "assistant"}}]}, "has no 'content'"),
        (chat_completion(None), "choices[0].message.content is null"),
        (chat_completion(7), "choices[0].message.content: expected a string, got int"),
        ({"content": 3}, "content: expected a string, got int"),
        ({"content": "x", "usage": "lots"}, "usage: expected a dict of token counts, got str"),
        (
            {"content": "x", "usage": {"prompt_tokens": "many"}},
            "usage.prompt_tokens: expected an integer, got str",
        ),
        ({"content": "x", "retrieved_context": "a.md"}, "retrieved_context: expected a list"),
        (["a", 2], "item 1 of the list is int"),
        ([], "got an empty list"),
        (PydanticAnswer, "got ModelMetaclass"),
    ],
)
def test_bad_shapes(value: Any, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_app_output(value)
    assert fragment in str(info.value)


# ---- normalize_context -----------------------------------------------------------------------
def test_normalize_context_mixed_items() -> None:
    chunks = normalize_context(
        ["a.md", {"content": "text only"}, {"doc_uri": "b.md", "content": math.nan}], "ctx"
    )
    assert chunks == [
        {"content": None, "doc_uri": "a.md"},
        {"content": "text only", "doc_uri": None},
        {"content": None, "doc_uri": "b.md"},
    ]


def test_normalize_context_empty_list_is_kept() -> None:
    assert normalize_context([], "ctx") == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a.md", "ctx: expected a list of chunks"),
        ({"content": "x"}, "ctx: expected a list of chunks"),
        ([1], "ctx[0]: expected a {'content', 'doc_uri'} dict or a doc_uri string, got int"),
        ([{"title": "x"}], "ctx[0]: a chunk needs a string 'content' and/or 'doc_uri'"),
        (["ok.md", {"content": 5}], "ctx[1].content: expected a string, got int"),
        ([{"doc_uri": ["x"]}], "ctx[0].doc_uri: expected a string, got list"),
        (["  "], "ctx[0]: empty doc_uri string"),
    ],
)
def test_normalize_context_bad_shapes(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as info:
        normalize_context(value, "ctx")
    assert str(info.value).startswith(message)
