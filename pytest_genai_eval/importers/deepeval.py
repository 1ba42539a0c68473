"""DeepEval goldens and test cases (JSON, JSONL or CSV), snake_case or camelCase.

``input`` -> ``request``; ``actual_output`` -> ``response``; ``expected_output`` ->
``expected_response``; ``retrieval_context`` -> ``retrieved_context``; ``context`` (DeepEval's
ideal context) -> ``expected_retrieved_context``; ``expected_tools`` -> ``expected_tool_calls``;
``name`` -> ``request_id``. CSV cells holding lists are JSON, or joined by ``;`` as DeepEval's CSV
loader expects. Other fields (``additional_metadata``, ``comments``, ...) stay extra columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..evalset import RowIssue
from .base import Entry, Imported, as_list, context_chunks, extras, pick

__all__ = ["FIELDS", "convert", "looks_like"]

# our column <- DeepEval's spellings
FIELDS: dict[str, tuple[str, ...]] = {
    "request": ("input",),
    "response": ("actual_output", "actualOutput"),
    "expected_response": ("expected_output", "expectedOutput"),
    "retrieved_context": ("retrieval_context", "retrievalContext"),
    "expected_retrieved_context": ("context",),
    "expected_tool_calls": ("expected_tools", "expectedTools"),
    "request_id": ("name",),
}
_SIGNATURE = {"actual_output", "actualOutput", "expected_output", "expectedOutput",
              "retrieval_context", "retrievalContext", "expected_tools", "expectedTools",
              "additional_metadata", "additionalMetadata"}
_DELIMITER = ";"


def looks_like(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("input"), str) and bool(_SIGNATURE & set(raw))


def _tool_calls(value: Any) -> list[dict[str, Any]] | None:
    calls = as_list(value)
    if calls is None:
        return None
    out: list[dict[str, Any]] = []
    for call in calls:
        if isinstance(call, Mapping):
            arguments = pick(call, "input_parameters", "inputParameters", "arguments") or {}
            out.append({"name": call.get("name"), "arguments": arguments})
        else:
            out.append({"name": call, "arguments": {}})
    return out


def convert(entries: list[Entry], source: str) -> Imported:
    out = Imported()
    known = {name for names in FIELDS.values() for name in names}
    for location, raw in entries:
        if not isinstance(raw, Mapping):
            out.issues.append(RowIssue(source, location, None, "expected a DeepEval golden object"))
            continue
        row: dict[str, Any] = extras(raw, tuple(known))
        row["request"] = pick(raw, *FIELDS["request"])
        for target in ("response", "expected_response", "request_id"):
            value = pick(raw, *FIELDS[target])
            if value is not None:
                row[target] = value
        for target in ("retrieved_context", "expected_retrieved_context"):
            value = pick(raw, *FIELDS[target])
            if value is not None:
                row[target] = context_chunks(as_list(value, delimiter=_DELIMITER))
        calls = _tool_calls(pick(raw, *FIELDS["expected_tool_calls"]))
        if calls is not None:
            row["expected_tool_calls"] = calls
        out.entries.append((location, row))
    return out
