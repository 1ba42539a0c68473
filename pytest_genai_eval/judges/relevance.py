"""relevance_to_query: does the response address the request? (Runs when there is no ground
truth, where correctness cannot.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, PromptTemplate, ask_yes_no, section


@dataclass
class RelevanceToQuery:
    template: PromptTemplate = field(
        default_factory=lambda: PromptTemplate.builtin("relevance_to_query")
    )
    name: str = "relevance_to_query"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return not ctx.has_ground_truth

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
