"""pytest hooks only: options, collection, the run loop, the summary. Work is delegated to
``session.GenAISession`` (state), ``engine`` (evaluation) and ``gate`` (verdict)."""

from __future__ import annotations

import hashlib
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
from .session import DuplicateSuiteError, Finish, GenAISession
from .suite import SuiteError, build_suite
from .terminal import render
from .testing import genai_scripted_judge
from .verdict import raise_if_failed, raise_if_not_evaluated, record_properties

__all__ = ["genai_judge", "genai_result", "genai_scripted_judge"]

WORKER_OUTPUT_KEY = "genai_eval"


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
    if _progress_enabled(config, settings.progress):
        genai.progress_sink = lambda line: _write_progress(config, line)
    if not _is_xdist_worker(config):
        config.pluginmanager.register(FailureCounter(genai), "genai-eval-failure-counter")


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
    name = kwargs.pop("name", None) or metafunc.definition.nodeid
    try:
        suite = build_suite(
            name=name,
            data=kwargs.pop("data", None),
            app=kwargs.pop("app", None),
            judges=kwargs.pop("judges", None),
            exclude_judges=kwargs.pop("exclude_judges", None) or (),
            global_guidelines=kwargs.pop("global_guidelines", None) or (),
            thresholds=kwargs.pop("thresholds", None),
            prompts=kwargs.pop("prompts", None),
            custom_judges=kwargs.pop("custom_judges", None) or (),
            checks=kwargs.pop("checks", None) or (),
            panels=kwargs.pop("panels", None),
            repeat=kwargs.pop("repeat", None),
            repeat_rule=kwargs.pop("repeat_rule", None),
            base_dir=metafunc.definition.path.parent,
            source=metafunc.definition.nodeid,
        )
        session.register_suite(suite)
    except (SuiteError, EvalSetError, DuplicateSuiteError) as exc:
        pytest.fail(f"{metafunc.definition.nodeid}: {exc}", pytrace=False)
    if kwargs:
        pytest.fail(
            f"{metafunc.definition.nodeid}: unknown {MARKER} argument(s): {', '.join(sorted(kwargs))}",
            pytrace=False,
        )
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


def shard_of(suite: str, request_id: str, count: int) -> int:
    """The 1-based shard of a row: a stable hash, the same on every machine and Python."""
    digest = hashlib.sha256(f"{suite}\x00{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def pytest_collection_finish(session: pytest.Session) -> None:
    genai = session.config.stash[SESSION_KEY]
    needs_judge = any(JOB_KEY in item.stash for item in session.items)
    if genai.settings.require_judge and needs_judge and genai.settings.judge is None:
        raise pytest.UsageError(
            "pytest-genai-eval: --genai-require-judge is set but "
            + genai.settings.judge_missing_reason
        )


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


class FailureCounter:
    """Counts failing tests that are not evaluation rows (they fail the build on their own)."""

    def __init__(self, genai: GenAISession) -> None:
        self.genai = genai
        self.failed: set[str] = set()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    genai = config.stash.get(SESSION_KEY, None)
    if genai is None:
        return
    genai.engine.close()
    if _is_xdist_worker(config):
        config.workeroutput[WORKER_OUTPUT_KEY] = genai.worker_output()  # type: ignore[attr-defined]
        return
    if not genai.results:
        return
    interrupted = int(exitstatus) == pytest.ExitCode.INTERRUPTED or bool(
        session.shouldstop or session.shouldfail
    )
    finish = genai.finish(interrupted=interrupted)
    if int(session.exitstatus) in (EXIT_OK, EXIT_QUALITY_FAILED):
        session.exitstatus = finish.gate.exit_code


def _report_files(finish: Finish) -> list[str]:
    published = finish.published
    if published is None:
        return []
    names = [p.name for p in (published.html, published.markdown) if p is not None]
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
    lines = render(
        results=genai.ordered_results(),
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
    for line in lines[:-1]:
        terminalreporter.write_line(line)
    status = finish.gate.status
    markup = {
        "green": status in ("passed", "empty"),
        "red": status == "failed",
        "yellow": status in ("errors", "incomplete"),
    }
    terminalreporter.write_line(lines[-1], bold=True, **{k: v for k, v in markup.items() if v})
