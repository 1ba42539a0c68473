"""context_sufficiency: does the retrieved context hold what is needed for the expected answer?"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import (
    EvalContext,
    JudgeRunner,
    PromptTemplate,
    ask_yes_no,
    context_section,
    ground_truth_section,
    section,
)


@dataclass
class ContextSufficiency:
    template: PromptTemplate = field(
        default_factory=lambda: PromptTemplate.builtin("context_sufficiency")
    )
    name: str = "context_sufficiency"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.has_context and ctx.has_ground_truth

    def missing(self, ctx: EvalContext) -> str | None:
        if not ctx.has_context:
            return "needs retrieved_context with content"
        if not ctx.has_ground_truth:
            return "needs expected_facts or expected_response"
        return None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        variables = {
            "request": section("request", ctx.request),
            "ground_truth": ground_truth_section(ctx.row),
            "retrieved_context": context_section(ctx.context_chunks),
        }
        return [
            await ask_yes_no(
                runner, judge=self.name, name=self.name, template=self.template, variables=variables
            )
        ]
