"""The conversation row schema: scripted ``turns``, or a simulated user's ``goal``.

A row is a conversation when it has ``turns`` (a list of user turns, each with its own ground
truth and guidelines) or ``goal`` (a simulated user pursues it, optionally with a ``persona``,
for at most ``max_turns`` turns). :func:`parse_conversation` reads those fields from a raw row
and reports every problem as ``(field, message)`` so that the loader (``evalset.py``) can name
the file, the row and the field. This module imports nothing from the package, so the loader
can use it without a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic

__all__ = [
    "CONVERSATION_FIELDS",
    "DEFAULT_MAX_TURNS",
    "MAX_TURNS_LIMIT",
    "ConversationFields",
    "Turn",
    "parse_conversation",
]

# Row fields of a conversation (top level; the turns' own fields are TURN_FIELDS).
CONVERSATION_FIELDS: tuple[str, ...] = ("turns", "goal", "persona", "max_turns", "assistant_role")
TURN_FIELDS: tuple[str, ...] = ("request", "expected_facts", "expected_response", "guidelines")
DEFAULT_MAX_TURNS = 5
MAX_TURNS_LIMIT = 50
# Row fields that do not fit a conversation (the app answers turn by turn; ground truth and
# guidelines per answer belong to a turn).
_NOT_WITH_CONVERSATIONS: tuple[str, ...] = (
    "response",
    "expected_response",
    "expected_facts",
    "retrieved_context",
    "expected_retrieved_context",
    "expected_tool_calls",
)


class Turn(pydantic.BaseModel):
    """One scripted user turn: its message and what its answer is judged against."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    request: str
    expected_facts: list[str] | None = None
    expected_response: str | None = None
    guidelines: list[str] | dict[str, list[str]] | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"request": self.request}
        for name in ("expected_facts", "expected_response", "guidelines"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        return record


class _Problem(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class ConversationFields:
    """What :func:`parse_conversation` found. ``active``: the row is a conversation (some
    conversation field was given), whether or not its fields were valid."""

    active: bool = False
    turns: list[Turn] | None = None
    goal: str | None = None
    persona: str | None = None
    max_turns: int | None = None
    assistant_role: str | None = None
    issues: list[tuple[str, str]] = field(default_factory=list)

    @property
    def simulated(self) -> bool:
        return self.goal is not None


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _json_text(value: Any) -> Any:
    """JSON list or object text (CSV cells) as the value; other text as it is."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise _Problem(label, f"expected a string, got {_type_name(value)}")
    if not value.strip():
        raise _Problem(label, "must not be empty")
    return value


def _strings(value: Any, label: str, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _Problem(label, f"expected a list of strings, got {_type_name(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Problem(label, f"item {index}: expected a string, got {_type_name(item)}")
        if not item.strip():
            raise _Problem(label, f"item {index}: empty {what}")
    return list(value)


def parse_guidelines(value: Any, label: str) -> list[str] | dict[str, list[str]] | None:
    """A list of guidelines, or a dict of name -> list (one verdict per name)."""
    value = _json_text(value)
    if isinstance(value, Mapping):
        named: dict[str, list[str]] = {}
        for name, rules in value.items():
            if not isinstance(name, str) or not name.strip():
                raise _Problem(label, "guideline set names must be non-empty strings")
            named[name] = _strings(rules, label, "guideline")
            if not named[name]:
                raise _Problem(label, f"'{name}': no guidelines")
        return named or None
    if isinstance(value, (list, str)):
        return _strings(value, label, "guideline") or None
    raise _Problem(
        label,
        f"expected a list of strings or a dict of name -> list of strings, got {_type_name(value)}",
    )


def _turn(value: Any, index: int) -> Turn:
    label = f"turns[{index}]"
    if isinstance(value, str):  # shorthand: a turn that is only its request
        return Turn(request=_text(value, label))
    if not isinstance(value, Mapping):
        raise _Problem(
            label, f"expected a string or a {{request, ...}} dict, got {_type_name(value)}"
        )
    unknown = [str(k) for k in value if k not in TURN_FIELDS]
    if unknown:
        raise _Problem(
            f"{label}.{unknown[0]}",
            f"unknown turn field; a turn has {', '.join(TURN_FIELDS)}",
        )
    if _absent(value.get("request")):
        raise _Problem(f"{label}.request", "missing required field 'request'")
    request = _text(value["request"], f"{label}.request")
    facts = value.get("expected_facts")
    expected = value.get("expected_response")
    if not _absent(facts) and not _absent(expected):
        raise _Problem(
            f"{label}.expected_facts",
            "give at most one of expected_response and expected_facts, not both",
        )
    parsed_facts = (
        None
        if _absent(facts)
        else _strings(_json_text(facts), f"{label}.expected_facts", "fact") or None
    )
    parsed_expected = None if _absent(expected) else _text(expected, f"{label}.expected_response")
    guidelines = value.get("guidelines")
    parsed_guidelines = (
        None if _absent(guidelines) else parse_guidelines(guidelines, f"{label}.guidelines")
    )
    return Turn(
        request=request,
        expected_facts=parsed_facts,
        expected_response=parsed_expected,
        guidelines=parsed_guidelines,
    )


def _turns(value: Any) -> list[Turn]:
    value = _json_text(value)
    if not isinstance(value, list):
        raise _Problem("turns", f"expected a list of turns, got {_type_name(value)}")
    if not value:
        raise _Problem("turns", "a conversation needs at least one turn")
    return [_turn(item, index) for index, item in enumerate(value)]


def _max_turns(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Problem("max_turns", f"expected a positive integer, got {_type_name(value)}")
    if not 1 <= value <= MAX_TURNS_LIMIT:
        raise _Problem("max_turns", f"expected 1 to {MAX_TURNS_LIMIT}, got {value}")
    return value


def parse_conversation(
    data: Mapping[str, Any], given: Sequence[str] = (), *, mlflow: bool = False
) -> ConversationFields:
    """The conversation fields of a raw row. ``given``: the other fields the row has (present
    and not empty), checked for combinations that do not fit a conversation."""
    present = [name for name in CONVERSATION_FIELDS if not _absent(data.get(name))]
    out = ConversationFields(active="turns" in present or "goal" in present)
    if not present:
        return out

    def attempt(name: str, parse: Any) -> Any:
        if name not in present:
            return None
        try:
            return parse(data[name])
        except _Problem as problem:
            out.issues.append((problem.field, problem.message))
            return None

    if mlflow:
        out.issues.append(
            (present[0], "conversations use the Agent Evaluation form (no MLflow 'inputs')")
        )
        return out
    if not out.active:
        name = present[0]
        needs = (
            "a simulated user, which needs 'goal'"
            if name in ("persona", "max_turns")
            else ("a conversation, which needs 'turns' or 'goal'")
        )
        out.issues.append((name, f"'{name}' belongs to {needs}"))
        return out
    if "turns" in present and "goal" in present:
        out.issues.append(
            ("goal", "give either 'turns' (a scripted conversation) or 'goal' (a simulated user)")
        )
    if "turns" in present:
        for name in ("persona", "max_turns"):
            if name in present:
                out.issues.append(
                    (name, f"'{name}' belongs to a simulated user, which needs 'goal'")
                )
        if "request" in given:
            out.issues.append(
                ("request", "a conversation's first turn is its request: give 'turns' only")
            )
    for name in _NOT_WITH_CONVERSATIONS:
        if name in given:
            where = "on a turn" if name in TURN_FIELDS else "on single-turn rows"
            out.issues.append((name, f"not supported on a conversation row (give it {where})"))
    out.turns = attempt("turns", _turns)
    out.goal = attempt("goal", lambda v: _text(v, "goal"))
    out.persona = attempt("persona", lambda v: _text(v, "persona"))
    out.assistant_role = attempt("assistant_role", lambda v: _text(v, "assistant_role"))
    if "goal" in present:
        out.max_turns = attempt("max_turns", _max_turns) or DEFAULT_MAX_TURNS
    return out
