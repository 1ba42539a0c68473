"""The conversation judges: each reads a whole conversation's transcript (one verdict per row).

``conversation_completeness`` (were all of the user's requests, or the simulated user's goal,
met by the end?), ``knowledge_retention`` (did the assistant keep what the user said earlier?),
``role_adherence`` (did it keep its role: the row's ``assistant_role`` when given?),
``user_frustration`` (did the user end the conversation frustrated? yes: not frustrated) and
``conversational_guidelines`` (the row's ``guidelines``, over the whole conversation; a named
dict gives one verdict per name).

Default selection: they run on conversation rows (``turns`` or ``goal``), the last one when the
row has guidelines; never on single-turn rows, and never on a conversation's turns (the turns
have the single-turn judges, ``conversation.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner, PromptTemplate, ask_yes_no, bullet_list, section
from .guidelines import named_guidelines

__all__ = [
    "CONVERSATION_JUDGES",
    "ConversationCompleteness",
    "ConversationalGuidelines",
    "KnowledgeRetention",
    "RoleAdherence",
    "UserFrustration",
    "format_transcript",
    "is_conversation_judge",
]

CONVERSATION_JUDGES: tuple[str, ...] = (
    "conversation_completeness",
    "knowledge_retention",
    "role_adherence",
    "conversational_guidelines",
    "user_frustration",
)
_NEEDS_CONVERSATION = "needs a conversation (a row with turns or goal)"


def is_conversation_judge(name: str) -> bool:
    return name in CONVERSATION_JUDGES


def format_transcript(messages: Sequence[dict[str, str]]) -> str:
    """``user: ...`` / ``assistant: ...`` lines, one message after another."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages) or "(empty conversation)"


def _transcript(ctx: EvalContext) -> str:
    return section("conversation", format_transcript(ctx.transcript or ()))


@dataclass
class _ConversationJudge:
    """A yes/no question about the transcript; subclasses add their own variables."""

    template: PromptTemplate
    name: str
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.transcript is not None

    def missing(self, ctx: EvalContext) -> str | None:
        return None if ctx.transcript is not None else _NEEDS_CONVERSATION

    def variables(self, ctx: EvalContext) -> dict[str, str]:
        return {"conversation": _transcript(ctx)}

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        return [
            await ask_yes_no(
                runner,
                judge=self.name,
                name=self.name,
                template=self.template,
                variables=self.variables(ctx),
            )
        ]


def _builtin(name: str) -> PromptTemplate:
    return PromptTemplate.builtin(name)


@dataclass
class ConversationCompleteness(_ConversationJudge):
    template: PromptTemplate = field(default_factory=lambda: _builtin("conversation_completeness"))
    name: str = "conversation_completeness"

    def variables(self, ctx: EvalContext) -> dict[str, str]:
        goal = ctx.row.goal or "(not given: every request the user made in the conversation)"
        return {**super().variables(ctx), "goal": section("user_goal", goal)}


@dataclass
class KnowledgeRetention(_ConversationJudge):
    template: PromptTemplate = field(default_factory=lambda: _builtin("knowledge_retention"))
    name: str = "knowledge_retention"


@dataclass
class RoleAdherence(_ConversationJudge):
    template: PromptTemplate = field(default_factory=lambda: _builtin("role_adherence"))
    name: str = "role_adherence"

    def variables(self, ctx: EvalContext) -> dict[str, str]:
        role = ctx.row.assistant_role or (
            "(not given: the helpful assistant role the conversation establishes)"
        )
        return {**super().variables(ctx), "assistant_role": section("assistant_role", role)}


@dataclass
class UserFrustration(_ConversationJudge):
    template: PromptTemplate = field(default_factory=lambda: _builtin("user_frustration"))
    name: str = "user_frustration"


@dataclass
class ConversationalGuidelines(_ConversationJudge):
    """The row's guidelines over the whole conversation; a named dict gives one verdict per
    name (``conversational_guidelines/<name>``)."""

    template: PromptTemplate = field(default_factory=lambda: _builtin("conversational_guidelines"))
    name: str = "conversational_guidelines"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.transcript is not None and bool(ctx.row.guidelines)

    def missing(self, ctx: EvalContext) -> str | None:
        if ctx.transcript is None:
            return _NEEDS_CONVERSATION
        return None if ctx.row.guidelines else "needs guidelines on the conversation row"

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        named = named_guidelines(self.name, ctx.row.guidelines)
        transcript = _transcript(ctx)
        return list(
            await asyncio.gather(
                *(
                    ask_yes_no(
                        runner,
                        judge=self.name,
                        name=name,
                        template=self.template,
                        variables={
                            "conversation": transcript,
                            "guidelines": section("guidelines", bullet_list(items)),
                        },
                    )
                    for name, items in named
                )
            )
        )
