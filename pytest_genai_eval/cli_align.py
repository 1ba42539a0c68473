"""``genai-eval align``: few-shot examples for a judge from labelled disagreements, with kappa
before and after on held-out folds (``alignment.py``).

    genai-eval align RESULTS --labels LABELS --judge correctness --out correctness_examples.yaml

RESULTS is a results directory (or its ``evaluation_results.json``); the judge is asked again,
with the examples learned from the other folds, on each held-out fold's rows and their recorded
responses (the app is not called). The judge endpoint comes from the GENAI_EVAL_JUDGE_*
environment, as for ``calibrate``. The examples file goes under the suite key
``judge_examples: {correctness: correctness_examples.yaml}``. Exit 0, or 4 on a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from .alignment import AlignmentReport, LabelledRow, align, labelled_rows
from .errors import ConfigurationError, EvaluationSetError
from .few_shot import Example, with_examples, write_examples
from .gate import EXIT_OK, EXIT_USAGE_ERROR

__all__ = ["HANDLERS", "add_commands", "rejudge_with_examples"]


def add_commands(commands: Any) -> None:
    cmd = commands.add_parser(
        "align",
        help="few-shot examples for a judge from labelled disagreements, kappa before/after",
        description="Turn the rows where human labels disagree with JUDGE into few-shot "
        "examples, written to OUT for the suite key 'judge_examples'. Kappa before and after "
        "is measured with k-fold cross-validation: each fold is judged again with the "
        "examples of the other folds only. Judge endpoint: GENAI_EVAL_JUDGE_BASE_URL / "
        "GENAI_EVAL_JUDGE_MODEL (and GENAI_EVAL_JUDGE_API_KEY).",
    )
    cmd.add_argument("results", type=Path, metavar="RESULTS", help="A run's results directory.")
    cmd.add_argument("--labels", type=Path, required=True, help="A labels file (JSONL or CSV).")
    cmd.add_argument("--judge", required=True, help="The judge to align, e.g. correctness.")
    cmd.add_argument("--out", type=Path, required=True, help="The examples file to write.")
    cmd.add_argument("--folds", type=int, default=5, metavar="K", help="Folds (default 5).")
    cmd.add_argument("--seed", type=int, default=0, help="Seed of the fold split (default 0).")
    cmd.add_argument("--max-examples", type=int, default=10, metavar="N")
    cmd.add_argument("--format", choices=("text", "json"), default="text")


def rejudge_with_examples(
    judge: str, rows: Sequence[LabelledRow], examples: Sequence[Example],
    env: Mapping[str, str] | None = None,
) -> list[str | None]:
    """``judge``'s verdicts on ``rows`` (their recorded responses) with ``examples`` in its
    prompt, through the engine and the GENAI_EVAL_JUDGE_* endpoint."""
    from .cli_trust import run_rows
    from .judges import JudgeSet
    from .suite import build_suite

    data = [{**r.row, "request_id": r.request_id, "response": r.response} for r in rows]
    spec = build_suite(name=rows[0].suite if rows else "align", data=data, judges=[judge])
    edit = functools.partial(with_examples, examples=tuple(examples))
    spec = dataclasses.replace(
        spec, judges=JudgeSet.build(include=[judge], prompt_edits={judge: edit})
    )
    results = run_rows(spec, env)
    return [
        next((a.rating for a in result.assessments if a.name == judge), None)
        for result in results
    ]


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _text(report: AlignmentReport, out_path: Path) -> str:
    lines = [
        f"{report.judge}: {report.rows} labelled row(s), {report.disagreements} disagreement(s)",
        f"  kappa on held-out folds: before {_show(report.kappa_before)}, "
        f"after {_show(report.kappa_after)}",
    ]
    for fold in report.folds:
        lines.append(
            f"  fold {fold.fold}: {fold.rows} row(s), {fold.examples} example(s), kappa "
            f"{_show(fold.kappa_before)} -> {_show(fold.kappa_after)}"
        )
    lines.append(
        f"wrote {len(report.examples)} example(s) to {out_path}; use it with "
        f"judge_examples: {{{report.judge}: {out_path.name}}}"
    )
    return "\n".join(lines) + "\n"


def _cmd_align(args: argparse.Namespace, out: TextIO) -> int:
    from .artifacts import load_results
    from .errors import ArtifactError
    from .labels import load_labels

    try:
        _document, results = load_results(args.results)
        labels = load_labels(args.labels)
        rows = labelled_rows(results, labels, args.judge)
        report = align(
            rows,
            args.judge,
            functools.partial(rejudge_with_examples, args.judge),
            k=args.folds,
            seed=args.seed,
            max_examples=args.max_examples,
        )
    except (ArtifactError, ConfigurationError, EvaluationSetError, ValueError) as exc:
        sys.stderr.write(f"genai-eval align: error: {exc}\n")
        return EXIT_USAGE_ERROR
    write_examples(args.out, args.judge, report.examples)
    if args.format == "json":
        out.write(json.dumps({**report.to_dict(), "out": str(args.out)}, indent=2) + "\n")
    else:
        out.write(_text(report, args.out))
    return EXIT_OK


HANDLERS = {"align": _cmd_align}
