"""The time ``--genai-mlflow`` adds to a run: ``mlflow_log.log_run`` on N synthetic rows (three
judge assessments and an expected response each, like the benchmark suites) into a fresh local
MLflow store (SQLite, in a temporary directory), in a subprocess of its own.

    python benchmarks/mlflow_logging.py            # 1,000 rows
    python benchmarks/mlflow_logging.py --rows 200 --keep DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
start = time.perf_counter()
import mlflow
from pytest_genai_eval.document import as_document
from pytest_genai_eval.mlflow_log import log_run
from pytest_genai_eval.results import Assessment, RowResult
imported = time.perf_counter() - start
rows, directory = int(sys.argv[1]), Path(sys.argv[2])
(directory / "evaluation_results.json").write_text("{}")
(directory / "report.html").write_text("<html></html>")
judges = ("correctness", "guideline_adherence", "global_guideline_adherence")
results = [
    RowResult(
        suite="bench", request_id=f"row-{i}",
        row={"request_id": f"row-{i}", "request": f"Question {i}?", "expected_response": f"Answer {i}."},
        response=f"Answer {i}.", latency_seconds=0.5,
        assessments=[Assessment(name=j, judge=j, rating="yes", rationale="ok", model="bench-judge", prompt_version="v1") for j in judges],
    )
    for i in range(rows)
]
document = as_document({
    "started_at": "2026-01-01T00:00:00+00:00",
    "config": {"judge": {"model": "bench-judge"}, "thresholds": []},
    "metrics": {"response/overall_assessment/rating/percentage": 1.0, "rows/count": rows},
    "suites": {"bench": {"config": {"name": "bench", "prompt_versions": {j: "v1" for j in judges}}, "metrics": {}}},
    "verdict": {"status": "passed", "exit_code": 0, "line": "PASSED"},
})
mlflow.set_experiment("bench")
logged = log_run(document, results, directory)
print(json.dumps({"rows": rows, "import_seconds": imported, "log_seconds": logged.seconds}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="log into this directory and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{directory / 'mlflow.db'}"}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.rows), str(directory)],
            cwd=directory, env=env, capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    result["per_row_ms"] = 1000 * result["log_seconds"] / args.rows
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
