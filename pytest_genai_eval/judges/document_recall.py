"""document_recall: the share of the expected documents (expected_retrieved_context doc_uris)
that the app retrieved. No LLM.

``value`` = recall = |expected ∩ retrieved| / |expected|, over distinct doc_uris; ``rating`` is
"yes" only when every expected document was retrieved (recall 1.0). Runs by default when the row
has expected_retrieved_context and the app's retrieved_context is known (an empty retrieval counts:
recall 0). Not applicable when no expected chunk has a doc_uri, or when chunks were retrieved but
none has a doc_uri (recall could not be measured).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..results import Assessment, AssessmentKind
from .base import EvalContext, JudgeRunner


def _uris(chunks: list[dict[str, object]] | None) -> list[str]:
    return list(dict.fromkeys(str(c["doc_uri"]) for c in chunks or [] if c.get("doc_uri")))


@dataclass
class DocumentRecall:
    name: str = "document_recall"
    kind: AssessmentKind = "check"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.retrieved_context is not None and bool(ctx.row.expected_retrieved_context)

    def missing(self, ctx: EvalContext) -> str | None:
        if not _uris(ctx.row.expected_retrieved_context):
            return "needs expected_retrieved_context with doc_uri values"
        if ctx.retrieved_context is None:
            return "needs retrieved_context (from the row or the app's output)"
        if ctx.retrieved_context and not _uris(ctx.retrieved_context):
            return "the retrieved chunks carry no doc_uri, so recall cannot be measured"
        return None

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        started = time.perf_counter()
        expected = _uris(ctx.row.expected_retrieved_context)
        retrieved = set(_uris(ctx.retrieved_context))
        found = [uri for uri in expected if uri in retrieved]
        missed = [uri for uri in expected if uri not in retrieved]
        recall = len(found) / len(expected)
        rationale = f"{len(found)} of {len(expected)} expected document(s) retrieved"
        if missed:
            rationale += "; missing: " + ", ".join(missed)
        return [
            Assessment(
                name=self.name,
                judge=self.name,
                kind="check",
                rating="yes" if not missed else "no",
                rationale=rationale,
                value=recall,
                latency_seconds=time.perf_counter() - started,
                details={"expected": expected, "found": found, "missing": missed},
            )
        ]
