"""correctness: does the response match the ground truth (expected facts or expected response)?"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, PromptTemplate, ask_yes_no, bullet_list, section


@dataclass
class Correctness:
    template: PromptTemplate = field(default_factory=lambda: PromptTemplate.builtin("correctness"))
    name: str = "correctness"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.has_ground_truth

    def missing(self, ctx: EvalContext) -> str | None:
        if not ctx.has_ground_truth:
            return "needs expected_facts or expected_response"
        if ctx.response is None:
            return "needs a response"
        return None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        row = ctx.row
        if row.expected_facts:
            truth = section("expected_facts", bullet_list(row.expected_facts))
        else:
            truth = section("expected_response", row.expected_response or "")
        variables = {
            "request": section("request", ctx.request),
            "response": section("response", ctx.response or ""),
            "ground_truth": truth,
        }
        return [
            await ask_yes_no(
                runner, judge=self.name, name=self.name, template=self.template, variables=variables
            )
        ]
