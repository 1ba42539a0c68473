"""After a run: compare with the baseline, write the artifact and reports, record the history
(and append the metrics to a Delta table when one is named), update the baseline. Each step
that fails leaves a warning, never a lost artifact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .artifacts import write_results
from .compare import Comparison, RegressionRules, compare, write_baseline
from .compare.pairwise import PairwiseSummary
from .document import RunDocument
from .gate import EXIT_EVALUATION_ERRORS, EXIT_QUALITY_FAILED, GateResult
from .history import HistoryStore, git_info
from .report_html import REPORT_NAME, render_html, write_html
from .report_md import SUMMARY_NAME, append_step_summary, render_markdown, write_markdown
from .results import RowResult


@dataclass
class Published:
    artifact: Path | None = None
    html: Path | None = None
    markdown: Path | None = None
    step_summary: Path | None = None
    history_id: int | None = None
    delta_version: int | None = None  # the Delta table's version after this run's append
    mlflow_run_id: str | None = None  # the MLflow run this run was logged to (--genai-mlflow)
    baseline_written: Path | None = None
    plugin_reports: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run_reporters(
    document: RunDocument, results: list[RowResult], directory: Path
) -> tuple[list[Path], list[str]]:
    """The reporters of installed packages (entry points ``pytest_genai_eval.reporters``): the
    files they wrote, and a warning for each that failed (the run is never lost over one)."""
    from .registry import reporters

    written: list[Path] = []
    warnings: list[str] = []
    for name, load in reporters():
        try:
            path = load()(document.to_json_dict(), results, directory)
        except Exception as exc:
            warnings.append(f"reporter {name!r} failed: {type(exc).__name__}: {exc}")
            continue
        if path is not None:
            written.append(Path(path))
    return written, warnings


def apply_comparison(gate: GateResult, comparison: Comparison, *, interrupted: bool) -> None:
    """A failing baseline comparison is a quality failure of the run; an undecidable one (rows
    unassessed in this run leave a rule open) makes the run undecidable unless it failed."""
    verdict = comparison.verdict
    if interrupted or not (verdict.failed or verdict.undecidable):
        return
    reasons = "; ".join(verdict.reasons) or verdict.summary
    gate.reasons.append(f"baseline: {reasons}")
    gate.scoped.setdefault("baseline", []).extend(verdict.reasons or [verdict.summary])
    if verdict.failed:
        gate.status = "failed"
        gate.exit_code = EXIT_QUALITY_FAILED
    elif gate.status in ("passed", "incomplete", "empty"):
        gate.status = "undecidable"
        gate.exit_code = EXIT_EVALUATION_ERRORS


def compare_with_baseline(
    baseline: tuple[RunDocument, list[RowResult]],
    document: RunDocument,
    results: list[RowResult],
    rules: RegressionRules,
    pairwise: PairwiseSummary | None = None,
) -> Comparison:
    return compare(baseline, (document, results), rules, pairwise)


def publish(
    results_dir: Path,
    document: RunDocument,
    results: list[RowResult],
    *,
    comparison: Comparison | None,
    history_db: Path | None,
    git_cwd: Path,
    update_baseline: Path | None,
    parquet: bool = False,
    delta_table: str | None = None,
    mlflow: bool = False,
    redact: Callable[[Any], Any] | None = None,
) -> Published:
    out = Published()
    try:
        out.artifact = write_results(results_dir, document, results, parquet=parquet)["json"]
    except OSError as exc:
        out.warnings.append(f"could not write results to {results_dir}: {exc}")
        return out
    history = []
    git = git_info(git_cwd) if history_db is not None or delta_table is not None else None
    if history_db is not None:
        try:
            store = HistoryStore(history_db)
            out.history_id = store.append(document, git=git)
            history = store.runs(limit=200)
        except Exception as exc:  # the history is a convenience; never lose the run over it
            out.warnings.append(f"could not record the run in {history_db}: {exc}")
    if delta_table is not None:
        from .delta_log import append_run  # only runs that name a Delta table import it

        try:
            out.delta_version = append_run(delta_table, document, git=git)
        except Exception as exc:  # like the history: a warning, never a lost run
            out.warnings.append(str(exc))
    try:
        out.html = write_html(
            results_dir / REPORT_NAME,
            render_html(document, results, comparison=comparison, history=history),
        )
        markdown = render_markdown(document, results, comparison)
        out.markdown = write_markdown(results_dir / SUMMARY_NAME, markdown)
        out.step_summary = append_step_summary(markdown)
    except OSError as exc:
        out.warnings.append(f"could not write the reports: {exc}")
    out.plugin_reports, plugin_warnings = run_reporters(document, results, results_dir)
    out.warnings += plugin_warnings
    if mlflow:  # after the reports: report.html is one of its artifacts
        from .mlflow_log import MlflowLogError, log_run  # only runs that ask import mlflow

        try:
            kwargs = {"redact": redact} if redact is not None else {}
            out.mlflow_run_id = log_run(document, results, results_dir, **kwargs).run_id
        except MlflowLogError as exc:  # like the history: a warning, never a lost run
            out.warnings.append(str(exc))
    if update_baseline is not None:
        try:
            dest = update_baseline
            if dest.suffix != ".json":  # a directory, like a results directory
                dest = dest / "evaluation_results.json"
            out.baseline_written = write_baseline(results_dir, dest)
        except Exception as exc:
            out.warnings.append(f"could not update the baseline {update_baseline}: {exc}")
    return out
