"""Column mapping and row transforms: a third-party evaluation set loads unchanged.

The suite key ``columns`` maps a field of the set's rows to a row column, e.g.
``{question: request, answer: expected_response, "answers.0.text": expected_response}``. A
source is a dotted path into nested fields (``answers.0.text``: key ``answers``, item 0, key
``text``); a key that itself contains dots is matched whole first. A one-key source is moved
(renamed), a nested one copied; the other fields stay as they are (extra columns). The suite key
``transform`` names a function ``module:function`` (or, in Python, any callable) that takes a raw
row dict and returns a row dict (``None`` drops the row); it runs before the mapping.

Text fields given something else by a mapping follow one documented rule (:func:`as_text`):
``expected_response`` becomes text (numbers and booleans as JSON, a list one item per line, a
dict one ``key: value`` line per key) and ``expected_facts`` a list of such lines (a dict gives
one fact per key, a list one per item).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "ColumnError",
    "ColumnMap",
    "RowTransform",
    "as_fact_list",
    "as_text",
    "load_transform",
    "lookup",
]

RowTransform = Callable[[dict[str, Any]], "dict[str, Any] | None"]

_MISSING = object()
# Row columns whose value must be text, and columns that must be a list of texts.
_TEXT_COLUMNS = frozenset({"expected_response"})
_FACT_COLUMNS = frozenset({"expected_facts"})


class ColumnError(ConfigurationError, ValueError):
    """An invalid ``columns`` or ``transform`` setting; the message names the suite and key."""


def lookup(value: Any, path: str) -> Any:
    """The value at a dotted ``path`` (a whole key containing dots first), or ``_MISSING``."""
    if isinstance(value, Mapping) and path in value:
        return value[path]
    head, dot, rest = path.partition(".")
    if isinstance(value, Mapping):
        if head not in value:
            return _MISSING
        child = value[head]
    elif isinstance(value, list) and head.lstrip("-").isdigit():
        index = int(head)
        if not -len(value) <= index < len(value):
            return _MISSING
        child = value[index]
    else:
        return _MISSING
    return lookup(child, rest) if dot else child


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _line(key: Any, value: Any) -> str:
    return f"{key}: {_scalar_text(value)}"


def as_fact_list(value: Any) -> list[str]:
    """The rule for ``expected_facts``: a dict gives ``key: value`` per key, a list one fact per
    item, anything else one fact."""
    if isinstance(value, Mapping):
        return [_line(key, item) for key, item in value.items()]
    if isinstance(value, (list, tuple)):
        return [_scalar_text(item) for item in value]
    return [_scalar_text(value)]


def as_text(value: Any) -> str:
    """The rule for ``expected_response``: text as it is; numbers and booleans as JSON; a list
    one item per line; a dict one ``key: value`` line per key (nested values as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (Mapping, list, tuple)):
        return "\n".join(as_fact_list(value))
    return _scalar_text(value)


@dataclass(frozen=True)
class ColumnMap:
    """``(source path, row column)`` pairs, in the order given."""

    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, value: Any, where: str) -> ColumnMap | None:
        if value is None:
            return None
        if isinstance(value, ColumnMap):
            return value
        if not isinstance(value, Mapping) or not value:
            raise ColumnError(
                f"{where}: 'columns' must map a field of the set to a row column, e.g. "
                "{question: request, answer: expected_response}"
            )
        pairs: list[tuple[str, str]] = []
        targets: dict[str, str] = {}
        for source, target in value.items():
            if not isinstance(source, str) or not source.strip():
                raise ColumnError(f"{where}: columns: a source must be a field name, got {source!r}")
            if not isinstance(target, str) or not target.strip() or "." in target:
                raise ColumnError(
                    f"{where}: columns.{source}: the target must be a row column name such as "
                    f"'request' or 'expected_response', got {target!r}"
                )
            if target in targets:
                raise ColumnError(
                    f"{where}: columns: {targets[target]!r} and {source!r} both map to {target!r}"
                )
            targets[target] = source
            pairs.append((source, target))
        return cls(tuple(pairs))

    def apply(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The mapped row and its problems ``(field, message)``. A source missing from this row
        leaves its column unset (the row's validation then says what is missing)."""
        row = dict(raw)
        problems: list[tuple[str, str]] = []
        moved = {source for source, _ in self.pairs if source in raw}
        values: dict[str, Any] = {}
        for source, target in self.pairs:
            value = lookup(raw, source)
            if value is _MISSING:
                continue
            if target in raw and target not in moved:
                problems.append(
                    (target, f"mapped from {source!r} by 'columns' but also present in the row")
                )
                continue
            if target in _TEXT_COLUMNS and not isinstance(value, str) and value is not None:
                value = as_text(value)
            elif target in _FACT_COLUMNS and not isinstance(value, list) and value is not None:
                value = as_fact_list(value)
            elif target in _FACT_COLUMNS and isinstance(value, list):
                value = [item if isinstance(item, str) else as_text(item) for item in value]
            values[target] = value
        for source in moved:
            row.pop(source, None)
        row.update(values)
        return row, problems

    def unmatched(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Sources found in none of ``rows`` (a typo, most likely)."""
        return [
            source
            for source, _ in self.pairs
            if rows and all(lookup(row, source) is _MISSING for row in rows)
        ]


def load_transform(spec: Any, base_dir: Path | None, where: str) -> RowTransform | None:
    """``module:function`` (imported with the suite's directory on ``sys.path``) or a callable."""
    if spec is None:
        return None
    if callable(spec):
        return spec  # type: ignore[no-any-return]
    if not isinstance(spec, str) or ":" not in spec:
        raise ColumnError(
            f"{where}: 'transform' must be 'module:function' (a function taking a raw row dict "
            f"and returning a row dict), got {spec!r}"
        )
    module_name, _, attr_path = spec.partition(":")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ColumnError(f"{where}: transform {spec!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ColumnError(f"{where}: transform {spec!r}: {module_name!r} has no {attr_path!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ColumnError(f"{where}: transform {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]
