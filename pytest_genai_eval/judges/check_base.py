"""What every deterministic check shares: the :class:`Check` base (one assessment of kind
"check" from ``evaluate(ctx) -> (passed, rationale, details)``) and :class:`SpecReader`, typed
access to one ``{type, name?, ...}`` spec that names the file and field of every problem.

The check types live in :mod:`.checks` (presence, format, budgets and the table of types),
:mod:`.text_checks` (comparisons with a value or the expected response) and
:mod:`.output_checks` (refusals, the finish reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, Where

__all__ = ["Builder", "Check", "SpecReader", "quote_list", "string_values"]


def quote_list(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


@dataclass(kw_only=True)
class Check:
    """Base of the deterministic checks: ``evaluate`` returns (passed, rationale, details)."""

    name: str
    kind: AssessmentKind = "check"
    type: ClassVar[str] = ""
    needs_response: ClassVar[bool] = True

    def applies(self, ctx: EvalContext) -> bool:
        return True

    def missing(self, ctx: EvalContext) -> str | None:
        if self.needs_response and ctx.response is None:
            return "needs a response"
        return None

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name}

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        started = time.perf_counter()
        result = Assessment(name=self.name, judge=self.name, kind="check")
        try:
            passed, rationale, details = self.evaluate(ctx)
        except Exception as exc:  # a check bug is an error on the row, never a pass
            result.error = f"check {self.type!r} raised {type(exc).__name__}: {exc}"
            return [result]
        result.rating = "yes" if passed else "no"
        result.rationale = rationale
        result.details = {"type": self.type, **details}
        result.latency_seconds = time.perf_counter() - started
        return [result]


class SpecReader:
    """Typed access to one spec mapping; ``finish`` rejects unknown fields."""

    def __init__(self, spec: Mapping[str, Any], where: Where) -> None:
        self.spec = spec
        self.where = where
        self.used: set[str] = {"type", "name"}

    def has(self, key: str) -> bool:
        return key in self.spec and self.spec[key] is not None

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.spec.get(key)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.where.error(key, f"expected true or false, got {value!r}")
        return value

    def text(self, key: str, *, required: bool = True, allow_empty: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise self.where.error(key, "is required")
            return None
        if not isinstance(value, str) or not (value or allow_empty):
            kind = "a string" if allow_empty else "a non-empty string"
            raise self.where.error(key, f"expected {kind}, got {value!r}")
        return value

    def number(self, key: str, *, integer: bool = False, positive: bool = False) -> float | None:
        value = self.raw(key)
        if value is None:
            return None
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            kind = "an integer" if integer else "a number"
            raise self.where.error(key, f"expected {kind}, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise self.where.error(
                key,
                f"expected a {'positive' if positive else 'non-negative'} number, got {value!r}",
            )
        return float(value)

    def fraction(self, key: str, *, required: bool = True) -> float | None:
        """A number in [0, 1] (a score or similarity bound)."""
        value = self.number(key)
        if value is None:
            if required:
                raise self.where.error(key, "is required (a number between 0 and 1)")
            return None
        if value > 1:
            raise self.where.error(key, f"expected a number between 0 and 1, got {value:g}")
        return value

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        value = self.raw(key)
        if value is None:
            return default
        if value not in choices:
            raise self.where.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def finish(self, known: Sequence[str]) -> None:
        unknown = sorted(str(k) for k in self.spec if k not in self.used)
        if unknown:
            allowed = ", ".join(["type", "name", *known]) if known else "type, name"
            raise self.where.error(
                unknown[0], f"unknown field for a {self.spec.get('type')} check; fields: {allowed}"
            )


def string_values(reader: SpecReader, key: str = "values") -> tuple[str, ...]:
    """A required string or non-empty list of non-empty strings."""
    value = reader.raw(key)
    if isinstance(value, str):
        value = [value]
    if value is None:
        raise reader.where.error(key, "is required (a string or a list of strings)")
    if not isinstance(value, list) or not value:
        raise reader.where.error(key, f"expected a non-empty list of strings, got {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise reader.where.error(f"{key}[{i}]", f"expected a non-empty string, got {item!r}")
    return tuple(value)


# A check type's builder: the spec (read through a SpecReader), the check's name, and the
# directory relative paths in the spec are resolved against (the suite file's).
Builder = Callable[[SpecReader, str, Path | None], Check]
