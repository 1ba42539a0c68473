"""Whether two runs come from the same configuration (suites, judge model, judges, prompt
versions): a baseline from another configuration is compared and reported but does not gate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..document import RunDocument, as_document
from ..results import RowResult

__all__ = ("compatibility",)


def _suite_names(document: RunDocument, rows: Sequence[RowResult]) -> list[str]:
    names: dict[str, None] = dict.fromkeys(document.suites)
    names.update(dict.fromkeys(r.suite for r in rows))
    return list(names)


def _names(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in sorted(items))


def compatibility(
    baseline: tuple[RunDocument | Mapping[str, Any], Sequence[RowResult]],
    current: tuple[RunDocument | Mapping[str, Any], Sequence[RowResult]],
) -> tuple[list[str], list[str]]:
    """``(incompatibilities, notes)`` between two runs' configurations."""
    (old_raw, old_rows), (new_raw, new_rows) = baseline, current
    old_doc, new_doc = as_document(old_raw), as_document(new_raw)
    problems: list[str] = []
    notes: list[str] = []
    old_suites, new_suites = _suite_names(old_doc, old_rows), _suite_names(new_doc, new_rows)
    only_old = set(old_suites) - set(new_suites)
    only_new = set(new_suites) - set(old_suites)
    if only_old or only_new:
        parts = []
        if only_old:
            parts.append(f"only in the baseline: {_names(only_old)}")
        if only_new:
            parts.append(f"only in this run: {_names(only_new)}")
        problems.append("different suites (" + "; ".join(parts) + ")")

    old_known, old_model = old_doc.recorded_config, old_doc.judge_model
    new_known, new_model = new_doc.recorded_config, new_doc.judge_model
    if old_known and new_known:
        if old_model != new_model:
            problems.append(
                f"judge model changed: baseline {old_model or 'none (no judge)'!s}, "
                f"this run {new_model or 'none (no judge)'!s}"
            )
    else:
        which = "baseline" if not old_known else "this run"
        notes.append(f"the {which} recorded no configuration; judge model not checked")

    for suite in [s for s in new_suites if s in set(old_suites)]:
        old_v, new_v = old_doc.prompt_versions(suite), new_doc.prompt_versions(suite)
        if old_v is None or new_v is None:
            if old_v != new_v:
                notes.append(f"suite {suite!r}: prompt versions not recorded in both runs")
            continue
        removed = set(old_v) - set(new_v)
        added = set(new_v) - set(old_v)
        if removed or added:
            parts = []
            if removed:
                parts.append(f"only in the baseline: {_names(removed)}")
            if added:
                parts.append(f"only in this run: {_names(added)}")
            problems.append(f"suite {suite!r}: different judges (" + "; ".join(parts) + ")")
        for judge in sorted(set(old_v) & set(new_v)):
            if old_v[judge] != new_v[judge]:
                problems.append(
                    f"suite {suite!r}: prompt version of {judge} changed "
                    f"({old_v[judge]} → {new_v[judge]})"
                )
    if old_doc.complete is False:
        notes.append("the baseline run was incomplete (interrupted)")
    if new_doc.complete is False:
        notes.append("this run is incomplete (interrupted)")
    return problems, notes
