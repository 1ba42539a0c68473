"""Human labels: loading, staleness, agreement and Cohen's kappa, the review queue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_genai_eval.labels import (
    LabelsError,
    calibrate,
    cohen_kappa,
    load_labels,
    response_hash,
    review_queue,
    write_review_queue,
)
from pytest_genai_eval.results import Assessment, RowResult


def row(rid: str, rating: str | None, response: str = "answer", **details: object) -> RowResult:
    a = Assessment("correctness", "correctness", rating=rating, rationale=f"judge on {rid}")  # type: ignore[arg-type]
    if rating is None:
        a.error = "HTTP 503"
    a.details.update(details)
    return RowResult("s", rid, {"request": f"question {rid}"}, response=response, assessments=[a])


def test_cohen_kappa_by_hand() -> None:
    # 20 both yes, 5 judge yes / human no, 10 judge no / human yes, 15 both no (n = 50)
    # po = 0.7; judge yes 0.5, human yes 0.6; pe = 0.3 + 0.2 = 0.5; kappa = 0.4
    assert cohen_kappa(20, 5, 10, 15) == pytest.approx(0.4)
    assert cohen_kappa(10, 0, 0, 10) == pytest.approx(1.0)
    assert cohen_kappa(5, 0, 0, 0) is None  # both always said yes: chance agreement is total
    assert cohen_kappa(0, 0, 0, 0) is None


def test_load_jsonl_and_csv_with_errors_named(tmp_path: Path) -> None:
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text(
        json.dumps({"request_id": "a", "judge": "correctness", "rating": "No", "reviewer": "ana"})
        + "\n"
        + json.dumps({"request_id": "b", "judge": "correctness", "rating": ""})  # not reviewed
        + "\n"
    )
    (label,) = load_labels(jsonl)
    assert (label.request_id, label.rating, label.reviewer) == ("a", "no", "ana")
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("request_id,judge,rating\na,correctness,yes\n,correctness,no\nc,safety,maybe\n")
    with pytest.raises(LabelsError) as info:
        load_labels(csv_file)
    message = str(info.value)
    assert "labels.csv, line 3, field 'request_id': missing" in message
    assert "labels.csv, line 4, field 'rating': expected yes or no, got 'maybe'" in message


def test_calibration_counts_agreement_and_skips_stale_labels(tmp_path: Path) -> None:
    results = [row("a", "yes"), row("b", "yes"), row("c", "no"), row("d", "no"), row("e", None)]
    labels_file = tmp_path / "l.jsonl"
    lines = [
        {"request_id": "a", "judge": "correctness", "rating": "yes"},
        {"request_id": "b", "judge": "correctness", "rating": "no"},  # a false pass
        {"request_id": "c", "judge": "correctness", "rating": "no"},
        # the reviewer saw another answer: stale, not used
        {"request_id": "d", "judge": "correctness", "rating": "yes", "response_hash": response_hash("old")},
        {"request_id": "e", "judge": "correctness", "rating": "yes"},  # the judge errored
        {"request_id": "zz", "judge": "correctness", "rating": "yes"},  # not in this run
    ]
    labels_file.write_text("".join(json.dumps(x) + "\n" for x in lines))
    calibration = calibrate(results, load_labels(labels_file))
    agreement = calibration.judges["correctness"]
    assert (agreement.both_yes, agreement.judge_yes_human_no, agreement.judge_no_human_yes, agreement.both_no) == (1, 1, 0, 1)
    assert agreement.agreement == pytest.approx(2 / 3)
    assert [label.request_id for label in calibration.stale] == ["d"]
    assert calibration.unmatched == 1
    metrics = calibration.metrics()
    assert metrics["judge/correctness/human_agreement"] == pytest.approx(2 / 3)
    assert metrics["judge/stale_label_count"] == 1


def test_review_queue_picks_what_needs_a_look_and_round_trips(tmp_path: Path) -> None:
    results = [row("fail", "no"), row("err", None), row("flaky", "yes", flaky=True)]
    results += [row(f"ok{i}", "yes") for i in range(20)]
    items = review_queue(results, sample=3, seed=7)
    reasons = {item.request_id: item.reason for item in items}
    assert reasons["fail"] == "failed" and reasons["err"] == "error"
    assert reasons["flaky"].startswith("votes disagreed")
    sampled = sorted(k for k, v in reasons.items() if v == "random sample of passes")
    assert len(sampled) == 3
    assert sampled == sorted(i.request_id for i in review_queue(results, sample=3, seed=7) if i.reason.startswith("random"))
    path = write_review_queue(tmp_path / "queue.jsonl", items)
    # a reviewer fills in two lines; the file goes straight back in as labels
    filled = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["request_id"] in ("fail", "ok0", *sampled[:1]):
            record.update(rating="yes", reviewer="ana")
        filled.append(json.dumps(record))
    path.write_text("\n".join(filled) + "\n")
    labels = load_labels(path)
    assert {label.request_id for label in labels} <= {"fail", "ok0", *sampled}
    assert all(label.response_hash == response_hash("answer") for label in labels)
    assert calibrate(results, labels).judges["correctness"].judge_no_human_yes == 1  # "fail"
