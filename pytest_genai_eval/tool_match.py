"""Comparing an agent's tool calls with the calls a row expects, without an LLM.

How calls match is set per suite (``tool_call_match:``), per row (a ``tool_call_match`` column,
whose keys win; its ``tools`` entries are merged into the suite's) and per tool:

``trajectory`` (the sequence of calls):
  * ``strict``: the same calls in the same order;
  * ``unordered``: the same calls in any order (the same multiset);
  * ``subset``: every call made is an expected one (expected calls may be skipped, but when
    calls are expected, making none at all fails);
  * ``superset``: every expected call was made (extra calls are allowed).

  Calls are matched one to one: a call made twice matches two expected calls, not one.

``arguments`` (two calls match when their names are equal and their arguments match):
  * ``exact``: the same arguments;
  * ``ignore``: names only;
  * ``subset``: the arguments given are expected ones (expected arguments may be left out);
  * ``superset``: every expected argument was given (extra arguments are allowed).

  Arguments compare by top-level key; values compare exactly (``1`` equals ``1.0``, ``true``
  does not equal ``1``). An expected call without ``arguments`` matches any arguments; a call
  whose arguments were not a JSON object matches only under ``ignore``.

``tools``: per-tool overrides, ``{search_docs: {arguments: ignore}}``.

Precision is the share of the calls made that match an expected call, recall the share of the
expected calls that were made (the largest one-to-one matching, by name and arguments per the
argument mode), F1 their harmonic mean. With no call made precision is 1.0, with no call
expected recall is 1.0 (nothing was wrong, nothing was missed); F1 is 0.0 when either is 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from .tool_calls import format_call

__all__ = [
    "ARGUMENT_MODES",
    "TRAJECTORY_MODES",
    "ArgumentMode",
    "CallComparison",
    "ToolCallMatch",
    "compare_calls",
    "parse_tool_call_match",
]

TrajectoryMode = Literal["strict", "unordered", "subset", "superset"]
ArgumentMode = Literal["exact", "ignore", "subset", "superset"]
TRAJECTORY_MODES: tuple[str, ...] = ("strict", "unordered", "subset", "superset")
ARGUMENT_MODES: tuple[str, ...] = ("exact", "ignore", "subset", "superset")
_KEYS = ("trajectory", "arguments", "tools")


@dataclass(frozen=True)
class ToolCallMatch:
    """How tool calls are compared (see the module docstring)."""

    trajectory: TrajectoryMode = "strict"
    arguments: ArgumentMode = "exact"
    tools: Mapping[str, ArgumentMode] = field(default_factory=lambda: MappingProxyType({}))

    def argument_mode(self, tool: str) -> ArgumentMode:
        return self.tools.get(tool, self.arguments)

    def merged(self, override: Mapping[str, Any] | None) -> ToolCallMatch:
        """These settings with a row's ``tool_call_match`` (already validated) on top."""
        if not override:
            return self
        other = parse_tool_call_match(override)
        tools = {**self.tools, **other.tools}
        return ToolCallMatch(
            trajectory=other.trajectory if "trajectory" in override else self.trajectory,
            arguments=other.arguments if "arguments" in override else self.arguments,
            tools=MappingProxyType(tools),
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"trajectory": self.trajectory, "arguments": self.arguments}
        if self.tools:
            out["tools"] = {name: {"arguments": mode} for name, mode in self.tools.items()}
        return out


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def parse_tool_call_match(value: Any, where: str = "") -> ToolCallMatch:
    """``{trajectory?, arguments?, tools?: {name: {arguments}}}``; raises ValueError naming the
    key, below ``where`` (``tool_call_match.tools.search_docs.arguments: expected one of
    ...``)."""

    def at(key: str) -> str:
        return f"{where}.{key}" if where else key

    if not isinstance(value, Mapping):
        raise ValueError(
            f"{where + ': ' if where else ''}expected a mapping such as {{trajectory: superset, "
            f"arguments: subset, tools: {{search_docs: {{arguments: ignore}}}}}}, "
            f"got {type(value).__name__}"
        )
    unknown = [str(key) for key in value if key not in _KEYS]
    if unknown:
        raise ValueError(
            f"{where + ': ' if where else ''}unknown key(s) {', '.join(map(repr, unknown))}; "
            "known keys: trajectory, arguments, tools"
        )
    trajectory = _choice(value.get("trajectory", "strict"), TRAJECTORY_MODES, at("trajectory"))
    arguments = _choice(value.get("arguments", "exact"), ARGUMENT_MODES, at("arguments"))
    tools_value = value.get("tools") or {}
    if not isinstance(tools_value, Mapping):
        raise ValueError(
            f"{at('tools')}: expected a mapping of tool name -> {{arguments: ...}}, "
            f"got {type(tools_value).__name__}"
        )
    tools: dict[str, ArgumentMode] = {}
    for name, spec in tools_value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{at('tools')}: tool names must be non-empty strings, got {name!r}")
        if not isinstance(spec, Mapping) or set(spec) - {"arguments"} or "arguments" not in spec:
            raise ValueError(f"{at('tools.' + name)}: expected {{arguments: <mode>}}, got {spec!r}")
        mode = _choice(spec["arguments"], ARGUMENT_MODES, at(f"tools.{name}.arguments"))
        tools[name] = cast(ArgumentMode, mode)
    return ToolCallMatch(
        trajectory=cast(TrajectoryMode, trajectory),
        arguments=cast(ArgumentMode, arguments),
        tools=MappingProxyType(tools),
    )


# ---- values and arguments ------------------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value, booleans only equal booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _arguments_match(expected: Mapping[str, Any], actual: Mapping[str, Any], mode: str) -> bool:
    if mode == "ignore":
        return True
    if actual.get("malformed_arguments") is not None:
        return False
    if "arguments" not in expected:
        return True
    want: Mapping[str, Any] = expected["arguments"]
    got: Mapping[str, Any] = actual.get("arguments") or {}
    if mode == "exact":
        return _same(dict(want), dict(got))
    if mode == "subset":
        return all(key in want and _same(got[key], want[key]) for key in got)
    return all(key in got and _same(got[key], want[key]) for key in want)  # superset


def _argument_differences(expected: Mapping[str, Any], actual: Mapping[str, Any], mode: str) -> str:
    """``order_id "a-1" (expected "A-1"); missing: include_items; unexpected: verbose``."""
    if actual.get("malformed_arguments") is not None:
        return "its arguments are not a JSON object"
    want: Mapping[str, Any] = expected.get("arguments") or {}
    got: Mapping[str, Any] = actual.get("arguments") or {}
    parts = [
        f"{key} {format_value(got[key])} (expected {format_value(want[key])})"
        for key in want
        if key in got and not _same(got[key], want[key])
    ]
    missing = [key for key in want if key not in got] if mode in ("exact", "superset") else []
    unexpected = [key for key in got if key not in want] if mode in ("exact", "subset") else []
    if missing:
        parts.append("missing: " + ", ".join(missing))
    if unexpected:
        parts.append("unexpected: " + ", ".join(unexpected))
    return "; ".join(parts) or "arguments differ"


def format_value(value: Any, limit: int = 60) -> str:
    """A value as JSON text, clipped."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- matching ------------------------------------------------------------------------------------
def _max_matching(allowed: list[list[bool]], actual_count: int) -> dict[int, int]:
    """The largest one-to-one matching expected -> actual (augmenting paths; lists are short).
    Prefers, for each expected call in order, the earliest actual call it can take."""
    owner: dict[int, int] = {}  # actual index -> expected index

    def take(i: int, seen: set[int]) -> bool:
        for j in range(actual_count):
            if allowed[i][j] and j not in seen:
                seen.add(j)
                if j not in owner or take(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(allowed)):
        take(i, set())
    return {i: j for j, i in owner.items()}


@dataclass(frozen=True)
class CallComparison:
    """The verdict on one row's calls: ``passed`` per the trajectory mode, the numbers, and
    ``problems`` (what differed; empty when it passed)."""

    passed: bool
    precision: float
    recall: float
    f1: float
    matched: int
    problems: list[str]

    @property
    def rationale(self) -> str:
        return "; ".join(self.problems)


def compare_calls(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    match: ToolCallMatch,
) -> CallComparison:
    """Compare the calls made with the calls expected, per ``match`` (see the module
    docstring for every rule)."""
    n, m = len(expected), len(actual)
    allowed = [
        [
            e["name"] == a["name"] and _arguments_match(e, a, match.argument_mode(e["name"]))
            for a in actual
        ]
        for e in expected
    ]
    pairs = _max_matching(allowed, m)
    k = len(pairs)
    precision = k / m if m else 1.0
    recall = k / n if n else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    mode = match.trajectory
    if mode == "strict":
        passed = n == m and all(allowed[i][i] for i in range(n))
    elif mode == "unordered":
        passed = k == n == m
    elif mode == "subset":
        passed = k == m and (m > 0 or n == 0)
    else:
        passed = k == n
    problems = [] if passed else _problems(expected, actual, match, pairs)
    order = [pairs[i] for i in sorted(pairs)]
    if not passed and mode == "strict" and order != sorted(order):
        problems.append(
            f"wrong order: expected {' → '.join(c['name'] for c in expected)}, "
            f"called {' → '.join(c['name'] for c in actual)}"
        )
    return CallComparison(passed, precision, recall, f1, k, problems)


def _problems(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    match: ToolCallMatch,
    pairs: Mapping[int, int],
) -> list[str]:
    """What differs, as people say it: no call, wrong arguments, wrong tool, missing call,
    extra call; missing calls are allowed in subset mode and extra calls in superset mode."""
    mode = match.trajectory
    if expected and not actual:
        return [f"no tool call was made; expected {format_call(expected[0])}"
                + (f" and {len(expected) - 1} more" if len(expected) > 1 else "")]
    taken = set(pairs.values())
    lost = [i for i in range(len(expected)) if i not in pairs]
    spare = [j for j in range(len(actual)) if j not in taken]
    problems: list[str] = []
    for i in list(lost):  # the same tool with other arguments
        j = next((j for j in spare if actual[j]["name"] == expected[i]["name"]), None)
        if j is None:
            continue
        lost.remove(i)
        spare.remove(j)
        name = expected[i]["name"]
        diff = _argument_differences(expected[i], actual[j], match.argument_mode(name))
        problems.append(f"wrong arguments for {name}: {diff}")
    while lost and spare:  # another tool in its place
        i, j = lost.pop(0), spare.pop(0)
        problems.append(
            f"wrong tool: called {format_call(actual[j], 100)} instead of "
            f"{format_call(expected[i], 100)}"
        )
    if mode != "subset":
        problems += [f"missing call: {format_call(expected[i], 100)}" for i in lost]
    if mode != "superset":
        problems += [f"extra call: {format_call(actual[j], 100)}" for j in spare]
    return problems
