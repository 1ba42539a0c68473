"""Result records: one judge's assessment of a row, and a row's full result.

These are plain dataclasses with a JSON round-trip (``to_dict`` / ``from_dict``), because results
travel: from the engine to the pytest item, from xdist workers to the controller, into the
``evaluation_results.json`` artifact and back out of it for baseline comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .judge_catalog import root_rank

Rating = Literal["yes", "no"]
AssessmentKind = Literal["llm", "check", "python"]
RowStatus = Literal["pass", "fail", "error", "skipped"]

NOT_APPLICABLE = "not applicable"  # the prefix of a skip reason for a judge lacking inputs


@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TokenUsage | None:
        if data is None:
            return None
        prompt = int(data.get("prompt_tokens") or 0)
        completion = int(data.get("completion_tokens") or 0)
        total = int(data.get("total_tokens") or (prompt + completion))
        return cls(prompt, completion, total)


@dataclass
class Assessment:
    """One judge's verdict on one row.

    Exactly one of these holds: ``rating`` is "yes"/"no"; ``error`` is set (the judge could not
    give a verdict; never a pass); ``skipped`` is set (the judge did not run, with the reason).
    """

    name: str  # metric name part: "correctness", "guideline_adherence/tone", ...
    judge: str  # judge family: "correctness", "guideline_adherence", ...
    kind: AssessmentKind = "llm"
    rating: Rating | None = None
    rationale: str | None = None
    error: str | None = None
    skipped: str | None = None
    value: float | None = None  # numeric score, when the judge gives one
    model: str | None = None
    prompt_version: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_seconds: float = 0.0
    cached: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.rating == "yes"

    @property
    def not_applicable(self) -> bool:
        """Skipped because this row lacks the judge's inputs (not a gap in the run)."""
        return self.skipped is not None and self.skipped.startswith(NOT_APPLICABLE)

    @property
    def not_run(self) -> bool:
        """Skipped although it applies: e.g. no judge endpoint configured."""
        return self.skipped is not None and not self.not_applicable

    @property
    def failed(self) -> bool:
        return self.rating == "no"

    def redact(self, scrub: Callable[[Any], Any]) -> None:
        self.rationale = scrub(self.rationale)
        self.error = scrub(self.error)
        self.skipped = scrub(self.skipped)
        self.details = scrub(self.details)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "judge": self.judge,
            "kind": self.kind,
            "rating": self.rating,
            "rationale": self.rationale,
            "error": self.error,
            "skipped": self.skipped,
            "value": self.value,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "usage": self.usage.to_dict(),
            "latency_seconds": self.latency_seconds,
            "cached": self.cached,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        return cls(
            name=data["name"],
            judge=data.get("judge", data["name"]),
            kind=data.get("kind", "llm"),
            rating=data.get("rating"),
            rationale=data.get("rationale"),
            error=data.get("error"),
            skipped=data.get("skipped"),
            value=data.get("value"),
            model=data.get("model"),
            prompt_version=data.get("prompt_version"),
            usage=TokenUsage.from_dict(data.get("usage")) or TokenUsage(),
            latency_seconds=float(data.get("latency_seconds") or 0.0),
            cached=bool(data.get("cached", False)),
            details=dict(data.get("details") or {}),
        )


def _root_rank(assessment: Assessment) -> int:
    return root_rank(assessment.judge)


def _status(assessments: list[Assessment], errors: list[str]) -> RowStatus:
    if any(a.failed for a in assessments):
        return "fail"
    if errors:
        return "error"
    if not any(a.rating is not None for a in assessments):
        return "skipped"
    return "pass"


@dataclass
class TurnResult:
    """One turn of a conversation: the user's message (``simulated``: written by the user
    simulator), the app's answer and the verdicts of the turn's judges. A conversation row's
    own ``assessments`` combine these per judge (``conversation.py``)."""

    index: int  # 1-based
    request: str
    response: str | None = None
    simulated: bool = False
    assessments: list[Assessment] = field(default_factory=list)
    latency_seconds: float | None = None
    app_usage: TokenUsage | None = None
    tool_calls: list[dict[str, Any]] | None = None
    retrieved_context: list[dict[str, Any]] | None = None

    @property
    def status(self) -> RowStatus:
        """The turn's verdict, by the rules of a row's (``RowResult.status``)."""
        return _status(self.assessments, [a.error for a in self.assessments if a.error])

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "request": self.request,
            "response": self.response,
            "simulated": self.simulated,
            "assessments": [a.to_dict() for a in self.assessments],
            "latency_seconds": self.latency_seconds,
            "app_usage": self.app_usage.to_dict() if self.app_usage else None,
            "tool_calls": self.tool_calls,
            "retrieved_context": self.retrieved_context,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnResult:
        return cls(
            index=int(data["index"]),
            request=str(data.get("request") or ""),
            response=data.get("response"),
            simulated=bool(data.get("simulated", False)),
            assessments=[Assessment.from_dict(a) for a in data.get("assessments") or []],
            latency_seconds=data.get("latency_seconds"),
            app_usage=TokenUsage.from_dict(data.get("app_usage")),
            tool_calls=data.get("tool_calls"),
            retrieved_context=data.get("retrieved_context"),
        )

    def redact(self, scrub: Callable[[Any], Any]) -> None:
        self.request = scrub(self.request)
        self.response = scrub(self.response)
        self.tool_calls = scrub(self.tool_calls)
        self.retrieved_context = scrub(self.retrieved_context)
        for a in self.assessments:
            a.redact(scrub)


@dataclass
class RowResult:
    """Everything known about one evaluated row."""

    suite: str
    request_id: str
    row: dict[str, Any]  # the input row, JSON-able (request, ground truth, extra columns)
    response: str | None = None
    retrieved_context: list[dict[str, Any]] | None = None
    app_error: str | None = None
    latency_seconds: float | None = None
    app_usage: TokenUsage | None = None
    app_model: str | None = None  # the model the app's output named (prices its tokens)
    assessments: list[Assessment] = field(default_factory=list)
    nodeid: str | None = None
    shard_key: str | None = None
    # False for rows judged with ``genai_judge.check()``: recorded and reported, never gated
    # (a test may assert a negative verdict). The gate, metrics and baseline skip them.
    gated: bool = True
    # The tool calls the response made, [{"name", "arguments", "id"?, "result"?}]; None when
    # its form carries none (a plain string). Artifacts of earlier releases have none.
    tool_calls: list[dict[str, Any]] | None = None
    # A conversation's turns (None for single-turn rows, and in artifacts of earlier releases);
    # ``simulation``: how a simulated user's conversation went (``simulator.py``).
    turns: list[TurnResult] | None = None
    simulation: dict[str, Any] | None = None

    # ---- derived verdict -------------------------------------------------------------------
    @property
    def failing(self) -> list[Assessment]:
        return sorted((a for a in self.assessments if a.failed), key=_root_rank)

    @property
    def errors(self) -> list[str]:
        out = [f"app: {self.app_error}"] if self.app_error else []
        out += [f"{a.name}: {a.error}" for a in self.assessments if a.error]
        return out

    @property
    def ran(self) -> list[Assessment]:
        return [a for a in self.assessments if a.rating is not None]

    @property
    def status(self) -> RowStatus:
        """pass: every judge that ran said yes and nothing errored; fail: some judge said no;
        error: no judge said no but the app or a judge errored; skipped: nothing could run."""
        if self.failing:
            return "fail"
        if self.errors:
            return "error"
        if not self.ran:
            return "skipped"
        return "pass"

    @property
    def overall_rating(self) -> Rating | None:
        status = self.status
        if status == "pass":
            return "yes"
        if status == "fail":
            return "no"
        return None

    @property
    def root_cause(self) -> Assessment | None:
        failing = self.failing
        return failing[0] if failing else None

    @property
    def root_cause_label(self) -> str | None:
        """The root cause's name; on a conversation, with the first turn that failed it
        (``turn 2: correctness``)."""
        cause = self.root_cause
        if cause is None:
            return None
        turn = cause.details.get("turn")
        if isinstance(turn, int) and not isinstance(turn, bool):
            return f"turn {turn}: {cause.name}"
        return cause.name

    @property
    def overall_rationale(self) -> str | None:
        cause = self.root_cause
        if cause is not None:
            return f"Root cause: {self.root_cause_label}. {cause.rationale or ''}".strip()
        if self.errors:
            return "Not assessed: " + "; ".join(self.errors)
        return None

    @property
    def judge_usage(self) -> TokenUsage:
        total = TokenUsage()
        for a in self.assessments:
            total = total + a.usage
        return total

    # ---- transport -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "request_id": self.request_id,
            "row": self.row,
            "response": self.response,
            "retrieved_context": self.retrieved_context,
            "tool_calls": self.tool_calls,
            "app_error": self.app_error,
            "latency_seconds": self.latency_seconds,
            "app_usage": self.app_usage.to_dict() if self.app_usage else None,
            "app_model": self.app_model,
            "assessments": [a.to_dict() for a in self.assessments],
            "nodeid": self.nodeid,
            "shard_key": self.shard_key,
            "gated": self.gated,
            "status": self.status,
            **({"turns": [t.to_dict() for t in self.turns]} if self.turns is not None else {}),
            **({"simulation": self.simulation} if self.simulation is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowResult:
        return cls(
            suite=data["suite"],
            request_id=data["request_id"],
            row=dict(data.get("row") or {}),
            response=data.get("response"),
            retrieved_context=data.get("retrieved_context"),
            tool_calls=data.get("tool_calls"),
            app_error=data.get("app_error"),
            latency_seconds=data.get("latency_seconds"),
            app_usage=TokenUsage.from_dict(data.get("app_usage")),
            app_model=data.get("app_model"),
            assessments=[Assessment.from_dict(a) for a in data.get("assessments") or []],
            nodeid=data.get("nodeid"),
            shard_key=data.get("shard_key"),
            gated=bool(data.get("gated", True)),
            turns=(
                [TurnResult.from_dict(t) for t in data["turns"]]
                if data.get("turns") is not None
                else None
            ),
            simulation=data.get("simulation"),
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.suite, self.request_id)

    def redact(self, scrub: Callable[[Any], Any]) -> None:
        """Pass every text of this result through ``scrub`` (a redactor), in place."""
        self.row = scrub(self.row)
        self.response = scrub(self.response)
        self.retrieved_context = scrub(self.retrieved_context)
        self.tool_calls = scrub(self.tool_calls)
        self.app_error = scrub(self.app_error)
        for a in self.assessments:
            a.redact(scrub)
        for turn in self.turns or []:
            turn.redact(scrub)
        self.simulation = scrub(self.simulation)


def request_text(row: Mapping[str, Any]) -> str:
    """The user-facing text of a row's request: a string, the last message of a chat request,
    or ``query`` of a ``{query, history}`` request."""
    request = row.get("request")
    if request is None and isinstance(row.get("inputs"), Mapping):
        request = row["inputs"].get("request", row["inputs"])
    if isinstance(request, str):
        return request
    if isinstance(request, Mapping):
        messages = request.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
            return str(messages[-1].get("content", ""))
        if "query" in request:
            return str(request["query"])
    return "" if request is None else str(request)
