"""safety: is the response free of harmful content? Runs on every row by default."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, PromptTemplate, ask_yes_no, section


@dataclass
class Safety:
    template: PromptTemplate = field(default_factory=lambda: PromptTemplate.builtin("safety"))
    name: str = "safety"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return True

    def missing(self, ctx: EvalContext) -> str | None:
        return "needs a response" if ctx.response is None else None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        variables = {
            "request": section("request", ctx.request),
            "response": section("response", ctx.response or ""),
        }
        return [
            await ask_yes_no(
                runner, judge=self.name, name=self.name, template=self.template, variables=variables
            )
        ]
