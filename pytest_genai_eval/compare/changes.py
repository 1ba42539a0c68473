"""Row by row: matching the runs' rows by ``(suite, request_id)``, what changed for each (with
the judges that flipped), and the exact McNemar test on the paired rows."""

from __future__ import annotations

from collections.abc import Sequence

from ..results import Assessment, RowResult
from ..stats import exact_mcnemar, mcnemar_one_sided_drop, paired_difference
from .model import ChangeKind, JudgeFlip, PairedTest, RowChange


def _ratings(row: RowResult) -> dict[str, Assessment]:
    return {a.name: a for a in row.assessments}


def _flips(old: RowResult, new: RowResult) -> tuple[JudgeFlip, ...]:
    before, after = _ratings(old), _ratings(new)
    flips = []
    for name, a in after.items():
        b = before.get(name)
        old_rating = b.rating if b is not None else None
        if a.rating == old_rating:
            continue
        if a.rating is None and old_rating is None:
            continue
        flips.append(
            JudgeFlip(
                name=name,
                judge=a.judge,
                old_rating=old_rating,
                new_rating=a.rating,
                rationale=a.rationale if a.rationale is not None else a.error,
                old_rationale=(b.rationale if b.rationale is not None else b.error) if b else None,
            )
        )
    for name, b in before.items():
        if name not in after and b.rating is not None:
            flips.append(JudgeFlip(name, b.judge, b.rating, None, None, b.rationale))
    # Regression explanations first: judges that now say no, in root-cause order.
    no_now = {a.name: i for i, a in enumerate(new.failing)}
    flips.sort(key=lambda f: (f.new_rating != "no", no_now.get(f.name, len(no_now))))
    return tuple(flips)


def _kind(old_status: str, new_status: str) -> ChangeKind:
    if old_status == new_status:
        return "unchanged"
    if old_status == "pass" and new_status == "fail":
        return "regression"
    if old_status == "fail" and new_status == "pass":
        return "fix"
    return "changed"


def _row_changes(old_rows: Sequence[RowResult], new_rows: Sequence[RowResult]) -> list[RowChange]:
    old_by_key = {r.key: r for r in old_rows}
    new_keys = {r.key for r in new_rows}
    changes: list[RowChange] = []
    for row in new_rows:
        base = old_by_key.get(row.key)
        if base is None:
            changes.append(
                RowChange(
                    row.suite, row.request_id, "new", None, row.status, new_response=row.response
                )
            )
            continue
        changes.append(
            RowChange(
                suite=row.suite,
                request_id=row.request_id,
                kind=_kind(base.status, row.status),
                old_status=base.status,
                new_status=row.status,
                response_changed=base.response != row.response,
                old_response=base.response,
                new_response=row.response,
                flips=_flips(base, row),
            )
        )
    for base in old_rows:
        if base.key not in new_keys:
            changes.append(
                RowChange(
                    base.suite,
                    base.request_id,
                    "removed",
                    base.status,
                    None,
                    old_response=base.response,
                )
            )
    return changes


def _paired_test(changes: Sequence[RowChange]) -> PairedTest:
    decided = ("pass", "fail")
    paired = [c for c in changes if c.old_status in decided and c.new_status in decided]
    b = sum(1 for c in paired if c.kind == "regression")
    c = sum(1 for c in paired if c.kind == "fix")
    old = [1.0 if change.old_status == "pass" else 0.0 for change in paired]
    new = [1.0 if change.new_status == "pass" else 0.0 for change in paired]
    return PairedTest(
        paired=len(paired),
        b=b,
        c=c,
        p_one_sided=mcnemar_one_sided_drop(b, c),
        p_two_sided=exact_mcnemar(b, c),
        difference=paired_difference(old, new),
    )
