"""The run history database and git information."""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.history import HistoryError, HistoryStore, git_info, key_metrics

OVERALL = "response/overall_assessment/rating/percentage"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def document(
    rate: float,
    *,
    started: str = "2026-03-01T10:00:00+00:00",
    suites: tuple[str, ...] = ("support",),
    status: str = "passed",
) -> dict[str, Any]:
    metrics = {
        OVERALL: rate,
        "response/overall_assessment/rating/count": 20,
        "rows/count": 20,
        "agent/latency_seconds/p90": 1.5,
        "judge/cache_hit_count": 7,  # not a key metric
        "response/overall_assessment/root_cause/correctness/count": 2,  # not a key metric
        "agent/latency_seconds/p99": None,  # no value: not stored
    }
    return {
        "schema_version": 1,
        "complete": True,
        "started_at": started,
        "finished_at": started.replace("10:00:00", "10:01:00"),
        "duration_seconds": 60.0,
        "config": {"judge": {"model": "judge-m", "base_url": "http://127.0.0.1:1/v1"}},
        "verdict": {"status": status, "exit_code": 0 if status == "passed" else 1},
        "metrics": metrics,
        "suites": {
            name: {
                "config": {"prompt_versions": {"correctness": f"{name}-v1"}},
                "metrics": {OVERALL: rate, "rows/count": 10},
            }
            for name in suites
        },
        "baseline": {"verdict": {"status": "failed"}, "counts": {"regression": 3}},
    }


def test_append_and_read_back(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "sub" / "history.sqlite")
    assert store.runs() == [] and not store.path.exists()  # reading does not create it
    git = {"commit": "a" * 40, "branch": "main", "dirty": True}
    run_id = store.append(document(0.9), git=git, recorded_at="2026-03-01T10:02:00+00:00")
    assert store.path.exists() and run_id == 1
    (run,) = store.runs()
    assert run.id == 1
    assert run.recorded_at == "2026-03-01T10:02:00+00:00"
    assert run.started_at == "2026-03-01T10:00:00+00:00"
    assert run.finished_at == "2026-03-01T10:01:00+00:00"
    assert run.duration_seconds == 60.0
    assert run.complete is True
    assert (run.status, run.exit_code) == ("passed", 0)
    assert run.judge_model == "judge-m"
    assert run.suites == ("support",)
    assert run.prompt_versions == {"support": {"correctness": "support-v1"}}
    assert run.metrics == {
        OVERALL: 0.9,
        "response/overall_assessment/rating/count": 20,
        "rows/count": 20,
        "agent/latency_seconds/p90": 1.5,
    }
    assert run.metric(OVERALL) == 0.9
    assert run.metric(OVERALL, suite="support") == 0.9
    assert run.metric(OVERALL, suite="other") is None
    assert (run.baseline_status, run.regressions) == ("failed", 3)
    assert (run.git_commit, run.git_branch, run.git_dirty) == ("a" * 40, "main", True)
    assert run.to_dict()["suites"] == ["support"]


def test_runs_newest_first_with_limit_and_suite_filter(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite")
    store.append(document(0.5, suites=("a",)), git=None)
    store.append(document(0.6, suites=("a", "b")), git=None)
    store.append(document(0.7, suites=("b",), status="failed"), git=None)
    assert [r.metric(OVERALL) for r in store.runs()] == [0.7, 0.6, 0.5]
    assert [r.id for r in store.runs(limit=2)] == [3, 2]
    assert [r.id for r in store.runs(suite="a")] == [2, 1]
    assert [r.id for r in store.runs(suite="b", limit=1)] == [3]
    assert store.runs(suite="zzz") == []
    assert len(store.runs(limit=None)) == 3 and store.count() == 3
    third = store.runs(limit=1)[0]
    assert (third.status, third.exit_code, third.git_commit) == ("failed", 1, None)


def test_suites_from_rows_when_the_document_has_no_suites(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite")
    store.append({"rows": [{"suite": "x"}, {"suite": "y"}, {"suite": "x"}]}, git=None)
    (run,) = store.runs(suite="y")
    assert run.suites == ("x", "y")
    assert (run.status, run.judge_model, run.complete) == (None, None, None)


def test_key_metrics_filter() -> None:
    kept = key_metrics(
        {
            OVERALL: 1.0,
            "response/llm_judged/safety/rating/ci_low": 0.8,
            "rows/pass_count": 3,
            "agent/latency_seconds/average": 0.2,
            "agent/total_token_count/average": 100.0,
            "judge/total_token_count/sum": 900,
            "app/error_count": 0,
            "retrieval/ground_truth/document_recall/average": 0.5,
            "judge/call_count": 4,
            "judge/safety/skipped_count": 1,
            "nan": float("nan"),
            "flag": True,
            "text": "x",
        }
    )
    assert set(kept) == {
        OVERALL,
        "response/llm_judged/safety/rating/ci_low",
        "rows/pass_count",
        "agent/latency_seconds/average",
        "agent/total_token_count/average",
        "judge/total_token_count/sum",
        "app/error_count",
        "retrieval/ground_truth/document_recall/average",
    }


def test_newer_schema_and_corrupt_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(HistoryError, match="schema version 99 is newer"):
        HistoryStore(path).append(document(0.5), git=None)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(HistoryError, match=r"garbage\.sqlite"):
        HistoryStore(garbage).runs()


def _append_many(path: str, worker: int, count: int) -> None:
    store = HistoryStore(path, timeout=60)
    for i in range(count):
        store.append(
            document(
                0.5, started=f"2026-03-01T10:00:00+00:00#{worker}-{i}", suites=(f"w{worker}",)
            ),
            git={"commit": f"{worker:040d}", "branch": f"b{worker}", "dirty": False},
        )


def test_concurrent_appends_from_two_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(path, w, 25)) for w in (1, 2)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0]
    store = HistoryStore(path)
    runs = store.runs(limit=None)
    assert len(runs) == 50 == store.count()
    assert sorted(r.id for r in runs) == list(range(1, 51))
    for worker in (1, 2):
        mine = store.runs(limit=None, suite=f"w{worker}")
        assert sorted(r.started_at or "" for r in mine) == sorted(
            f"2026-03-01T10:00:00+00:00#{worker}-{i}" for i in range(25)
        )
        assert {r.git_branch for r in mine} == {f"b{worker}"}


# ---- git ----------------------------------------------------------------------------------------
def _git_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME"):
        env.pop(name, None)
    env.update(
        HOME=str(tmp_path / "home"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.invalid",
        GIT_CEILING_DIRECTORIES=str(tmp_path),
    )
    return env


def _run_git(repo: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@needs_git
def test_git_info_in_a_repository(tmp_path: Path) -> None:
    env = _git_env(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    _run_git(repo, env, "init", "-q", "-b", "feature/x")
    (repo / "a.txt").write_text("one\n")
    _run_git(repo, env, "add", "a.txt")
    _run_git(repo, env, "commit", "-q", "-m", "first")
    head = _run_git(repo, env, "log", "-1", "--format=%H")
    info = git_info(repo, env=env)
    assert info == {"commit": head, "branch": "feature/x", "dirty": False}
    assert re.fullmatch(r"[0-9a-f]{40}", head)
    (repo / "a.txt").write_text("two\n")
    sub = repo / "nested"
    sub.mkdir()
    info = git_info(sub, env=env)
    assert info is not None and info["dirty"] is True and info["commit"] == head
    # a detached HEAD (CI checkouts) takes the branch from the CI's variables, if any
    _run_git(repo, env, "checkout", "-q", "--detach")
    assert git_info(repo, env=env) == {"commit": head, "branch": None, "dirty": True}
    ci = {**env, "GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "pr-42"}
    assert git_info(repo, env=ci) == {"commit": head, "branch": "pr-42", "dirty": True}


def test_git_info_outside_a_repository_and_without_git(tmp_path: Path) -> None:
    env = _git_env(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_info(plain, env=env) is None
    no_git = {**env, "PATH": str(tmp_path / "empty-bin")}
    assert git_info(plain, env=no_git) is None
    assert git_info(tmp_path / "does-not-exist", env=env) is None


@needs_git
def test_history_records_git_info_from_a_real_repository(tmp_path: Path) -> None:
    env = _git_env(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    _run_git(repo, env, "init", "-q", "-b", "main")
    _run_git(repo, env, "commit", "-q", "--allow-empty", "-m", "empty")
    store = HistoryStore(tmp_path / "h.sqlite")
    store.append(document(0.8), git=git_info(repo, env=env))
    (run,) = store.runs()
    assert run.git_branch == "main" and run.git_dirty is False
    assert run.git_commit == _run_git(repo, env, "rev-parse", "HEAD")
