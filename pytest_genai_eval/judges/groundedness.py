"""groundedness: is every claim of the response supported by the retrieved context?"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, PromptTemplate, ask_yes_no, context_section, section


@dataclass
class Groundedness:
    template: PromptTemplate = field(default_factory=lambda: PromptTemplate.builtin("groundedness"))
    name: str = "groundedness"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.has_context

    def missing(self, ctx: EvalContext) -> str | None:
        if not ctx.has_context:
            return "needs retrieved_context with content"
        if ctx.response is None:
            return "needs a response"
        return None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        variables = {
            "request": section("request", ctx.request),
            "retrieved_context": context_section(ctx.context_chunks),
            "response": section("response", ctx.response or ""),
        }
        return [
            await ask_yes_no(
                runner, judge=self.name, name=self.name, template=self.template, variables=variables
            )
        ]
