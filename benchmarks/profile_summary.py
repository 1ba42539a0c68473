#!/usr/bin/env python3
"""Summarize a py-spy ``--format raw`` profile (collapsed stacks) as Markdown.

    python benchmarks/profile_summary.py benchmarks/out/profile_a.txt [--top 25]

Shows samples per thread, self time by package and by function (the leaf frame), and inclusive
time of functions (each function counted once per stack).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^thread \((?P<tid>[^)]*)\): (?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")


def _frame_key(frame: str) -> tuple[str, str]:
    """(function with file, package) of one frame, line numbers dropped."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, frame
    file = match.group("file")
    parts = Path(file).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif "lib" in parts and any(p.startswith("python3") for p in parts):
        parts = ("stdlib", *parts[-1:])
    package = parts[0] if len(parts) > 1 else file
    if package.endswith(".py"):
        package = "stdlib:" + package
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{match.group('func')} ({short})", package


def summarize(path: Path, top: int = 25) -> str:
    threads: Counter[str] = Counter()
    self_pkg: Counter[str] = Counter()
    self_func: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    per_thread: dict[str, Counter[str]] = {}
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        match = _LINE.match(raw.strip())
        if match is None:
            continue
        count = int(match.group("count"))
        frames = match.group("stack").split(";")
        thread, frames = frames[0], frames[1:]
        total += count
        threads[thread] += count
        if not frames:
            self_func[f"[{thread}: no Python frame]"] += count
            self_pkg["(native/idle)"] += count
            continue
        leaf, package = _frame_key(frames[-1])
        self_func[leaf] += count
        self_pkg[package] += count
        thread_counter = per_thread.setdefault(thread, Counter())
        for name in {_frame_key(f)[0] for f in frames}:
            inclusive[name] += count
            thread_counter[name] += count

    def pct(n: int) -> str:
        return f"{100.0 * n / total:5.1f}%" if total else "-"

    out = [f"# Profile summary: {path.name}", "", f"{total} samples (non-idle, all threads)", ""]
    out += ["## Samples per thread", "", "| thread | samples | share |", "|---|---:|---:|"]
    out += [f"| {name} | {n} | {pct(n)} |" for name, n in threads.most_common()]
    out += ["", "## Self time by package (leaf frame)", "", "| package | share |", "|---|---:|"]
    out += [f"| {name} | {pct(n)} |" for name, n in self_pkg.most_common(top)]
    out += ["", "## Self time by function", "", "| function | share |", "|---|---:|"]
    out += [f"| `{name}` | {pct(n)} |" for name, n in self_func.most_common(top)]
    out += ["", "## Inclusive time by function", "", "| function | share |", "|---|---:|"]
    out += [f"| `{name}` | {pct(n)} |" for name, n in inclusive.most_common(top * 2)]
    for thread, samples in threads.most_common(2):
        counter = per_thread.get(thread, Counter())
        out += ["", f"## Inclusive time in thread {thread} ({samples} samples = 100%)", ""]
        out += ["| function | share of thread |", "|---|---:|"]
        out += [
            f"| `{name}` | {100.0 * n / samples:5.1f}% |"
            for name, n in counter.most_common(top * 2)
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Summarize a py-spy raw profile.")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="write Markdown here")
    args = parser.parse_args(argv)
    text = summarize(args.profile, args.top)
    if args.out is not None:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
