"""The one object that holds a pytest session's evaluation state (kept in ``config.stash``)."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import VerdictCache
from .calibration import label_threshold_problems
from .config import RunSettings
from .cost import cost_threshold_problems
from .document import RunDocument, as_document, build_document, iso_time
from .engine import Engine, EngineSettings, RowJob, RowKey
from .errors import ConfigurationError
from .gate import GateResult, Threshold, threshold_problems
from .outcome import evaluate_run
from .redact import Redactor
from .results import RowResult
from .review_queue import write_run_review_queue
from .signals import InterruptGuard
from .suite import SuiteSpec

if TYPE_CHECKING:
    from .compare import Comparison
    from .compare.pairwise import PairwiseSummary
    from .publish import Published


class DuplicateSuiteError(ConfigurationError, ValueError):
    pass


@dataclass
class SuiteInfo:
    """What the controller needs to know about a suite it may never have collected (xdist)."""

    name: str
    thresholds: list[Threshold]
    public: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "public": self.public,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteInfo:
        thresholds = [Threshold.from_dict(t) for t in data.get("thresholds", [])]
        return cls(name=data["name"], thresholds=thresholds, public=dict(data.get("public") or {}))


@dataclass
class Finish:
    gate: GateResult
    metrics: dict[str, Any]
    suite_metrics: dict[str, dict[str, Any]]
    artifact: Path | None
    artifact_error: str | None = None
    comparison: Comparison | None = None
    published: Published | None = None


@dataclass
class GenAISession:
    settings: RunSettings
    suites: dict[str, SuiteSpec] = field(default_factory=dict)
    suite_info: dict[str, SuiteInfo] = field(default_factory=dict)
    function_suites: dict[str, str] = field(default_factory=dict)  # test definition -> suite
    results: dict[RowKey, RowResult] = field(default_factory=dict)
    other_failures: int = 0
    started_at: float = field(default_factory=time.time)
    finish_state: Finish | None = None
    progress_sink: Callable[[str], None] | None = None
    baseline: tuple[RunDocument, list[RowResult]] | None = None
    merged_judge_calls: int = 0
    merged_evaluation_seconds: float | None = None
    merged_cache: dict[str, int] = field(default_factory=dict)
    guard: InterruptGuard = field(default_factory=InterruptGuard)
    config_problems: list[str] = field(default_factory=list)
    unsent: list[RowResult] = field(default_factory=list)  # xdist: not yet sent to the controller
    engine: Engine = field(init=False)
    redactor: Redactor = field(init=False)
    log_filter: logging.Filter | None = None
    # the pytest_genai_eval_* hooks, set by the plugin
    on_result: Callable[[RowResult], None] | None = None
    on_document: Callable[[dict[str, Any], list[RowResult]], None] | None = None

    def __post_init__(self) -> None:
        self.redactor = Redactor()
        if self.settings.judge is not None:
            key = self.settings.judge.api_key
            self.redactor.add(key.reveal() if key else None)
            self.redactor.add_url(self.settings.judge.base_url)
        cache = (
            VerdictCache(self.settings.cache_dir, self.settings.cache_mode)
            if self.settings.cache_mode != "off"
            else None
        )
        self.engine = Engine(
            EngineSettings(
                judge=self.settings.judge,
                judge_missing_reason=self.settings.judge_missing_reason,
                concurrency=self.settings.concurrency,
                cache=cache,
                requests_per_minute=self.settings.requests_per_minute,
                row_timeout=self.settings.row_timeout,
            ),
            redactor=self.redactor,
        )

    # ---- suites ----------------------------------------------------------------------------------
    def register_suite(self, suite: SuiteSpec) -> SuiteSpec:
        existing = self.suites.get(suite.name)
        if existing is not None:
            if existing.source == suite.source:
                return existing
            raise DuplicateSuiteError(
                f"suite name {suite.name!r} is used by both {existing.source} and {suite.source}; "
                "give one of them another 'name'"
            )
        if self.settings.repeat > 1:  # the command line overrides a suite's `repeat:`
            suite.judges = suite.judges.with_repeat(
                self.settings.repeat,
                self.settings.repeat_rule,
                origin="--genai-repeat",
                k=self.settings.repeat_k,
            )
        self.suites[suite.name] = suite
        secrets = getattr(suite.target, "secrets", None)
        if callable(secrets):
            for secret in secrets():
                self.redactor.add(secret)
        for panel in suite.judges.panels.values():  # panel judges' keys and URLs, up front
            for member in panel.members:
                self.redactor.add_url(member.base_url)
                if member.api_key_env:
                    self.redactor.add(os.environ.get(member.api_key_env))
        self.suite_info[suite.name] = SuiteInfo(
            name=suite.name, thresholds=list(suite.thresholds), public=suite.public_dict()
        )
        return suite

    def configuration_problems(self, jobs: Iterable[RowJob]) -> list[str]:
        """Mistakes found once collection is done, before anything is called: thresholds (of a
        suite, or of the run) naming a metric, judge or check the run does not have, and
        ``--genai-require-judge`` without a judge."""
        problems: list[str] = []
        suites = {job.suite.name: job.suite for job in jobs}
        for suite in suites.values():
            problems += threshold_problems(suite.thresholds, suite.assessment_names())
            problems += _latency_problems(suite.thresholds, [suite])
            problems += cost_threshold_problems(suite.thresholds, self.settings.prices)
            problems += label_threshold_problems(suite.thresholds, suite.labels is not None)
        if suites:
            names = set().union(*(suite.assessment_names() for suite in suites.values()))
            problems += threshold_problems(self.settings.thresholds, names)
            problems += _latency_problems(self.settings.thresholds, list(suites.values()))
            problems += cost_threshold_problems(self.settings.thresholds, self.settings.prices)
            problems += label_threshold_problems(
                self.settings.thresholds, any(s.labels is not None for s in suites.values())
            )
            if self.settings.require_judge and self.settings.judge is None:
                problems.append(
                    "--genai-require-judge is set but " + self.settings.judge_missing_reason
                )
        return problems

    # ---- results ---------------------------------------------------------------------------------
    def evaluate(self, job: RowJob) -> RowResult:
        """Wait for a row's result (submitting it if needed) and record it for this run."""
        future = self.engine.submit(job)
        while True:
            try:
                result = future.result(
                    timeout=self.settings.progress_interval if self.progress_sink else None
                )
                break
            except concurrent.futures.TimeoutError:
                if self.progress_sink is not None:
                    self.progress_sink(self.progress_line())
        if job.nodeid:
            result.nodeid = job.nodeid
        self.record(result)
        return result

    def record(self, result: RowResult) -> None:
        """Keep a row's result for this run (and, on an xdist worker, for the controller)."""
        if result.key not in self.results:
            self.unsent.append(result)
            if self.on_result is not None:
                self.on_result(result)
        self.results[result.key] = result

    def take_unsent(self) -> list[RowResult]:
        """The results recorded since the last call: an xdist worker ships them with the report
        of the item that recorded them, so the controller has every reported row even when the
        worker never finishes (an interrupt)."""
        rows, self.unsent = self.unsent, []
        return rows

    def receive(self, rows: Iterable[dict[str, Any]]) -> None:
        """On the xdist controller: rows a worker shipped with a test report."""
        for raw in rows:
            result = RowResult.from_dict(raw)
            self.results[result.key] = result

    def progress_line(self) -> str:
        p = self.engine.progress
        eta = p.eta_seconds()
        parts = [
            f"{p.done}/{p.submitted} rows evaluated",
            f"{p.failed} failed",
            f"{p.errors} errors",
            f"{p.cache_hits} cache hits",
        ]
        if eta is not None:
            parts.append(f"ETA {eta:.0f}s")
        return "[genai] " + " · ".join(parts)

    def cache_summary(self) -> dict[str, Any] | None:
        cache = self.engine.settings.cache
        if cache is None:
            return {"mode": "off"}
        stats = cache.stats.to_dict()
        for key, value in self.merged_cache.items():
            stats[key] = int(stats.get(key) or 0) + value
        return {"mode": cache.mode, "dir": self.settings.shown(cache.directory), **stats}

    def prefetch(self, jobs: Iterable[RowJob]) -> None:
        for job in jobs:
            self.engine.submit(job)

    @property
    def judge_calls(self) -> int:
        runner = self.engine.runner if self.engine.started else None
        return (runner.calls if runner else 0) + self.merged_judge_calls

    @property
    def evaluation_seconds(self) -> float | None:
        """Wall time of the evaluation (first row submitted to last row done; under xdist the
        longest worker's)."""
        own = self.engine.progress.evaluation_seconds
        spans = [s for s in (own, self.merged_evaluation_seconds) if s is not None]
        return round(max(spans), 3) if spans else None

    def worker_output(self) -> dict[str, Any]:
        return {
            "evaluation_seconds": self.engine.progress.evaluation_seconds,
            "judge_calls": self.judge_calls,
            "cache": self.cache_summary(),
            "suites": [info.to_dict() for info in self.suite_info.values()],
            "other_failures": self.other_failures,
            "config_problems": self.config_problems,
        }

    def merge_worker_output(self, data: dict[str, Any]) -> None:
        self.merged_judge_calls += int(data.get("judge_calls") or 0)
        span = data.get("evaluation_seconds")
        if span is not None:
            self.merged_evaluation_seconds = max(self.merged_evaluation_seconds or 0.0, float(span))
        cache = data.get("cache") or {}
        for key in ("hits", "misses", "writes", "corrupt"):
            self.merged_cache[key] = self.merged_cache.get(key, 0) + int(cache.get(key) or 0)
        for info in data.get("suites", []):
            self.suite_info.setdefault(info["name"], SuiteInfo.from_dict(info))
        for problem in data.get("config_problems") or []:
            if problem not in self.config_problems:  # every worker finds the same ones
                self.config_problems.append(str(problem))

    # ---- the end -----------------------------------------------------------------------------------
    def ordered_results(self) -> list[RowResult]:
        return sorted(self.results.values(), key=lambda r: (r.suite, r.nodeid or "", r.request_id))

    def pairwise(self, results: list[RowResult]) -> PairwiseSummary | None:
        """``pairwise_preference`` on the rows whose response changed (``pairwise_run.py``)."""
        from .pairwise_run import run_pairwise

        if self.baseline is None:
            return None
        return run_pairwise(self.baseline[1], results, self.engine.settings, self.redactor)

    def load_baseline(self) -> None:
        """Read the baseline before anything runs, so a bad path is a usage error up front."""
        from .compare import load_baseline

        path = self.settings.baseline
        if path is None or (self.settings.update_baseline and not path.exists()):
            return
        self.baseline = load_baseline(path)

    def harvest(self) -> None:
        """Keep every row the engine finished, also those whose items never reported (the run
        was interrupted or stopped early): a verdict that was paid for is never dropped."""
        for result in self.engine.finished_results():
            if result.key not in self.results:
                self.record(result)

    def finish(
        self,
        *,
        interrupted: bool | str,
        partial: str | None = None,
        exit_status: int | None = None,
        write: bool = True,
    ) -> Finish:
        """Gate the run, then write the artifact, reports and history.

        ``interrupted``: a signal ended the run (INTERRUPTED, exit 2). ``partial``: why the run
        covers fewer rows than selected without an interrupt (``-x``). ``exit_status``: pytest's
        own exit status when it is neither 0 nor 1 (a collection or internal error, a usage
        error): then that is the process's exit code, and the verdict says so.
        """
        # reports, comparison and history are needed only now: imported here, not at start-up
        from .publish import Published, apply_comparison, compare_with_baseline, publish

        results = self.ordered_results()
        gated = [r for r in results if r.gated]
        outcome = evaluate_run(
            gated,
            suite_thresholds={name: info.thresholds for name, info in self.suite_info.items()},
            run_thresholds=self.settings.thresholds,
            other_failures=self.other_failures,
            interrupted=interrupted,
            partial=partial,
            prices=self.settings.prices,
            clusters={name: info.public.get("cluster") for name, info in self.suite_info.items()},
        )
        complete = not interrupted and partial is None
        document = self.document(outcome.metrics, outcome.suite_metrics, complete)
        comparison = None
        if self.baseline is not None and not self.settings.update_baseline:
            comparison = compare_with_baseline(
                self.baseline,
                document,
                gated,
                self.settings.baseline_rules,
                self.pairwise(gated) if self.settings.baseline_pairwise else None,
            )
            apply_comparison(outcome.gate, comparison, interrupted=bool(interrupted))
            document.baseline = comparison.to_dict()
        if exit_status is not None and exit_status not in (0, 1) and not interrupted:
            outcome.gate.reasons.insert(0, f"pytest exits {exit_status}: {_meaning(exit_status)}")
            outcome.gate.exit_code = exit_status
        data = {**document.to_json_dict(), "verdict": outcome.gate.to_dict()}
        if self.on_document is not None:  # the JSON form: a hook may add keys
            self.on_document(data, results)
        # configs echo URLs and app descriptions: redacted, then validated again
        document = as_document(self.redactor.scrub(data))
        published = Published()
        if write and (results or interrupted):
            published = publish(
                self.settings.results_dir,
                document,
                results,
                comparison=comparison,
                history_db=self.settings.history_db,
                git_cwd=self.settings.results_dir.parent,
                update_baseline=self.settings.baseline if self.settings.update_baseline else None,
                parquet=self.settings.parquet,
                delta_table=self.settings.delta_table,
                mlflow=self.settings.mlflow,
                redact=self.redactor.scrub,
            )
        if write and self.settings.review_queue is not None and results:
            queue, warning = write_run_review_queue(
                self.settings.review_queue, results, self.settings.review_sample
            )
            published.plugin_reports += [queue] if queue is not None else []
            published.warnings += [warning] if warning is not None else []
        self.finish_state = Finish(
            outcome.gate,
            outcome.metrics,
            outcome.suite_metrics,
            published.artifact,
            "; ".join(published.warnings) or None,
            comparison=comparison,
            published=published,
        )
        return self.finish_state

    def document(
        self,
        metrics: dict[str, Any],
        suite_metrics: dict[str, dict[str, Any]],
        complete: bool,
    ) -> RunDocument:
        now = time.time()
        return build_document(
            complete=complete,
            interrupted_by=self.guard.first,
            started_at=iso_time(self.started_at),
            finished_at=iso_time(now),
            duration_seconds=round(now - self.started_at, 3),
            config=self.settings.public_dict(),
            cache=self.cache_summary(),
            judge_calls=self.judge_calls,
            evaluation_seconds=self.evaluation_seconds,
            metrics=metrics,
            suite_metrics=suite_metrics,
            suite_configs={name: info.public for name, info in self.suite_info.items()},
        )


def _latency_problems(thresholds: Iterable[Threshold], suites: list[SuiteSpec]) -> list[str]:
    """A latency threshold where no row calls an app (precomputed responses) can never have
    data: a configuration mistake, not a verdict."""
    if any(suite.target is not None for suite in suites):
        return []
    return [
        f"{t.origin + ': ' if t.origin else ''}threshold {t.name!r} needs app calls to time, "
        f"but {', '.join(repr(s.name) for s in suites)} only has precomputed responses"
        for t in thresholds
        if t.metric({}).startswith("agent/latency_seconds/")
    ]


_PYTEST_EXITS = {
    2: "interrupted, or errors during collection",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}


def _meaning(status: int) -> str:
    return _PYTEST_EXITS.get(status, "see pytest's exit codes")

