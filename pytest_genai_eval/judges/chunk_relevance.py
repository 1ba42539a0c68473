"""chunk_relevance: one LLM verdict per retrieved chunk; the row's precision is the share of
relevant chunks.

The assessment: ``value`` = precision (relevant / judged chunks); ``rating`` = "yes" when at
least one chunk is relevant (retrieval found something useful), "no" when none is. Chunks without
text content (doc_uri only) are listed but not judged and do not count. Every chunk verdict is in
``details["chunks"]``: ``{"index", "doc_uri", "rating", "rationale", "error"}`` (``index`` is the
chunk's position in retrieved_context, from 0). If any chunk verdict fails, the assessment is an
error (precision unknown); if none could run (no judge configured), it is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..results import Assessment, AssessmentKind
from .base import (
    EvalContext,
    JudgeRunner,
    PromptTemplate,
    ask_yes_no,
    joined_models,
    section,
    sum_usage,
)
from .voting import Aggregate, aggregate_ratings


def _chunk_text(chunk: dict[str, Any]) -> str:
    parts = []
    if chunk.get("doc_uri"):
        parts.append(section("doc_uri", str(chunk["doc_uri"])))
    parts.append(section("chunk", str(chunk.get("content") or "")))
    return "\n\n".join(parts)


def _summary(ratings: Sequence[str | None], judged: int) -> tuple[str, float, str]:
    relevant = sum(1 for r in ratings if r == "yes")
    precision = relevant / judged
    rating = "yes" if relevant else "no"
    text = f"{relevant} of {judged} retrieved chunk(s) relevant (precision {precision:.2f})"
    if not relevant:
        text = f"none of the {judged} retrieved chunk(s) is relevant to the request"
    return rating, precision, text


@dataclass
class ChunkRelevance:
    template: PromptTemplate = field(
        default_factory=lambda: PromptTemplate.builtin("chunk_relevance")
    )
    name: str = "chunk_relevance"
    kind: AssessmentKind = "llm"

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.has_context and not ctx.has_ground_truth

    def missing(self, ctx: EvalContext) -> str | None:
        return None if ctx.has_context else "needs retrieved_context with content"

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        chunks = list(ctx.retrieved_context or [])
        judged = [(i, c) for i, c in enumerate(chunks) if c.get("content")]
        request = section("request", ctx.request)
        verdicts = await asyncio.gather(
            *(
                ask_yes_no(
                    runner,
                    judge=self.name,
                    name=self.name,
                    template=self.template,
                    variables={"request": request, "chunk": _chunk_text(chunk)},
                )
                for _, chunk in judged
            )
        )
        by_index = {index: verdict for (index, _), verdict in zip(judged, verdicts, strict=True)}
        details: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            verdict = by_index.get(index)
            entry: dict[str, Any] = {"index": index, "doc_uri": chunk.get("doc_uri")}
            if verdict is None:
                entry.update(rating=None, rationale=None, error=None, skipped="no content")
            else:
                entry.update(
                    rating=verdict.rating,
                    rationale=verdict.rationale,
                    error=verdict.error,
                    skipped=verdict.skipped,
                )
            details.append(entry)
        result = Assessment(
            name=self.name,
            judge=self.name,
            kind="llm",
            prompt_version=self.template.version,
            model=joined_models([v.model for v in verdicts]),
            usage=sum_usage([v.usage for v in verdicts]),
            latency_seconds=max((v.latency_seconds for v in verdicts), default=0.0),
            cached=bool(verdicts) and all(v.cached for v in verdicts),
            details={"chunks": details},
        )
        skipped = [v for v in verdicts if v.skipped]
        if skipped and len(skipped) == len(verdicts):
            result.skipped = skipped[0].skipped
            return [result]
        failed = [v for v in verdicts if v.rating is None]
        if failed:
            first = failed[0].error or failed[0].skipped or "no verdict"
            result.error = (
                f"{len(failed)} of {len(verdicts)} chunk verdict(s) failed, precision unknown: "
                f"{first}"
            )
            return [result]
        rating, precision, text = _summary([v.rating for v in verdicts], len(verdicts))
        result.rating = "yes" if rating == "yes" else "no"
        result.value = precision
        result.rationale = text
        return [result]

    def refine_panel(
        self, combined: Assessment, votes: Sequence[Assessment], rule: Aggregate
    ) -> None:
        """Panel/repeat aggregation: aggregate each chunk's votes with ``rule``, then recompute
        precision and rating from the aggregated chunk verdicts."""
        if combined.rating is None:
            return
        lists = [v.details.get("chunks") for v in votes]
        template = next((c for c in lists if isinstance(c, list)), None)
        if template is None:
            return
        chunks: list[dict[str, Any]] = []
        ratings: list[str | None] = []
        split = False
        for position, base in enumerate(template):
            entry: dict[str, Any] = {"index": base.get("index"), "doc_uri": base.get("doc_uri")}
            if base.get("skipped") == "no content":
                entry.update(rating=None, rationale=None, error=None, skipped="no content")
                chunks.append(entry)
                continue
            chunk_votes: list[Any] = []
            for listing in lists:
                item = listing[position] if isinstance(listing, list) else None
                chunk_votes.append(item.get("rating") if isinstance(item, dict) else None)
            tally = aggregate_ratings(chunk_votes, rule)
            split = split or tally.split
            entry.update(rating=tally.rating, rationale=tally.summary, error=tally.error)
            entry["votes"] = chunk_votes
            chunks.append(entry)
            ratings.append(tally.rating)
        combined.details["chunks"] = chunks
        if split:
            combined.details["flaky"] = True
        if not ratings:
            return
        failed = [r for r in ratings if r is None]
        if failed:
            combined.rating = None
            combined.value = None
            combined.error = (
                f"{len(failed)} of {len(ratings)} chunk(s) have no aggregated verdict, "
                "precision unknown"
            )
            return
        rating, precision, text = _summary(ratings, len(ratings))
        combined.rating = "yes" if rating == "yes" else "no"
        combined.value = precision
        combined.rationale = f"{text}; {rule} over the votes of each chunk"
