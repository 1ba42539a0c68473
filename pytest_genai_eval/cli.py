"""``genai-eval``: work on results artifacts without pytest.

Commands:

* ``compare BASELINE CURRENT`` - compare two runs (results directories or
  ``evaluation_results.json`` files) and gate on regressions;
* ``history`` - list the recorded runs from the history database (``--export parquet PATH``:
  write them as one Parquet table, a row per run and a column per metric);
* ``report RESULTS`` - build the self-contained HTML report (and optionally Markdown) of a run.

Exit codes: 0 passed (also: an incompatible baseline, which is reported but not gated), 1 the
comparison found a regression, 4 usage error or unreadable input (the same numbers as the pytest
plugin's gate).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from .artifacts import JSON_NAME, ArtifactError, load_results
from .cli_align import HANDLERS as ALIGN_HANDLERS
from .cli_align import add_commands as add_align_commands
from .cli_trust import HANDLERS as TRUST_HANDLERS
from .cli_trust import add_commands as add_trust_commands
from .compare import (
    DEFAULT_ALPHA,
    BaselineError,
    Comparison,
    RegressionRules,
    compare,
    load_baseline,
    metric_label,
    rules_from_options,
)
from .document import RunDocument, json_schema
from .gate import EXIT_OK, EXIT_QUALITY_FAILED, EXIT_USAGE_ERROR
from .history import DEFAULT_HISTORY_DB, HistoryError, HistoryRun, HistoryStore
from .history_export import EXPORT_FORMATS, ExportError, write_parquet
from .report_html import REPORT_NAME, render_html, write_html
from .report_md import render_comparison_markdown, render_markdown, write_markdown
from .results import RowResult
from .vocabulary import OVERALL, fmt_ci, fmt_delta, fmt_pct

__all__ = ("main",)

EXIT_REGRESSION = EXIT_QUALITY_FAILED
EXIT_USAGE = EXIT_USAGE_ERROR
PROG = "genai-eval"


class UsageError(Exception):
    """Bad arguments or unreadable input: exit 4 with the message."""


class _Parser(argparse.ArgumentParser):
    """argparse reports usage errors with exit 2; here they are exit 4 (2 means interrupted)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}\n{self.format_usage().rstrip()}")


def _alpha(text: str) -> float | None:
    if text.lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _rule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("regression rules")
    group.add_argument(
        "--alpha",
        type=_alpha,
        default=DEFAULT_ALPHA,
        metavar="A",
        help="Significance level of the one-sided exact McNemar test on paired rows "
        f"(default {DEFAULT_ALPHA}; 'off' disables the test).",
    )
    group.add_argument(
        "--max-drop",
        action="append",
        default=[],
        metavar="METRIC=MARGIN",
        help="Largest tolerated drop of a metric (repeatable), e.g. overall=0.05, "
        "correctness=5%%, latency_p90=0.5; METRIC=off removes a rule. Default: overall=0.05.",
    )
    group.add_argument(
        "--max-regressions",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="Fail when more than N rows go pass -> fail (default: no limit).",
    )
    group.add_argument(
        "--drop-test",
        choices=("wilson", "point"),
        default="wilson",
        help="wilson (default): a pass rate's drop must also be beyond its 95%% Wilson "
        "interval; point: compare the point estimates only.",
    )
    group.add_argument(
        "--allow-incompatible",
        action="store_true",
        help="Gate even when the baseline comes from another configuration (suites, judge "
        "model, judges or prompt versions); by default such a comparison is reported only.",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Compare, list and report pytest-genai-eval results without running pytest.",
        epilog="Exit codes: 0 ok, 1 regression, 4 usage error or unreadable input.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    cmp = commands.add_parser(
        "compare",
        help="compare a run with a baseline and gate on regressions",
        description="Compare CURRENT with BASELINE (results directories or "
        f"{JSON_NAME} files). Exit 0 when the comparison passes or is not gated "
        "(incompatible baseline), 1 on a regression, 4 on unreadable input.",
    )
    cmp.add_argument("baseline", metavar="BASELINE", type=Path)
    cmp.add_argument("current", metavar="CURRENT", type=Path)
    _rule_options(cmp)
    cmp.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    hist = commands.add_parser(
        "history",
        help="list recorded runs",
        description="List the runs recorded in the history database, newest first.",
    )
    hist.add_argument(
        "--db",
        type=Path,
        default=DEFAULT_HISTORY_DB,
        metavar="PATH",
        help=f"History database (default {DEFAULT_HISTORY_DB}).",
    )
    hist.add_argument("--suite", metavar="S", help="Only runs that included suite S.")
    hist.add_argument(
        "--limit",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="At most N runs, the newest (default: 50 listed, all exported).",
    )
    hist.add_argument("--format", choices=("text", "json"), default="text")
    hist.add_argument(
        "--export",
        nargs=2,
        metavar=("FORMAT", "PATH"),
        help="Write the runs to PATH instead of listing them: 'parquet' (one row per run, its "
        "metrics as columns; needs pyarrow, the parquet extra).",
    )

    rep = commands.add_parser(
        "report",
        help="build the HTML report of a run",
        description="Build the self-contained HTML report of RESULTS (a results directory or "
        f"{JSON_NAME}).",
    )
    rep.add_argument("results", metavar="RESULTS", type=Path)
    rep.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help=f"Where to write the page (default: {REPORT_NAME} in the results directory).",
    )
    rep.add_argument("--baseline", type=Path, metavar="B", help="Compare with this baseline.")
    rep.add_argument(
        "--history-db",
        type=Path,
        metavar="PATH",
        help="Draw the trend from this history database (default: none).",
    )
    rep.add_argument(
        "--markdown", type=Path, metavar="FILE", help="Also write the Markdown summary here."
    )
    _rule_options(rep)

    mrg = commands.add_parser(
        "merge",
        help="merge the artifacts of sharded runs and gate the result",
        description="Combine the results directories of --genai-shard runs into OUT, recompute "
        "the metrics, apply the same thresholds and exit with the gate's code (0 passed, 1 "
        "quality failure, 6 evaluation errors, 4 unreadable or inconsistent shards).",
    )
    mrg.add_argument("out", metavar="OUT", type=Path, help="Results directory to write.")
    mrg.add_argument("shards", metavar="SHARD", type=Path, nargs="+")
    mrg.add_argument(
        "--allow-partial",
        action="store_true",
        help="Merge even when some shards of K/N are missing (the verdict is then incomplete).",
    )
    commands.add_parser(
        "schema",
        help="print the JSON Schema of evaluation_results.json",
        description="Print the JSON Schema of the results document (evaluation_results.json), "
        "with its schema version.",
    )
    add_trust_commands(commands)  # calibrate, power (cli_trust.py)
    add_align_commands(commands)  # align (cli_align.py)
    return parser


# ---- helpers ------------------------------------------------------------------------------------
def _rules(args: argparse.Namespace) -> RegressionRules:
    try:
        return rules_from_options(
            alpha=args.alpha,
            max_drop=args.max_drop,
            max_regressions=args.max_regressions,
            allow_incompatible=args.allow_incompatible,
            drop_test=args.drop_test,
        )
    except ValueError as exc:
        raise UsageError(f"{PROG}: error: {exc}") from None


def _load(path: Path, what: str) -> tuple[RunDocument, list[RowResult]]:
    """A results directory or file, read through the typed document (validated)."""
    try:
        if what == "baseline":
            return load_baseline(path)
        if not path.exists():
            raise UsageError(f"{PROG}: error: {what} not found: {path}")
        return load_results(path)
    except ArtifactError as exc:
        raise UsageError(f"{PROG}: error: {exc}") from None


def comparison_text(comparison: Comparison) -> str:
    """The comparison for a terminal."""
    lines = [comparison.verdict.line]
    counts = comparison.counts()
    paired = comparison.paired
    lines.append(
        f"rows: {counts['regression']} regressed, {counts['fix']} fixed, {counts['new']} new, "
        f"{counts['removed']} removed, {counts['unchanged']} unchanged, "
        f"{counts['changed']} other status change(s), {counts['response_changed']} response(s) "
        "changed"
    )
    lines.append(
        f"paired test: {paired.paired} paired rows, b={paired.b} (pass -> fail), "
        f"c={paired.c} (fail -> pass), one-sided exact McNemar p={paired.p_one_sided:.4g}"
    )
    for problem in comparison.incompatible:
        lines.append(f"incompatible: {problem}")
    if comparison.checks:
        lines.append("rules:")
        for check in comparison.checks:
            lines.append(f"  [{check.status.upper():>7}] {check.rule}: {check.detail}")
    rates = [m for m in comparison.metrics if m.is_rate]
    if rates:
        lines.append(
            f"  {'pass rate':<20} {'baseline':>8} {'95% CI':<13} {'now':>8} {'95% CI':<13} "
            f"{'change':>10}"
        )
        for m in rates:
            old_ci = fmt_ci(*m.old_ci, brackets=True) if m.old_ci else ""
            new_ci = fmt_ci(*m.new_ci, brackets=True) if m.new_ci else ""
            moved = fmt_delta(m.name, m.delta)
            label = metric_label(m.name).removesuffix(" pass rate")
            lines.append(
                f"  {label[:20]:<20} {fmt_pct(m.old):>8} {old_ci:<13} {fmt_pct(m.new):>8} "
                f"{new_ci:<13} {moved:>10}"
            )
    regressions = comparison.regressions
    if regressions:
        lines.append(f"regressions ({len(regressions)}):")
        for change in regressions:
            flips = change.flipped_to_no or change.flips
            if not flips:
                lines.append(f"  {change.suite}::{change.request_id}")
            for flip in flips:
                why = " ".join((flip.rationale or "").split())
                lines.append(f"  {change.suite}::{change.request_id} — {flip.name}: {why}")
    for note in comparison.verdict.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def history_text(runs: Sequence[HistoryRun]) -> str:
    if not runs:
        return "no runs recorded\n"
    header = f"{'id':>5}  {'started':<19}  {'status':<10} {'exit':>4}  {'pass rate':>9}  " + (
        f"{'rows':>5}  {'commit':<10} {'branch':<20} judge model"
    )
    lines = [header]
    for run in runs:
        rate = run.metric(OVERALL)
        rows = run.metric("rows/count")
        lines.append(
            f"{run.id:>5}  {(run.when or '')[:19]:<19}  {(run.status or '?'):<10} "
            f"{'' if run.exit_code is None else run.exit_code:>4}  {fmt_pct(rate):>9}  "
            f"{'' if rows is None else int(rows):>5}  {(run.git_commit or '')[:10]:<10} "
            f"{(run.git_branch or '')[:20]:<20} {run.judge_model or ''}"
        )
    return "\n".join(lines) + "\n"


# ---- commands -----------------------------------------------------------------------------------
def _cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    rules = _rules(args)
    baseline = _load(args.baseline, "baseline")
    current = _load(args.current, "current run")
    comparison = compare(baseline, current, rules)
    if args.format == "json":
        out.write(json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        out.write(render_comparison_markdown(comparison, heading="##"))
    else:
        out.write(comparison_text(comparison))
    return EXIT_REGRESSION if comparison.verdict.failed else EXIT_OK


def _cmd_history(args: argparse.Namespace, out: TextIO) -> int:
    export = args.export
    if export is not None and export[0] not in EXPORT_FORMATS:
        raise UsageError(
            f"{PROG}: error: --export: unknown format {export[0]!r}; formats: "
            + ", ".join(EXPORT_FORMATS)
        )
    if not args.db.exists():
        raise UsageError(f"{PROG}: error: no history database at {args.db}")
    limit = args.limit if args.limit is not None or export is not None else 50
    try:
        runs = HistoryStore(args.db).runs(limit=limit, suite=args.suite)
    except HistoryError as exc:
        raise UsageError(f"{PROG}: error: {exc}") from None
    if export is not None:
        try:
            written = write_parquet(runs, Path(export[1]))
        except ExportError as exc:
            raise UsageError(f"{PROG}: error: {exc}") from None
        out.write(f"exported {len(runs)} run(s) to {written}\n")
        return EXIT_OK
    if args.format == "json":
        out.write(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(history_text(runs))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    rules = _rules(args)
    document, rows = _load(args.results, "results")
    comparison = None
    if args.baseline is not None:
        comparison = compare(_load(args.baseline, "baseline"), (document, rows), rules)
    history: list[HistoryRun] = []
    if args.history_db is not None:
        if not args.history_db.exists():
            raise UsageError(f"{PROG}: error: no history database at {args.history_db}")
        try:
            history = HistoryStore(args.history_db).runs(limit=200)
        except HistoryError as exc:
            raise UsageError(f"{PROG}: error: {exc}") from None
    results_dir = args.results if args.results.is_dir() else args.results.parent
    target = args.out if args.out is not None else results_dir / REPORT_NAME
    try:
        written = write_html(
            target, render_html(document, rows, comparison=comparison, history=history)
        )
        out.write(f"report: {written}\n")
        if args.markdown is not None:
            md = write_markdown(args.markdown, render_markdown(document, rows, comparison))
            out.write(f"summary: {md}\n")
    except OSError as exc:
        raise UsageError(f"{PROG}: error: cannot write the report: {exc}") from None
    return EXIT_OK


def _cmd_merge(args: argparse.Namespace, out: TextIO) -> int:
    from .artifacts import ArtifactError
    from .merge import MergeError, merge_to

    try:
        outcome = merge_to(args.out, args.shards, allow_partial=args.allow_partial)
    except (MergeError, ArtifactError) as exc:
        raise UsageError(f"{PROG}: error: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{PROG}: error: cannot write {args.out}: {exc}") from None
    metrics = outcome.metrics
    rate = metrics.get(OVERALL)
    rows = metrics.get("rows/count")
    out.write(f"merged {len(args.shards)} shard(s), {rows} row(s) into {args.out}\n")
    if rate is not None:
        out.write(f"{metric_label(OVERALL)} {fmt_pct(rate)}\n")
    out.write(outcome.gate.line + "\n")
    return outcome.gate.exit_code


def _cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    out.write(json.dumps(json_schema(), indent=2) + "\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``genai-eval`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    out, err = sys.stdout, sys.stderr
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
        handler = {
            "compare": _cmd_compare,
            "history": _cmd_history,
            "report": _cmd_report,
            "merge": _cmd_merge,
            "schema": _cmd_schema,
            **TRUST_HANDLERS,
            **ALIGN_HANDLERS,
        }
        return handler[args.command](args, out)
    except UsageError as exc:
        err.write(f"{exc}\n")
        return EXIT_USAGE
    except BaselineError as exc:  # pragma: no cover - _load converts these
        err.write(f"{PROG}: error: {exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
