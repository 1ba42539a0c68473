"""What every importer shares: the result of a conversion and small value helpers."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..evalset import RowIssue

__all__ = [
    "Entry",
    "FormatWarning",
    "Imported",
    "as_list",
    "context_chunks",
    "decoded_json",
    "extras",
    "pick",
]

Entry = tuple[str, Any]  # (location, raw row), as evalset.read_entries gives them


class FormatWarning(UserWarning):
    """Something in a third-party file has no equivalent here and was left out."""


@dataclass
class Imported:
    """Rows in this plugin's schema, problems that stop the load, and things left out."""

    entries: list[Entry] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decoded_json(value: Any) -> Any:
    """A string that holds JSON, decoded; any other value (or text that is not JSON) as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def pick(raw: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present with a value (snake_case and camelCase spellings)."""
    for name in names:
        value = raw.get(name)
        if value is not None and not (isinstance(value, float) and value != value):  # NaN
            return value
    return None


def as_list(value: Any, *, delimiter: str | None = None) -> list[Any] | None:
    """A list from a list, JSON or Python list text (CSV cells), or ``delimiter``-joined text."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            for parse in (json.loads, ast.literal_eval):
                try:
                    parsed = parse(text)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(parsed, list):
                    return parsed
        if delimiter is not None:
            return [part.strip() for part in text.split(delimiter) if part.strip()]
        return [value]
    return [value]


def context_chunks(values: Sequence[Any] | None) -> list[dict[str, Any]] | None:
    """Context passages (text) as chunks ``{"content": text}``; dict chunks kept as they are."""
    if values is None:
        return None
    chunks: list[dict[str, Any]] = []
    for value in values:
        if isinstance(value, Mapping):
            chunks.append(dict(value))
        else:
            chunks.append({"content": value if isinstance(value, str) else json.dumps(value)})
    return chunks


def extras(raw: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """The fields an importer does not interpret, kept as extra columns."""
    return {key: value for key, value in raw.items() if key not in known}
