"""Judge trust: human labels as the verdict of record, staleness, calibration metrics and the kappa
threshold, error bars (clustered), the review-queue round trip, `genai-eval calibrate` and
`genai-eval power`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_genai_eval.calibration import calibration_metrics
from pytest_genai_eval.cli import main
from pytest_genai_eval.gate import Threshold, check_threshold
from pytest_genai_eval.label_suite import LabelsSpec, apply_labels
from pytest_genai_eval.labels import Label, response_hash
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.results import Assessment, RowResult
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

XDIST = ["", "-n 2"]


def result(rid: str, rating: str | None, response: str | None = None) -> RowResult:
    a = Assessment("correctness", "correctness", rating=rating, rationale="judge says")  # type: ignore[arg-type]
    if rating is None:
        a.error = "HTTP 503"
    return RowResult("s", rid, {"request": rid}, response=response or f"answer {rid}", assessments=[a])


def spec(*labels: Label, use: str = "verdict") -> LabelsSpec:
    return LabelsSpec(
        path=Path("labels.jsonl"),
        use=use,  # type: ignore[arg-type]
        labels=labels,
        index={(label.request_id, label.judge): label for label in labels},
    )


# ---- applying labels ------------------------------------------------------------------------------
def test_a_current_label_is_the_verdict_of_record_and_keeps_the_judges() -> None:
    row = result("a", "yes")
    apply_labels(row, spec(Label("a", "correctness", "no", "misses the date", "ana")))
    (a,) = row.assessments
    assert (a.rating, row.status) == ("no", "fail")
    assert a.rationale == "Human label by ana: misses the date"
    assert a.details["judge_rating"] == "yes" and a.details["judge_rationale"] == "judge says"
    assert a.details["human_label"]["reviewer"] == "ana"


def test_a_label_replaces_an_errored_verdict_and_compare_mode_leaves_it() -> None:
    errored = result("a", None)
    apply_labels(errored, spec(Label("a", "correctness", "yes")))
    assert (errored.status, errored.assessments[0].details["judge_error"]) == ("pass", "HTTP 503")
    compared = result("a", "yes")
    apply_labels(compared, spec(Label("a", "correctness", "no"), use="compare"))
    (a,) = compared.assessments
    assert (a.rating, a.details["judge_rating"], a.details["human_label"]["rating"]) == (
        "yes",
        "yes",
        "no",
    )


def test_a_label_for_another_response_is_stale_and_not_used() -> None:
    row = result("a", "yes", response="The refund takes 5 days.")
    old = response_hash("The refund takes 30 days.")
    apply_labels(row, spec(Label("a", "correctness", "no", response_hash=old)))
    (a,) = row.assessments
    assert a.rating == "yes" and "human_label" not in a.details
    assert a.details["stale_label"]["rating"] == "no"
    # whitespace does not make a label stale
    same = response_hash("  The refund\ntakes 5 days. ")
    fresh = result("b", "yes", response="The refund takes 5 days.")
    apply_labels(fresh, spec(Label("b", "correctness", "no", response_hash=same)))
    assert fresh.assessments[0].rating == "no"
    metrics = compute_metrics([row, fresh])
    assert metrics["judge/stale_label_count"] == 1


# ---- calibration metrics and the kappa threshold ------------------------------------------------
def labelled_rows() -> list[RowResult]:
    """Judge vs human: a yes/yes, b yes/no, c yes/yes, d no/no, e no/yes, f errored (human yes).
    Compare mode, so ratings stay the judge's."""
    pairs = [("a", "yes", "yes"), ("b", "yes", "no"), ("c", "yes", "yes"), ("d", "no", "no")]
    pairs += [("e", "no", "yes"), ("f", None, "yes")]
    labels = spec(*(Label(rid, "correctness", human) for rid, _, human in pairs), use="compare")
    rows = []
    for rid, judge, _ in pairs:
        row = result(rid, judge)
        apply_labels(row, labels)
        rows.append(row)
    return rows


def test_agreement_kappa_and_counts_by_hand() -> None:
    m = calibration_metrics(labelled_rows())
    base = "judge/correctness"
    # 2 both yes, 1 judge yes / human no, 1 judge no / human yes, 1 both no; n = 5
    assert [m[f"{base}/human_label/{k}"] for k in ("both_yes", "judge_yes_human_no")] == [2, 1]
    assert [m[f"{base}/human_label/{k}"] for k in ("judge_no_human_yes", "both_no")] == [1, 1]
    assert m[f"{base}/human_label_count"] == 5 and m[f"{base}/human_label_unassessed_count"] == 1
    # po = 3/5; judge yes 3/5, human yes 3/5: pe = 9/25 + 4/25 = 13/25; kappa = (15/25-13/25)/(12/25)
    assert m[f"{base}/human_agreement"] == pytest.approx(0.6)
    assert m[f"{base}/cohen_kappa"] == pytest.approx(1 / 6)
    # f agreeing (judge yes, human yes): 3 1 1 1 of 6: po 4/6, judge yes 4/6, human yes 4/6,
    # pe = 16/36 + 4/36 = 20/36, kappa = (24/36 - 20/36) / (16/36) = 1/4
    assert m[f"{base}/cohen_kappa_optimistic"] == pytest.approx(0.25)
    assert m[f"{base}/human_agreement_optimistic"] == pytest.approx(4 / 6)
    # f disagreeing (judge no, human yes): 2 1 2 1: po 3/6, judge yes 3/6, human yes 4/6,
    # pe = 12/36 + 6/36 = 1/2, kappa = 0
    assert m[f"{base}/cohen_kappa_pessimistic"] == pytest.approx(0.0)
    assert m[f"{base}/human_agreement_pessimistic"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        ("kappa/correctness", -0.1, "pass"),  # met even if f disagreed (0.0)
        ("kappa/correctness", 0.2, "undecidable"),  # 0.0 .. 0.25
        ("judge/correctness/cohen_kappa", 0.3, "fail"),  # missed even if f agreed
        ("human_agreement/correctness", 0.5, "pass"),
    ],
)
def test_kappa_threshold_on_bounds(name: str, value: float, status: str) -> None:
    metrics = compute_metrics(labelled_rows())
    check = check_threshold("s", Threshold(name, value), metrics)
    assert check.status == status
    assert check.metric.startswith("judge/correctness/")


def test_kappa_not_computable_is_undecidable() -> None:
    rows = [result(rid, "yes") for rid in "ab"]
    labels = spec(*(Label(rid, "correctness", "yes") for rid in "ab"), use="compare")
    for row in rows:
        apply_labels(row, labels)
    metrics = compute_metrics(rows)
    assert metrics["judge/correctness/cohen_kappa"] is None  # everyone always said yes
    assert check_threshold("s", Threshold("kappa/correctness", 0.5), metrics).status == "undecidable"


# ---- error bars ---------------------------------------------------------------------------------
def test_clustered_standard_error_by_hand() -> None:
    # scores 1 1 0 | 1 0 | 0 in clusters A, B, C; mean 1/2. Cluster sums of (x - 1/2):
    # A 1/2 + 1/2 - 1/2 = 1/2, B 0, C -1/2 -> SE^2 = (1/4 + 0 + 1/4) / 36 = 1/72
    rows = []
    for i, (doc, rating) in enumerate([("A", "yes"), ("A", "yes"), ("A", "no"), ("B", "yes"),
                                        ("B", "no"), ("C", "no")]):
        row = result(f"r{i}", rating)
        row.row["doc"] = doc
        rows.append(row)
    m = compute_metrics(rows, clusters={"s": "doc"})
    se = math.sqrt(1 / 72)
    assert m["response/overall_assessment/rating/standard_error"] == pytest.approx(se)
    assert m["response/llm_judged/correctness/rating/standard_error"] == pytest.approx(se)
    assert m["response/overall_assessment/rating/cluster_count"] == 3
    assert m["response/overall_assessment/rating/clt_ci_low"] == pytest.approx(0.5 - 1.959964 * se)
    # effective rows 0.25 / (1/72) = 18 > 6 rows: the rows count;
    # d = z * sqrt((0.5 - d^2) / 6) -> d^2 = (z^2 / 12) / (1 + z^2 / 6), z = 2.801585
    z = 1.959964 + 0.841621
    drop = math.sqrt((z**2 / 12) / (1 + z**2 / 6))  # 0.532 > the rate 0.5: no drop is detectable
    assert drop > 0.5
    assert m["response/overall_assessment/rating/min_detectable_drop"] is None
    twelve = compute_metrics(rows + [result(f"q{i}", "yes" if i % 2 else "no") for i in range(6)])
    # 12 rows at 0.5, unclustered:
    # d^2 = (z^2 / 24) / (1 + z^2 / 12) -> 0.4589
    assert twelve["response/overall_assessment/rating/min_detectable_drop"] == pytest.approx(
        math.sqrt((z**2 / 24) / (1 + z**2 / 12)), rel=1e-5
    )
    # unclustered: s^2 = 6 * 0.25 / 5 = 0.3, SE = sqrt(0.3 / 6)
    plain = compute_metrics(rows)
    assert plain["response/overall_assessment/rating/standard_error"] == pytest.approx(math.sqrt(0.05))
    assert "response/overall_assessment/rating/cluster_count" not in plain


# ---- end to end: a suite with labels ------------------------------------------------------------
SUITE = """
name: labelled
judges: [correctness]
labels: labels.jsonl
cluster: doc
thresholds:
  overall: 0.5
  kappa/correctness: {kappa}
rows:
{rows}
"""


def labelled_suite(pytester: pytest.Pytester, kappa: float) -> None:
    """r0-r5; the judge says no on r3 and r4. Labels: r1 no, r3 no, r4 yes, r0 and r2 yes, and
    a stale one on r5 (it judged another answer)."""
    body = "\n".join(
        f'  - {{request_id: r{i}, request: "q{i}", response: "answer {i}", '
        f'expected_response: "a", doc: d{i // 2}}}'
        for i in range(6)
    )
    pytester.makefile(".yaml", genai_labelled=SUITE.format(kappa=kappa, rows=body))
    human = {"r0": "yes", "r1": "no", "r2": "yes", "r3": "no", "r4": "yes"}
    lines = [
        {"request_id": rid, "judge": "correctness", "rating": rating, "reviewer": "ana",
         "response_hash": response_hash(f"answer {rid[1:]}")}
        for rid, rating in human.items()
    ]
    lines.append({"request_id": "r5", "judge": "correctness", "rating": "no",
                  "response_hash": response_hash("an older answer")})
    (pytester.path / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def script(judge: ScriptedJudge) -> None:
    def handler(call: JudgeCall) -> Verdict:
        no = call.sections.get("response", "") in ("answer 3", "answer 4")
        return Verdict("no" if no else "yes", "scripted")

    judge.set_handler(handler)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    flat = ["--genai-cache", "off", *(a for x in args for a in x.split())]
    return pytester.runpytest_subprocess(*flat) if "-n" in flat else pytester.runpytest(*flat)


@pytest.mark.parametrize("xdist", XDIST)
@pytest.mark.parametrize(("kappa", "code"), [(0.1, 0), (0.5, 1)])
def test_labels_decide_rows_and_calibrate_the_judge(
    pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str, kappa: float, code: int
) -> None:
    script(judge)
    labelled_suite(pytester, kappa)
    queue = pytester.path / "queue.jsonl"
    out = run(pytester, xdist, f"--genai-review-queue {queue} --genai-review-sample 4")
    assert out.ret == code, out.stdout.str()
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    m = doc["suites"]["labelled"]["metrics"]
    # judge vs human: r0 y/y, r1 y/n, r2 y/y, r3 n/n, r4 n/y -> kappa 1/6 (as by hand above)
    assert m["judge/correctness/cohen_kappa"] == pytest.approx(1 / 6)
    assert m["judge/correctness/human_agreement"] == pytest.approx(0.6)
    assert m["judge/stale_label_count"] == 1
    # verdicts of record: r1 fails (label), r3 fails (label agrees), r4 passes (label), r5 the
    # judge's yes (stale label not used): 4 of 6
    assert m["response/overall_assessment/rating/percentage"] == pytest.approx(4 / 6)
    assert m["response/overall_assessment/rating/cluster_count"] == 3
    assert m["response/overall_assessment/rating/min_detectable_drop"] > 0
    (check,) = [c for c in doc["verdict"]["checks"] if c["name"] == "kappa/correctness"]
    assert check["status"] == ("pass" if code == 0 else "fail")
    assert doc["suites"]["labelled"]["config"]["labels"] == {
        "file": "labels.jsonl", "use": "verdict", "count": 6
    }
    text = out.stdout.str()
    out.stdout.fnmatch_lines(
        [
            "*judge calibration against human labels:",
            "*judge*labels*agreement*kappa*J+H+*J+H-*J-H+*J-H-",
            "*correctness*5*60.0%*0.17*2*1*1*1",
            "*1 stale label(s) not used*",
        ]
    )
    assert "error bars: overall 66.7% ±" in text
    # the review queue: r1, r3 failed; r5's stale label; a sample of 4 passes (r0, r2, r4, r5:
    # r5 is already queued)
    items = [json.loads(line) for line in queue.read_text().splitlines()]
    reasons = {item["request_id"]: item["reason"] for item in items}
    assert reasons["r1"] == reasons["r3"] == "failed"
    assert reasons["r5"].startswith("stale label")
    assert reasons["r0"] == reasons["r2"] == reasons["r4"] == "random sample of passes"
    assert len(items) == 6 and all(item["rating"] == "" for item in items)
    assert items[0]["response_hash"] == response_hash(f"answer {items[0]['request_id'][1:]}")


def test_review_queue_round_trip(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    """Fill in the queue, use it as the labels file: its ratings become the verdicts."""
    script(judge)
    labelled_suite(pytester, 0.1)
    (pytester.path / "labels.jsonl").write_text("")
    queue = pytester.path / "queue.jsonl"
    # no labels yet: the kappa threshold is undecidable (exit 6), never met by default
    assert run(pytester, f"--genai-review-queue {queue} --genai-review-sample 0").ret == 6
    items = [json.loads(line) for line in queue.read_text().splitlines()]
    assert {i["request_id"] for i in items} == {"r3", "r4"}  # the judge's two failures
    for item in items:
        item.update(rating="yes", reviewer="bo", rationale="fine after all")
    (pytester.path / "labels.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    out = run(pytester)
    assert out.ret == 1  # kappa: the judge said no twice, the person yes: kappa 0 < 0.1
    doc = json.loads((pytester.path / "genai-results" / "evaluation_results.json").read_text())
    m = doc["metrics"]
    assert m["response/overall_assessment/rating/percentage"] == 1.0
    assert m["judge/correctness/human_label/judge_no_human_yes"] == 2


def test_a_bad_label_names_file_line_and_field(pytester: pytest.Pytester) -> None:
    labelled_suite(pytester, 0.1)
    with (pytester.path / "labels.jsonl").open("a") as f:
        f.write(json.dumps({"request_id": "r9", "judge": "correctness", "rating": "yes"}) + "\n")
        f.write(json.dumps({"request_id": "r1", "judge": "corectness", "rating": "yes"}) + "\n")
    out = run(pytester)
    assert out.ret == 2
    text = out.stdout.str()
    assert "labels.jsonl, line 7, field 'request_id': no row 'r9' in suite 'labelled'" in text
    assert "labels.jsonl, line 8, field 'judge'" in text and "did you mean 'correctness'?" in text


def test_a_kappa_threshold_without_labels_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        genai_plain="name: plain\nthresholds: {kappa/correctness: 0.5}\njudges: [correctness]\n"
        'rows:\n  - {request_id: r0, request: q, response: a, expected_response: a}\n',
    )
    out = run(pytester)
    assert out.ret == 4
    assert "threshold 'kappa/correctness' needs human labels" in out.stdout.str() + out.stderr.str()


# ---- the command line ----------------------------------------------------------------------------
def test_power_prints_rows_needed_and_the_detectable_drop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "--rate", "0.8", "--drop", "0.05"]) == 0
    # (0.8 * 0.2 + 0.75 * 0.25) * ((1.959964 + 0.841621) / 0.05)^2 = 0.3475 * 3139.55 = 1090.99
    assert capsys.readouterr().out.startswith("1091 rows to detect a drop of 5.0 points")
    assert main(["power", "--rate", "80%", "--rows", "100"]) == 0
    # the root of d = 2.801585 * sqrt((0.16 + (0.8 - d) * (0.2 + d)) / 100): 0.17599
    assert "100 rows at a pass rate of 80.0% detect a drop of 17.6 points" in capsys.readouterr().out
    assert main(["power", "--rate", "0.8", "--drop", "0"]) == 4


def test_calibrate_runs_only_the_labelled_rows(
    pytester: pytest.Pytester, judge: ScriptedJudge, capsys: pytest.CaptureFixture[str]
) -> None:
    script(judge)
    labelled_suite(pytester, 0.5)
    code = main(["calibrate", str(pytester.path / "genai_labelled.yaml")])
    out = capsys.readouterr().out
    assert code == 1, out  # kappa 1/6 < 0.5
    assert "suite labelled: 6 labelled row(s)" in out
    assert "correctness       5      60.0%   0.17     2     1     1     1" in out
    assert "[FAIL] labelled: kappa/correctness >= 0.5 missed" in out
    assert len(judge.calls(judge="correctness")) == 6
    assert main(["calibrate", str(pytester.path / "genai_labelled.yaml"), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["judges"][0]["cohen_kappa"] == pytest.approx(1 / 6)


def test_power_says_when_no_drop_can_be_seen(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "--rate", "0.5", "--rows", "2"]) == 0
    assert "2 rows at a pass rate of 50.0% detect no drop (too few rows" in capsys.readouterr().out
    assert main(["power", "--rate", "0", "--rows", "50"]) == 0
    assert "detect no drop (nothing can drop from 0%" in capsys.readouterr().out


def test_error_bars_of_a_rate_without_spread_claim_no_certainty() -> None:
    from pytest_genai_eval.trust_report import error_bar_text

    rating = "response/overall_assessment/rating"
    # one row that passed: SE 0 and a normal interval of [100%, 100%] would claim certainty
    m = compute_metrics([result("r1", "yes")])
    assert m[f"{rating}/standard_error"] == 0.0
    # one row at 100%: d = z^2 (1 - d) -> d = z^2 / (1 + z^2), z = 2.801585
    z2 = (1.959964 + 0.841621) ** 2
    assert m[f"{rating}/min_detectable_drop"] == pytest.approx(z2 / (1 + z2), rel=1e-5)
    text = error_bar_text(m)
    assert text is not None
    assert "no spread (every rated row agrees), Wilson 95% CI 20.7%–100.0%" in text
    assert "± 0.0" not in text and "smallest detectable drop 88.7 pts" in text
