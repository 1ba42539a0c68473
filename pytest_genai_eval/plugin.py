"""pytest hooks only: options, collection, the run loop, the summary. Work is delegated to
``session.GenAISession`` (state), ``engine`` (evaluation) and ``gate`` (verdict)."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import config as config_mod
from .api import MARKER
from .artifacts import ArtifactError
from .engine import RowJob
from .evalset import EvalSetError
from .fixtures import genai_judge, genai_result
from .gate import EXIT_OK, EXIT_QUALITY_FAILED
from .items import RowItem, SuiteFile, is_suite_file
from .keys import JOB_KEY, SESSION_KEY
from .redact import RedactingFilter
from .session import DuplicateSuiteError, Finish, GenAISession
from .suite import PYTHON_KEY_NAMES, SuiteError, build_suite
from .terminal import render
from .testing import genai_scripted_judge
from .verdict import raise_if_failed, raise_if_not_evaluated, record_properties

__all__ = ["genai_judge", "genai_result", "genai_scripted_judge"]

WORKER_OUTPUT_KEY = "genai_eval"
REPORT_ROWS = "genai_rows"  # the attribute of a worker's teardown report that carries its rows
GATE_NODE = "genai-gate"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    config_mod.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(data, app=None, ...): parametrize a test over the rows of an evaluation set "
        "(see pytest_genai_eval.evaluate).",
    )
    config.addinivalue_line("markers", "genai: an evaluation row item (added automatically).")
    try:
        settings = config_mod.resolve(config)
    except config_mod.ConfigError as exc:
        raise pytest.UsageError(f"pytest-genai-eval: {exc}") from None
    genai = GenAISession(settings)
    if not _is_xdist_worker(config):
        try:
            genai.load_baseline()
        except ArtifactError as exc:
            raise pytest.UsageError(f"pytest-genai-eval: --genai-baseline: {exc}") from None
    config.stash[SESSION_KEY] = genai
    genai.on_result = lambda result: config.hook.pytest_genai_eval_row_result(
        config=config, result=result
    )
    genai.on_document = lambda document, results: config.hook.pytest_genai_eval_results_document(
        config=config, document=document, results=results
    )
    if not _is_xdist_worker(config):
        genai.guard.install()  # SIGTERM and a second SIGINT can no longer lose the results
    genai.log_filter = RedactingFilter(genai.redactor)
    for logger in _package_loggers():
        logger.addFilter(genai.log_filter)
    if _progress_enabled(config, settings.progress):
        genai.progress_sink = lambda line: _write_progress(config, line)
    if not _is_xdist_worker(config):
        config.pluginmanager.register(FailureCounter(genai), "genai-eval-failure-counter")
        config.pluginmanager.register(LastFailed(genai), "genai-eval-last-failed")


def _progress_enabled(config: pytest.Config, mode: str) -> bool:
    if mode == "off" or _is_xdist_worker(config):
        return False
    if mode == "on":
        return True
    quiet = int(config.getoption("verbose") or 0) < 0
    return not quiet and not os.environ.get("CI") and sys.stdout.isatty()


def _write_progress(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.engine.close()
        session.guard.uninstall()
        if session.log_filter is not None:
            for logger in _package_loggers():
                logger.removeFilter(session.log_filter)


_REDACTED_LOGGERS = (__package__, "httpx", "httpcore")


def _package_loggers() -> list[logging.Logger]:
    """The loggers whose records can carry what the plugin sends or receives: this package's
    and the HTTP client's (filters apply only where a record is created, not to parents)."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in _REDACTED_LOGGERS]
    return [logging.getLogger(n) for n in dict.fromkeys([*_REDACTED_LOGGERS, *names])]


# ---- collection --------------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    session = parent.config.stash[SESSION_KEY]
    if is_suite_file(file_path, session.settings.suite_files):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None:
        return
    kwargs = dict(marker.kwargs)
    if marker.args:
        kwargs.setdefault("data", marker.args[0])
    session = metafunc.config.stash[SESSION_KEY]
    nodeid = metafunc.definition.nodeid
    unknown = sorted(set(kwargs) - PYTHON_KEY_NAMES)
    if unknown:
        pytest.fail(
            f"{nodeid}: unknown {MARKER} argument(s): {', '.join(unknown)} "
            f"(known: {', '.join(sorted(PYTHON_KEY_NAMES))})",
            pytrace=False,
        )
    kwargs["name"] = kwargs.get("name") or nodeid
    kwargs.setdefault("data", None)
    kwargs["allow_empty"] = bool(kwargs.get("allow_empty", False))
    try:
        suite = build_suite(
            **kwargs, base_dir=metafunc.definition.path.parent, source=nodeid
        )
        session.register_suite(suite)
    except (SuiteError, EvalSetError, DuplicateSuiteError) as exc:
        pytest.fail(f"{nodeid}: {exc}", pytrace=False)
    if "genai_row" not in metafunc.fixturenames:
        metafunc.fixturenames.append("genai_row")
    metafunc.parametrize("genai_row", suite.rows, ids=[row.request_id for row in suite.rows])
    session.function_suites[metafunc.definition.nodeid] = suite.name


def _job_for_function(item: pytest.Function, session: GenAISession) -> RowJob | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "genai_row" not in callspec.params:
        return None
    definition_id = f"{item.parent.nodeid}::{item.originalname}" if item.parent else item.nodeid
    suite_name = session.function_suites.get(definition_id)
    if suite_name is None:
        return None
    return RowJob(
        suite=session.suites[suite_name], row=callspec.params["genai_row"], nodeid=item.nodeid
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash[SESSION_KEY]
    for item in items:
        if isinstance(item, pytest.Function) and JOB_KEY not in item.stash:
            job = _job_for_function(item, session)
            if job is not None:
                item.stash[JOB_KEY] = job
                item.add_marker("genai")
    if session.settings.sample is not None:
        _sample_items(config, items, session.settings.sample, session.settings.sample_seed)
    shard = session.settings.shard
    if shard is not None:
        keep, drop = [], []
        for item in items:
            job = item.stash.get(JOB_KEY, None)
            if job is None or shard_of(job.suite.name, job.row.request_id, shard[1]) == shard[0]:
                keep.append(item)
            else:
                drop.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def _sample_items(config: pytest.Config, items: list[pytest.Item], count: int, seed: int) -> None:
    """``--genai-sample N``: keep N rows of every suite (sampling.py), deselect the others."""
    from .sampling import sampled

    jobs = [item.stash.get(JOB_KEY, None) for item in items]
    keep_keys = sampled(
        ((job.suite.name, job.row.request_id) for job in jobs if job is not None), count, seed
    )
    keep = [
        item
        for item, job in zip(items, jobs, strict=True)
        if job is None or (job.suite.name, job.row.request_id) in keep_keys
    ]
    if len(keep) < len(items):
        kept = {id(item) for item in keep}
        config.hook.pytest_deselected(items=[item for item in items if id(item) not in kept])
        items[:] = keep


def shard_of(suite: str, request_id: str, count: int) -> int:
    """The 1-based shard of a row: a stable hash, the same on every machine and Python."""
    digest = hashlib.sha256(f"{suite}\x00{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


@pytest.hookimpl(tryfirst=True)  # on an xdist worker, before it reports its collection
def pytest_collection_finish(session: pytest.Session) -> None:
    """Configuration mistakes are usage errors (exit 4) before anything is called."""
    config = session.config
    genai = config.stash[SESSION_KEY]
    jobs = [item.stash[JOB_KEY] for item in session.items if JOB_KEY in item.stash]
    problems = genai.configuration_problems(jobs)
    if not problems:
        return
    if _is_xdist_worker(config):
        # A UsageError here would crash the worker; instead it runs nothing and tells the
        # controller, which reports the problems and exits 4.
        genai.config_problems = problems
        session.items[:] = []
        return
    raise pytest.UsageError("\n".join(f"pytest-genai-eval: {p}" for p in problems))


# ---- running -----------------------------------------------------------------------------------


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_xdist_controller(config: pytest.Config) -> bool:
    return (
        not _is_xdist_worker(config)
        and config.pluginmanager.has_plugin("dsession")
        and bool(getattr(config.option, "numprocesses", None) or getattr(config.option, "tx", None))
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before items run: start evaluating every row this process will report."""
    config = session.config
    if _is_xdist_controller(config) or config.option.collectonly:
        return
    genai = config.stash[SESSION_KEY]
    if _is_xdist_worker(config):
        return  # rows are submitted as the worker learns which items it will run
    genai.prefetch(item.stash[JOB_KEY] for item in session.items if JOB_KEY in item.stash)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    job = item.stash.get(JOB_KEY, None)
    if job is None or isinstance(item, RowItem):
        return
    genai = item.config.stash[SESSION_KEY]
    result = genai.evaluate(job)
    record_properties(item, result)
    raise_if_not_evaluated(result, job.row.location)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    job = item.stash.get(JOB_KEY, None)
    if job is not None and not isinstance(item, RowItem):
        genai = item.config.stash[SESSION_KEY]
        row_result = genai.results.get(job.key)
        if row_result is not None:
            thresholds = [*job.suite.thresholds, *genai.settings.thresholds]
            raise_if_failed(row_result, thresholds, job.row.location)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    genai = item.config.stash[SESSION_KEY]
    if _is_xdist_worker(item.config):
        genai.prefetch(_worker_lookahead(item))
    result = yield
    if item.session.shouldfail or item.session.shouldstop:
        genai.engine.stop_scheduling()
    return result


def _worker_lookahead(item: pytest.Item) -> list[RowJob]:
    """Under xdist, the rows of this item and of the items queued to this worker."""
    jobs = []
    job = item.stash.get(JOB_KEY, None)
    if job is not None:
        jobs.append(job)
    for plugin in item.config.pluginmanager.get_plugins():
        torun = getattr(plugin, "torun", None)
        if torun is None or not hasattr(torun, "lock"):
            continue
        with torun.lock() as queue:
            pending = [i for i in queue if isinstance(i, int)]
        items = item.session.items
        for index in pending:
            if 0 <= index < len(items):
                queued = items[index].stash.get(JOB_KEY, None)
                if queued is not None:
                    jobs.append(queued)
    return jobs


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On an xdist worker, the rows an item evaluated travel to the controller with the item's
    teardown report: the controller has every reported row even if the worker never finishes."""
    report = yield
    if report.when == "teardown" and _is_xdist_worker(item.config):
        rows = item.config.stash[SESSION_KEY].take_unsent()
        if rows:
            setattr(report, REPORT_ROWS, [row.to_dict() for row in rows])
    return report


class FailureCounter:
    """Counts failing tests that are not evaluation rows (they fail the build on their own), and
    receives the rows xdist workers ship with their reports."""

    def __init__(self, genai: GenAISession) -> None:
        self.genai = genai
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rows = getattr(report, REPORT_ROWS, None)
        if rows:
            self.genai.receive(rows)
        if report.failed and "genai" not in report.keywords and report.nodeid not in self.failed:
            self.failed.add(report.nodeid)
            self.genai.other_failures += 1


# ---- xdist -------------------------------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    output = getattr(node, "workeroutput", {}) or {}
    data = output.get(WORKER_OUTPUT_KEY)
    if data:
        node.config.stash[SESSION_KEY].merge_worker_output(data)


# ---- the end -----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before junitxml and the last-failed cache write their files
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    genai = config.stash.get(SESSION_KEY, None)
    if genai is None:
        return
    genai.engine.close()
    if _is_xdist_worker(config):
        config.workeroutput[WORKER_OUTPUT_KEY] = genai.worker_output()  # type: ignore[attr-defined]
        return
    if genai.config_problems:  # found by xdist workers at collection; nothing was called
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for problem in genai.config_problems:
            if reporter is not None:
                reporter.write_line(f"ERROR: pytest-genai-eval: {problem}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    status = int(session.exitstatus)
    interrupted: bool | str = False
    if genai.guard.interrupted or status == pytest.ExitCode.INTERRUPTED:
        interrupted = f"interrupted by {genai.guard.first or 'KeyboardInterrupt'}"
    stopped = bool(session.shouldstop or session.shouldfail)
    if interrupted or stopped:
        genai.harvest()  # rows that finished but whose items never reported
    if not genai.results and not (interrupted and genai.engine.progress.submitted):
        return
    partial = None
    if stopped and not interrupted:
        partial = f"the run stopped early ({session.shouldfail or session.shouldstop})"
    finish = genai.finish(interrupted=interrupted, partial=partial, exit_status=status)
    if interrupted:
        session.exitstatus = pytest.ExitCode.INTERRUPTED
    elif status in (EXIT_OK, EXIT_QUALITY_FAILED):
        session.exitstatus = finish.gate.exit_code
    _report_gate(session, finish)


def _report_gate(session: pytest.Session, finish: Finish) -> None:
    """A gate that fails for a reason no item shows (a threshold, a baseline rule, the error
    budget) becomes a failing test case, ``genai-gate::<scope>``, so that JUnit XML and CI
    dashboards see the failure the exit code reports."""
    failures = finish.gate.unshown_failures()
    if not failures:
        return
    redact = session.config.stash[SESSION_KEY].redactor
    # Every report consumer (junitxml, the last-failed cache, report logs) sees the case; the
    # terminal does not: its summary already ends with the gate's verdict line.
    manager = session.config.pluginmanager
    terminal = [p for p in (manager.get_plugin("terminalreporter"),) if p is not None]
    logreport = manager.subset_hook_caller("pytest_runtest_logreport", remove_plugins=terminal)
    for scope, reasons in failures.items():
        nodeid = f"{GATE_NODE}::{scope}"
        location = (GATE_NODE, None, nodeid)
        report = pytest.TestReport(
            nodeid=nodeid,
            location=location,
            keywords={"genai": 1, GATE_NODE: 1},
            outcome="failed",
            longrepr=redact("\n".join([finish.gate.line, *reasons])),
            when="call",
            sections=[],
            duration=0.0,
            start=0.0,
            stop=0.0,
            user_properties=[("genai/gate", finish.gate.status)],
        )
        logreport(report=report)


class LastFailed:
    """``--lf`` reruns the rows that failed last time, also those a pass-rate threshold
    tolerated (reported as xfailed, which pytest's cache does not remember as failed); a
    ``genai-gate::`` entry is dropped once that gate no longer fails. Runs after pytest's own
    last-failed plugin has written ``cache/lastfailed``, and edits that file's plain form."""

    def __init__(self, genai: GenAISession) -> None:
        self.genai = genai

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        cache = getattr(session.config, "cache", None)  # None with -p no:cacheprovider
        finish = self.genai.finish_state
        if cache is None or finish is None or session.config.getoption("cacheshow", False):
            return
        failing_gates = {f"{GATE_NODE}::{scope}" for scope in finish.gate.unshown_failures()}
        saved = cache.get("cache/lastfailed", {})
        if not isinstance(saved, dict):
            return
        updated = {
            str(k): v
            for k, v in saved.items()
            if not str(k).startswith(GATE_NODE + "::") or str(k) in failing_gates
        }
        for result in self.genai.results.values():
            if result.status == "fail" and result.gated and result.nodeid:
                updated[result.nodeid] = True
        if updated != saved:
            cache.set("cache/lastfailed", updated)


def _report_files(finish: Finish) -> list[str]:
    published = finish.published
    if published is None:
        return []
    names = [p.name for p in (published.html, published.markdown) if p is not None]
    names += [p.name for p in published.plugin_reports]
    if published.baseline_written is not None:
        names.append(f"baseline updated: {published.baseline_written}")
    return names


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    genai = config.stash.get(SESSION_KEY, None)
    if genai is None or genai.finish_state is None:
        return
    finish = genai.finish_state
    terminalreporter.section("genai-eval summary")
    verbose = int(config.getoption("verbose") or 0)
    try:
        artifact = (
            str(finish.artifact.relative_to(config.invocation_params.dir))
            if finish.artifact
            else None
        )
    except ValueError:
        artifact = str(finish.artifact)
    results = genai.ordered_results()
    gated = [r for r in results if r.gated]
    lines = render(
        results=gated,
        metrics=finish.metrics,
        suite_metrics=finish.suite_metrics,
        gate=finish.gate,
        artifact=artifact,
        cache=genai.cache_summary(),
        judge_calls=genai.judge_calls,
        comparison=finish.comparison,
        extra_files=_report_files(finish),
        verbose=verbose,
        width=terminalreporter._tw.fullwidth if hasattr(terminalreporter, "_tw") else 80,
    )
    if finish.artifact_error:
        lines.insert(-1, finish.artifact_error)
    if len(gated) < len(results):
        lines.insert(
            -1,
            f"{len(results) - len(gated)} response(s) judged with genai_judge.check(): "
            "recorded in the results, not gated",
        )
    lines = [genai.redactor(line) for line in lines]
    for line in lines[:-1]:
        terminalreporter.write_line(line)
    status = finish.gate.status
    markup = {
        "green": status in ("passed", "empty"),
        "red": status == "failed",
        "yellow": status in ("errors", "undecidable", "incomplete", "interrupted"),
    }
    terminalreporter.write_line(lines[-1], bold=True, **{k: v for k, v in markup.items() if v})
