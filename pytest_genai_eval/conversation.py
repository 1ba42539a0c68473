"""Evaluating a conversation row: the app called turn by turn, each turn judged, the transcript
judged, everything combined into one :class:`~pytest_genai_eval.results.RowResult`.

The app receives ``{"messages": [...]}`` with the whole conversation so far, its own earlier
answers included (the text of each answer). Scripted rows (``turns``) send their turns in order;
simulated rows (``goal``) take each message from the user simulator (``simulator.py``) until it
says the goal is reached or ``max_turns`` turns were played.

Each turn is judged like a single-turn row (the judges its fields select; suite checks and
custom judges too) with the conversation so far shown to the judges before its request; the
conversation judges (``judges/conversation.py``) judge the transcript. A judge's verdicts on the
turns combine into one assessment of the row under the judge's name: ``no`` if some turn said no
(``details["turn"]`` is the first such turn, so the root cause reads ``turn 2: correctness``),
else an error if some turn errored, else ``yes``. Metrics count conversation rows, not turns.
Latency, app tokens and tool calls of the row are the sums over its turns.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .evalset import Row
from .judge_catalog import builtin
from .judges import EvalContext, JudgeSet, JudgeUnavailable
from .judges.base import JudgeRunner, PromptTemplate, joined_models, sum_usage
from .judges.conversation import is_conversation_judge
from .llm import LLMError
from .results import NOT_APPLICABLE, Assessment, RowResult, TokenUsage, TurnResult
from .simulator import SimulatorOutputError, UserSimulator
from .targets import AppCallError, TimedOutput

__all__ = ["AppCaller", "combine_turns", "evaluate_conversation"]

AppCaller = Callable[[Row], Awaitable[TimedOutput]]
Message = dict[str, str]


@dataclass
class _Played:
    """A conversation as played: the turns, the app's outputs, and how it ended."""

    turns: list[TurnResult] = field(default_factory=list)
    outputs: list[TimedOutput] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    app_error: str | None = None
    unfinished: Assessment | None = None  # the simulator could not go on: skipped or error
    simulation: dict[str, Any] | None = None


def _turn_row(row: Row, messages: Sequence[Message], index: int) -> Row:
    """The row one turn is called and judged as: the conversation so far as its request, the
    turn's ground truth and guidelines (none for a simulated turn)."""
    turn = row.turns[index] if row.turns is not None else None
    return row.model_copy(
        update={
            "request": {"messages": list(messages)},
            "messages": list(messages),
            "expected_facts": turn.expected_facts if turn else None,
            "expected_response": turn.expected_response if turn else None,
            "guidelines": turn.guidelines if turn else None,
        }
    )


async def _play_turn(
    row: Row, played: _Played, request: str, call_app: AppCaller, *, simulated: bool
) -> bool:
    """Send one user message with the history; False when the app failed."""
    index = len(played.turns)
    messages = [*played.messages, {"role": "user", "content": request}]
    turn = TurnResult(index=index + 1, request=request, simulated=simulated)
    played.turns.append(turn)
    try:
        timed = await call_app(_turn_row(row, messages, index))
    except AppCallError as exc:
        played.app_error = f"turn {index + 1}: {exc}"
        return False
    output = timed.output
    turn.response = output.text
    turn.latency_seconds = timed.latency_seconds
    turn.app_usage = output.usage
    turn.tool_calls = output.tool_calls
    turn.retrieved_context = output.retrieved_context
    played.outputs.append(timed)
    played.messages = [*messages, {"role": "assistant", "content": output.text or ""}]
    return True


async def _play_scripted(row: Row, call_app: AppCaller) -> _Played:
    played = _Played()
    for turn in row.turns or []:
        if not await _play_turn(row, played, turn.request, call_app, simulated=False):
            break
    return played


async def _play_simulated(
    row: Row, call_app: AppCaller, runner: JudgeRunner, template: PromptTemplate | None
) -> _Played:
    simulator = UserSimulator() if template is None else UserSimulator(template)
    max_turns = row.max_turns or 1
    played = _Played()
    usage: list[TokenUsage] = []
    state: dict[str, Any] = {
        "goal": row.goal,
        "persona": row.persona,
        "max_turns": max_turns,
        "prompt_version": simulator.template.version,
        "model": None,
        "calls": 0,
        "cached_calls": 0,
        "goal_reached": False,
        "stopped": "max_turns",
    }
    played.simulation = state
    opening = row.request_text if row.messages else None  # the row's request, if any
    if opening and not await _play_turn(row, played, opening, call_app, simulated=False):
        state["stopped"] = "app_error"
        return played
    while len(played.turns) < max_turns:
        try:
            step = await simulator.next_turn(row, played.messages, runner)
        except JudgeUnavailable as exc:
            state["stopped"] = "not_run"
            played.unfinished = Assessment(
                name="user_simulator",
                judge="user_simulator",
                skipped=f"{exc} (the simulated user needs it)",
            )
            break
        except (LLMError, SimulatorOutputError) as exc:
            state["stopped"] = "error"
            played.unfinished = Assessment(
                name="user_simulator",
                judge="user_simulator",
                error=f"the user simulator failed after turn {len(played.turns)}: {exc}",
            )
            break
        state["calls"] += 1
        state["cached_calls"] += int(step.answer.cached)
        state["model"] = step.answer.model
        usage.append(step.answer.usage)
        if step.goal_reached:
            state["goal_reached"], state["stopped"] = True, "goal_reached"
            break
        assert step.message is not None
        if not await _play_turn(row, played, step.message, call_app, simulated=True):
            state["stopped"] = "app_error"
            break
    state["turns"] = len(played.turns)
    state["usage"] = sum_usage(usage).to_dict()
    return played


async def _judge(judges: JudgeSet, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
    to_run, not_applicable = judges.plan(ctx)
    batches = await asyncio.gather(*(judge.run(ctx, runner) for judge in to_run))
    return [a for batch in batches for a in batch] + not_applicable


def _split(judges: JudgeSet) -> tuple[JudgeSet, JudgeSet]:
    """(the turns' judges: every judge but the conversation judges, with checks and custom
    judges; the conversation judges alone)."""
    turn = dataclasses.replace(
        judges, judges=[j for j in judges.judges if not is_conversation_judge(j.name)]
    )
    whole = dataclasses.replace(
        judges,
        judges=[j for j in judges.judges if is_conversation_judge(j.name)],
        extra=[],
        row_checks={},
    )
    return turn, whole


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _outcome(assessment: Assessment) -> str:
    if assessment.rating is not None:
        return assessment.rating
    if assessment.error is not None:
        return "error"
    return "not applicable" if assessment.not_applicable else "not run"


def _by_turn(items: Sequence[tuple[int, Assessment]], text: Callable[[Assessment], str]) -> str:
    if len(items) == 1:
        return text(items[0][1])
    return "; ".join(f"turn {index}: {text(a)}" for index, a in items)


def combine_turns(name: str, items: Sequence[tuple[int, Assessment]]) -> Assessment:
    """One assessment of a conversation row from a judge's verdicts on its turns
    (``(turn number, assessment)``, in turn order)."""
    first = items[0][1]
    out = Assessment(name=name, judge=first.judge, kind=first.kind)
    failing = [(i, a) for i, a in items if a.failed]
    errors = [(i, a) for i, a in items if a.error is not None]
    rated = [(i, a) for i, a in items if a.rating is not None]
    not_run = [(i, a) for i, a in items if a.not_run]
    if failing:
        out.rating = "no"
        out.rationale = _by_turn(failing, lambda a: a.rationale or "no rationale")
        out.details["turn"] = failing[0][0]
    elif errors:
        out.error = _by_turn(errors, lambda a: a.error or "")
    elif rated and not not_run:
        out.rating = "yes"
        out.rationale = (
            rated[0][1].rationale
            if len(rated) == 1
            else "yes on turns " + ", ".join(str(index) for index, _ in rated)
        )
    else:
        reason = (not_run or items)[0][1].skipped
        out.skipped = reason or f"{NOT_APPLICABLE}: no turn"
    out.details["turns"] = {str(i): _outcome(a) for i, a in items}
    meta = builtin(first.judge)
    for key in meta.averages if meta is not None else ():
        values = [v for _, a in rated if (v := _number(a.details.get(key))) is not None]
        if values:
            out.details[key] = _mean(values)
    agreements = [v for _, a in rated if (v := _number(a.details.get("agreement"))) is not None]
    if agreements:
        out.details["agreement"] = _mean(agreements)
    if any(a.details.get("flaky") for _, a in items):
        out.details["flaky"] = True
    values = [a.value for _, a in rated if a.value is not None]
    out.value = _mean(values)
    out.model = joined_models([a.model for _, a in items])
    out.prompt_version = next((a.prompt_version for _, a in items if a.prompt_version), None)
    out.usage = sum_usage([a.usage for _, a in items])
    out.latency_seconds = sum(a.latency_seconds for _, a in items)
    asked = [a for _, a in items if a.rating is not None or a.error is not None]
    out.cached = bool(asked) and all(a.cached for a in asked)
    return out


def _combined(turns: Sequence[TurnResult]) -> list[Assessment]:
    by_name: dict[str, list[tuple[int, Assessment]]] = {}
    for turn in turns:
        for a in turn.assessments:
            by_name.setdefault(a.name, []).append((turn.index, a))
    return [combine_turns(name, items) for name, items in by_name.items()]


def _unfinished(judges: JudgeSet, ctx: EvalContext, cause: Assessment) -> list[Assessment]:
    """The conversation judges of a conversation the simulator could not finish: not run, or
    errors (its outage is never a pass nor a failure)."""
    to_run, not_applicable = judges.plan(ctx)
    return [
        dataclasses.replace(cause, name=j.name, judge=j.name, kind=j.kind) for j in to_run
    ] + not_applicable or [cause]


def _record(result: RowResult, played: _Played) -> None:
    turns = played.turns
    result.turns = turns
    result.simulation = played.simulation
    answered = [t for t in turns if t.response is not None or t.tool_calls is not None]
    result.response = answered[-1].response if answered else None
    latencies = [t.latency_seconds for t in turns if t.latency_seconds is not None]
    result.latency_seconds = sum(latencies) if latencies else None
    usages = [t.app_usage for t in turns if t.app_usage is not None]
    result.app_usage = sum_usage(usages) if usages else None
    calls = [t.tool_calls for t in turns if t.tool_calls is not None]
    result.tool_calls = [c for batch in calls for c in batch] if calls else None
    models = [o.output.model for o in played.outputs]
    result.app_model = next((m for m in reversed(models) if m), None)


async def evaluate_conversation(
    row: Row,
    judges: JudgeSet,
    global_guidelines: tuple[str, ...],
    result: RowResult,
    call_app: AppCaller,
    runner: JudgeRunner,
) -> RowResult:
    """Play the conversation, judge its turns and its transcript, fill ``result``."""
    if row.goal is not None:
        played = await _play_simulated(row, call_app, runner, judges.simulator_template)
    else:
        played = await _play_scripted(row, call_app)
    _record(result, played)
    if played.app_error is not None:
        result.app_error = played.app_error
        return result
    turn_judges, conversation_judges = _split(judges)
    whole = EvalContext(
        row=row,
        response=result.response,
        retrieved_context=None,
        global_guidelines=global_guidelines,
        transcript=tuple(played.messages),
    )
    if played.unfinished is not None:
        result.assessments = _unfinished(conversation_judges, whole, played.unfinished)
        return result
    contexts = []
    history: list[Message] = []
    for turn, timed in zip(played.turns, played.outputs, strict=True):
        messages = [*history, {"role": "user", "content": turn.request}]
        contexts.append(
            EvalContext(
                row=_turn_row(row, messages, turn.index - 1),
                response=turn.response,
                retrieved_context=turn.retrieved_context,
                global_guidelines=global_guidelines,
                latency_seconds=turn.latency_seconds,
                usage=turn.app_usage,
                finish_reason=timed.output.finish_reason,
                tool_calls=turn.tool_calls,
                history=tuple(history),
            )
        )
        history = [*messages, {"role": "assistant", "content": turn.response or ""}]
    verdicts = await asyncio.gather(
        *(_judge(turn_judges, ctx, runner) for ctx in contexts),
        _judge(conversation_judges, whole, runner),
    )
    for turn, assessments in zip(played.turns, verdicts[:-1], strict=True):
        turn.assessments = assessments
    result.assessments = _combined(played.turns) + verdicts[-1]
    return result
