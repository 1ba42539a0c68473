"""OpenAI evals samples (JSONL): ``input`` (chat messages, or a prompt string) and ``ideal``.

``input`` -> ``request`` (messages as ``{"messages": [...]}``); ``ideal`` -> ``expected_response``
(a list of acceptable answers: the first, and all of them kept in the extra column ``ideal``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..evalset import RowIssue
from .base import Entry, Imported, extras

__all__ = ["convert", "looks_like"]


def looks_like(raw: Mapping[str, Any]) -> bool:
    value = raw.get("input")
    messages = isinstance(value, list) and all(
        isinstance(m, Mapping) and "role" in m for m in value
    )
    return "ideal" in raw or (messages and bool(value))


def convert(entries: list[Entry], source: str) -> Imported:
    out = Imported()
    for location, raw in entries:
        if not isinstance(raw, Mapping):
            out.issues.append(RowIssue(source, location, None, "expected an OpenAI evals sample"))
            continue
        row: dict[str, Any] = extras(raw, ("input", "ideal"))
        value = raw.get("input")
        row["request"] = {"messages": value} if isinstance(value, list) else value
        ideal = raw.get("ideal")
        if isinstance(ideal, list):
            if ideal:
                row["expected_response"] = ideal[0]
            row["ideal"] = ideal
        elif ideal is not None:
            row["expected_response"] = ideal
        out.entries.append((location, row))
    return out
