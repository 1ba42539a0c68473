"""guideline_adherence (per-row guidelines) and global_guideline_adherence (suite guidelines)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, PromptTemplate, ask_yes_no, bullet_list, section


def named_guidelines(
    judge: str, guidelines: Mapping[str, Sequence[str]] | Sequence[str] | None
) -> list[tuple[str, list[str]]]:
    """``(assessment name, guidelines)`` pairs: one per name of a named dict
    (``<judge>/<name>``), else one for the whole list."""
    if isinstance(guidelines, Mapping):
        return [(f"{judge}/{key}", list(value)) for key, value in guidelines.items()]
    return [(judge, list(guidelines or []))]


def _variables(ctx: EvalContext, guidelines: list[str]) -> dict[str, str]:
    return {
        "request": section("request", ctx.request),
        "response": section("response", ctx.response or ""),
        "guidelines": section("guidelines", bullet_list(guidelines)),
    }


@dataclass
class GuidelineAdherence:
    """One verdict for a list of guidelines; one verdict per name for a named dict."""

    template: PromptTemplate = field(
        default_factory=lambda: PromptTemplate.builtin("guideline_adherence")
    )
    name: str = "guideline_adherence"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return bool(ctx.row.guidelines)

    def missing(self, ctx: EvalContext) -> str | None:
        if not ctx.row.guidelines:
            return "needs guidelines on the row"
        if ctx.response is None:
            return "needs a response"
        return None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        named = named_guidelines(self.name, ctx.row.guidelines)
        return list(
            await asyncio.gather(
                *(
                    ask_yes_no(
                        runner,
                        judge=self.name,
                        name=name,
                        template=self.template,
                        variables=_variables(ctx, items),
                    )
                    for name, items in named
                )
            )
        )


@dataclass
class GlobalGuidelineAdherence:
    template: PromptTemplate = field(
        default_factory=lambda: PromptTemplate.builtin("global_guideline_adherence")
    )
    name: str = "global_guideline_adherence"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return bool(ctx.global_guidelines)

    def missing(self, ctx: EvalContext) -> str | None:
        if not ctx.global_guidelines:
            return "needs global guidelines on the suite"
        if ctx.response is None:
            return "needs a response"
        return None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        variables = _variables(ctx, list(ctx.global_guidelines))
        return [
            await ask_yes_no(
                runner, judge=self.name, name=self.name, template=self.template, variables=variables
            )
        ]
