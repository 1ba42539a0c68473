#!/usr/bin/env python3
"""End-to-end benchmark of pytest-genai-eval against a local OpenAI-compatible judge server.

One command::

    python benchmarks/run.py                       # all scenarios, defaults below
    python benchmarks/run.py --scenarios a,b --rows 1000 --delay 0.1 --concurrency 64

Scenarios (see benchmarks/README.md):

a. ``rows`` rows x 3 judges at ``delay`` judge latency, ``concurrency`` in flight: the evaluation
   span and the pytest process's wall time vs the ideal ``rows * 3 * delay / concurrency``
   (targets: evaluation <= 1.3, process <= 1.5).
b. The same suite again with a warm verdict cache: < 3 s and zero judge calls.
c. Collecting a ``--collect-rows`` suite (< 3 s); evaluating it with a warm cache (peak RSS
   < 300 MB).
d. Overhead per row with a zero-latency judge, and a plain pytest run of trivial tests.
e. The same suite one row at a time (``--genai-concurrency 1``) on ``--sequential-rows`` rows,
   extrapolated to ``rows``.
f. Scenario a over HTTPS (a second judge server with a throwaway CA, passed to pytest through
   ``SSL_CERT_FILE``) against the same over HTTP, in alternating runs: the HTTPS evaluation span
   within 1.15x of HTTP's, the process <= 1.5x the ideal.

Every pytest run is a subprocess started through ``measure.py`` (wall time, peak RSS of that
process alone). The judge server is a separate process on 127.0.0.1, always stopped at the end.
Results go to ``<out>/results.json`` and ``<out>/results.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from judge_server import ServerProcess  # noqa: E402
from profile_summary import summarize  # noqa: E402
from suites import write_plain, write_suite  # noqa: E402

JUDGES_PER_ROW = 3
MODEL = "bench-judge"
NOT_AVAILABLE = "not available yet"


@dataclass
class Target:
    scenario: str
    name: str
    measured: str
    limit: str
    status: str  # PASS, FAIL, INFO, N/A
    note: str = ""

    def line(self) -> str:
        note = f"  ({self.note})" if self.note else ""
        return f"[{self.status:>4}] {self.scenario}: {self.name}: {self.measured} (target {self.limit}){note}"


@dataclass
class Scenario:
    id: str
    title: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "runs": self.runs,
            "metrics": self.metrics,
            "targets": [t.__dict__ for t in self.targets],
            "notes": self.notes,
        }


def _evaluation_seconds(results_dir: Path) -> float | None:
    """The run's own evaluation span as the plugin recorded it (None if not recorded)."""
    try:
        doc = json.loads((results_dir / "evaluation_results.json").read_text())
    except (OSError, ValueError):
        return None
    value = doc.get("evaluation_seconds")
    return float(value) if isinstance(value, (int, float)) else None


def _status(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machine_info() -> dict[str, Any]:
    memory = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in (
        "pytest-genai-eval",
        "pytest",
        "httpx",
        "httpcore",
        "anyio",
        "pydantic",
        "sniffio",
        "aiohttp",
        "httpx-aiohttp",
    ):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


class Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        server: ServerProcess,
        tls_server: ServerProcess | None = None,
    ) -> None:
        self.args = args
        self.server = server
        self.tls_server = tls_server  # the HTTPS judge of scenario f
        self.out: Path = args.out
        self.python: str = args.python
        self.env = self._env()
        self._cache_support: tuple[bool, bool] | None = None
        self.a_wall: float | None = None
        self.a_cache_dir: Path | None = None

    # ---- plumbing ------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GENAI_EVAL_JUDGE_API_KEY"):
            env.pop(name, None)
        env["GENAI_EVAL_JUDGE_BASE_URL"] = f"{self.server.base_url}/v1"
        env["GENAI_EVAL_JUDGE_MODEL"] = MODEL
        if self.args.no_pycache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            # Compiled bytecode (and pytest's assertion-rewritten plugin modules) are cached under
            # <out>/pycache, so runs measure a warm start as on a developer machine, without
            # writing __pycache__ folders into the project.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.out / "pycache")
        extra = [str(Path(p).resolve()) for p in self.args.pythonpath]
        if extra:
            env["PYTHONPATH"] = os.pathsep.join([*extra, env.get("PYTHONPATH", "")]).rstrip(
                os.pathsep
            )
        return env

    def tls_env(self) -> dict[str, str]:
        """The environment of runs against the HTTPS judge: its URL, and its CA through
        SSL_CERT_FILE (what a CI job behind a private CA would set)."""
        assert self.tls_server is not None
        env = dict(self.env)
        env["GENAI_EVAL_JUDGE_BASE_URL"] = f"{self.tls_server.base_url}/v1"
        env["SSL_CERT_FILE"] = str(self.tls_server.ca_file)
        env.pop("SSL_CERT_DIR", None)
        return env

    def suite_dir(self, rows: int) -> Path:
        directory = self.out / "suites" / f"rows_{rows}"
        write_suite(directory, rows)
        return directory

    def pytest(
        self,
        label: str,
        cwd: Path,
        pytest_args: list[str],
        *,
        delay: float,
        profile: bool = False,
        tls: bool = False,
    ) -> dict[str, Any]:
        """One measured pytest subprocess (through measure.py); adds the judge server's counts.
        ``tls``: against the HTTPS judge server."""
        server = self.tls_server if tls else self.server
        assert server is not None
        env = self.tls_env() if tls else self.env
        run_dir = self.out / "runs" / label
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        command = [self.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
        profile_path: Path | None = None
        if profile:
            spy = shutil.which("py-spy") or str(Path(self.python).parent / "py-spy")
            profile_path = self.out / f"profile_{label}.txt"
            command = [
                spy, "record", "--format", "raw", "--threads", "--nonblocking",
                "--rate", "250", "--output", str(profile_path), "--", *command,
            ]  # fmt: skip
        wrapper = [
            self.python, str(HERE / "measure.py"),
            "--json", str(run_dir / "measure.json"),
            "--stdout", str(run_dir / "stdout.txt"),
            "--stderr", str(run_dir / "stderr.txt"),
            "--cwd", str(cwd),
            "--timeout", str(self.args.timeout),
            "--", *command,
        ]  # fmt: skip
        load_before = self._wait_for_quiet()
        server.reset(delay=delay)
        print(f"  running {label}: {' '.join(pytest_args)}", flush=True)
        subprocess.run(wrapper, env=env, check=True, timeout=self.args.timeout + 120)
        result: dict[str, Any] = json.loads((run_dir / "measure.json").read_text())
        stats = server.stats()
        stdout = (run_dir / "stdout.txt").read_text(errors="replace")
        stderr = (run_dir / "stderr.txt").read_text(errors="replace")
        result.update(
            label=label,
            run=label,
            scheme="https" if tls else "http",
            cwd=str(cwd),
            delay=delay,
            judge_requests=stats["requests"],
            max_in_flight=stats["max_in_flight"],
            max_open_connections=stats["max_open_connections"],
            summary=_summary_line(stdout),
            pytest_seconds=_pytest_seconds(stdout),
            unrecognized_option=result["rc"] == 4 and "unrecognized arguments" in stderr,
            loadavg_before=load_before,
            loadavg_after=round(os.getloadavg()[0], 2),
            stdout=str(run_dir / "stdout.txt"),
        )
        if profile_path is not None and profile_path.exists():
            summary_path = profile_path.with_suffix(".md")
            summary_path.write_text(summarize(profile_path))
            result["profile"] = str(summary_path)
        print(
            f"    rc={result['rc']} wall={result['wall_seconds']:.2f}s "
            f"rss={result['maxrss_mib']:.0f}MiB judge_calls={result['judge_requests']} "
            f"max_in_flight={result['max_in_flight']} | {result['summary']}",
            flush=True,
        )
        return result

    def _wait_for_quiet(self) -> float:
        """The 1-minute load average; waits (bounded by --max-idle-wait) while the machine is busy."""
        limit = self.args.busy_load
        deadline = time.monotonic() + self.args.max_idle_wait
        load = os.getloadavg()[0]
        while load > limit and time.monotonic() < deadline:
            time.sleep(2.0)
            load = os.getloadavg()[0]
        return round(load, 2)

    def best_of(
        self,
        label: str,
        cwd: Path,
        make_args: Callable[[str], list[str]],
        *,
        delay: float,
        repeat: int | None = None,
    ) -> dict[str, Any]:
        """The fastest of ``repeat`` identical runs (the machine may be shared); all walls kept."""
        runs = []
        for index in range(max(1, repeat or self.args.repeat)):
            name = label if index == 0 else f"{label}_r{index + 1}"
            runs.append(self.pytest(name, cwd, make_args(name), delay=delay))
        clean = [r for r in runs if r["rc"] == 0] or runs
        best = dict(min(clean, key=lambda r: r["wall_seconds"]))
        best["label"] = label
        best["repeat_walls"] = [r["wall_seconds"] for r in runs]
        return best

    def profile(self, label: str, cwd: Path, pytest_args: list[str], *, delay: float) -> str | None:
        """One more run of the same command under py-spy (not used for any target)."""
        if not self.args.profile:
            return None
        run = self.pytest(f"{label}_profile", cwd, pytest_args, delay=delay, profile=True)
        return run.get("profile")

    def warm_up(self) -> None:
        """A small evaluation run first, so bytecode caches are filled before anything is timed."""
        suite = self.suite_dir(20)
        args = [*self.eval_args("warmup", self.args.concurrency),
                *self.cache_args("off", self.out / "cache" / "warmup", fresh=True)]  # fmt: skip
        self.pytest("warmup", suite, args, delay=0.0)

    def cache_support(self) -> tuple[bool, bool]:
        """(``--genai-cache`` known, ``--genai-cache-dir`` known) by the installed plugin."""
        if self._cache_support is None:
            cwd = self.suite_dir(1)
            proc = subprocess.run(
                [self.python, "-m", "pytest", "-p", "no:cacheprovider", "--help"],
                cwd=cwd, env=self.env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            text = proc.stdout
            self._cache_support = (
                re.search(r"--genai-cache\b(?!-)", text) is not None,
                "--genai-cache-dir" in text,
            )
        return self._cache_support

    def cache_args(self, mode: str, cache_dir: Path, *, fresh: bool) -> list[str]:
        """Cache options for a run; ``fresh`` wipes the cache first (a cold run)."""
        known, has_dir = self.cache_support()
        if fresh and mode == "use":
            mode = self.args.cold_cache_mode
        if not known:
            return []
        if fresh and cache_dir.exists():
            shutil.rmtree(cache_dir)
        args = ["--genai-cache", mode]
        if has_dir:
            args += ["--genai-cache-dir", str(cache_dir)]
        return args

    def eval_args(self, label: str, concurrency: int) -> list[str]:
        results = self.out / "runs" / label / "genai-results"
        return [
            "--genai-concurrency", str(concurrency),
            "--genai-results-dir", str(results),
            *self.args.pytest_arg,
        ]  # fmt: skip

    def _cache_dir(self, suite: Path) -> Path:
        has_dir = self.cache_support()[1]
        return (self.out / "cache" / suite.name) if has_dir else suite / ".genai-cache"

    # ---- scenarios -----------------------------------------------------------------------------
    def scenario_a(self) -> Scenario:
        a = self.args
        sc = Scenario(
            "a",
            f"{a.rows} rows x {JUDGES_PER_ROW} judges, {a.delay * 1000:g} ms judge, concurrency {a.concurrency}",
        )
        suite = self.suite_dir(a.rows)
        cache_dir = self._cache_dir(suite)

        def make_args(label: str) -> list[str]:
            if (suite / ".genai-cache").exists():
                shutil.rmtree(suite / ".genai-cache")
            return [
                *self.eval_args(label, a.concurrency),
                *self.cache_args("use", cache_dir, fresh=True),
            ]

        run = self.best_of("a_eval", suite, make_args, delay=a.delay)
        sc.runs.append(run)
        calls = a.rows * JUDGES_PER_ROW
        ideal = calls * a.delay / a.concurrency
        ok_run = run["rc"] == 0 and run["judge_requests"] == calls
        wall = run["wall_seconds"]
        sc.metrics = {
            "judge_calls_expected": calls,
            "judge_calls": run["judge_requests"],
            "ideal_seconds": round(ideal, 3),
            "wall_seconds": wall,
            "repeat_walls": run["repeat_walls"],
            "pytest_reported_seconds": run["pytest_seconds"],
            "ratio": round(wall / ideal, 3) if ideal else None,
            "judge_calls_per_second": round(run["judge_requests"] / wall, 1) if wall else None,
            "max_in_flight": run["max_in_flight"],
            "cpu_seconds": round(run["user_cpu_seconds"] + run["system_cpu_seconds"], 2),
            "cpu_ms_per_judge_call": round(
                1000 * (run["user_cpu_seconds"] + run["system_cpu_seconds"]) / max(1, run["judge_requests"]), 3
            ),
        }  # fmt: skip
        if ok_run:
            self.a_wall = wall
            self.a_cache_dir = cache_dir if self.cache_support()[0] else None
        evaluation = _evaluation_seconds(self.out / "runs" / run["run"] / "genai-results")
        sc.metrics["evaluation_seconds"] = evaluation
        if ideal > 0:
            ratio = wall / ideal
            sc.targets.append(
                Target("a", "pytest process wall / ideal", f"{ratio:.2f} ({wall:.2f} s vs {ideal:.2f} s)", "<= 1.5",
                       _status(ok_run and ratio <= 1.5),
                       "" if ok_run else f"run not clean: rc={run['rc']}, calls={run['judge_requests']}/{calls}")
            )  # fmt: skip
            if evaluation is not None:
                eval_ratio = evaluation / ideal
                sc.targets.append(
                    Target("a", "evaluation wall / ideal", f"{eval_ratio:.2f} ({evaluation:.2f} s vs {ideal:.2f} s)",
                           "<= 1.3", _status(ok_run and eval_ratio <= 1.3),
                           "first row submitted to last row judged, from evaluation_results.json")
                )  # fmt: skip
        if not ok_run:
            sc.notes.append(
                f"rc={run['rc']} judge calls {run['judge_requests']} (expected {calls}): {run['summary']}"
            )
        profile = self.profile("a_eval", suite, make_args("a_eval_profile"), delay=a.delay)
        if profile:
            sc.notes.append(f"profile: {profile}")
        return sc

    def scenario_b(self) -> Scenario:
        a = self.args
        sc = Scenario("b", f"{a.rows} rows re-run with a warm verdict cache")
        known, _ = self.cache_support()
        suite = self.suite_dir(a.rows)
        cache_dir = self._cache_dir(suite)
        targets = (("warm wall time", "< 3 s"), ("judge calls when warm", "== 0"))
        if not known:
            probe = self.pytest(
                "b_probe", suite, [*self.eval_args("b_probe", a.concurrency), "--genai-cache", "use"],
                delay=0.0,
            )  # fmt: skip
            sc.runs.append(probe)
            why = "pytest does not know --genai-cache"
            if probe["unrecognized_option"]:
                why += " (exit 4: unrecognized arguments)"
            sc.targets += [
                Target("b", name, NOT_AVAILABLE, limit, "N/A", why) for name, limit in targets
            ]
            sc.notes.append(f"{NOT_AVAILABLE}: {why}")
            return sc
        if self.a_cache_dir is None or not cache_dir.exists() or a.cold_cache_mode != "use":
            prime = self.pytest(
                "b_prime", suite,
                [*self.eval_args("b_prime", a.concurrency), "--genai-cache", "use",
                 *(["--genai-cache-dir", str(cache_dir)] if self.cache_support()[1] else [])],
                delay=0.0,
            )  # fmt: skip
            sc.runs.append(prime)
            sc.notes.append("cache primed by a cold run at zero judge latency")
        else:
            sc.notes.append("cache primed by scenario a's cold run")

        def make_args(label: str) -> list[str]:
            args = [*self.eval_args(label, a.concurrency), "--genai-cache", "use"]
            return args + (["--genai-cache-dir", str(cache_dir)] if self.cache_support()[1] else [])

        warm = self.best_of("b_warm", suite, make_args, delay=a.delay)
        sc.runs.append(warm)
        if warm["unrecognized_option"]:
            sc.targets += [
                Target("b", n, NOT_AVAILABLE, lim, "N/A", "exit 4: unrecognized arguments")
                for n, lim in targets
            ]
            return sc
        wall, calls = warm["wall_seconds"], warm["judge_requests"]
        clean = warm["rc"] == 0
        sc.metrics = {"wall_seconds": wall, "repeat_walls": warm["repeat_walls"], "judge_calls": calls,
                      "pytest_reported_seconds": warm["pytest_seconds"]}  # fmt: skip
        sc.targets.append(Target("b", "warm wall time", f"{wall:.2f} s", "< 3 s", _status(clean and wall < 3.0),
                                 "" if clean else f"rc={warm['rc']}"))  # fmt: skip
        sc.targets.append(
            Target("b", "judge calls when warm", str(calls), "== 0", _status(clean and calls == 0))
        )
        profile = self.profile("b_warm", suite, make_args("b_warm_profile"), delay=a.delay)
        if profile:
            sc.notes.append(f"profile: {profile}")
        return sc

    def scenario_c(self) -> Scenario:
        a = self.args
        rows = a.collect_rows
        sc = Scenario("c", f"{rows} rows: collection, and evaluation with a warm cache (memory)")
        suite = self.suite_dir(rows)
        collect = self.best_of("c_collect", suite, lambda _label: ["--collect-only"], delay=0.0)
        sc.runs.append(collect)
        wall = collect["wall_seconds"]
        collected_ok = collect["rc"] == 0 and f"{rows} test" in collect["summary"]
        sc.metrics["collect_wall_seconds"] = wall
        sc.metrics["collect_repeat_walls"] = collect["repeat_walls"]
        sc.metrics["collect_pytest_reported_seconds"] = collect["pytest_seconds"]
        sc.metrics["collect_maxrss_mib"] = collect["maxrss_mib"]
        sc.targets.append(Target("c", f"collect {rows} rows", f"{wall:.2f} s", "< 3 s",
                                 _status(collected_ok and wall < 3.0),
                                 f"pytest's own timer: {collect['pytest_seconds']} s" if collected_ok
                                 else f"rc={collect['rc']}: {collect['summary']}"))  # fmt: skip
        profile = self.profile("c_collect", suite, ["--collect-only"], delay=0.0)
        if profile:
            sc.notes.append(f"profile: {profile}")
        known, has_dir = self.cache_support()
        cache_dir = self._cache_dir(suite)
        cold = self.pytest(
            "c_cold", suite,
            [*self.eval_args("c_cold", a.concurrency), *self.cache_args("use", cache_dir, fresh=True)],
            delay=0.0,
        )  # fmt: skip
        sc.runs.append(cold)
        sc.metrics["cold_eval_wall_seconds"] = cold["wall_seconds"]
        sc.metrics["cold_eval_maxrss_mib"] = cold["maxrss_mib"]
        sc.metrics["cold_eval_judge_calls"] = cold["judge_requests"]
        sc.targets.append(Target("c", "peak RSS, cold evaluation at 0 ms (reference)", f"{cold['maxrss_mib']:.0f} MiB",
                                 "< 300 MB", "INFO", f"rc={cold['rc']}, {cold['wall_seconds']:.1f} s, "
                                 f"{cold['judge_requests']} judge calls"))  # fmt: skip
        if not known:
            sc.targets.append(Target("c", "peak RSS, warm-cache evaluation", NOT_AVAILABLE, "< 300 MB", "N/A",
                                     "pytest does not know --genai-cache"))  # fmt: skip
            sc.notes.append(
                f"warm-cache evaluation {NOT_AVAILABLE}; the cold run's peak RSS is shown instead"
            )
            return sc
        if a.cold_cache_mode != "use":  # the cold run did not fill the cache
            sc.runs.append(self.pytest(
                "c_prime", suite,
                [*self.eval_args("c_prime", a.concurrency), "--genai-cache", "use",
                 *(["--genai-cache-dir", str(cache_dir)] if has_dir else [])],
                delay=0.0,
            ))  # fmt: skip
        warm_args = [*self.eval_args("c_warm", a.concurrency), "--genai-cache", "use",
                     *(["--genai-cache-dir", str(cache_dir)] if has_dir else [])]  # fmt: skip
        warm = self.pytest("c_warm", suite, warm_args, delay=a.delay)
        sc.runs.append(warm)
        rss_mb = warm["maxrss_mib"] * 1.048576
        sc.metrics["warm_eval_wall_seconds"] = warm["wall_seconds"]
        sc.metrics["warm_eval_maxrss_mib"] = warm["maxrss_mib"]
        sc.metrics["warm_eval_judge_calls"] = warm["judge_requests"]
        sc.targets.append(Target("c", "peak RSS, warm-cache evaluation", f"{warm['maxrss_mib']:.0f} MiB ({rss_mb:.0f} MB)",
                                 "< 300 MB", _status(warm["rc"] == 0 and rss_mb < 300),
                                 f"rc={warm['rc']}, {warm['wall_seconds']:.1f} s, {warm['judge_requests']} judge calls"))  # fmt: skip
        return sc

    def scenario_d(self) -> Scenario:
        a = self.args
        sc = Scenario(
            "d", f"overhead per row, judge at 0 ms ({a.rows} rows, concurrency {a.concurrency})"
        )
        suite = self.suite_dir(a.rows)
        cache_dir = self._cache_dir(suite)

        def make_args(label: str) -> list[str]:
            return [
                *self.eval_args(label, a.concurrency),
                *self.cache_args("use", cache_dir, fresh=True),
            ]

        evaluation = self.best_of("d_eval", suite, make_args, delay=0.0)
        collect = self.best_of("d_collect", suite, lambda _label: ["--collect-only"], delay=0.0)
        plain_dir = self.out / "suites" / f"plain_{a.rows}"
        write_plain(plain_dir, a.rows)
        plain = self.best_of("d_plain", plain_dir, lambda _label: [], delay=0.0)
        sc.runs += [evaluation, collect, plain]
        rows = a.rows
        run_part = evaluation["wall_seconds"] - collect["wall_seconds"]
        sc.metrics = {
            "eval_wall_seconds": evaluation["wall_seconds"],
            "eval_repeat_walls": evaluation["repeat_walls"],
            "eval_ms_per_row": round(1000 * evaluation["wall_seconds"] / rows, 3),
            "collect_wall_seconds": collect["wall_seconds"],
            "eval_minus_collect_ms_per_row": round(1000 * run_part / rows, 3),
            "plain_wall_seconds": plain["wall_seconds"],
            "plain_ms_per_test": round(1000 * plain["wall_seconds"] / rows, 3),
            "overhead_vs_plain_ms_per_row": round(1000 * (evaluation["wall_seconds"] - plain["wall_seconds"]) / rows, 3),
            "judge_calls": evaluation["judge_requests"],
            "judge_calls_per_second": round(evaluation["judge_requests"] / evaluation["wall_seconds"], 1),
            "judge_calls_per_second_after_collection": round(evaluation["judge_requests"] / run_part, 1) if run_part > 0 else None,
            "eval_cpu_seconds": round(evaluation["user_cpu_seconds"] + evaluation["system_cpu_seconds"], 2),
            "eval_cpu_ms_per_judge_call": round(1000 * (evaluation["user_cpu_seconds"] + evaluation["system_cpu_seconds"]) / max(1, evaluation["judge_requests"]), 3),
            "plain_cpu_seconds": round(plain["user_cpu_seconds"] + plain["system_cpu_seconds"], 2),
        }  # fmt: skip
        m = sc.metrics
        ok = evaluation["rc"] == 0 and evaluation["judge_requests"] == rows * JUDGES_PER_ROW
        sc.targets.append(Target("d", "wall per row (0 ms judge)", f"{m['eval_ms_per_row']:.2f} ms/row",
                                 "report", "INFO",
                                 f"plain pytest {m['plain_ms_per_test']:.2f} ms/test; "
                                 f"{m['judge_calls_per_second']:.0f} judge calls/s; rc={evaluation['rc']}"
                                 + ("" if ok else " (run not clean)")))  # fmt: skip
        profile = self.profile("d_eval", suite, make_args("d_eval_profile"), delay=0.0)
        if profile:
            sc.notes.append(f"profile: {profile}")
        return sc

    def scenario_e(self) -> Scenario:
        a = self.args
        n = min(a.sequential_rows, a.rows)
        sc = Scenario(
            "e", f"one row at a time (--genai-concurrency 1), {n} rows at {a.delay * 1000:g} ms"
        )
        suite = self.suite_dir(n)
        cache = self.cache_args("use", self._cache_dir(suite), fresh=True)
        seq = self.pytest(
            "e_sequential", suite, [*self.eval_args("e_sequential", 1), *cache], delay=a.delay
        )
        sc.runs.append(seq)
        wall = seq["wall_seconds"]
        if n < a.rows:
            collect = self.best_of("e_collect", suite, lambda _label: ["--collect-only"], delay=0.0)
            sc.runs.append(collect)
            per_row = (wall - collect["wall_seconds"]) / n
            estimate = wall + (a.rows - n) * per_row
            sc.notes.append(
                f"extrapolated from {n} rows: {wall:.1f} s + {a.rows - n} x {per_row * 1000:.1f} ms/row "
                f"(per row = (wall - collect-only wall) / {n})"
            )
        else:
            per_row = wall / n
            estimate = wall
        sc.metrics = {
            "rows_run": n,
            "wall_seconds": wall,
            "judge_calls": seq["judge_requests"],
            "max_in_flight": seq["max_in_flight"],
            "ms_per_row": round(per_row * 1000, 2),
            "estimated_wall_seconds_for_rows": round(estimate, 1),
            "judge_bound_seconds_for_rows": round(a.rows * JUDGES_PER_ROW * a.delay, 1),
        }
        if self.a_wall:
            factor = estimate / self.a_wall
            sc.metrics["factor_vs_a"] = round(factor, 1)
            sc.targets.append(Target("e", "concurrent vs sequential", f"x{factor:.1f} ({estimate:.0f} s vs {self.a_wall:.2f} s)",
                                     "report", "INFO", f"extrapolated from {n} rows" if n < a.rows else ""))  # fmt: skip
        else:
            sc.targets.append(Target("e", "concurrent vs sequential", f"{estimate:.0f} s sequential", "report", "INFO",
                                     "run scenario a in the same invocation for the factor"))  # fmt: skip
        return sc

    def scenario_f(self) -> Scenario:
        a = self.args
        sc = Scenario(
            "f",
            f"scenario a over HTTPS vs HTTP ({a.rows} rows x {JUDGES_PER_ROW} judges, "
            f"{a.delay * 1000:g} ms judge, concurrency {a.concurrency}), alternating runs",
        )
        suite = self.suite_dir(a.rows)
        cache_dir = self._cache_dir(suite)
        calls = a.rows * JUDGES_PER_ROW
        ideal = calls * a.delay / a.concurrency
        by_scheme: dict[str, list[dict[str, Any]]] = {"http": [], "https": []}
        # http and https runs alternate, so both see the same (shared, noisy) machine
        for index in range(max(1, a.repeat)):
            for scheme in ("http", "https"):
                label = f"f_{scheme}" + ("" if index == 0 else f"_r{index + 1}")
                if (suite / ".genai-cache").exists():
                    shutil.rmtree(suite / ".genai-cache")
                args = [*self.eval_args(label, a.concurrency),
                        *self.cache_args("use", cache_dir, fresh=True)]  # fmt: skip
                run = self.pytest(label, suite, args, delay=a.delay, tls=scheme == "https")
                run["evaluation_seconds"] = _evaluation_seconds(
                    self.out / "runs" / label / "genai-results"
                )
                cpu = run["user_cpu_seconds"] + run["system_cpu_seconds"]
                run["cpu_ms_per_judge_call"] = round(1000 * cpu / max(1, run["judge_requests"]), 3)
                by_scheme[scheme].append(run)
                sc.runs.append(run)

        def clean(run: dict[str, Any]) -> bool:
            return bool(run["rc"] == 0 and run["judge_requests"] == calls)

        best: dict[str, dict[str, float]] = {}
        for scheme, runs in by_scheme.items():
            good = [r for r in runs if clean(r) and r["evaluation_seconds"] is not None]
            sc.metrics[f"{scheme}_evaluation_seconds"] = [r["evaluation_seconds"] for r in runs]
            sc.metrics[f"{scheme}_wall_seconds"] = [r["wall_seconds"] for r in runs]
            sc.metrics[f"{scheme}_cpu_ms_per_judge_call"] = [
                r["cpu_ms_per_judge_call"] for r in runs
            ]
            sc.metrics[f"{scheme}_max_in_flight"] = [r["max_in_flight"] for r in runs]
            if good:
                best[scheme] = {
                    "evaluation": min(r["evaluation_seconds"] for r in good),
                    "wall": min(r["wall_seconds"] for r in good),
                    "cpu": min(r["cpu_ms_per_judge_call"] for r in good),
                }
            else:
                sc.notes.append(f"no clean {scheme} run: " + "; ".join(
                    f"rc={r['rc']} calls={r['judge_requests']}/{calls}" for r in runs))  # fmt: skip
        sc.metrics["ideal_seconds"] = round(ideal, 3)
        if "http" in best and "https" in best:
            ratio = best["https"]["evaluation"] / best["http"]["evaluation"]
            pairs = [h["evaluation_seconds"] / p["evaluation_seconds"]
                     for p, h in zip(by_scheme["http"], by_scheme["https"], strict=True)
                     if clean(p) and clean(h) and p["evaluation_seconds"] and h["evaluation_seconds"]]  # fmt: skip
            sc.metrics["https_over_http_evaluation"] = round(ratio, 3)
            sc.metrics["https_over_http_evaluation_per_pair"] = [round(x, 3) for x in pairs]
            sc.targets.append(
                Target("f", "evaluation span https / http",
                       f"{ratio:.2f} ({best['https']['evaluation']:.2f} s vs {best['http']['evaluation']:.2f} s)",
                       "<= 1.15", _status(ratio <= 1.15),
                       f"best of {len(by_scheme['http'])} each; per alternating pair: "
                       + ", ".join(f"{x:.2f}" for x in pairs))
            )  # fmt: skip
            sc.targets.append(
                Target("f", "CPU per judge call https / http",
                       f"{best['https']['cpu']:.2f} vs {best['http']['cpu']:.2f} ms", "report", "INFO",
                       "whole pytest process CPU / judge calls, best run of each")
            )  # fmt: skip
        if "https" in best and ideal > 0:
            eval_ratio = best["https"]["evaluation"] / ideal
            wall_ratio = best["https"]["wall"] / ideal
            sc.targets.append(
                Target("f", "https evaluation wall / ideal", f"{eval_ratio:.2f} ({best['https']['evaluation']:.2f} s vs {ideal:.2f} s)",
                       "<= 1.3", _status(eval_ratio <= 1.3))
            )  # fmt: skip
            sc.targets.append(
                Target("f", "https pytest process wall / ideal", f"{wall_ratio:.2f} ({best['https']['wall']:.2f} s vs {ideal:.2f} s)",
                       "<= 1.5", _status(wall_ratio <= 1.5))
            )  # fmt: skip
        return sc


def _summary_line(stdout: str) -> str:
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.search(
            r"\b(passed|failed|error|errors|no tests ran|tests? collected|deselected)\b", line
        ):
            return line.strip("= ")
    return lines[-1] if lines else ""


def _pytest_seconds(stdout: str) -> float | None:
    found = re.findall(r" in ([0-9.]+)s\b", stdout)
    return float(found[-1]) if found else None


def render_markdown(
    info: dict[str, Any], args: argparse.Namespace, scenarios: list[Scenario]
) -> str:
    out = [
        f"# pytest-genai-eval benchmark results ({info['date']})",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']}, Python {info['python']}, "
        f"{info['platform']}",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()),
        "",
        f"Options: rows={args.rows}, delay={args.delay}, concurrency={args.concurrency}, "
        f"collect_rows={args.collect_rows}, sequential_rows={args.sequential_rows}, "
        f"pythonpath={args.pythonpath or '-'}, extra pytest args={args.pytest_arg or '-'}",
        "",
        "## Targets",
        "",
        "| scenario | target | measured | limit | status | note |",
        "|---|---|---|---|---|---|",
    ]
    for sc in scenarios:
        for t in sc.targets:
            out.append(
                f"| {t.scenario} | {t.name} | {t.measured} | {t.limit} | {t.status} | {t.note} |"
            )
    out += [
        "",
        "## Runs",
        "",
        "| run | judge delay | wall s | pytest s | peak RSS MiB | CPU s | judge calls | max in flight | load before/after | rc | summary |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for sc in scenarios:
        for r in sc.runs:
            cpu = r["user_cpu_seconds"] + r["system_cpu_seconds"]
            out.append(
                f"| {r['label']} | {r['delay'] * 1000:g} ms | {r['wall_seconds']:.2f} | "
                f"{r['pytest_seconds'] if r['pytest_seconds'] is not None else '-'} | "
                f"{r['maxrss_mib']:.0f} | {cpu:.1f} | {r['judge_requests']} | {r['max_in_flight']} | "
                f"{r['loadavg_before']}/{r['loadavg_after']} | {r['rc']} | {r['summary'][:80]} |"
            )
    out += ["", "## Metrics", ""]
    for sc in scenarios:
        out.append(f"### {sc.id}. {sc.title}")
        out.append("")
        out += [f"- {k}: {v}" for k, v in sc.metrics.items()]
        out += [f"- note: {n}" for n in sc.notes]
        out.append("")
    return "\n".join(out) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark pytest-genai-eval end to end.")
    parser.add_argument("--rows", type=int, default=1000, help="rows of the main suite")
    parser.add_argument("--delay", type=float, default=0.1, help="judge latency, seconds")
    parser.add_argument("--concurrency", type=int, default=64, help="--genai-concurrency")
    parser.add_argument("--scenarios", default="a,b,c,d,e,f", help="comma-separated subset of a-f")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="output directory")
    parser.add_argument("--collect-rows", type=int, default=10000, help="rows for scenario c")
    parser.add_argument("--sequential-rows", type=int, default=200, help="rows run in scenario e")
    parser.add_argument("--timeout", type=float, default=1200.0, help="limit per pytest run, s")
    parser.add_argument("--profile", action="store_true",
                        help="also record a, b (warm), c (collection) and d under py-spy (pip install py-spy)")  # fmt: skip
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    parser.add_argument("--pythonpath", action="append", default=[],
                        help="prepend to PYTHONPATH of the pytest runs (A/B experiments)")  # fmt: skip
    parser.add_argument("--pytest-arg", action="append", default=[],
                        help="extra argument for every evaluating pytest run (repeatable)")  # fmt: skip
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--repeat", type=int, default=1,
                        help="repeat the timed runs and keep the fastest (shared machines)")  # fmt: skip
    parser.add_argument("--cold-cache-mode", choices=("use", "off", "refresh"), default="use",
                        help="--genai-cache mode of the cold runs in a, d, e (A/B: off)")  # fmt: skip
    parser.add_argument("--no-pycache", action="store_true",
                        help="run pytest with PYTHONDONTWRITEBYTECODE=1 (cold bytecode every run)")  # fmt: skip
    parser.add_argument("--busy-load", type=float, default=float(os.cpu_count() or 1),
                        help="1-min load average above which the machine counts as busy")  # fmt: skip
    parser.add_argument("--max-idle-wait", type=float, default=0.0,
                        help="before each run, wait up to this many seconds for a quiet machine")  # fmt: skip
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set("abcdef"))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    args.chosen = [s for s in "abcdef" if s in chosen]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print(f"machine: {info['nproc']} CPUs, {info['memory']}, Python {info['python']}", flush=True)
    scenarios: list[Scenario] = []
    started = time.perf_counter()
    server = ServerProcess(delay=args.delay, max_seconds=4 * 3600.0)
    tls_server: ServerProcess | None = None
    if "f" in args.chosen:  # the same judge over HTTPS, with a throwaway CA
        tls_server = ServerProcess(
            delay=args.delay, max_seconds=4 * 3600.0, tls=True, ca_file=args.out / "tls" / "ca.pem"
        )
    try:
        server.start()
        print(f"judge server pid {server.pid} at {server.base_url}", flush=True)
        if tls_server is not None:
            tls_server.start()
            print(f"HTTPS judge server pid {tls_server.pid} at {tls_server.base_url}, "
                  f"CA {tls_server.ca_file}", flush=True)  # fmt: skip
        bench = Bench(args, server, tls_server)
        bench.warm_up()
        known, has_dir = bench.cache_support()
        print(f"verdict cache options: --genai-cache {'yes' if known else 'no'}, "
              f"--genai-cache-dir {'yes' if has_dir else 'no'}", flush=True)  # fmt: skip
        table: dict[str, Callable[[], Scenario]] = {
            "a": bench.scenario_a,
            "b": bench.scenario_b,
            "c": bench.scenario_c,
            "d": bench.scenario_d,
            "e": bench.scenario_e,
            "f": bench.scenario_f,
        }
        for key in args.chosen:
            print(f"scenario {key}", flush=True)
            scenario = table[key]()
            scenarios.append(scenario)
            for target in scenario.targets:
                print("  " + target.line(), flush=True)
    finally:
        server.stop()
        if tls_server is not None:
            tls_server.stop()
    document = {
        "machine": info,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "total_seconds": round(time.perf_counter() - started, 1),
        "scenarios": [s.to_dict() for s in scenarios],
    }
    (args.out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    (args.out / "results.md").write_text(render_markdown(info, args, scenarios))
    print("\nSUMMARY")
    for scenario in scenarios:
        for target in scenario.targets:
            print(target.line())
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    failed = any(t.status == "FAIL" for s in scenarios for t in s.targets)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
