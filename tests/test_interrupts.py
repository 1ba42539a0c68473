"""SIGINT, a second SIGINT and SIGTERM sent to a real pytest process: a valid, incomplete
artifact with every finished row, an INTERRUPTED verdict whose printed exit code is the
process's, the history entry marked incomplete, and every paid verdict kept in the cache."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

ROWS = 40


class CountingJudge:
    """Counts the verdicts the scripted judge has produced (the handler runs after ``delay``)."""

    def __init__(self, judge: ScriptedJudge) -> None:
        self.answered = 0
        self._lock = threading.Lock()
        judge.set_handler(self)

    def __call__(self, call: JudgeCall) -> Verdict:
        with self._lock:
            self.answered += 1
        return Verdict("yes", "fine")


def write_suite(path: Path) -> None:
    rows = "\n".join(
        f'  - {{request_id: r{i:02d}, request: "q{i}", response: "a{i}", expected_response: "a{i}"}}'
        for i in range(ROWS)
    )
    (path / "genai_long.yaml").write_text(f"name: long\njudges: [correctness]\nrows:\n{rows}\n")


def start(path: Path, judge: ScriptedJudge, *extra: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("GENAI_EVAL_", "OPENAI_"))}
    environ.update(GENAI_EVAL_JUDGE_BASE_URL=judge.base_url, GENAI_EVAL_JUDGE_MODEL=judge.model)
    return subprocess.Popen(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--genai-concurrency", "4", "--genai-history-db", str(path / "history.sqlite"),
            *extra,
        ],
        cwd=path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def artifact(path: Path) -> dict:
    return json.loads((path / "genai-results" / "evaluation_results.json").read_text())


@pytest.mark.parametrize(
    ("signals", "xdist"),
    [
        ((signal.SIGINT,), ""),
        ((signal.SIGINT, signal.SIGINT), ""),
        ((signal.SIGTERM,), ""),
        ((signal.SIGTERM, signal.SIGINT), ""),
        ((signal.SIGTERM,), "-n 2"),
        ((signal.SIGINT,), "-n 2"),
    ],
    ids=["sigint", "sigint-twice", "sigterm", "sigterm-then-sigint", "sigterm-xdist", "sigint-xdist"],
)
def test_a_signal_keeps_every_finished_row_and_paid_verdict(
    tmp_path: Path, judge: ScriptedJudge, signals: tuple[signal.Signals, ...], xdist: str
) -> None:
    judge.delay = 0.1
    counter = CountingJudge(judge)
    write_suite(tmp_path)
    proc = start(tmp_path, judge, *xdist.split())
    try:
        wait_for(lambda: counter.answered >= 10)
        for number, signum in enumerate(signals):
            if number:
                time.sleep(0.05)
            proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, out[-3000:]
    gate = [line for line in out.splitlines() if line.startswith("genai gate:")]
    assert gate and gate[-1].startswith("genai gate: INTERRUPTED") and gate[-1].endswith("(exit 2)"), out[-3000:]
    doc = artifact(tmp_path)
    assert doc["complete"] is False
    assert doc["verdict"]["status"] == "interrupted" and doc["verdict"]["exit_code"] == 2
    assert doc["interrupted_by"] == ("SIGTERM" if signals[0] == signal.SIGTERM else "SIGINT") or (
        xdist and doc["interrupted_by"] is None
    )
    finished = {r["request_id"] for r in doc["rows"]}
    assert finished, "rows that finished before the signal are kept"
    assert len(finished) < ROWS
    assert all(r["status"] == "pass" for r in doc["rows"])
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        (complete, status) = db.execute("SELECT complete, status FROM runs").fetchone()
    assert (complete, status) == (0, "interrupted")

    # A rerun makes only the missing calls: the interrupted rows' verdicts were kept.
    before = len(judge.calls())
    rerun = start(tmp_path, judge)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out[-3000:]
    asked = {c.sections["response"] for c in judge.calls()[before:]}
    assert not asked & {f"a{r[1:].lstrip('0') or '0'}" for r in finished}
    assert len(asked) <= ROWS - len(finished)
    assert artifact(tmp_path)["complete"] is True


def test_a_third_signal_exits_at_once(tmp_path: Path, judge: ScriptedJudge) -> None:
    """The escape hatch: the third signal is not deferred."""
    judge.delay = 0.1
    counter = CountingJudge(judge)
    write_suite(tmp_path)
    proc = start(tmp_path, judge)
    try:
        wait_for(lambda: counter.answered >= 4)
        for _ in range(3):
            proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
