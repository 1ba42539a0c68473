"""Understanding what an application returned.

Apps (and precomputed ``response`` cells) may answer in several shapes, following the Agent
Evaluation output schema:

* a plain string;
* a ChatCompletionResponse dict: ``choices[0].message.content``, with optional ``usage``
  (``prompt_tokens`` / ``completion_tokens`` / ``total_tokens``); a message with
  ``tool_calls`` records them (its content then is no answer, see ``transcripts.py``);
* a StringResponse dict: ``{"content": ...}`` (with optional ``tool_calls``);
* an agent's transcript: an OpenAI chat message list, Responses API output items, or a dict
  holding either (``{"messages": [...]}``, a Responses object ``{"output": [...]}``, whose
  ``usage`` may say ``input_tokens`` / ``output_tokens``); the answer is the final assistant
  text and the tool calls are recorded (``transcripts.py``);
* any dict form may also carry ``retrieved_context`` (a list of ``{"content", "doc_uri"}``
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
from pytest_genai_eval.transcripts import Transcript, message_transcript, read_transcript

__all__ = ["AppOutput", "normalize_context", "parse_app_output"]

_EXPECTED_SHAPES = (
    "expected a string, a ChatCompletionResponse dict (choices[0].message.content) "
    "or {'content': ...}"
)
_CHUNK_SHAPE = "a {'content', 'doc_uri'} dict or a doc_uri string"


@dataclass
class AppOutput:
    """An app's answer, normalized. ``text`` is None when the app only called tools;
    ``tool_calls`` is None when the output form carries no tool calls (a string, a message
    without ``tool_calls``), else ``[{"name", "arguments", "id"?, "result"?}, ...]``."""

    text: str | None
    retrieved_context: list[dict[str, Any]] | None  # chunks: {"content": ..., "doc_uri": ...}
    usage: TokenUsage | None
    raw: Any  # the value exactly as the app returned it
    # The app call's own duration, measured by the target around the call itself (in the worker
    # thread for sync callables; from send to body read for HTTP apps). None: not measured.
    latency_seconds: float | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None  # a ChatCompletion's choices[0].finish_reason
    model: str | None = None  # the model the output names (a dict's "model"), for pricing


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
    if "input_tokens" in value or "output_tokens" in value:  # the Responses API's names
        value = {
            "prompt_tokens": value.get("input_tokens"),
            "completion_tokens": value.get("output_tokens"),
            "total_tokens": value.get("total_tokens"),
        }
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        count = value.get(key)
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ValueError(f"usage.{key}: expected an integer, got {_type_name(count)}")
    return TokenUsage.from_dict(dict(value))


def _chat_completion(choices: Any) -> Transcript:
    if not isinstance(choices, (list, tuple)) or not choices:
        raise ValueError(f"choices: expected a non-empty list, got {_describe(choices)}")
    first = choices[0]
    if not isinstance(first, Mapping):
        raise ValueError(f"choices[0]: expected a dict, got {_type_name(first)}")
    message = first.get("message")
    if not isinstance(message, Mapping):
        raise ValueError(f"choices[0].message: expected a dict, got {_type_name(message)}")
    return message_transcript(message, "choices[0].message")


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)) and not value:
        return "an empty list"
    return _type_name(value)


def _transcript_list(value: Any, where: str) -> Transcript:
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{where}: expected a non-empty list, got {_describe(value)}")
    return read_transcript(value, where)


def _parse_dict(data: Mapping[str, Any], raw: Any) -> AppOutput:
    calls: list[dict[str, Any]] | None = None
    if "choices" in data:
        transcript = _chat_completion(data["choices"])
        text, calls = transcript.text, transcript.tool_calls or None
    elif data.get("tool_calls") is not None or data.get("function_call") is not None:
        transcript = message_transcript(data, "message")
        text, calls = transcript.text, transcript.tool_calls
    elif "content" in data:
        content = data["content"]
        if not isinstance(content, str):
            raise ValueError(f"content: expected a string, got {_type_name(content)}")
        else:
            text = content
    elif "output" in data or "messages" in data:
        key = "output" if "output" in data else "messages"
        transcript = _transcript_list(data[key], key)
        text, calls = transcript.text, transcript.tool_calls
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
        text=text,
        retrieved_context=context,
        usage=_parse_usage(data.get("usage")),
        raw=raw,
        tool_calls=calls,
        finish_reason=_finish_reason(data.get("choices")),
        model=data["model"] if isinstance(data.get("model"), str) and data["model"] else None,
    )


def _finish_reason(choices: Any) -> str | None:
    if isinstance(choices, (list, tuple)) and choices and isinstance(choices[0], Mapping):
        reason = choices[0].get("finish_reason")
        return reason if isinstance(reason, str) and reason else None
    return None


def _dumped(value: Any) -> Any:
    """A pydantic object (``.model_dump()``) or a dataclass instance as a dict; else as is."""
    if isinstance(value, type):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def parse_app_output(value: Any) -> AppOutput:
    """Normalize an app's output (see the module docstring for the accepted shapes)."""
    raw = value
    if isinstance(value, str):
        return AppOutput(text=value, retrieved_context=None, usage=None, raw=raw)
    value = _dumped(value)
    if isinstance(value, Mapping):
        return _parse_dict(value, raw)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{_EXPECTED_SHAPES}; got an empty list")
        value = [_dumped(item) for item in value]
        if any(isinstance(item, Mapping) for item in value):
            transcript = read_transcript(value)
            return AppOutput(
                text=transcript.text,
                retrieved_context=None,
                usage=None,
                raw=raw,
                tool_calls=transcript.tool_calls,
            )
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise ValueError(
                    f"{_EXPECTED_SHAPES} or a list of strings; item {index} of the list is "
                    f"{_type_name(item)}"
                )
        return AppOutput(text="\n".join(value), retrieved_context=None, usage=None, raw=raw)
    raise ValueError(f"{_EXPECTED_SHAPES}; got {_type_name(value)}")
