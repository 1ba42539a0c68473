#!/usr/bin/env python3
"""Run one command as a child and report its wall time and peak RSS.

Meant to be started fresh for every measured command, so that
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is that command's own peak (it is the largest peak of
the children this process waited for, and this process waits for exactly one)::

    python benchmarks/measure.py --json m.json --stdout o.txt --stderr e.txt -- python -m pytest
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wall time and peak RSS of one command.")
    parser.add_argument("--json", type=Path, required=True, help="write the measurement here")
    parser.add_argument("--stdout", type=Path, required=True)
    parser.add_argument("--stderr", type=Path, required=True)
    parser.add_argument("--cwd", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=1800.0, help="kill the child after this")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    timed_out = False
    with args.stdout.open("wb") as out, args.stderr.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=args.cwd, stdout=out, stderr=err)
        try:
            rc = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()  # our own child, by its handle
            rc = proc.wait()
        wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    maxrss_kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    result = {
        "command": command,
        "rc": rc,
        "timed_out": timed_out,
        "wall_seconds": round(wall, 4),
        "maxrss_mib": round(maxrss_kib / 1024, 1),
        "user_cpu_seconds": round(usage.ru_utime, 3),
        "system_cpu_seconds": round(usage.ru_stime, 3),
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
