"""Deterministic checks: no LLM, run offline, kind "check".

Declared per suite (``checks:``) or per row (a ``checks`` column), as a list of
``{type, name?, ...}``. Types here: ``contains``, ``not_contains``, ``regex``, ``json``,
``json_schema``, ``length``, ``latency``, ``token_budget``; in :mod:`.text_checks`: ``equals``,
``starts_with``, ``levenshtein``, ``rouge_l``, ``bleu``, ``exact_match``, ``f1``; in
:mod:`.output_checks`: ``is_refusal``, ``finish_reason``. This module holds the table of every
type (``CHECK_TYPES``) and :func:`parse_checks`. The assessment name defaults to the type,
de-duplicated with a suffix (``contains``, ``contains_2``...). Every spec is validated when the
suite loads; errors name the file (or the row's location) and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

import yaml

from .base import EvalContext, JudgeConfigError, Where, check_name
from .check_base import Builder, Check, SpecReader, quote_list, string_values
from .output_checks import OUTPUT_BUILDERS
from .text_checks import TEXT_BUILDERS

Mode = Literal["any", "all"]


@dataclass(kw_only=True)
class Contains(Check):
    """``contains``: the response contains every value (mode ``all``, the default) or at least
    one (mode ``any``)."""

    values: tuple[str, ...]
    mode: Mode = "all"
    case_sensitive: bool = False
    type: ClassVar[str] = "contains"

    def found(self, text: str) -> list[str]:
        haystack = text if self.case_sensitive else text.casefold()
        return [v for v in self.values if (v if self.case_sensitive else v.casefold()) in haystack]

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        found = self.found(ctx.response or "")
        missing = [v for v in self.values if v not in found]
        passed = bool(found) if self.mode == "any" else not missing
        if passed:
            rationale = f"response contains {quote_list(found)}"
        elif self.mode == "any":
            rationale = f"response contains none of {quote_list(self.values)}"
        else:
            rationale = f"response does not contain {quote_list(missing)}"
        return passed, rationale, {"found": found}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "values": list(self.values),
            "mode": self.mode,
            "case_sensitive": self.case_sensitive,
        }


@dataclass(kw_only=True)
class NotContains(Contains):
    """``not_contains``: the negation of ``contains`` with the same mode. With mode ``any`` (the
    default) the response must contain none of the values; with mode ``all`` it fails only when
    it contains every value."""

    mode: Mode = "any"
    type: ClassVar[str] = "not_contains"

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        found = self.found(ctx.response or "")
        hit = bool(found) if self.mode == "any" else len(found) == len(self.values)
        if hit:
            return False, f"response contains {quote_list(found)}", {"found": found}
        if self.mode == "any":
            return True, f"response contains none of {quote_list(self.values)}", {"found": []}
        return True, "response does not contain all of the values", {"found": found}


@dataclass(kw_only=True)
class Regex(Check):
    """``regex``: ``re.search(pattern, response)`` must find a match (``must_match: true``, the
    default) or must not (``must_match: false``)."""

    pattern: str
    must_match: bool = True
    ignore_case: bool = False
    compiled: re.Pattern[str] = field(init=False, repr=False)
    type: ClassVar[str] = "regex"

    def __post_init__(self) -> None:
        self.compiled = re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        match = self.compiled.search(ctx.response or "")
        matched = match.group(0) if match else None
        if self.must_match:
            if match:
                return True, f"response matches /{self.pattern}/ ({matched!r})", {"match": matched}
            return False, f"response does not match /{self.pattern}/", {"match": None}
        if match:
            return False, f"response matches /{self.pattern}/ ({matched!r})", {"match": matched}
        return True, f"response does not match /{self.pattern}/", {"match": None}

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "pattern": self.pattern,
            "must_match": self.must_match,
            "ignore_case": self.ignore_case,
        }


def _load_json(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return (
            None,
            f"response is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        )


@dataclass(kw_only=True)
class Json(Check):
    """``json``: the response parses as JSON."""

    type: ClassVar[str] = "json"

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        _, problem = _load_json(ctx.response or "")
        if problem:
            return False, problem, {}
        return True, "response is valid JSON", {}


@dataclass(kw_only=True)
class JsonSchema(Check):
    """``json_schema``: the response parses as JSON and validates against the schema."""

    schema: dict[str, Any]
    schema_file: str | None = None
    type: ClassVar[str] = "json_schema"

    def __post_init__(self) -> None:
        from jsonschema import validators as schema_validators  # only suites that use it pay

        schema_validators.validator_for(self.schema).check_schema(self.schema)

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        data, problem = _load_json(ctx.response or "")
        if problem:
            return False, problem, {}
        from jsonschema import validators as schema_validators
        from jsonschema.exceptions import best_match

        validator = schema_validators.validator_for(self.schema)(self.schema)
        error = best_match(validator.iter_errors(data))
        if error is None:
            return True, "response matches the JSON schema", {}
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return (
            False,
            f"response does not match the JSON schema at {where}: {error.message}",
            {"path": where},
        )

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "schema": self.schema}
        if self.schema_file:
            out["schema_file"] = self.schema_file
        return out


@dataclass(kw_only=True)
class Length(Check):
    """``length``: character and/or word count within bounds (words: whitespace-separated)."""

    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None
    type: ClassVar[str] = "length"

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        text = ctx.response or ""
        chars, words = len(text), len(text.split())
        problems = []
        if self.min_chars is not None and chars < self.min_chars:
            problems.append(f"{chars} characters < min_chars {self.min_chars}")
        if self.max_chars is not None and chars > self.max_chars:
            problems.append(f"{chars} characters > max_chars {self.max_chars}")
        if self.min_words is not None and words < self.min_words:
            problems.append(f"{words} words < min_words {self.min_words}")
        if self.max_words is not None and words > self.max_words:
            problems.append(f"{words} words > max_words {self.max_words}")
        details = {"chars": chars, "words": words}
        if problems:
            return False, "response length out of bounds: " + "; ".join(problems), details
        return True, f"response length within bounds ({chars} characters, {words} words)", details

    def describe(self) -> dict[str, Any]:
        bounds = {
            k: getattr(self, k)
            for k in ("min_chars", "max_chars", "min_words", "max_words")
            if getattr(self, k) is not None
        }
        return {**super().describe(), **bounds}


@dataclass(kw_only=True)
class Latency(Check):
    """``latency``: the app answered within ``max_seconds``. Not applicable when no latency was
    measured (precomputed responses)."""

    max_seconds: float
    type: ClassVar[str] = "latency"
    needs_response: ClassVar[bool] = False

    def missing(self, ctx: EvalContext) -> str | None:
        if ctx.latency_seconds is None:
            return "no app latency was measured (the response was precomputed)"
        return None

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        latency = float(ctx.latency_seconds or 0.0)
        details = {"latency_seconds": latency}
        if latency > self.max_seconds:
            return False, f"app took {latency:.3f}s > max_seconds {self.max_seconds:g}", details
        return True, f"app took {latency:.3f}s <= max_seconds {self.max_seconds:g}", details

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_seconds": self.max_seconds}


@dataclass(kw_only=True)
class TokenBudget(Check):
    """``token_budget``: the app's total token usage is at most ``max_tokens``. Not applicable
    when the app reported no usage."""

    max_tokens: int
    type: ClassVar[str] = "token_budget"
    needs_response: ClassVar[bool] = False

    def missing(self, ctx: EvalContext) -> str | None:
        if ctx.usage is None:
            return "the app reported no token usage"
        return None

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        total = ctx.usage.total_tokens if ctx.usage is not None else 0
        details = {"total_tokens": total}
        if total > self.max_tokens:
            return False, f"app used {total} tokens > max_tokens {self.max_tokens}", details
        return True, f"app used {total} tokens <= max_tokens {self.max_tokens}", details

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_tokens": self.max_tokens}


# ---- parsing specs ------------------------------------------------------------------------------


def _contains(cls: type[Contains]) -> Builder:
    def build(r: SpecReader, name: str, base_dir: Path | None) -> Check:
        values = string_values(r)
        mode = r.choice("mode", ("any", "all"), "any" if cls is NotContains else "all")
        case = r.boolean("case_sensitive", False)
        r.finish(("values", "mode", "case_sensitive"))
        return cls(name=name, values=values, mode=cast(Mode, mode), case_sensitive=case)

    return build


def _regex(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    pattern = cast(str, r.text("pattern"))
    must_match = r.boolean("must_match", True)
    ignore_case = r.boolean("ignore_case", False)
    r.finish(("pattern", "must_match", "ignore_case"))
    try:
        return Regex(name=name, pattern=pattern, must_match=must_match, ignore_case=ignore_case)
    except re.error as exc:
        raise r.where.error("pattern", f"invalid regular expression: {exc}") from None


def _json(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    r.finish(())
    return Json(name=name)


def _json_schema(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    has_inline, has_file = r.has("schema"), r.has("schema_file")
    if has_inline == has_file:
        raise r.where.error(None, "give exactly one of 'schema' (inline) or 'schema_file'")
    schema_file: str | None = None
    key = "schema"
    if has_inline:
        schema = r.raw("schema")
    else:
        key = "schema_file"
        schema_file = cast(str, r.text("schema_file"))
        path = Path(schema_file)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise r.where.error(key, f"cannot read {path}: {exc}") from None
        try:
            schema = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise r.where.error(key, f"{path} is not valid JSON/YAML: {exc}") from None
    r.finish(("schema", "schema_file"))
    if not isinstance(schema, dict):
        raise r.where.error(key, f"a JSON schema must be an object, got {type(schema).__name__}")
    from jsonschema.exceptions import SchemaError

    try:
        return JsonSchema(name=name, schema=schema, schema_file=schema_file)
    except SchemaError as exc:
        raise r.where.error(key, f"invalid JSON schema: {exc.message}") from None


def _length(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    bounds: dict[str, int | None] = {}
    for key in ("min_chars", "max_chars", "min_words", "max_words"):
        value = r.number(key, integer=True)
        bounds[key] = int(value) if value is not None else None
    r.finish(tuple(bounds))
    if all(v is None for v in bounds.values()):
        raise r.where.error(None, "give at least one of min_chars, max_chars, min_words, max_words")
    for unit in ("chars", "words"):
        low, high = bounds[f"min_{unit}"], bounds[f"max_{unit}"]
        if low is not None and high is not None and low > high:
            raise r.where.error(f"min_{unit}", f"{low} is greater than max_{unit} {high}")
    return Length(
        name=name,
        min_chars=bounds["min_chars"],
        max_chars=bounds["max_chars"],
        min_words=bounds["min_words"],
        max_words=bounds["max_words"],
    )


def _latency(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    value = r.number("max_seconds", positive=True)
    r.finish(("max_seconds",))
    if value is None:
        raise r.where.error("max_seconds", "is required")
    return Latency(name=name, max_seconds=value)


def _token_budget(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    value = r.number("max_tokens", integer=True, positive=True)
    r.finish(("max_tokens",))
    if value is None:
        raise r.where.error("max_tokens", "is required")
    return TokenBudget(name=name, max_tokens=int(value))


_BUILDERS: Mapping[str, Builder] = {
    "contains": _contains(Contains),
    "not_contains": _contains(NotContains),
    "regex": _regex,
    "json": _json,
    "json_schema": _json_schema,
    "length": _length,
    "latency": _latency,
    "token_budget": _token_budget,
    **TEXT_BUILDERS,
    **OUTPUT_BUILDERS,
}

CHECK_TYPES: tuple[str, ...] = tuple(_BUILDERS)


def parse_checks(
    specs: Any,
    where: Where,
    *,
    taken: set[str],
    base_dir: Path | None = None,
) -> list[Check]:
    """Build checks from a list of specs. ``taken`` holds the names already in use (judges,
    earlier checks); new names are added to it. A spec may also be a ready ``Check``."""
    if isinstance(specs, str):
        try:
            specs = json.loads(specs)  # a CSV cell holding JSON text
        except json.JSONDecodeError as exc:
            raise where.error(
                None, f"expected a list of checks (JSON text is accepted): {exc}"
            ) from None
    if not isinstance(specs, (list, tuple)):
        raise where.error(None, f"expected a list of checks, got {type(specs).__name__}")
    out: list[Check] = []
    for index, spec in enumerate(specs):
        item = where.item(f"[{index}]")
        if isinstance(spec, Check):
            if spec.name in taken:
                raise item.error("name", f"{spec.name!r} is already used by another judge or check")
            taken.add(spec.name)
            out.append(spec)
            continue
        if not isinstance(spec, Mapping):
            raise item.error(None, f"expected a mapping with a 'type', got {type(spec).__name__}")
        kind = spec.get("type")
        if kind not in _BUILDERS and isinstance(kind, str):
            plugin = _plugin_check(spec, item, taken)
            if plugin is not None:
                out.append(plugin)
                continue
        if kind not in _BUILDERS:
            raise item.error(
                "type",
                f"unknown check type {kind!r}; types: {', '.join(CHECK_TYPES)}"
                + _installed_types(),
            )
        if spec.get("name") is not None:
            name = check_name(spec["name"], item)
            if name in taken:
                raise item.error("name", f"{name!r} is already used by another judge or check")
        else:
            name, n = str(kind), 2
            while name in taken:
                name, n = f"{kind}_{n}", n + 1
        try:
            check = _BUILDERS[str(kind)](SpecReader(spec, item), name, base_dir)
        except JudgeConfigError as exc:
            raise JudgeConfigError(f"{exc}{_shadowed(str(kind))}") from None
        taken.add(name)
        out.append(check)
    return out


def _shadowed(kind: str) -> str:
    """A hint when an installed package registers a check type that is now built in (built-in
    types come first, so such a package's specs read as the built-in type's)."""
    from ..registry import available

    if kind in available("checks"):
        return (
            f" (an installed package also registers a {kind!r} check type; the built-in type "
            "takes precedence: register the package's under another name)"
        )
    return ""


def _installed_types() -> str:
    from ..registry import available

    installed = sorted(available("checks"))
    return f"; types of installed packages: {', '.join(installed)}" if installed else ""


def _plugin_check(spec: Mapping[str, Any], where: Where, taken: set[str]) -> Any:
    """A check whose type an installed package registers (entry points
    ``pytest_genai_eval.checks``), bound to the spec's other keys; None if no package does."""
    from ..registry import plugin_check

    kind = str(spec["type"])
    name = check_name(spec["name"], where) if spec.get("name") is not None else kind
    if name in taken:
        raise where.error("name", f"{name!r} is already used by another judge or check")
    options = {k: v for k, v in spec.items() if k not in ("type", "name")}
    check = plugin_check(kind, name, options, where)
    if check is not None:
        taken.add(name)
    return check


__all__ = [
    "CHECK_TYPES",
    "Builder",
    "Check",
    "Contains",
    "Json",
    "JsonSchema",
    "JudgeConfigError",
    "Latency",
    "Length",
    "NotContains",
    "Regex",
    "SpecReader",
    "TokenBudget",
    "parse_checks",
]
