"""The simulated user: an LLM that pursues a row's ``goal`` (in its ``persona``) one message at a
time.

It is asked through the same runner as the judges (``runner.LLMJudgeRunner``: the judge
endpoint, temperature 0, the retry budget, the verdict cache), with its own versioned prompt
(``judges/prompts/user_simulator.txt``), and answers ``{"message", "goal_reached"}``. Given the
same transcript it is asked the same question, so a warm rerun of a deterministic app takes
every message from the cache. ``conversation.py`` drives the conversation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .evalset import Row
from .judges import SIMULATOR_PROMPT, JudgeAnswer, JudgeRunner, PromptTemplate
from .judges.base import section
from .judges.conversation import format_transcript

__all__ = ["SIMULATOR", "SIMULATOR_SCHEMA", "SimulatorOutputError", "UserSimulator", "UserTurn"]

SIMULATOR = SIMULATOR_PROMPT
SIMULATOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "goal_reached": {"type": "boolean"},
    },
    "required": ["message", "goal_reached"],
    "additionalProperties": False,
}
_DEFAULT_PERSONA = "(not given: an ordinary user, polite and brief)"


class SimulatorOutputError(Exception):
    """The simulator answered, but not with a usable next message."""


@dataclass(frozen=True)
class UserTurn:
    """The simulator's answer: the user's next message, or None when the goal is reached."""

    message: str | None
    answer: JudgeAnswer

    @property
    def goal_reached(self) -> bool:
        return self.message is None


@dataclass
class UserSimulator:
    template: PromptTemplate = field(default_factory=lambda: PromptTemplate.builtin(SIMULATOR))

    def variables(self, row: Row, transcript: Sequence[dict[str, str]]) -> dict[str, str]:
        return {
            "goal": section("user_goal", row.goal or ""),
            "persona": section("persona", row.persona or _DEFAULT_PERSONA),
            "conversation": section("conversation", format_transcript(transcript)),
        }

    async def next_turn(
        self, row: Row, transcript: Sequence[dict[str, str]], runner: JudgeRunner
    ) -> UserTurn:
        """Ask for the next message. Raises ``JudgeUnavailable`` (no endpoint), ``LLMError``
        (the call failed) or :class:`SimulatorOutputError`."""
        answer = await runner.ask(
            self.template, self.variables(row, transcript), SIMULATOR_SCHEMA, judge=SIMULATOR
        )
        goal_reached = answer.data.get("goal_reached")
        message = answer.data.get("message")
        if not isinstance(goal_reached, bool):
            raise SimulatorOutputError(
                f"the user simulator answered goal_reached {goal_reached!r}, expected true or false"
            )
        text = message.strip() if isinstance(message, str) else ""
        if goal_reached and transcript:
            return UserTurn(None, answer)
        if not text:
            raise SimulatorOutputError(
                "the user simulator wrote no message"
                + ("" if transcript else " to begin the conversation")
            )
        return UserTurn(text, answer)
