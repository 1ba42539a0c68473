"""promptfoo test cases: a ``promptfooconfig.yaml`` (``prompts``, ``tests``, ``defaultTest``) or a
tests file (a list of ``{description, vars, assert, metadata}``).

The request is the config's first inline prompt with the vars filled in (``{{ name }}``), or,
without an inline prompt, the var named ``question``, ``query``, ``input``, ``prompt``,
``request`` or ``user_input`` (or the only var). All vars stay in the extra column ``vars``, a
test's ``description`` and ``metadata`` too. Assertions (``assert`` and ``defaultTest.assert``)
become row checks and ground truth, see :data:`ASSERT_TYPES`; one with no equivalent here is left
out and named in a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..evalset import RowIssue
from .base import Entry, Imported, context_chunks

__all__ = ["ASSERT_TYPES", "convert", "looks_like"]

_REQUEST_VARS = ("question", "query", "input", "prompt", "request", "user_input")
_TEMPLATE_VAR = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


class _Row:
    """What a test's assertions add to its row."""

    def __init__(self) -> None:
        self.checks: list[dict[str, Any]] = []
        self.guidelines: list[str] = []
        self.expected_response: str | None = None
        self.needs_context = False
        self.names: dict[str, int] = {}

    def check(self, spec: dict[str, Any]) -> None:
        base = str(spec["type"])
        count = self.names.get(base, 0) + 1
        self.names[base] = count
        self.checks.append({"name": base if count == 1 else f"{base}_{count}", **spec})


def _text_values(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else json.dumps(v) for v in values]


def _contains(mode: str, case: bool, negate: bool) -> Callable[[_Row, Mapping[str, Any]], None]:
    def add(row: _Row, a: Mapping[str, Any]) -> None:
        row.check({"type": "not_contains" if negate else "contains",
                   "values": _text_values(a.get("value")), "mode": mode,
                   "case_sensitive": case})

    return add


def _equals(row: _Row, a: Mapping[str, Any]) -> None:
    row.check({"type": "equals", "value": _text_values(a.get("value"))[0]})


def _starts_with(row: _Row, a: Mapping[str, Any]) -> None:
    row.check({"type": "starts_with", "values": _text_values(a.get("value")),
               "case_sensitive": True})


def _regex(must_match: bool) -> Callable[[_Row, Mapping[str, Any]], None]:
    def add(row: _Row, a: Mapping[str, Any]) -> None:
        row.check({"type": "regex", "pattern": str(a.get("value")), "must_match": must_match})

    return add


def _is_json(row: _Row, a: Mapping[str, Any]) -> None:
    schema = a.get("value")
    if isinstance(schema, Mapping):
        row.check({"type": "json_schema", "schema": dict(schema)})
    else:
        row.check({"type": "json"})


def _latency(row: _Row, a: Mapping[str, Any]) -> None:
    row.check({"type": "latency", "max_seconds": float(a.get("threshold") or 0) / 1000.0})


def _bleu(row: _Row, a: Mapping[str, Any]) -> None:
    spec: dict[str, Any] = {"type": "bleu", "min_score": float(a.get("threshold") or 0.5)}
    if a.get("value") is not None:
        spec["reference"] = _text_values(a.get("value"))[0]
    row.check(spec)


def _refusal(expect: str) -> Callable[[_Row, Mapping[str, Any]], None]:
    def add(row: _Row, a: Mapping[str, Any]) -> None:
        row.check({"type": "is_refusal", "expect": expect})

    return add


def _finish_reason(row: _Row, a: Mapping[str, Any]) -> None:
    row.check({"type": "finish_reason", "allowed": _text_values(a.get("value"))})


def _rubric(row: _Row, a: Mapping[str, Any]) -> None:
    row.guidelines += _text_values(a.get("value"))


def _reference(row: _Row, a: Mapping[str, Any]) -> None:
    if a.get("value") is not None:
        row.expected_response = _text_values(a.get("value"))[0]


def _context(row: _Row, a: Mapping[str, Any]) -> None:
    row.needs_context = True
    if a.get("type") == "context-recall":
        _reference(row, a)


def _judged_by_default(row: _Row, a: Mapping[str, Any]) -> None:
    """``answer-relevance``: the built-in ``relevance_to_query`` judge runs on every row."""


# promptfoo assertion type -> what it becomes here (docs: promptfoo.dev/docs/configuration/expected-outputs)
ASSERT_TYPES: Mapping[str, Callable[[_Row, Mapping[str, Any]], None]] = {
    "equals": _equals,
    "contains": _contains("all", True, False),
    "icontains": _contains("all", False, False),
    "contains-all": _contains("all", True, False),
    "icontains-all": _contains("all", False, False),
    "contains-any": _contains("any", True, False),
    "icontains-any": _contains("any", False, False),
    "not-contains": _contains("any", True, True),
    "not-icontains": _contains("any", False, True),
    "not-contains-any": _contains("any", True, True),
    "not-icontains-any": _contains("any", False, True),
    "not-contains-all": _contains("all", True, True),
    "not-icontains-all": _contains("all", False, True),
    "starts-with": _starts_with,
    "regex": _regex(True),
    "not-regex": _regex(False),
    "is-json": _is_json,
    "latency": _latency,
    "bleu": _bleu,
    "is-refusal": _refusal("refusal"),
    "not-is-refusal": _refusal("answer"),
    "finish-reason": _finish_reason,
    "llm-rubric": _rubric,
    "model-graded-closedqa": _rubric,
    "g-eval": _rubric,
    "factuality": _reference,
    "answer-relevance": _judged_by_default,
    "context-faithfulness": _context,
    "context-relevance": _context,
    "context-recall": _context,
}


def looks_like(raw: Mapping[str, Any]) -> bool:
    return "vars" in raw or "assert" in raw or isinstance(raw.get("tests"), list)


def _render(template: str, values: Mapping[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        value: Any = values
        for part in match.group(1).split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            return match.group(0)
        return value if isinstance(value, str) else json.dumps(value)

    return _TEMPLATE_VAR.sub(fill, template)


def _request(prompt: str | None, values: Mapping[str, Any]) -> Any:
    if prompt is not None:
        text = _render(prompt, values)
        try:
            messages = json.loads(text)
        except ValueError:
            return text
        if isinstance(messages, list) and all(isinstance(m, Mapping) for m in messages):
            return {"messages": messages}
        return text
    for name in _REQUEST_VARS:
        if name in values:
            return values[name]
    if len(values) == 1:
        return next(iter(values.values()))
    return None


def _inline_prompt(config: Mapping[str, Any], out: Imported, source: str) -> str | None:
    prompts = config.get("prompts")
    if prompts is None:
        return None
    items = prompts if isinstance(prompts, list) else [prompts]
    inline = []
    for item in items:
        text = item.get("raw") if isinstance(item, Mapping) else item
        if isinstance(text, str) and not text.startswith("file://"):
            inline.append(text)
    if len(items) > 1:
        out.warnings.append(
            f"{source}: the promptfoo config has {len(items)} prompts; the rows use "
            + ("the first inline one" if inline else "the request var")
        )
    return inline[0] if inline else None


def _tests(raw: Mapping[str, Any], location: str) -> tuple[list[Entry], Mapping[str, Any], Any]:
    """``(tests, defaultTest, config)`` from a config, or the entry itself as one test."""
    if isinstance(raw.get("tests"), list):
        default = raw.get("defaultTest")
        return (
            [(f"tests[{i}]", test) for i, test in enumerate(raw["tests"])],
            default if isinstance(default, Mapping) else {},
            raw,
        )
    return [(location, raw)], {}, None


def convert(entries: list[Entry], source: str) -> Imported:
    out = Imported()
    unmapped: dict[str, list[str]] = {}
    for entry_location, entry in entries:
        if not isinstance(entry, Mapping):
            out.issues.append(
                RowIssue(source, entry_location, None,
                         "expected a promptfoo test case (vars, assert) or a config with tests; "
                         "tests given as file:// paths are not read")
            )
            continue
        tests, default, config = _tests(entry, entry_location)
        prompt = _inline_prompt(config, out, source) if config is not None else None
        for location, test in tests:
            if not isinstance(test, Mapping):
                out.issues.append(
                    RowIssue(source, location, None,
                             f"expected a promptfoo test case, got {type(test).__name__} "
                             "(tests given as file:// paths are not read)")
                )
                continue
            values = {**dict(default.get("vars") or {}), **dict(test.get("vars") or {})}
            built = _Row()
            for index, item in enumerate([*(default.get("assert") or []),
                                          *(test.get("assert") or [])]):
                kind = item.get("type") if isinstance(item, Mapping) else None
                add = ASSERT_TYPES.get(str(kind))
                if add is None:
                    unmapped.setdefault(str(kind), []).append(f"{location} assert[{index}]")
                    continue
                add(built, item)
            row: dict[str, Any] = {"request": _request(prompt, values), "vars": values}
            if row["request"] is None:
                out.issues.append(
                    RowIssue(source, location, "vars",
                             "no request: name a var one of " + ", ".join(_REQUEST_VARS)
                             + ", or give an inline prompt in the config")
                )
                continue
            for key in ("description", "metadata"):
                if test.get(key) is not None:
                    row[key] = test[key]
            if built.checks:
                row["checks"] = built.checks
            if built.guidelines:
                row["guidelines"] = built.guidelines
            if built.expected_response is not None:
                row["expected_response"] = built.expected_response
            if built.needs_context and values.get("context") is not None:
                context = values["context"]
                row["retrieved_context"] = context_chunks(
                    context if isinstance(context, list) else [context]
                )
            out.entries.append((location, row))
    for kind, where in unmapped.items():
        shown = ", ".join(where[:3]) + (f", ... and {len(where) - 3} more" if len(where) > 3 else "")
        out.warnings.append(
            f"{source}: promptfoo assertion type {kind!r} has no equivalent here and was left "
            f"out ({len(where)} time(s): {shown})"
        )
    return out
