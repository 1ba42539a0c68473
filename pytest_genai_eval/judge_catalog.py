"""The built-in judges, registered in one place with their metadata.

Each entry names the judge, the class that implements it (``module:Class`` inside
``pytest_genai_eval.judges``, imported when a suite is built), what it needs, when it runs by default (the class's
``applies`` implements that rule; the text documents it), its root-cause rank and where its
metrics live. Everything else derives from this table: the list of built-in names, the judge
factories, the root-cause order of :class:`~pytest_genai_eval.results.RowResult`, the metric
prefixes of the retrieval judges and README's judge table (a test checks it).

Adding a built-in judge: its module in ``judges/`` (a class with ``name``, ``kind``,
``applies``, ``missing``, ``run``), its prompt file in ``judges/prompts/``, one entry here, docs
and tests.

This module imports nothing else from the package, so that ``results`` and ``metrics`` can
read it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "BUILTIN",
    "BUILTIN_NAMES",
    "ROOT_CAUSE_ORDER",
    "BuiltinJudge",
    "builtin",
    "judges_markdown",
    "root_rank",
]


@dataclass(frozen=True)
class BuiltinJudge:
    """``rank``: position in the root-cause order (lower is reported first; ties keep the order
    the judges ran in). ``prefix``: the metric prefix of its assessments when it is not the
    one of its kind; ``value``: the per-row value column's suffix for judges whose metric is an
    average of a per-row value (``precision``), ``""`` for the name itself, None for none.
    ``averages``: numbers of its assessments' details, each a per-row column
    ``<prefix>/<name>/<key>`` averaged into ``<prefix>/<name>/<key>/average``. ``suite_key``:
    the suite key whose value its constructor takes (as a keyword of that name)."""

    name: str
    implementation: str  # "module:Class", relative to pytest_genai_eval.judges
    needs: str
    runs_when: str
    rank: int
    takes_prompt: bool = True
    prefix: str | None = None
    value: str | None = None
    averages: tuple[str, ...] = ()
    suite_key: str | None = None


# In the order of README's judge table; this is also the order assessments appear in.
BUILTIN: tuple[BuiltinJudge, ...] = (
    BuiltinJudge(
        "correctness",
        "correctness:Correctness",
        "request, response, `expected_facts` or `expected_response`",
        "ground truth present",
        rank=4,
    ),
    BuiltinJudge(
        "guideline_adherence",
        "guidelines:GuidelineAdherence",
        "request, response, row `guidelines` (a named dict gives one verdict per name)",
        "the row has guidelines",
        rank=7,
    ),
    BuiltinJudge(
        "global_guideline_adherence",
        "guidelines:GlobalGuidelineAdherence",
        "request, response, suite `global_guidelines`",
        "the suite has them",
        rank=8,
    ),
    BuiltinJudge(
        "relevance_to_query",
        "relevance:RelevanceToQuery",
        "request, response",
        "no ground truth",
        rank=5,
    ),
    BuiltinJudge(
        "groundedness",
        "groundedness:Groundedness",
        "request, response, retrieved context",
        "context present",
        rank=2,
    ),
    BuiltinJudge("safety", "safety:Safety", "request, response", "always", rank=6),
    BuiltinJudge(
        "context_sufficiency",
        "context_sufficiency:ContextSufficiency",
        "request, retrieved context, ground truth",
        "context and ground truth",
        rank=0,
    ),
    BuiltinJudge(
        "chunk_relevance",
        "chunk_relevance:ChunkRelevance",
        "request, each retrieved chunk (one verdict per chunk; precision = share relevant)",
        "context, no ground truth",
        rank=1,
        prefix="retrieval/llm_judged",
        value="precision",
    ),
    BuiltinJudge(
        "document_recall",
        "document_recall:DocumentRecall",
        "retrieved vs expected `doc_uri`s (no LLM; recall)",
        "both present",
        rank=10,
        takes_prompt=False,
        prefix="retrieval/ground_truth",
        value="",
    ),
    BuiltinJudge(
        "tool_call_correctness",
        "tool_calls:ToolCallCorrectness",
        "request, the response's tool calls, `available_tools` if given; with "
        "`expected_tool_calls`, a comparison without an LLM (`tool_call_match` modes; precision, "
        "recall, F1)",
        "the response made tool calls, or the row has `expected_tool_calls`",
        rank=3,
        prefix="response/tool_call",
        averages=("precision", "recall", "f1"),
        suite_key="tool_call_match",
    ),
    BuiltinJudge(
        "tool_call_efficiency",
        "tool_calls:ToolCallEfficiency",
        "request, the response's tool calls (with their results when the transcript has them), "
        "`available_tools` if given",
        "the response made tool calls",
        rank=9,
    ),
    # Conversation judges: one verdict per conversation row, on its transcript. They rank after
    # the judges of its turns (a turn's failure is the more specific cause).
    BuiltinJudge(
        "conversation_completeness",
        "conversation:ConversationCompleteness",
        "a conversation's transcript (`turns` or a simulated user), its `goal` if given",
        "a conversation row",
        rank=8,
    ),
    BuiltinJudge(
        "knowledge_retention",
        "conversation:KnowledgeRetention",
        "a conversation's transcript: does the assistant keep what the user said earlier?",
        "a conversation row",
        rank=8,
    ),
    BuiltinJudge(
        "role_adherence",
        "conversation:RoleAdherence",
        "a conversation's transcript, the row's `assistant_role` if given",
        "a conversation row",
        rank=8,
    ),
    BuiltinJudge(
        "conversational_guidelines",
        "conversation:ConversationalGuidelines",
        "a conversation's transcript, the row's `guidelines` (a named dict gives one verdict "
        "per name)",
        "a conversation row with guidelines",
        rank=8,
    ),
    BuiltinJudge(
        "user_frustration",
        "conversation:UserFrustration",
        "a conversation's transcript (yes: the user does not end frustrated)",
        "a conversation row",
        rank=8,
    ),
)

BUILTIN_NAMES: tuple[str, ...] = tuple(j.name for j in BUILTIN)
_BY_NAME: Mapping[str, BuiltinJudge] = MappingProxyType({j.name: j for j in BUILTIN})
# The root-cause order: a row's root cause is its first failing judge in this order; judges not
# listed (custom judges, checks, plugins) come after, in the order they ran.
ROOT_CAUSE_ORDER: tuple[str, ...] = tuple(j.name for j in sorted(BUILTIN, key=lambda j: j.rank))
_RANKS: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate(ROOT_CAUSE_ORDER)})


def builtin(name: str) -> BuiltinJudge | None:
    return _BY_NAME.get(name)


def root_rank(judge: str) -> int:
    """A judge family's position in the root-cause order (every other judge ranks last)."""
    return _RANKS.get(judge, len(_RANKS))


def judges_markdown() -> str:
    """README's judge table, generated from :data:`BUILTIN`."""
    rows = ["| judge | needs | runs by default when |", "|---|---|---|"]
    rows += [f"| `{j.name}` | {j.needs} | {j.runs_when} |" for j in BUILTIN]
    return "\n".join(rows)
