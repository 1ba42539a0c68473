"""Fixtures: the evaluated result of a row, and a judge usable inside any ordinary test."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from .engine import RowJob
from .evalset import EvalSetError
from .keys import JOB_KEY, SESSION_KEY
from .results import RowResult
from .suite import SuiteError, build_suite
from .verdict import describe


@pytest.fixture
def genai_result(request: pytest.FixtureRequest) -> RowResult:
    """The evaluated result of this item's row (only in tests decorated with ``evaluate``)."""
    job = request.node.stash.get(JOB_KEY, None)
    if job is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: genai_result needs @pytest_genai_eval.evaluate(...) "
            "or @pytest.mark.genai_eval(...)"
        )
    result: RowResult = request.config.stash[SESSION_KEY].evaluate(job)
    return result


@dataclass
class Judged:
    """The outcome of ``genai_judge.check(...)``: truthy when every judge that ran said yes."""

    result: RowResult

    @property
    def passed(self) -> bool:
        return self.result.status == "pass"

    def __bool__(self) -> bool:
        return self.passed

    def explain(self) -> str:
        return describe(self.result)


class GenAIJudge:
    """Judge a response inside any test.

    ``check(...)`` returns the verdict and records it in the run's results without gating: a
    test may well assert that a judge says no. ``assert_pass(...)`` gates: it fails the test
    (and counts in the gate) unless every judge that ran said yes.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self._count = 0

    def check(
        self,
        *,
        request: Any,
        response: Any,
        expected_facts: Sequence[str] | None = None,
        expected_response: str | None = None,
        guidelines: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        retrieved_context: Sequence[Any] | None = None,
        global_guidelines: Sequence[str] = (),
        judges: Sequence[str] | None = None,
        **extra: Any,
    ) -> Judged:
        """Judge one response; the verdict is recorded (artifact, tables) but never gated."""
        return self._judge(
            gated=False,
            request=request,
            response=response,
            expected_facts=expected_facts,
            expected_response=expected_response,
            guidelines=guidelines,
            retrieved_context=retrieved_context,
            global_guidelines=global_guidelines,
            judges=judges,
            **extra,
        )

    def _judge(
        self,
        *,
        gated: bool,
        request: Any,
        response: Any,
        expected_facts: Sequence[str] | None = None,
        expected_response: str | None = None,
        guidelines: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
        retrieved_context: Sequence[Any] | None = None,
        global_guidelines: Sequence[str] = (),
        judges: Sequence[str] | None = None,
        **extra: Any,
    ) -> Judged:
        self._count += 1
        node = self._request.node
        row: dict[str, Any] = {"request": request, "response": response, **extra}
        for key, value in (
            ("expected_facts", list(expected_facts) if expected_facts is not None else None),
            ("expected_response", expected_response),
            ("guidelines", guidelines),
            ("retrieved_context", retrieved_context),
        ):
            if value is not None:
                row[key] = value
        row.setdefault("request_id", f"check-{self._count}")
        try:
            suite = build_suite(
                name=node.nodeid,
                data=[row],
                judges=judges,
                global_guidelines=global_guidelines,
                source=node.nodeid,
            )
        except (EvalSetError, SuiteError) as exc:
            raise pytest.UsageError(str(exc)) from None
        session = self._request.config.stash[SESSION_KEY]
        job = RowJob(suite=suite, row=suite.rows[0], nodeid=node.nodeid)
        session.register_suite(suite)
        result = session.evaluate(job)
        result.gated = gated
        return Judged(result)

    def assert_pass(self, **kwargs: Any) -> Judged:
        """Like ``check``, but gating: fail the test with each failing judge's rationale (or the
        error); skip the test when no judge could run (no judge endpoint configured)."""
        judged = self._judge(gated=True, **kwargs)
        status = judged.result.status
        if status == "skipped":
            reasons = sorted({a.skipped or "" for a in judged.result.assessments})
            pytest.skip("not evaluated: " + "; ".join(reasons))
        if status != "pass":
            pytest.fail(judged.explain(), pytrace=False)
        return judged


@pytest.fixture
def genai_judge(request: pytest.FixtureRequest) -> GenAIJudge:
    """Judge responses inside ordinary tests with the configured judge endpoint."""
    return GenAIJudge(request)
