"""Judging rows with precomputed responses through the real runner (HTTP on 127.0.0.1), for
the judge, check, custom-judge and panel tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pytest_genai_eval.engine import judge_row
from pytest_genai_eval.judges import EvalContext
from pytest_genai_eval.llm import EndpointSettings
from pytest_genai_eval.results import Assessment, RowResult, TokenUsage
from pytest_genai_eval.runner import LLMJudgeRunner
from pytest_genai_eval.suite import build_suite
from pytest_genai_eval.testing import ScriptedJudge


def judge_rows(
    server: ScriptedJudge | None,
    rows: list[dict[str, Any]],
    *,
    concurrency: int = 8,
    missing_reason: str = "no judge endpoint configured",
    latency: float | None = None,
    **suite: Any,
) -> list[RowResult]:
    """Each row's assessments, rows judged one after another (a row's judges concurrently)."""
    spec = build_suite(name="t", data=rows, **suite)

    async def go() -> list[RowResult]:
        endpoint = (
            EndpointSettings(server.base_url, server.model, max_retries=0) if server else None
        )
        runner = LLMJudgeRunner(
            default=endpoint,
            missing_reason=missing_reason,
            concurrency=concurrency,
            stopping=threading.Event(),
        )
        out = []
        try:
            for row in spec.rows:
                ctx = EvalContext(
                    row=row,
                    response=row.response,
                    retrieved_context=row.retrieved_context,
                    global_guidelines=spec.global_guidelines,
                    latency_seconds=latency,
                    usage=TokenUsage.from_dict(row.response_usage),
                    tool_calls=row.response_tool_calls,
                )
                result = RowResult(suite=spec.name, request_id=row.request_id, row={})
                result.assessments = await judge_row(spec, ctx, runner)
                out.append(result)
        finally:
            await runner.aclose()
        return out

    return asyncio.run(go())


def by_name(result: RowResult) -> dict[str, Assessment]:
    return {a.name: a for a in result.assessments}
