"""tool_call_correctness and tool_call_efficiency: the tool calls an agent made.

``tool_call_correctness`` compares the calls with the row's ``expected_tool_calls`` without an
LLM when the row has them (kind "check"; the modes of ``tool_match.py``; precision, recall and
F1 in the assessment's details), and otherwise asks an LLM judge whether the calls fit the
request and the available tools. ``tool_call_efficiency`` asks an LLM judge whether any call
was redundant or needless (it sees the calls' results when the transcript has them).

Default selection: both run when the response made tool calls; ``tool_call_correctness`` also
runs when the row has ``expected_tool_calls``, so a row expecting calls whose response made none
fails ("no tool call was made"), and ``expected_tool_calls: []`` says no call may be made.
Neither runs on a row without any tool call involved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..results import Assessment, AssessmentKind
from ..tool_match import ToolCallMatch, compare_calls
from .base import EvalContext, Judge, JudgeRunner, PromptTemplate, ask_yes_no, section

__all__ = [
    "ToolCallCheck",
    "ToolCallCorrectness",
    "ToolCallEfficiency",
    "format_tool_calls",
    "format_tools",
]

CORRECTNESS = "tool_call_correctness"
EFFICIENCY = "tool_call_efficiency"
_RESULT_LIMIT = 2000  # characters of one tool result shown to the efficiency judge


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def format_tools(tools: Sequence[Mapping[str, Any]] | None) -> str:
    """The available tools as prompt text: name, description and parameter schema."""
    if not tools:
        return "(the available tools were not given)"
    lines = []
    for tool in tools:
        line = f"- {tool['name']}"
        if tool.get("description"):
            line += f": {tool['description']}"
        if tool.get("parameters"):
            line += f"\n  parameters: {_json(tool['parameters'])}"
        lines.append(line)
    return "\n".join(lines)


def format_tool_calls(calls: Sequence[Mapping[str, Any]], *, results: bool) -> str:
    """The calls in order as prompt text, each with its arguments as JSON (and, with
    ``results``, the tool's result when known)."""
    lines = []
    for index, call in enumerate(calls, 1):
        if call.get("malformed_arguments") is not None:
            arguments = f"(arguments that are not a JSON object) {call['malformed_arguments']}"
        else:
            arguments = _json(call.get("arguments") or {})
        lines.append(f"{index}. {call['name']} {arguments}")
        result = call.get("result")
        if results and result is not None:
            text = str(result)
            if len(text) > _RESULT_LIMIT:
                text = text[:_RESULT_LIMIT] + f" … [{len(text) - _RESULT_LIMIT} more chars]"
            lines.append(f"   result: {text}")
    return "\n".join(lines) or "(no tool call)"


def _variables(ctx: EvalContext, *, results: bool) -> dict[str, str]:
    return {
        "request": section("request", ctx.request),
        "available_tools": section("available_tools", format_tools(ctx.available_tools)),
        "tool_calls": section(
            "tool_calls", format_tool_calls(ctx.tool_calls or [], results=results)
        ),
    }


@dataclass
class ToolCallCheck:
    """tool_call_correctness against ``expected_tool_calls``: no LLM."""

    match: ToolCallMatch = field(default_factory=ToolCallMatch)
    name: str = CORRECTNESS
    kind: AssessmentKind = "check"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.row.expected_tool_calls is not None

    def missing(self, ctx: EvalContext) -> str | None:
        return None if ctx.row.expected_tool_calls is not None else "needs expected_tool_calls"

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        return [self.assess(ctx)]

    def assess(self, ctx: EvalContext) -> Assessment:
        started = time.perf_counter()
        expected = ctx.row.expected_tool_calls or []
        actual = ctx.tool_calls or []
        match = self.match.merged(ctx.row.tool_call_match)
        outcome = compare_calls(expected, actual, match)
        modes = f"trajectory {match.trajectory}, arguments {match.arguments}"
        if not outcome.passed:
            rationale = outcome.rationale
        elif not expected and not actual:
            rationale = "no tool call was expected and none was made"
        else:
            rationale = f"{outcome.matched} of {len(expected)} expected call(s) made"
            extra = len(actual) - outcome.matched
            if extra:
                rationale += f", {extra} more call(s) allowed"
            rationale += f" ({modes})"
        details: dict[str, Any] = {
            **match.describe(),
            "expected_count": len(expected),
            "actual_count": len(actual),
            "matched": outcome.matched,
            "precision": outcome.precision,
            "recall": outcome.recall,
            "f1": outcome.f1,
        }
        if outcome.problems:
            details["problems"] = outcome.problems
        return Assessment(
            name=self.name,
            judge=self.name,
            kind="check",
            rating="yes" if outcome.passed else "no",
            rationale=rationale,
            latency_seconds=time.perf_counter() - started,
            details=details,
        )


@dataclass
class ToolCallCorrectness:
    """tool_call_correctness: the check above when the row has expected_tool_calls, else an LLM
    judge of the calls against the request and the available tools."""

    template: PromptTemplate = field(default_factory=lambda: PromptTemplate.builtin(CORRECTNESS))
    tool_call_match: ToolCallMatch = field(default_factory=ToolCallMatch)
    name: str = CORRECTNESS
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return bool(ctx.tool_calls) or ctx.row.expected_tool_calls is not None

    def missing(self, ctx: EvalContext) -> str | None:
        if ctx.row.expected_tool_calls is None and not ctx.tool_calls:
            return "needs tool calls in the response, or expected_tool_calls"
        return None

    def for_row(self, ctx: EvalContext) -> Judge:
        """The judge that runs on this row: the deterministic check when it has ground truth
        (so panels and repeats, which are for LLM judges, leave it alone)."""
        if ctx.row.expected_tool_calls is not None:
            return ToolCallCheck(self.tool_call_match)
        return self

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        if ctx.row.expected_tool_calls is not None:
            return [ToolCallCheck(self.tool_call_match).assess(ctx)]
        return [
            await ask_yes_no(
                runner,
                judge=self.name,
                name=self.name,
                template=self.template,
                variables=_variables(ctx, results=False),
            )
        ]


@dataclass
class ToolCallEfficiency:
    """tool_call_efficiency: were any calls redundant or needless? (LLM)"""

    template: PromptTemplate = field(default_factory=lambda: PromptTemplate.builtin(EFFICIENCY))
    name: str = EFFICIENCY
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return bool(ctx.tool_calls)

    def missing(self, ctx: EvalContext) -> str | None:
        return None if ctx.tool_calls else "needs tool calls in the response"

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        return [
            await ask_yes_no(
                runner,
                judge=self.name,
                name=self.name,
                template=self.template,
                variables=_variables(ctx, results=True),
            )
        ]
