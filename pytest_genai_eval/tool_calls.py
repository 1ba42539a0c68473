"""The tool-call schema: one tool call, the calls a row expects, the tools it offers, and how
a call is shown.

A tool call, wherever it comes from (a row's ``expected_tool_calls``, an app's transcript, a
precomputed response), is a plain JSON-able dict::

    {"name": "lookup_order", "arguments": {"order_id": "A-1001"}, "id": "call_1", "result": "..."}

``arguments`` is always a dict (JSON text is parsed). ``id`` (the call id) and ``result`` (the
tool's answer, when the transcript holds it) are optional. An expected call may leave
``arguments`` out: then its arguments are not compared. An app call whose arguments are not a
JSON object keeps them as text in ``malformed_arguments`` (and ``arguments`` is ``{}``): the
agent made a broken call, which the tool-call judges rate, rather than an unreadable output.

``available_tools`` are OpenAI tool definitions, ``{"type": "function", "function": {"name",
"description", "parameters"}}``, or the bare ``{"name", "description", "parameters"}`` form;
both normalize to the bare form.

Parsers raise ``ValueError`` whose message starts with the path inside the value
(``[1].arguments: invalid JSON text: ...``), so callers can prefix the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "call_arguments",
    "call_lines",
    "calls_of",
    "format_call",
    "format_calls",
    "normalize_call",
    "parse_available_tools",
    "parse_expected_tool_calls",
]

_CALL_SHAPE = "a {'name', 'arguments'} dict (or an OpenAI {'type': 'function', 'function': {...}})"
_TOOL_SHAPE = (
    "an OpenAI tool {'type': 'function', 'function': {'name', 'description', 'parameters'}} "
    "or a bare {'name', 'description', 'parameters'} dict"
)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def call_arguments(value: Any, where: str) -> tuple[dict[str, Any], str | None]:
    """``(arguments, malformed)``: a dict as is, JSON object text parsed, None or blank text as
    ``{}``. Text that is not a JSON object gives ``({}, the text)``; any other type raises."""
    if value is None:
        return {}, None
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}, None
    if isinstance(value, str):
        if not value.strip():
            return {}, None
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return {}, value
        if isinstance(parsed, dict):
            return parsed, None
        return {}, value
    raise ValueError(f"{where}: expected a dict or JSON object text, got {_type_name(value)}")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: expected a non-empty string, got {_type_name(value)}")
    return value.strip()


def normalize_call(item: Any, where: str, *, strict: bool) -> dict[str, Any]:
    """One tool call as ``{"name", "arguments", "id"?, "malformed_arguments"?}``.

    Accepts ``{"name", "arguments"}``, the Chat Completions form ``{"id", "type": "function",
    "function": {"name", "arguments"}}`` and the Responses API ``{"type": "function_call",
    "name", "arguments", "call_id"}``. ``strict`` (expected calls): arguments must be a JSON
    object and are kept out when not given; otherwise malformed arguments are recorded."""
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected {_CALL_SHAPE}, got {_type_name(item)}")
    body: Mapping[str, Any] = item
    if isinstance(item.get("function"), Mapping):
        body = item["function"]
        where_body = f"{where}.function"
    elif "function" in item and "name" not in item:
        raise ValueError(
            f"{where}.function: expected a {{'name', 'arguments'}} dict, "
            f"got {_type_name(item['function'])}"
        )
    else:
        where_body = where
    call: dict[str, Any] = {"name": _name(body.get("name"), f"{where_body}.name")}
    given = "arguments" in body and body["arguments"] is not None
    arguments, malformed = call_arguments(body.get("arguments"), f"{where_body}.arguments")
    if strict:
        if malformed is not None:
            raise ValueError(
                f"{where_body}.arguments: expected a JSON object, got {_clip(malformed, 60)!r}"
            )
        if given:
            call["arguments"] = arguments
    else:
        call["arguments"] = arguments
        if malformed is not None:
            call["malformed_arguments"] = malformed
    call_id = item.get("call_id", item.get("id"))
    if isinstance(call_id, str) and call_id:
        call["id"] = call_id
    return call


def parse_expected_tool_calls(value: Any) -> list[dict[str, Any]]:
    """A row's ``expected_tool_calls``: a list of calls (``[]``: no call may be made)."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of tool calls ({_CALL_SHAPE}), got {_type_name(value)}")
    return [normalize_call(item, f"[{index}]", strict=True) for index, item in enumerate(value)]


def parse_available_tools(value: Any) -> list[dict[str, Any]]:
    """A row's ``available_tools`` as bare ``{"name", "description"?, "parameters"?}`` dicts;
    names must be unique."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of tools ({_TOOL_SHAPE}), got {_type_name(value)}")
    tools: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(value):
        where = f"[{index}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: expected {_TOOL_SHAPE}, got {_type_name(item)}")
        kind = item.get("type", "function")
        if kind != "function":
            raise ValueError(f"{where}.type: only function tools are supported, got {kind!r}")
        body: Any = item.get("function", item)
        if body is not item:
            where += ".function"
            if not isinstance(body, Mapping):
                raise ValueError(f"{where}: expected a dict, got {_type_name(body)}")
        tool: dict[str, Any] = {"name": _name(body.get("name"), f"{where}.name")}
        description = body.get("description")
        if description is not None:
            if not isinstance(description, str):
                raise ValueError(
                    f"{where}.description: expected a string, got {_type_name(description)}"
                )
            tool["description"] = description
        parameters = body.get("parameters")
        if parameters is not None:
            if not isinstance(parameters, Mapping):
                raise ValueError(
                    f"{where}.parameters: expected a JSON Schema object, got "
                    f"{_type_name(parameters)}"
                )
            tool["parameters"] = dict(parameters)
        first = seen.setdefault(tool["name"], index)
        if first != index:
            raise ValueError(
                f"{where}.name: tool {tool['name']!r} is defined twice (first at [{first}])"
            )
        tools.append(tool)
    return tools


# ---- how a call reads ----------------------------------------------------------------------------
def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)].rstrip() + "…"


def _value_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def format_call(call: Mapping[str, Any], limit: int = 160) -> str:
    """``lookup_order(order_id="A-1001")``: compact and one line; an expected call without
    arguments reads ``lookup_order(…)``, malformed arguments ``lookup_order(<invalid: ...>)``."""
    name = str(call.get("name", "?"))
    if call.get("malformed_arguments") is not None:
        inner = f"<invalid: {call['malformed_arguments']}>"
    elif "arguments" not in call:
        inner = "…"
    else:
        arguments = call.get("arguments")
        if isinstance(arguments, Mapping):
            inner = ", ".join(f"{key}={_value_text(value)}" for key, value in arguments.items())
        else:
            inner = _value_text(arguments)
    return _clip(" ".join(f"{name}({inner})".split()), limit)


def format_calls(calls: Sequence[Mapping[str, Any]] | None, limit: int = 160) -> str:
    """Calls in order, ``a(...) → b(...)``; ``(none)`` for no call."""
    if not calls:
        return "(none)"
    return " → ".join(format_call(call, limit) for call in calls)


def calls_of(value: Any) -> list[Mapping[str, Any]] | None:
    """The calls in a stored value (a row echo, an artifact), None when it holds no list;
    entries that are not dicts are left out (reports read artifacts of any origin)."""
    if not isinstance(value, list):
        return None
    return [call for call in value if isinstance(call, Mapping)]


def call_lines(calls: Sequence[Mapping[str, Any]], limit: int = 120, most: int = 8) -> list[str]:
    """Numbered lines, one call each (``1. lookup_order(order_id="A-1001")``), at most
    ``most`` of them and a count of the rest; ``(none)`` for no call."""
    if not calls:
        return ["(none)"]
    lines = [f"{index}. {format_call(call, limit)}" for index, call in enumerate(calls[:most], 1)]
    if len(calls) > most:
        lines.append(f"… and {len(calls) - most} more")
    return lines
