"""Understanding what an application returned.

Apps (and precomputed ``response`` cells) may answer in several shapes, following the Agent
Evaluation output schema:

* a plain string;
* a ChatCompletionResponse dict: ``choices[0].message.content``, with optional ``usage``
  (``prompt_tokens`` / ``completion_tokens`` / ``total_tokens``);
* a StringResponse dict: ``{"content": ...}``;
* either dict form may also carry ``retrieved_context`` (a list of ``{"content", "doc_uri"}``
  dicts or plain doc_uri strings), at top level or under ``databricks_output``;
* an object with ``.model_dump()`` (pydantic) or a dataclass instance, converted to a dict first;
* a list of strings (e.g. LangGraph-style message texts), joined with newlines.

:func:`parse_app_output` turns any of these into an :class:`AppOutput`; anything else raises
``ValueError`` with a precise reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_genai_eval.results import TokenUsage

__all__ = ["AppOutput", "normalize_context", "parse_app_output"]

_EXPECTED_SHAPES = (
    "expected a string, a ChatCompletionResponse dict (choices[0].message.content) "
    "or {'content': ...}"
)
_CHUNK_SHAPE = "a {'content', 'doc_uri'} dict or a doc_uri string"


@dataclass
class AppOutput:
    """An app's answer, normalized."""

    text: str
    retrieved_context: list[dict[str, Any]] | None  # chunks: {"content": ..., "doc_uri": ...}
    usage: TokenUsage | None
    raw: Any  # the value exactly as the app returned it
    # The app call's own duration, measured by the target around the call itself (in the worker
    # thread for sync callables; from send to body read for HTTP apps). None: not measured.
    latency_seconds: float | None = None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return type(value).__name__


def _is_missing_chunk_field(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def normalize_context(value: Any, field: str) -> list[dict[str, Any]]:
    """Normalize retrieved context to a list of ``{"content": str|None, "doc_uri": str|None}``.

    Each item is either a doc_uri string or a dict with a string ``content`` and/or a string
    ``doc_uri`` (other keys are dropped). ``field`` names the value in error messages, which read
    ``"<field>: expected a list ..."`` or ``"<field>[i]: ..."``.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(
            f"{field}: expected a list of chunks ({_CHUNK_SHAPE}), got {_type_name(value)}"
        )
    chunks: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if isinstance(item, str):
            if not item.strip():
                raise ValueError(f"{where}: empty doc_uri string")
            chunks.append({"content": None, "doc_uri": item})
            continue
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: expected {_CHUNK_SHAPE}, got {_type_name(item)}")
        content = item.get("content")
        doc_uri = item.get("doc_uri")
        if _is_missing_chunk_field(content):
            content = None
        if _is_missing_chunk_field(doc_uri):
            doc_uri = None
        if content is not None and not isinstance(content, str):
            raise ValueError(f"{where}.content: expected a string, got {_type_name(content)}")
        if doc_uri is not None and not isinstance(doc_uri, str):
            raise ValueError(f"{where}.doc_uri: expected a string, got {_type_name(doc_uri)}")
        if content is None and doc_uri is None:
            raise ValueError(f"{where}: a chunk needs a string 'content' and/or 'doc_uri'")
        chunks.append({"content": content, "doc_uri": doc_uri})
    return chunks


def _parse_usage(value: Any) -> TokenUsage | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"usage: expected a dict of token counts, got {_type_name(value)}")
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        count = value.get(key)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ValueError(f"usage.{key}: expected an integer, got {_type_name(count)}")
    return TokenUsage.from_dict(dict(value))


def _message_text(content: Any, where: str) -> str:
    """Text of a chat message's content: a string, or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for index, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise ValueError(
                    f"{where}[{index}]: expected a text content part ({{'type': 'text', "
                    f"'text': ...}}), got {_type_name(part)}"
                )
        return "".join(texts)
    if content is None:
        raise ValueError(f"{where} is null (the model produced no text, e.g. only tool calls)")
    raise ValueError(f"{where}: expected a string, got {_type_name(content)}")


def _chat_completion_text(choices: Any) -> str:
    if not isinstance(choices, (list, tuple)) or not choices:
        raise ValueError(f"choices: expected a non-empty list, got {_describe(choices)}")
    first = choices[0]
    if not isinstance(first, Mapping):
        raise ValueError(f"choices[0]: expected a dict, got {_type_name(first)}")
    message = first.get("message")
    if not isinstance(message, Mapping):
        raise ValueError(f"choices[0].message: expected a dict, got {_type_name(message)}")
    if "content" not in message:
        raise ValueError("choices[0].message has no 'content'")
    return _message_text(message["content"], "choices[0].message.content")


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)) and not value:
        return "an empty list"
    return _type_name(value)


def _parse_dict(data: Mapping[str, Any], raw: Any) -> AppOutput:
    if "choices" in data:
        text = _chat_completion_text(data["choices"])
    elif "content" in data:
        content = data["content"]
        if not isinstance(content, str):
            raise ValueError(f"content: expected a string, got {_type_name(content)}")
        text = content
    else:
        keys = ", ".join(repr(k) for k in list(data)[:8]) or "none"
        raise ValueError(f"{_EXPECTED_SHAPES}; got a dict with keys {keys}")

    context: list[dict[str, Any]] | None = None
    if data.get("retrieved_context") is not None:
        context = normalize_context(data["retrieved_context"], "retrieved_context")
    else:
        extra = data.get("databricks_output")
        if isinstance(extra, Mapping) and extra.get("retrieved_context") is not None:
            context = normalize_context(
                extra["retrieved_context"], "databricks_output.retrieved_context"
            )
    return AppOutput(
        text=text, retrieved_context=context, usage=_parse_usage(data.get("usage")), raw=raw
    )


def parse_app_output(value: Any) -> AppOutput:
    """Normalize an app's output (see the module docstring for the accepted shapes)."""
    raw = value
    if isinstance(value, str):
        return AppOutput(text=value, retrieved_context=None, usage=None, raw=raw)
    if not isinstance(value, type):
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            value = dump()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return _parse_dict(value, raw)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{_EXPECTED_SHAPES}; got an empty list")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(
                    f"{_EXPECTED_SHAPES} or a list of strings; item {index} of the list is "
                    f"{_type_name(item)}"
                )
        return AppOutput(text="\n".join(value), retrieved_context=None, usage=None, raw=raw)
    raise ValueError(f"{_EXPECTED_SHAPES}; got {_type_name(value)}")
