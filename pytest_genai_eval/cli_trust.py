"""``genai-eval calibrate`` and ``genai-eval power``: how far to trust a suite's judges and how
many rows it needs.

* ``calibrate SUITE_FILE`` runs the suite's labelled rows through the judges that have labels
  (nothing else), and prints each judge's agreement with the people: labels, agreement, Cohen's
  kappa and the 2x2 counts (the table of the run summary). The suite's kappa and agreement
  thresholds decide the exit code: 0 met, 1 missed, 6 undecidable, 4 usage error.
* ``power --rate 0.8 --drop 0.05`` prints how many rows two runs need to detect that drop at
  alpha 0.05 with power 0.8 (``--rows N``: the smallest drop N rows detect instead).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from .calibration import calibration_lines, calibration_rows
from .errors import ConfigurationError, EvaluationSetError
from .gate import (
    EXIT_EVALUATION_ERRORS,
    EXIT_OK,
    EXIT_QUALITY_FAILED,
    EXIT_USAGE_ERROR,
    check_threshold,
)
from .results import RowResult
from .stats import min_detectable_drop, rows_needed
from .suite import SuiteSpec, load_suite_file
from .vocabulary import bound_names

__all__ = ["HANDLERS", "add_commands"]


def _share(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a value within 0..1 (or 0-100%), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_commands(commands: Any) -> None:
    """Add ``calibrate`` and ``power`` to ``genai-eval``'s sub-commands."""
    cal = commands.add_parser(
        "calibrate",
        help="run only the labelled rows' judges and print their agreement with the labels",
        description="Run the judges that have human labels (the suite key 'labels') on the "
        "labelled rows of SUITE, and print each judge's agreement, Cohen's kappa and the 2x2 "
        "counts. The judge endpoint comes from GENAI_EVAL_JUDGE_BASE_URL / "
        "GENAI_EVAL_JUDGE_MODEL (and GENAI_EVAL_JUDGE_API_KEY). Exit 0 when the suite's kappa "
        "and agreement thresholds are met, 1 when one is missed, 6 when one is undecidable, "
        "4 on a usage error.",
    )
    cal.add_argument("suite", metavar="SUITE", type=Path, help="A suite file with 'labels'.")
    cal.add_argument("--format", choices=("text", "json"), default="text")
    power = commands.add_parser(
        "power",
        help="how many rows a suite needs to detect a drop of its pass rate",
        description="Rows two runs need so that a drop of DROP from a pass rate RATE is "
        "detected with the given power at two-sided significance ALPHA (Miller 2024); with "
        "--rows N, the smallest drop N rows detect.",
    )
    power.add_argument("--rate", type=_share, required=True, metavar="RATE")
    group = power.add_mutually_exclusive_group(required=True)
    group.add_argument("--drop", type=_share, metavar="DROP")
    group.add_argument("--rows", type=_positive_int, metavar="N")
    power.add_argument("--alpha", type=_share, default=0.05, metavar="A")
    power.add_argument("--power", type=_share, default=0.8, metavar="P")
    power.add_argument(
        "--correlation",
        type=float,
        default=0.0,
        metavar="R",
        help="Correlation of the two runs' per-row scores (paired rows; default 0).",
    )


def _cmd_power(args: argparse.Namespace, out: TextIO) -> int:
    try:
        if args.rows is not None:
            drop = min_detectable_drop(
                args.rate, args.rows, alpha=args.alpha, power=args.power,
                correlation=args.correlation,
            )
            if drop is None:
                reason = (
                    "nothing can drop from 0%" if args.rate == 0 or args.rows <= 0
                    else "too few rows: not even a drop to 0% would be seen"
                )
                out.write(
                    f"{args.rows} rows at a pass rate of {100 * args.rate:.1f}% detect no drop "
                    f"({reason}; alpha {args.alpha:g}, power {args.power:g})\n"
                )
                return EXIT_OK
            out.write(
                f"{args.rows} rows at a pass rate of {100 * args.rate:.1f}% detect a drop of "
                f"{100 * drop:.1f} points (alpha {args.alpha:g}, power {args.power:g})\n"
            )
            return EXIT_OK
        rows = rows_needed(
            args.rate, args.drop, alpha=args.alpha, power=args.power, correlation=args.correlation
        )
    except ValueError as exc:
        sys.stderr.write(f"genai-eval power: error: {exc}\n")
        return EXIT_USAGE_ERROR
    out.write(
        f"{rows} rows to detect a drop of {100 * args.drop:.1f} points from a pass rate of "
        f"{100 * args.rate:.1f}% (alpha {args.alpha:g}, power {args.power:g})\n"
    )
    return EXIT_OK


def labelled_suite(spec: SuiteSpec) -> SuiteSpec:
    """The suite reduced to its labelled rows and the judges and checks those labels name."""
    labels = spec.labels
    if labels is None or not labels.labels:
        raise ConfigurationError(f"{spec.source or spec.name}: the suite has no human labels")
    ids = {label.request_id for label in labels.labels}
    names = {label.judge for label in labels.labels}
    wanted = names | {name.split("/")[0] for name in names}
    judges = spec.judges
    judges = dataclasses.replace(
        judges,
        judges=[j for j in judges.judges if j.name in wanted],
        extra=[j for j in judges.extra if j.name in wanted],
        row_checks={
            rid: [j for j in checks if j.name in wanted]
            for rid, checks in judges.row_checks.items()
        },
    )
    return dataclasses.replace(
        spec, rows=[row for row in spec.rows if row.request_id in ids], judges=judges
    )


def run_rows(spec: SuiteSpec, env: Mapping[str, str] | None = None) -> list[RowResult]:
    """Evaluate every row of ``spec`` with the judge of the GENAI_EVAL_JUDGE_* environment
    (no cache: calibration asks the judge as it is now)."""
    from .config import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, HOW_TO_ENABLE
    from .engine import Engine, EngineSettings, RowJob
    from .llm import EndpointSettings, Secret

    env = os.environ if env is None else env
    base = next((env[n] for n in ENV_BASE_URL if env.get(n)), None)
    model = next((env[n] for n in ENV_MODEL if env.get(n)), None)
    key = next((env[n] for n in ENV_API_KEY if env.get(n)), None)
    judge = (
        EndpointSettings(base_url=base, model=model, api_key=Secret(key) if key else None)
        if base and model
        else None
    )
    engine = Engine(
        EngineSettings(judge=judge, judge_missing_reason=f"no judge endpoint: {HOW_TO_ENABLE}")
    )
    try:
        futures = [engine.submit(RowJob(suite=spec, row=row)) for row in spec.rows]
        return [future.result() for future in futures]
    finally:
        engine.close()


def _cmd_calibrate(args: argparse.Namespace, out: TextIO) -> int:
    from .metrics import compute_metrics

    try:
        spec = labelled_suite(load_suite_file(args.suite))
    except (ConfigurationError, EvaluationSetError) as exc:
        sys.stderr.write(f"genai-eval calibrate: error: {exc}\n")
        return EXIT_USAGE_ERROR
    results = run_rows(spec)
    metrics = compute_metrics(results)
    checks = [
        check_threshold(spec.name, t, metrics)
        for t in spec.thresholds
        if bound_names(t.metric(metrics)) is not None and t.metric(metrics).startswith("judge/")
    ]
    if args.format == "json":
        data: dict[str, Any] = {
            "suite": spec.name,
            "rows": len(results),
            "judges": calibration_rows(metrics),
            "stale_labels": metrics.get("judge/stale_label_count", 0),
            "thresholds": [c.to_dict() for c in checks],
        }
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        out.write(f"suite {spec.name}: {len(results)} labelled row(s)\n")
        lines = calibration_lines(metrics) or ["  no label could be compared with a verdict"]
        out.write("\n".join(lines) + "\n")
        for check in checks:
            out.write(f"  [{check.status.upper()}] {check.describe_outcome()}\n")
    if any(c.passed is False for c in checks):
        return EXIT_QUALITY_FAILED
    if any(c.undecidable for c in checks):
        return EXIT_EVALUATION_ERRORS
    return EXIT_OK


HANDLERS = {"calibrate": _cmd_calibrate, "power": _cmd_power}
