"""Merging the artifacts of sharded runs (``--genai-shard K/N``) into one, and gating it.

The merged artifact has the same metrics and verdict as one unsharded run over the same rows:
rows are combined, metrics recomputed, and the same thresholds applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .artifacts import SCHEMA_VERSION, read_results, write_results
from .errors import ArtifactError
from .gate import Threshold
from .outcome import RunOutcome, evaluate_run
from .results import RowResult


class MergeError(ArtifactError, ValueError):
    pass


def _judge_model(doc: dict[str, Any]) -> str | None:
    judge = (doc.get("config") or {}).get("judge") or {}
    model = judge.get("model") if isinstance(judge, dict) else None
    return str(model) if model else None


def merge_results(
    paths: Sequence[Path], *, allow_partial: bool = False
) -> tuple[dict[str, Any], list[RowResult], RunOutcome]:
    if not paths:
        raise MergeError("nothing to merge: give at least one results directory")
    loaded = [(Path(p), *read_results(Path(p))) for p in paths]
    first_path, first_doc, _ = loaded[0]
    models = {m for _, doc, _ in loaded if (m := _judge_model(doc)) is not None}
    if len(models) > 1:
        raise MergeError(f"the shards used different judge models: {', '.join(sorted(models))}")
    run_thresholds_raw = (first_doc.get("config") or {}).get("thresholds") or []
    for path, doc, _ in loaded[1:]:
        other = (doc.get("config") or {}).get("thresholds") or []
        if other != run_thresholds_raw:
            raise MergeError(f"{path}: run thresholds differ from those of {first_path}")

    suites: dict[str, dict[str, Any]] = {}
    for path, doc, _ in loaded:
        for name, suite in (doc.get("suites") or {}).items():
            config = suite.get("config") or {}
            known = suites.get(name)
            if known is None:
                suites[name] = config
                continue
            for key in ("prompt_versions", "thresholds", "judges"):
                if known.get(key) != config.get(key):
                    raise MergeError(f"{path}: suite {name!r} has a different {key} than in another shard")

    shards = [(doc.get("config") or {}).get("shard") for _, doc, _ in loaded]
    counts = {s["count"] for s in shards if s}
    if len(counts) > 1:
        raise MergeError(f"the artifacts come from different shard counts: {sorted(counts)}")
    missing: list[int] = []
    if counts:
        count = counts.pop()
        present = {s["index"] for s in shards if s}
        missing = sorted(set(range(1, count + 1)) - present)
        if missing and not allow_partial:
            raise MergeError(
                f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing; "
                "pass --allow-partial to merge what is there"
            )

    rows: dict[tuple[str, str], RowResult] = {}
    origin: dict[tuple[str, str], Path] = {}
    for path, _, results in loaded:
        for result in results:
            if result.key in rows:
                raise MergeError(
                    f"row {result.suite}::{result.request_id} is in both {origin[result.key]} and "
                    f"{path}; shards must not overlap"
                )
            rows[result.key] = result
            origin[result.key] = path
    ordered = sorted(rows.values(), key=lambda r: (r.suite, r.nodeid or "", r.request_id))
    suite_thresholds = {
        name: [Threshold.from_dict(t) for t in config.get("thresholds") or []]
        for name, config in suites.items()
    }
    complete = all(doc.get("complete", True) for _, doc, _ in loaded) and not missing
    interrupted = any(
        isinstance(doc.get("verdict"), dict) and doc["verdict"].get("status") == "interrupted"
        for _, doc, _ in loaded
    )
    partial = None
    if missing:
        partial = f"shard(s) {', '.join(map(str, missing))} missing"
    elif not complete:
        partial = "a shard did not complete"
    outcome = evaluate_run(
        ordered,
        suite_thresholds=suite_thresholds,
        run_thresholds=[Threshold.from_dict(t) for t in run_thresholds_raw],
        interrupted="a shard was interrupted" if interrupted else False,
        partial=partial,
    )
    config = dict(first_doc.get("config") or {})
    config["shard"] = None
    cache: dict[str, Any] = {}
    for _, doc, _ in loaded:
        for key, value in (doc.get("cache") or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                cache[key] = int(cache.get(key, 0)) + value
            else:
                cache.setdefault(key, value)
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "pytest-genai-eval",
        "complete": complete,
        "started_at": min(str(doc.get("started_at", "")) for _, doc, _ in loaded),
        "finished_at": dt.datetime.now(tz=dt.timezone.utc).isoformat(timespec="seconds"),
        "duration_seconds": max(float(doc.get("duration_seconds") or 0) for _, doc, _ in loaded),
        "config": config,
        "cache": cache,
        "judge_calls": sum(int(doc.get("judge_calls") or 0) for _, doc, _ in loaded),
        "merged_from": [str(path) for path, _, _ in loaded],
        "verdict": outcome.gate.to_dict(),
        "metrics": outcome.metrics,
        "suites": {
            name: {"config": suites.get(name, {}), "metrics": metrics}
            for name, metrics in sorted(outcome.suite_metrics.items())
        },
    }
    return document, ordered, outcome


def merge_to(out: Path, paths: Sequence[Path], *, allow_partial: bool = False) -> RunOutcome:
    document, rows, outcome = merge_results(paths, allow_partial=allow_partial)
    write_results(out, document, rows)
    return outcome
