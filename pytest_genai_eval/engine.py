"""Concurrent evaluation of rows, apart from the pytest items that report them.

The engine owns a private event loop on a background thread. Rows are submitted as soon as the
plugin knows this process will run them; app calls and judge calls for many rows overlap, bounded
by semaphores. A pytest item only waits for its own row's future and reports it. Because the loop
is private, the engine works the same when the user's tests run their own event loop
(pytest-asyncio, Jupyter).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
import traceback
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from .cache import VerdictCache
from .conversation import evaluate_conversation
from .evalset import Row
from .judges import EvalContext
from .label_suite import apply_labels
from .llm import EndpointSettings
from .redact import Redactor
from .results import Assessment, RowResult, TokenUsage
from .runner import LLMJudgeRunner
from .settings import SETTINGS_BY_NAME
from .suite import SuiteSpec
from .targets import AppCallError, Target, TimedOutput, call_timed

T = TypeVar("T")

RowKey = tuple[str, str]


class EngineStopped(Exception):
    """The session is stopping (``-x``, Ctrl-C); work not yet started is abandoned."""


@dataclass(frozen=True)
class EngineSettings:
    judge: EndpointSettings | None = None
    judge_missing_reason: str = "no judge endpoint is configured"
    concurrency: int = SETTINGS_BY_NAME["concurrency"].default
    app_concurrency: int | None = None
    cache: VerdictCache | None = None
    requests_per_minute: float | None = None
    row_timeout: float | None = None


@dataclass
class Progress:
    submitted: int = 0
    done: int = 0
    errors: int = 0
    failed: int = 0
    cache_hits: int = 0
    first_submit: float | None = None
    last_done: float | None = None

    @property
    def evaluation_seconds(self) -> float | None:
        """Wall time from the first row submitted to the last row done."""
        if self.first_submit is None or self.last_done is None:
            return None
        return max(0.0, self.last_done - self.first_submit)

    def eta_seconds(self) -> float | None:
        if self.done == 0 or self.submitted <= self.done or self.first_submit is None:
            return None
        elapsed = time.perf_counter() - self.first_submit
        return elapsed / self.done * (self.submitted - self.done)


@dataclass(frozen=True)
class RowJob:
    suite: SuiteSpec
    row: Row
    nodeid: str | None = None

    @property
    def key(self) -> RowKey:
        return (self.suite.name, self.row.request_id)


class Engine:
    """Evaluates rows on a private loop. ``redactor`` scrubs every result before anyone sees it
    (artifacts, reports, terminal, JUnit): the one place row texts enter the run."""

    def __init__(self, settings: EngineSettings, redactor: Redactor | None = None) -> None:
        self.settings = settings
        self.redactor = redactor if redactor is not None else Redactor()
        self._futures: dict[RowKey, concurrent.futures.Future[RowResult]] = {}
        self._jobs: dict[RowKey, RowJob] = {}
        self.progress = Progress()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: LLMJudgeRunner | None = None
        self._row_slots: asyncio.Semaphore | None = None
        self._app_slots: asyncio.Semaphore | None = None

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="genai-eval-engine", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        asyncio.run_coroutine_threadsafe(self._setup(), loop).result()

    async def _setup(self) -> None:
        concurrency = max(1, self.settings.concurrency)
        self._row_slots = asyncio.Semaphore(concurrency)
        self._app_slots = asyncio.Semaphore(max(1, self.settings.app_concurrency or concurrency))
        self._runner = LLMJudgeRunner(
            default=self.settings.judge,
            missing_reason=self.settings.judge_missing_reason,
            concurrency=concurrency,
            stopping=self._stopping,
            cache=self.settings.cache,
            requests_per_minute=self.settings.requests_per_minute,
            redactor=self.redactor,
        )

    def stop_scheduling(self) -> None:
        """Rows not yet started are abandoned (their items will not run anyway)."""
        self._stopping.set()

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._stopping.set()
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if self.settings.cache is not None:
            self.settings.cache.close()
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.aclose()
        seen: set[int] = set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            target = job.suite.target
            if target is not None and id(target) not in seen:
                seen.add(id(target))
                with contextlib.suppress(Exception):
                    await target.aclose()

    # ---- work ------------------------------------------------------------------------------------
    def submit(self, job: RowJob) -> concurrent.futures.Future[RowResult]:
        """Start evaluating a row (once); returns its future."""
        with self._lock:
            future = self._futures.get(job.key)
            if future is not None:
                return future
            if self._loop is None:
                self.start()
            assert self._loop is not None
            self._jobs[job.key] = job
            future = asyncio.run_coroutine_threadsafe(self._evaluate(job), self._loop)
            self._futures[job.key] = future
            self.progress.submitted += 1
            if self.progress.first_submit is None:
                self.progress.first_submit = time.perf_counter()
            return future

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the engine loop and wait for it (for fixtures inside tests)."""
        if self._loop is None:
            self.start()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def finished_results(self) -> list[RowResult]:
        """Every row whose evaluation finished, in submission order (also rows whose items have
        not reported yet: after an interrupt they are kept, not lost)."""
        with self._lock:
            futures = list(self._futures.items())
        out = []
        for key, future in futures:
            if not future.done() or future.cancelled() or future.exception() is not None:
                continue
            result = future.result()
            if result.nodeid is None:
                result.nodeid = self._jobs[key].nodeid
            out.append(result)
        return out

    @property
    def started(self) -> bool:
        return self._runner is not None

    @property
    def runner(self) -> LLMJudgeRunner:
        assert self._runner is not None, "engine not started"
        return self._runner

    async def _evaluate(self, job: RowJob) -> RowResult:
        assert self._row_slots is not None
        async with self._row_slots:
            if self._stopping.is_set():
                raise EngineStopped(f"{job.key}: session stopping")
            try:
                result = await asyncio.wait_for(
                    self.evaluate_row(job), timeout=self.settings.row_timeout
                )
            except (TimeoutError, asyncio.TimeoutError):  # two classes before Python 3.11
                result = self._failed_row(
                    job,
                    f"evaluation of this row exceeded its deadline of {self.settings.row_timeout:g} s "
                    "(--genai-row-timeout)",
                )
            except Exception as exc:  # a bug must surface on the row, not vanish
                result = self._failed_row(
                    job,
                    "internal error in pytest-genai-eval: "
                    + "".join(traceback.format_exception(exc)),
                )
            apply_labels(result, job.suite.labels)  # human labels: the verdict of record
            result.redact(self.redactor.scrub)
            progress = self.progress
            progress.done += 1
            progress.last_done = time.perf_counter()
            progress.errors += int(result.status == "error")
            progress.failed += int(result.status == "fail")
            progress.cache_hits += sum(1 for a in result.assessments if a.cached)
            return result

    def _failed_row(self, job: RowJob, message: str) -> RowResult:
        result = RowResult(
            suite=job.suite.name, request_id=job.row.request_id, row=job.row.to_record()
        )
        result.nodeid = job.nodeid
        result.app_error = message
        return result

    async def evaluate_row(self, job: RowJob) -> RowResult:
        row, suite = job.row, job.suite
        result = RowResult(
            suite=suite.name, request_id=row.request_id, row=row.to_record(), nodeid=job.nodeid
        )
        response = row.response
        context = row.retrieved_context
        latency: float | None = None
        usage: TokenUsage | None = None
        finish_reason: str | None = None
        if row.is_conversation:
            if suite.target is None:
                result.app_error = "a conversation row needs an app to talk to (suite key 'app')"
                return result
            target = suite.target

            async def call_app(turn: Row) -> TimedOutput:
                return await self._call_app(target, turn, job)

            return await evaluate_conversation(
                row, suite.judges, suite.global_guidelines, result, call_app, self.runner
            )
        if row.response_usage:
            usage = TokenUsage.from_dict(row.response_usage)
        tool_calls = row.response_tool_calls
        if not row.has_response and suite.target is not None:
            assert self._app_slots is not None
            async with self._app_slots:
                if self._stopping.is_set():
                    raise EngineStopped(f"{job.key}: session stopping")
                try:
                    timed = await call_timed(suite.target, row)
                except AppCallError as exc:
                    result.app_error = str(exc)
                    return result
            response = timed.output.text
            tool_calls = timed.output.tool_calls
            latency = timed.latency_seconds
            usage = timed.output.usage
            finish_reason = timed.output.finish_reason
            result.app_model = timed.output.model
            if timed.output.retrieved_context is not None:
                context = timed.output.retrieved_context
        result.response = response
        result.tool_calls = tool_calls
        result.retrieved_context = context
        result.latency_seconds = latency
        result.app_usage = usage
        ctx = EvalContext(
            row=row,
            response=response,
            retrieved_context=context,
            global_guidelines=suite.global_guidelines,
            latency_seconds=latency,
            usage=usage,
            finish_reason=finish_reason,
            tool_calls=tool_calls,
        )
        result.assessments = await judge_row(suite, ctx, self.runner)
        return result

    async def _call_app(self, target: Target, row: Row, job: RowJob) -> TimedOutput:
        """One app call within the app slots (a conversation's turns, one after another)."""
        assert self._app_slots is not None
        async with self._app_slots:
            if self._stopping.is_set():
                raise EngineStopped(f"{job.key}: session stopping")
            return await call_timed(target, row)


async def judge_row(suite: SuiteSpec, ctx: EvalContext, runner: LLMJudgeRunner) -> list[Assessment]:
    """Run the row's judges concurrently; keep a stable order in the result."""
    to_run, not_applicable = suite.judges.plan(ctx)
    batches = await asyncio.gather(*(judge.run(ctx, runner) for judge in to_run))
    assessments = [a for batch in batches for a in batch]
    return assessments + not_applicable
