"""Merging the artifacts of sharded runs (``--genai-shard K/N``) into one, and gating it.

The merged artifact has the same metrics and verdict as one unsharded run over the same rows:
rows are combined, metrics recomputed, and the same thresholds applied.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .artifacts import load_results, write_results
from .cost import PriceTable
from .document import RunConfig, RunDocument, SuiteConfig, build_document, iso_time
from .errors import ArtifactError
from .gate import Threshold
from .outcome import RunOutcome, evaluate_run
from .results import RowResult


class MergeError(ArtifactError, ValueError):
    pass


def _config(doc: RunDocument) -> RunConfig:
    return doc.config if doc.config is not None else RunConfig()


def merge_results(
    paths: Sequence[Path], *, allow_partial: bool = False
) -> tuple[RunDocument, list[RowResult], RunOutcome]:
    if not paths:
        raise MergeError("nothing to merge: give at least one results directory")
    loaded = [(Path(p), *load_results(Path(p))) for p in paths]
    first_path, first_doc, _ = loaded[0]
    models = {m for _, doc, _ in loaded if (m := doc.judge_model) is not None}
    if len(models) > 1:
        raise MergeError(f"the shards used different judge models: {', '.join(sorted(models))}")
    run_thresholds_raw = _config(first_doc).thresholds
    for path, doc, _ in loaded[1:]:
        if _config(doc).thresholds != run_thresholds_raw:
            raise MergeError(f"{path}: run thresholds differ from those of {first_path}")

    suites: dict[str, SuiteConfig] = {}
    for path, doc, _ in loaded:
        for name, suite in doc.suites.items():
            known = suites.get(name)
            if known is None:
                suites[name] = suite.config
                continue
            for key in ("prompt_versions", "thresholds", "judges"):
                if getattr(known, key) != getattr(suite.config, key):
                    raise MergeError(f"{path}: suite {name!r} has a different {key} than in another shard")

    shards = [_config(doc).shard for _, doc, _ in loaded]
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
        name: [Threshold.from_dict(t) for t in config.thresholds] for name, config in suites.items()
    }
    complete = all(doc.complete is not False for _, doc, _ in loaded) and not missing
    interrupted = any(
        doc.verdict is not None and doc.verdict.status == "interrupted" for _, doc, _ in loaded
    )
    partial = None
    if missing:
        partial = f"shard(s) {', '.join(map(str, missing))} missing"
    elif not complete:
        partial = "a shard did not complete"
    gated = [r for r in ordered if r.gated]
    config = first_doc.config.model_dump(mode="json") if first_doc.config is not None else {}
    outcome = evaluate_run(
        gated,
        suite_thresholds=suite_thresholds,
        run_thresholds=[Threshold.from_dict(t) for t in run_thresholds_raw],
        interrupted="a shard was interrupted" if interrupted else False,
        partial=partial,
        prices=PriceTable.from_dict(config.get("prices")),  # the shards' price table
        clusters={name: c.cluster for name, c in suites.items()},
    )
    config["shard"] = None
    cache: dict[str, Any] = {}
    for _, doc, _ in loaded:
        for key, value in (doc.cache or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                cache[key] = int(cache.get(key, 0)) + value
            else:
                cache.setdefault(key, value)
    document = build_document(
        complete=complete,
        started_at=min(str(doc.started_at or "") for _, doc, _ in loaded),
        finished_at=iso_time(time.time()),
        duration_seconds=max(doc.duration_seconds or 0.0 for _, doc, _ in loaded),
        config=config,
        cache=cache,
        judge_calls=sum(doc.judge_calls for _, doc, _ in loaded),
        evaluation_seconds=None,
        metrics=outcome.metrics,
        suite_metrics=outcome.suite_metrics,
        suite_configs={name: c.model_dump(mode="json") for name, c in suites.items()},
        verdict=outcome.gate.to_dict(),
        merged_from=[str(path) for path, _, _ in loaded],
    )
    return document, ordered, outcome


def merge_to(out: Path, paths: Sequence[Path], *, allow_partial: bool = False) -> RunOutcome:
    document, rows, outcome = merge_results(paths, allow_partial=allow_partial)
    write_results(out, document, rows)
    return outcome
