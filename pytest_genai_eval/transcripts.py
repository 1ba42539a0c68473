"""Reading an agent's transcript: its tool calls (with their results) and its final answer.

Three shapes hold tool calls:

* an OpenAI chat message list: assistant messages with ``tool_calls`` (or the legacy
  ``function_call``), ``tool`` messages with the results (matched by ``tool_call_id``), and a
  final assistant message;
* one assistant message (a ChatCompletion's ``choices[0].message``, or ``{"content",
  "tool_calls"}``);
* OpenAI Responses API output items: ``{"type": "function_call", "name", "arguments",
  "call_id"}``, ``{"type": "function_call_output", "call_id", "output"}`` and ``{"type":
  "message", "content": [{"type": "output_text", "text": ...}]}`` (other item types, such as
  reasoning, are skipped). A list may mix chat messages and items.

The final answer is the text of the last assistant message, when no tool call comes after it
(a message that calls tools is not an answer, even with text: that text is a preamble). It is
None when the agent only called tools. Calls are normalized by
:func:`pytest_genai_eval.tool_calls.normalize_call`. Errors are ``ValueError`` naming the
place (``item 2 of the list.tool_calls[0].function.name: ...``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .tool_calls import normalize_call

__all__ = ["Transcript", "content_text", "message_transcript", "read_transcript"]


@dataclass(frozen=True)
class Transcript:
    """What an agent did: its final answer (None: it only called tools) and its calls."""

    text: str | None
    tool_calls: list[dict[str, Any]]


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def content_text(content: Any, where: str) -> str:
    """Text of a message's content: a string, or a list of text (or refusal) content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for index, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, Mapping) and isinstance(part.get("refusal"), str):
                texts.append(part["refusal"])
            else:
                raise ValueError(
                    f"{where}[{index}]: expected a text content part ({{'type': 'text', "
                    f"'text': ...}}), got {_type_name(part)}"
                )
        return "".join(texts)
    if content is None:
        raise ValueError(f"{where} is null (the model produced no text, e.g. only tool calls)")
    raise ValueError(f"{where}: expected a string, got {_type_name(content)}")


def _result_text(value: Any) -> str:
    """A tool's result as text: strings and text parts as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(p, Mapping) and isinstance(p.get("text"), str) for p in value
    ):
        return "".join(p["text"] for p in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _message_calls(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, (list, tuple)):
            raise ValueError(f"{where}.tool_calls: expected a list, got {_type_name(calls)}")
        return [
            normalize_call(call, f"{where}.tool_calls[{index}]", strict=False)
            for index, call in enumerate(calls)
        ]
    legacy = message.get("function_call")
    if legacy is not None:
        return [normalize_call(legacy, f"{where}.function_call", strict=False)]
    return []


def message_transcript(message: Mapping[str, Any], where: str) -> Transcript:
    """One assistant message: its calls, and its content as the answer when it calls nothing.
    A message with neither text nor calls raises (``<where>.content is null ...``)."""
    calls = _message_calls(message, where)
    if calls:
        return Transcript(text=None, tool_calls=calls)
    if "content" not in message:
        raise ValueError(f"{where} has no 'content'")
    return Transcript(text=content_text(message["content"], f"{where}.content"), tool_calls=[])


class _Reader:
    """Follows a transcript item by item."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.final: str | None = None
        self.answered = False  # an assistant message with text came after the last call

    def add_calls(self, calls: list[dict[str, Any]]) -> None:
        for call in calls:
            self.calls.append(call)
            if "id" in call:
                self.by_id[call["id"]] = call
        self.final, self.answered = None, False

    def answer(self, text: str) -> None:
        self.final, self.answered = text, True

    def result(self, call_id: Any, value: Any, name: Any = None) -> None:
        call = self.by_id.get(call_id) if isinstance(call_id, str) else None
        if call is None and isinstance(name, str):  # legacy "function" messages: by name
            call = next((c for c in self.calls if c["name"] == name and "result" not in c), None)
        if call is not None and value is not None:
            call["result"] = _result_text(value)

    def chat_message(self, message: Mapping[str, Any], where: str) -> None:
        role = message.get("role")
        if not isinstance(role, str):
            raise ValueError(f"{where}.role: expected a string, got {_type_name(role)}")
        if role == "assistant":
            calls = _message_calls(message, where)
            if calls:
                self.add_calls(calls)
            elif message.get("content") is not None:
                self.answer(content_text(message["content"], f"{where}.content"))
        elif role == "tool":
            self.result(message.get("tool_call_id"), message.get("content"))
        elif role == "function":
            self.result(None, message.get("content"), message.get("name"))

    def item(self, item: Mapping[str, Any], where: str) -> None:
        kind = item.get("type")
        if kind == "function_call":
            self.add_calls([normalize_call(item, where, strict=False)])
        elif kind == "function_call_output":
            self.result(item.get("call_id"), item.get("output"))
        elif kind == "message":
            if item.get("role", "assistant") == "assistant" and item.get("content") is not None:
                self.answer(content_text(item["content"], f"{where}.content"))
        elif kind is None and "role" in item:
            self.chat_message(item, where)
        elif not isinstance(kind, str):
            raise ValueError(
                f"{where}: expected a chat message (with 'role') or a Responses API output item "
                f"(with 'type'), got a dict with keys {', '.join(map(repr, list(item)[:6]))}"
            )
        # any other item type (reasoning, web_search_call, ...) holds no function call


def read_transcript(items: Sequence[Any], where: str = "") -> Transcript:
    """A chat message list or a list of Responses API output items (see the module docstring).
    Raises ValueError when an item is not a dict, or when there is neither an answer nor a
    call."""
    reader = _Reader()
    for index, item in enumerate(items):
        at = f"{where}[{index}]" if where else f"item {index} of the list"
        if not isinstance(item, Mapping):
            raise ValueError(
                f"{at}: expected a chat message or a Responses API output item (a dict), "
                f"got {_type_name(item)}"
            )
        reader.item(item, at)
    if reader.final is None and not reader.calls:
        raise ValueError(
            f"{where or 'the list'}: no assistant message with text and no tool call "
            "(expected an OpenAI chat message list or Responses API output items)"
        )
    return Transcript(text=reader.final if reader.answered else None, tool_calls=reader.calls)
