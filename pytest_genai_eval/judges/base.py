"""What every judge shares: the evaluation context, prompt templates, delimiting, the runner API."""

from __future__ import annotations

import functools
import hashlib
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigurationError
from ..evalset import Row
from ..results import Assessment, AssessmentKind, TokenUsage

if TYPE_CHECKING:
    from ..llm import EndpointSettings

YES_NO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "rating": {"type": "string", "enum": ["yes", "no"]},
    },
    "required": ["rationale", "rating"],
    "additionalProperties": False,
}


# Row fields that are no variables: internals, and the precomputed response's calls (read them
# as ``tool_calls``, which holds the app's calls too).
_HIDDEN_ROW_FIELDS = ("extra", "location", "messages", "response_tool_calls")


@dataclass(frozen=True)
class EvalContext:
    """Everything a judge may read about one row once the app has answered."""

    row: Row
    response: str | None
    retrieved_context: list[dict[str, Any]] | None
    global_guidelines: tuple[str, ...] = ()
    latency_seconds: float | None = None
    usage: TokenUsage | None = None
    finish_reason: str | None = None  # the app's choices[0].finish_reason, when it gave one
    # the tool calls the response made, [{"name", "arguments", "id"?, "result"?}]; None when
    # its form carries none (a plain string)
    tool_calls: list[dict[str, Any]] | None = None
    # A conversation's turn: the messages before this turn's request (its own earlier answers
    # included), shown to the judges with the request. The conversation judges' context: the
    # whole transcript. Both are {"role", "content"} messages (conversation.py).
    history: tuple[dict[str, str], ...] = ()
    transcript: tuple[dict[str, str], ...] | None = None

    @property
    def request(self) -> str:
        """The request; on a conversation's turn, after the conversation so far."""
        if not self.history:
            return self.row.request_text
        earlier = "\n".join(f"{m['role']}: {m['content']}" for m in self.history)
        return f"[conversation so far]\n{earlier}\n[current request]\n{self.row.request_text}"

    @property
    def transcript_text(self) -> str:
        """The conversation as ``role: content`` lines: the whole transcript for the
        conversation judges; on a turn, the conversation up to and including its answer; on a
        single-turn row, its request and response."""
        if self.transcript is not None:
            messages: Sequence[Mapping[str, str]] = self.transcript
        else:
            messages = [
                *self.history,
                {"role": "user", "content": self.row.request_text},
                {"role": "assistant", "content": self.response or ""},
            ]
        return "\n".join(f"{m['role']}: {m['content']}" for m in messages)

    @property
    def available_tools(self) -> list[dict[str, Any]] | None:
        return self.row.available_tools

    @property
    def has_ground_truth(self) -> bool:
        return self.row.expected_response is not None or bool(self.row.expected_facts)

    def variable(self, name: str) -> Any:
        """A row field by name, for custom judges: built-in fields first, then extra columns."""
        if name == "request":
            return self.request
        if name == "response":
            return self.response
        if name == "retrieved_context":
            return self.retrieved_context
        if name == "global_guidelines":
            return list(self.global_guidelines)
        if name == "latency_seconds":
            return self.latency_seconds
        if name == "usage":
            return self.usage.to_dict() if self.usage is not None else None
        if name == "tool_calls":
            return self.tool_calls
        if name == "transcript":
            return self.transcript_text
        if name in Row.model_fields and name not in _HIDDEN_ROW_FIELDS:
            return getattr(self.row, name)
        if name in self.row.extra:
            return self.row.extra[name]
        raise KeyError(name)

    def value_of(self, name: str) -> Any:
        """``variable(name)``, or None when the row has no such field or column."""
        try:
            return self.variable(name)
        except KeyError:
            return None

    @property
    def context_chunks(self) -> list[dict[str, Any]]:
        """The retrieved chunks that have text content (what LLM context judges can read)."""
        return [c for c in self.retrieved_context or [] if c.get("content")]

    @property
    def has_context(self) -> bool:
        """ "Context present" for the LLM judges: at least one retrieved chunk with content."""
        return bool(self.context_chunks)


# Names ``EvalContext.variable`` resolves on every row (extra columns come on top of these).
ROW_VARIABLES: frozenset[str] = frozenset(
    {
        "request",
        "response",
        "retrieved_context",
        "global_guidelines",
        "latency_seconds",
        "usage",
        "tool_calls",
        "transcript",
        *(n for n in Row.model_fields if n not in _HIDDEN_ROW_FIELDS),
    }
)


class JudgeConfigError(ConfigurationError, ValueError):
    """An invalid judge, check or panel declaration; the message names where and which field."""


NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Where:
    """Where a declaration lives, for error messages.

    Suite level: ``"genai_x.yaml: checks[0].pattern: <problem>"``; row level (``row=True``, the
    evaluation-set style): ``"rows.jsonl, line 3, field 'checks[0].pattern': <problem>"``.
    """

    origin: str
    path: str
    row: bool = False

    def at(self, key: str | None = None) -> str:
        path = f"{self.path}.{key}" if key else self.path
        return f"{self.origin}, field '{path}'" if self.row else f"{self.origin}: {path}"

    def error(self, key: str | None, message: str) -> JudgeConfigError:
        return JudgeConfigError(f"{self.at(key)}: {message}")

    def item(self, suffix: str) -> Where:
        return Where(self.origin, f"{self.path}{suffix}", self.row)


def check_name(name: object, where: Where, key: str = "name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise where.error(
            key,
            f"expected a name of letters, digits, '_', '-' or '.', got {name!r}",
        )
    return name


# ---- prompt templates ------------------------------------------------------------------------


class PromptError(ConfigurationError, ValueError):
    pass


@dataclass(frozen=True)
class PromptTemplate:
    """A judge prompt: a system part and a user part with ``${variable}`` slots.

    The version is a hash of the template text, so any edit to a prompt changes the version
    recorded with every verdict (and misses the verdict cache).
    """

    name: str
    system: str
    user: str
    source: str = "built-in"

    # Both are asked for on every judge call: computed once per template (it is frozen).
    @functools.cached_property
    def version(self) -> str:
        digest = hashlib.sha256(f"{self.system}\x00{self.user}".encode()).hexdigest()
        return digest[:12]

    @functools.cached_property
    def variables(self) -> frozenset[str]:
        found: set[str] = set()
        for text in (self.system, self.user):
            for match in string.Template.pattern.finditer(text):
                named = match.group("named") or match.group("braced")
                if named:
                    found.add(named)
        return frozenset(found)

    def render(self, variables: Mapping[str, str]) -> list[dict[str, str]]:
        missing = self.variables - set(variables)
        if missing:
            raise PromptError(
                f"prompt {self.name!r} ({self.source}) uses undefined variable(s): "
                + ", ".join(sorted(missing))
            )
        return [
            {"role": "system", "content": string.Template(self.system).substitute(variables)},
            {"role": "user", "content": string.Template(self.user).substitute(variables)},
        ]

    @classmethod
    def parse(cls, name: str, text: str, source: str = "built-in") -> PromptTemplate:
        """Parse ``[system]`` / ``[user]`` sections; text without markers is all user prompt."""
        system_lines: list[str] = []
        user_lines: list[str] = []
        target: list[str] | None = None
        saw_marker = False
        for line in text.splitlines():
            marker = line.strip().lower()
            if marker == "[system]":
                target, saw_marker = system_lines, True
                continue
            if marker == "[user]":
                target, saw_marker = user_lines, True
                continue
            if target is None:
                if not saw_marker and line.strip():
                    target = user_lines
                else:
                    continue
            target.append(line)
        user = "\n".join(user_lines).strip()
        if not user:
            raise PromptError(f"prompt {name!r} ({source}) has an empty [user] section")
        return cls(name=name, system="\n".join(system_lines).strip(), user=user, source=source)

    @classmethod
    def builtin(cls, name: str) -> PromptTemplate:
        text = resources.files(__package__).joinpath("prompts", f"{name}.txt").read_text("utf-8")
        return cls.parse(name, text)

    @classmethod
    def from_file(cls, name: str, path: Path) -> PromptTemplate:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise PromptError(f"cannot read prompt for {name!r} from {path}: {exc}") from None
        return cls.parse(name, text, source=str(path))


# ---- delimiting untrusted text -----------------------------------------------------------------


def _neutralize(text: str) -> str:
    # Untrusted text can never open or close a section: the delimiter characters are replaced.
    return text.replace("<<<", "‹‹‹").replace(">>>", "›››")


def section(name: str, body: str) -> str:
    tag = name.upper().replace(" ", "_")
    return f"<<<{tag}>>>\n{_neutralize(body)}\n<<<END {tag}>>>"


def bullet_list(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def format_context(chunks: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for i, chunk in enumerate(chunks, 1):
        uri = chunk.get("doc_uri")
        content = chunk.get("content")
        head = f"[{i}]" + (f" ({uri})" if uri else "")
        parts.append(f"{head} {content if content is not None else ''}".rstrip())
    return "\n".join(parts)


# ---- the runner a judge uses to ask an LLM ----------------------------------------------------


class JudgeUnavailable(Exception):
    """No judge endpoint is configured; LLM-judged assessments are skipped with this reason."""


@dataclass
class JudgeAnswer:
    data: dict[str, Any]
    model: str
    prompt_version: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_seconds: float = 0.0
    cached: bool = False


class JudgeRunner(Protocol):
    """What a judge uses to ask an LLM (``runner.LLMJudgeRunner`` implements it).

    ``endpoint`` picks a judge endpoint other than ``default`` (judge panels); ``sample`` is the
    index of a repeated evaluation, so repeats are separate verdicts.
    """

    @property
    def default(self) -> EndpointSettings | None: ...

    async def ask(
        self,
        template: PromptTemplate,
        variables: Mapping[str, str],
        schema: Mapping[str, Any],
        *,
        judge: str,
        endpoint: EndpointSettings | None = None,
        sample: int = 0,
    ) -> JudgeAnswer: ...


async def ask_judge(
    runner: JudgeRunner,
    *,
    judge: str,
    name: str,
    template: PromptTemplate,
    variables: Mapping[str, str],
    schema: Mapping[str, Any],
) -> tuple[Assessment, JudgeAnswer | None]:
    """Ask one question. The assessment records the model, prompt version, usage and timing;
    the answer is None when the judge did not answer (skipped: not configured; error: the call
    failed) — never a pass."""
    from ..llm import LLMError

    base = Assessment(name=name, judge=judge, kind="llm", prompt_version=template.version)
    try:
        answer = await runner.ask(template, variables, schema, judge=judge)
    except JudgeUnavailable as exc:
        base.skipped = str(exc)
        return base, None
    except LLMError as exc:
        base.error = str(exc)
        return base, None
    base.model = answer.model
    base.usage = answer.usage
    base.latency_seconds = answer.latency_seconds
    base.cached = answer.cached
    return base, answer


async def ask_yes_no(
    runner: JudgeRunner,
    *,
    judge: str,
    name: str,
    template: PromptTemplate,
    variables: Mapping[str, str],
) -> Assessment:
    """Ask one yes/no question; every failure becomes an error assessment, never a pass."""
    base, answer = await ask_judge(
        runner, judge=judge, name=name, template=template, variables=variables, schema=YES_NO_SCHEMA
    )
    if answer is None:
        return base
    rating = str(answer.data.get("rating", "")).strip().lower()
    if rating not in ("yes", "no"):
        base.error = f"judge answered rating {answer.data.get('rating')!r}, expected 'yes' or 'no'"
        return base
    base.rating = "yes" if rating == "yes" else "no"
    base.rationale = str(answer.data.get("rationale", "")).strip() or None
    return base


def ground_truth_section(row: Row) -> str:
    """The row's ground truth, delimited: expected facts as a list, else the expected response."""
    if row.expected_facts:
        return section("expected_facts", bullet_list(row.expected_facts))
    return section("expected_response", row.expected_response or "")


def context_section(chunks: Sequence[Mapping[str, Any]]) -> str:
    return section("retrieved_context", format_context(chunks))


def sum_usage(usages: Sequence[TokenUsage]) -> TokenUsage:
    total = TokenUsage()
    for usage in usages:
        total = total + usage
    return total


def joined_models(models: Sequence[str | None]) -> str | None:
    """Distinct model names in first-seen order, joined by ",", or None when there are none."""
    names = list(dict.fromkeys(m for m in models if m))
    return ",".join(names) if names else None


class Judge(Protocol):
    """A judge family. ``run`` returns one or more assessments for a row."""

    name: str
    kind: AssessmentKind

    def applies(self, ctx: EvalContext) -> bool:
        """Default selection: does this judge run on this row when no subset is chosen?"""
        ...

    def missing(self, ctx: EvalContext) -> str | None:
        """Why the judge cannot run on this row (inputs lacking), or None."""
        ...

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]: ...
