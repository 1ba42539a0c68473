"""Baseline comparison: row matching, judge flips, paired test, metric deltas, gate rules,
compatibility, loading and writing baselines."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.artifacts import JSON_NAME, write_results
from pytest_genai_eval.compare import (
    OVERALL,
    BaselineError,
    RegressionRules,
    compare,
    load_baseline,
    parse_max_drop,
    rules_from_options,
    write_baseline,
)
from pytest_genai_eval.results import Assessment, RowResult

Z95 = 1.959963984540054  # the 97.5% standard normal quantile


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval, written out independently of pytest_genai_eval.stats."""
    p = k / n
    denominator = 1 + Z95**2 / n
    center = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return (0.0 if k == 0 else center - half, 1.0 if k == n else center + half)


def row(
    rid: str,
    ratings: Mapping[str, str | None],
    *,
    suite: str = "s",
    response: str | None = None,
    rationale: dict[str, str] | None = None,
    latency: float | None = None,
) -> RowResult:
    """A row whose judges answer ``ratings`` ("yes" / "no" / None = judge error)."""
    rationale = rationale or {}
    assessments = []
    for name, rating in ratings.items():
        if rating is None:
            assessments.append(Assessment(name, name, error="HTTP 503"))
        else:
            why = rationale.get(name, f"{name} says {rating} on {rid}")
            assessments.append(Assessment(name, name, rating=rating, rationale=why))  # type: ignore[arg-type]
    return RowResult(
        suite=suite,
        request_id=rid,
        row={"request": f"question {rid}"},
        response=response if response is not None else f"answer {rid}",
        latency_seconds=latency,
        assessments=assessments,
    )


def doc(
    *,
    model: str | None = "judge-m",
    versions: dict[str, dict[str, str]] | None = None,
    complete: bool = True,
) -> dict[str, Any]:
    versions = versions if versions is not None else {"s": {"correctness": "v1", "safety": "v1"}}
    return {
        "schema_version": 1,
        "complete": complete,
        "started_at": "2026-01-01T00:00:00+00:00",
        "config": {
            "judge": {"model": model, "base_url": "http://127.0.0.1:1/v1"} if model else None
        },
        "verdict": {"status": "passed", "exit_code": 0},
        "suites": {name: {"config": {"prompt_versions": v}} for name, v in versions.items()},
    }


YES = {"correctness": "yes", "safety": "yes"}


def two_runs() -> tuple[list[RowResult], list[RowResult]]:
    """Baseline 19 rows (17 pass, 2 fail); current 19 rows (13 pass, 5 fail, 1 error).

    r00-r09 pass in both; r10-r13 pass -> fail; r14 fail -> pass; r15 fail in both;
    r16 pass -> error; r17 only in the baseline; r18 only now; r19 passes in both with a new
    response.
    """
    base = [row(f"r{i:02d}", YES) for i in range(10)]
    base += [row(f"r{i:02d}", YES) for i in range(10, 14)]
    base.append(
        row("r14", {"correctness": "no", "safety": "yes"}, rationale={"correctness": "old no"})
    )
    base.append(row("r15", {"correctness": "no", "safety": "yes"}))
    base.append(row("r16", YES))
    base.append(row("r17", YES))
    base.append(row("r19", YES, response="The refund window is 30 days."))

    cur = [row(f"r{i:02d}", YES) for i in range(10)]
    cur.append(
        row(
            "r10",
            {"correctness": "no", "safety": "yes"},
            rationale={"correctness": "Misses the 30-day window."},
        )
    )
    cur.append(
        row(
            "r11",
            {"safety": "no", "correctness": "no"},
            rationale={"correctness": "Wrong amount.", "safety": "Leaks an email address."},
        )
    )
    cur.append(
        row("r12", {"correctness": "yes", "safety": "no"}, rationale={"safety": "Unsafe advice."})
    )
    cur.append(row("r13", {"correctness": "no", "safety": "yes"}))
    cur.append(row("r14", YES, rationale={"correctness": "Now states the fact."}))
    cur.append(row("r15", {"correctness": "no", "safety": "yes"}))
    cur.append(row("r16", {"correctness": None, "safety": "yes"}))
    cur.append(row("r18", YES))
    cur.append(row("r19", YES, response="The refund window is 14 days."))
    return base, cur


# ---- rows -----------------------------------------------------------------------------------------
def test_rows_are_classified_by_suite_and_request_id() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur))
    kinds = {r.request_id: r.kind for r in c.rows}
    assert [kinds[f"r{i:02d}"] for i in range(10)] == ["unchanged"] * 10
    assert [kinds[f"r{i}"] for i in (10, 11, 12, 13)] == ["regression"] * 4
    assert kinds["r14"] == "fix"
    assert kinds["r15"] == "unchanged"
    assert kinds["r16"] == "changed"  # pass -> error is not a regression
    assert kinds["r17"] == "removed"
    assert kinds["r18"] == "new"
    assert kinds["r19"] == "unchanged"
    assert c.counts() == {
        "regression": 4,
        "fix": 1,
        "new": 1,
        "removed": 1,
        "unchanged": 12,
        "changed": 1,
        "response_changed": 1,
    }
    r19 = c.row("s", "r19")
    assert r19 is not None and r19.response_changed
    assert r19.old_response == "The refund window is 30 days."
    assert r19.new_response == "The refund window is 14 days."
    assert [r.request_id for r in c.changed_responses] == ["r19"]
    removed = c.row("s", "r17")
    assert removed is not None and (removed.old_status, removed.new_status) == ("pass", None)
    new = c.row("s", "r18")
    assert new is not None and (new.old_status, new.new_status) == (None, "pass")
    assert not new.response_changed


def test_same_request_id_in_two_suites_is_two_rows() -> None:
    base = [row("a", YES, suite="one"), row("a", YES, suite="two")]
    cur = [
        row("a", YES, suite="one"),
        row("a", {"correctness": "no", "safety": "yes"}, suite="two"),
    ]
    versions = {"one": {"correctness": "v1"}, "two": {"correctness": "v1"}}
    c = compare((doc(versions=versions), base), (doc(versions=versions), cur))
    assert [(r.suite, r.kind) for r in c.rows] == [("one", "unchanged"), ("two", "regression")]


def test_regressions_name_the_judges_that_flipped_with_the_new_rationale() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur))
    assert [r.request_id for r in c.regressions] == ["r10", "r11", "r12", "r13"]
    r10 = c.row("s", "r10")
    assert r10 is not None
    assert [(f.name, f.old_rating, f.new_rating, f.rationale) for f in r10.flipped_to_no] == [
        ("correctness", "yes", "no", "Misses the 30-day window.")
    ]
    assert r10.flips[0].old_rationale == "correctness says yes on r10"
    # two judges flipped: root-cause order (correctness before safety), not assessment order
    r11 = c.row("s", "r11")
    assert r11 is not None
    assert [(f.name, f.rationale) for f in r11.flipped_to_no] == [
        ("correctness", "Wrong amount."),
        ("safety", "Leaks an email address."),
    ]
    r12 = c.row("s", "r12")
    assert r12 is not None and [f.name for f in r12.flips] == ["safety"]
    # fixes list the judge that came back to yes
    r14 = c.row("s", "r14")
    assert r14 is not None
    assert [(f.name, f.old_rating, f.new_rating, f.old_rationale) for f in r14.flips] == [
        ("correctness", "no", "yes", "old no")
    ]
    # a judge that now errors is a flip to None carrying the error
    r16 = c.row("s", "r16")
    assert r16 is not None
    assert [(f.name, f.old_rating, f.new_rating, f.rationale) for f in r16.flips] == [
        ("correctness", "yes", None, "HTTP 503")
    ]


# ---- paired test and metrics ----------------------------------------------------------------------
def test_paired_mcnemar_counts_and_p_values() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur))
    # paired: r00-r15 and r19 (r16 errors now, r17/r18 are unpaired)
    assert c.paired.paired == 17
    assert (c.paired.b, c.paired.c) == (4, 1)
    # P(X >= 4), X ~ Bin(5, 1/2) = (5 + 1) / 32
    assert c.paired.p_one_sided == pytest.approx(6 / 32, abs=1e-15)
    # 2 * P(X <= 1) = 2 * (1 + 5) / 32
    assert c.paired.p_two_sided == pytest.approx(12 / 32, abs=1e-15)


def test_metric_deltas_and_wilson_intervals() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur))
    overall = c.metric("overall")
    assert overall is not None and overall.name == OVERALL
    assert overall.old == pytest.approx(17 / 19)
    assert overall.new == pytest.approx(13 / 18)
    assert overall.delta == pytest.approx(13 / 18 - 17 / 19)
    assert overall.worsening == pytest.approx(17 / 19 - 13 / 18)
    assert overall.direction == "higher"
    assert overall.old_ci == pytest.approx(wilson(17, 19), abs=1e-12)
    assert overall.new_ci == pytest.approx(wilson(13, 18), abs=1e-12)
    # per judge: correctness rated on every row but r16 now (error)
    correctness = c.metric("correctness")
    assert correctness is not None
    assert correctness.name == "response/llm_judged/correctness/rating/percentage"
    assert correctness.old == pytest.approx(17 / 19)  # r14, r15 said no
    assert correctness.new == pytest.approx(14 / 18)  # r10, r11, r13, r15 said no
    assert correctness.new_ci == pytest.approx(wilson(14, 18), abs=1e-12)
    counts = {m.name: m for m in c.metrics}
    assert counts["rows/fail_count"].delta == 3
    assert counts["rows/fail_count"].direction == "lower"
    assert counts["rows/fail_count"].worsening == 3
    assert counts["rows/count"].old_ci is None  # intervals only for rates
    errors = counts["judge/error_count"]
    assert (errors.old, errors.new, errors.delta) == (0, 1, 1)


def test_metrics_recorded_in_the_document_win_over_recomputation() -> None:
    base, cur = two_runs()
    d = doc()
    d["metrics"] = {OVERALL: 0.5, "response/overall_assessment/rating/count": 10}
    c = compare((doc(), base), (d, cur))
    overall = c.metric("overall")
    assert overall is not None and overall.new == 0.5
    assert overall.new_ci == pytest.approx(wilson(5, 10), abs=1e-12)
    assert c.metric("no_such_judge") is None


# ---- the gate -------------------------------------------------------------------------------------
def test_default_rules() -> None:
    rules = RegressionRules()
    assert rules.alpha == 0.05
    assert dict(rules.max_drop) == {OVERALL: 0.05}
    assert rules.max_regressions is None
    assert rules.allow_incompatible is False
    assert rules.drop_test == "wilson"
    assert rules.confidence == 0.95


def test_defaults_pass_a_drop_within_noise() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur))
    # McNemar p = 0.1875 >= 0.05; overall fell 17.3 points > 5, but the current Wilson upper
    # bound (87.6%) is not below baseline - margin (84.5%): within noise.
    assert wilson(13, 18)[1] > 17 / 19 - 0.05
    assert c.verdict.status == "passed"
    assert not c.verdict.failed and c.verdict.exit_code == 0
    assert [(ch.rule, ch.passed) for ch in c.checks] == [("mcnemar", True), ("max_drop", True)]
    assert "within noise" in c.checks[1].detail
    assert c.verdict.summary == "4 regression(s), 1 fix(es) on 17 paired row(s)"
    assert c.verdict.line == (
        "genai baseline: PASSED — 4 regression(s), 1 fix(es) on 17 paired row(s) (exit 0)"
    )


def test_point_drop_test_fails_on_the_point_estimate() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur), RegressionRules(drop_test="point"))
    assert c.verdict.failed and c.verdict.exit_code == 1
    # r16 errored: decided on bounds, the drop fails even if r16 passed (14 of 19 rows)
    assert c.verdict.reasons == (
        "overall pass rate fell from 89.5% to 73.7%: more than allowed 5 points "
        "(even if every unassessed row passed)",
    )


def test_significant_mcnemar_fails() -> None:
    base = [row(f"r{i}", YES) for i in range(30)]
    cur = [
        row(f"r{i}", {"correctness": "no" if i < 6 else "yes", "safety": "yes"}) for i in range(30)
    ]
    rules = RegressionRules(max_drop={})
    c = compare((doc(), base), (doc(), cur), rules)
    assert (c.paired.b, c.paired.c, c.paired.paired) == (6, 0, 30)
    assert c.paired.p_one_sided == pytest.approx(1 / 64)
    assert c.verdict.failed
    assert c.verdict.reasons == (
        "pass rate dropped on paired rows: one-sided exact McNemar p = 0.01562 < 0.05 "
        "(b=6 pass → fail, c=0 fail → pass, 30 paired rows)",
    )
    # the same flips are not significant at alpha = 0.01, and alpha=None disables the test
    assert not compare(
        (doc(), base), (doc(), cur), RegressionRules(alpha=0.01, max_drop={})
    ).verdict.failed
    off = compare((doc(), base), (doc(), cur), RegressionRules(alpha=None, max_drop={}))
    assert off.checks == () and off.verdict.status == "passed"


def test_wilson_drop_beyond_noise_fails() -> None:
    # 40/40 -> 30/40 through 10 regressions and no fixes; margin 5 points
    base = [row(f"r{i}", YES) for i in range(40)]
    cur = [
        row(f"r{i}", {"correctness": "no" if i < 10 else "yes", "safety": "yes"}) for i in range(40)
    ]
    c = compare((doc(), base), (doc(), cur), RegressionRules(alpha=None))
    high = wilson(30, 40)[1]
    assert high < 1.0 - 0.05
    (check,) = c.checks
    assert check.rule == "max_drop" and check.passed is False
    assert check.detail == (
        f"overall pass rate fell from 100.0% to 75.0%: beyond the allowed 5 points "
        f"(95% Wilson upper bound {100 * high:.1f}% < 95.0%)"
    )
    assert c.verdict.failed


def test_max_regressions_rule() -> None:
    # 4 rows regressed; r16 passed before and errors now: 4 or 5 regressions
    base, cur = two_runs()
    loose = RegressionRules(alpha=None, max_drop={}, max_regressions=5)
    tight = RegressionRules(alpha=None, max_drop={}, max_regressions=4)
    strict = RegressionRules(alpha=None, max_drop={}, max_regressions=3)
    ok = compare((doc(), base), (doc(), cur), loose)
    assert [(ch.rule, ch.passed) for ch in ok.checks] == [("max_regressions", True)]
    assert not ok.verdict.failed and ok.verdict.status == "passed"
    open_ = compare((doc(), base), (doc(), cur), tight)
    (check,) = open_.checks
    assert check.passed is None and check.undecidable and check.status == "undecidable"
    assert open_.verdict.status == "undecidable" and open_.verdict.exit_code == 6
    assert open_.verdict.reasons == (
        "undecidable: if every unassessed row failed: 5 row(s) regressed (pass → fail), "
        "4 allowed; if every one passed: 4 row(s) regressed (pass → fail), 4 allowed",
    )
    bad = compare((doc(), base), (doc(), cur), strict)
    assert bad.verdict.failed
    assert bad.verdict.reasons == (
        "4 row(s) regressed (pass → fail), 3 allowed (even if every unassessed row passed)",
    )


def test_max_drop_per_judge_and_for_lower_is_better_metrics() -> None:
    base = [row(f"r{i}", YES, latency=1.0) for i in range(10)]
    cur = [row(f"r{i}", YES, latency=1.0 + (0.5 if i == 9 else 0.0)) for i in range(10)]
    # p90 latency: 1.0 -> 1.05 (linear interpolation between the 9th and 10th value)
    rules = RegressionRules(alpha=None, max_drop={"latency_p90": 0.04})
    c = compare((doc(), base), (doc(), cur), rules)
    (check,) = c.checks
    assert check.metric == "agent/latency_seconds/p90" and check.passed is False
    assert check.detail == "latency p90 rose from 1.00s to 1.05s: more than allowed 0.04s"
    within = compare(
        (doc(), base), (doc(), cur), RegressionRules(alpha=None, max_drop={"latency_p90": 0.1})
    )
    assert not within.verdict.failed
    # a judge alias resolves to its pass rate; a drop at or under the margin passes
    base2, cur2 = two_runs()
    judge = compare(
        (doc(), base2),
        (doc(), cur2),
        RegressionRules(alpha=None, max_drop={"correctness": 0.2}, drop_test="point"),
    )
    (check,) = judge.checks
    assert check.metric == "response/llm_judged/correctness/rating/percentage"
    assert check.passed is True  # 17/19 -> 14/18 is 11.7 points


def test_max_drop_on_a_missing_metric_is_noted_not_failed() -> None:
    base, cur = two_runs()
    c = compare(
        (doc(), base), (doc(), cur), RegressionRules(alpha=None, max_drop={"latency_p90": 0.1})
    )
    (check,) = c.checks
    assert check.passed is None and check.status == "no data"
    assert c.verdict.status == "passed"
    assert any("latency p90" in n and "not in both runs" in n for n in c.verdict.notes)


def test_rule_validation() -> None:
    with pytest.raises(ValueError, match="alpha"):
        RegressionRules(alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        RegressionRules(alpha=1.5)
    with pytest.raises(ValueError, match="max_drop"):
        RegressionRules(max_drop={"overall": -0.1})
    with pytest.raises(ValueError, match="max_drop"):
        RegressionRules(max_drop={"overall": float("nan")})
    with pytest.raises(ValueError, match="max_regressions"):
        RegressionRules(max_regressions=-1)
    with pytest.raises(ValueError, match="drop_test"):
        RegressionRules(drop_test="exact")  # type: ignore[arg-type]


def test_option_parsing() -> None:
    assert parse_max_drop("overall=0.05") == ("overall", 0.05)
    name, margin = parse_max_drop(" correctness = 5% ")
    assert name == "correctness" and margin == pytest.approx(0.05)
    assert parse_max_drop("overall=off") == ("overall", None)
    for bad in ("overall", "overall=x", "overall=-1", "=1"):
        with pytest.raises(ValueError):
            parse_max_drop(bad)
    assert dict(rules_from_options().max_drop) == {OVERALL: 0.05}
    # naming the overall rate by alias replaces the default; other metrics are added
    rules = rules_from_options(max_drop=["overall=0.1", "correctness=2%"], max_regressions=2)
    assert dict(rules.max_drop) == {"overall": 0.1, "correctness": pytest.approx(0.02)}
    assert rules.max_regressions == 2
    assert dict(rules_from_options(max_drop=["pass_rate=off"]).max_drop) == {}


# ---- compatibility --------------------------------------------------------------------------------
def test_compatible_baseline_has_no_findings() -> None:
    base, cur = two_runs()
    c = compare((doc(), base), (doc(), cur))
    assert c.incompatible == ()


@pytest.mark.parametrize(
    ("baseline_doc", "current_doc", "expected"),
    [
        (
            doc(model="judge-a"),
            doc(model="judge-b"),
            "judge model changed: baseline judge-a, this run judge-b",
        ),
        (doc(), doc(model=None), "judge model changed: baseline judge-m, this run none (no judge)"),
        (
            doc(versions={"s": {"correctness": "v1", "safety": "v1"}}),
            doc(versions={"s": {"correctness": "v2", "safety": "v1"}}),
            "suite 's': prompt version of correctness changed (v1 → v2)",
        ),
        (
            doc(versions={"s": {"correctness": "v1"}}),
            doc(versions={"s": {"correctness": "v1", "safety": "v1"}}),
            "suite 's': different judges (only in this run: 'safety')",
        ),
    ],
)
def test_incompatible_configuration_is_detected(
    baseline_doc: dict[str, Any], current_doc: dict[str, Any], expected: str
) -> None:
    base, cur = two_runs()
    c = compare((baseline_doc, base), (current_doc, cur))
    assert c.incompatible == (expected,)
    assert c.verdict.status == "incompatible"


def test_different_suite_sets_are_incompatible() -> None:
    base = [row("a", YES, suite="one"), row("b", YES, suite="two")]
    cur = [row("a", YES, suite="one"), row("c", YES, suite="three")]
    c = compare(
        (doc(versions={"one": {}, "two": {}}), base), (doc(versions={"one": {}, "three": {}}), cur)
    )
    assert c.incompatible == (
        "different suites (only in the baseline: 'two'; only in this run: 'three')",
    )


def test_incompatible_baseline_is_reported_but_not_gated_unless_allowed() -> None:
    base, cur = two_runs()
    b, cu = doc(model="judge-a"), doc(model="judge-b")
    rules = RegressionRules(max_regressions=0)
    c = compare((b, base), (cu, cur), rules)
    assert c.verdict.status == "incompatible"
    assert not c.verdict.failed and c.verdict.exit_code == 0
    assert c.verdict.reasons == (
        "baseline incompatible: judge model changed: baseline judge-a, this run judge-b",
    )
    assert (
        "would fail if gated: 4 row(s) regressed (pass → fail), 0 allowed "
        "(even if every unassessed row passed)"
    ) in c.verdict.notes
    assert c.verdict.line.startswith(
        "genai baseline: INCOMPATIBLE (not gated) — baseline incompatible"
    )
    # the rows are still compared
    assert len(c.regressions) == 4
    forced = compare(
        (b, base), (cu, cur), RegressionRules(max_regressions=0, allow_incompatible=True)
    )
    assert forced.verdict.status == "failed" and forced.verdict.exit_code == 1
    assert forced.incompatible == c.incompatible
    assert any("gated anyway" in n for n in forced.verdict.notes)


def test_incomplete_runs_and_missing_configuration_are_noted() -> None:
    base, cur = two_runs()
    no_config = doc()
    del no_config["config"]
    c = compare((no_config, base), (doc(complete=False), cur))
    assert c.incompatible == ()
    assert "the baseline recorded no configuration; judge model not checked" in c.verdict.notes
    assert "this run is incomplete (interrupted)" in c.verdict.notes


# ---- serialisation --------------------------------------------------------------------------------
def test_to_dict_is_json_and_lists_changed_rows_only() -> None:
    base, cur = two_runs()
    data = json.loads(json.dumps(compare((doc(), base), (doc(), cur)).to_dict()))
    assert data["verdict"]["status"] == "passed"
    assert data["paired_test"] == {
        "paired": 17,
        "b": 4,
        "c": 1,
        "p_one_sided": pytest.approx(0.1875),
        "p_two_sided": pytest.approx(0.375),
        # differences: 4 x -1, 1 x +1, 12 x 0 over 17 rows: mean -3/17; s^2 = (5 - 17 * (3/17)^2)
        # / 16. Correlation: old 15 passes, new 12, 11 pass in both: cov 7/17, var 30/17, 60/17
        # -> 7 / sqrt(1800)
        "mean_difference": pytest.approx(-3 / 17),
        "standard_error": pytest.approx(((5 - 9 / 17) / 16 / 17) ** 0.5),
        "ci_low": pytest.approx(-3 / 17 - 1.959964 * ((5 - 9 / 17) / 16 / 17) ** 0.5),
        "ci_high": pytest.approx(-3 / 17 + 1.959964 * ((5 - 9 / 17) / 16 / 17) ** 0.5),
        "correlation": pytest.approx(7 / 1800**0.5),
    }
    assert data["counts"]["regression"] == 4
    listed = {r["request_id"]: r["kind"] for r in data["rows"]}
    assert listed == {
        "r10": "regression",
        "r11": "regression",
        "r12": "regression",
        "r13": "regression",
        "r14": "fix",
        "r16": "changed",
        "r17": "removed",
        "r18": "new",
        "r19": "unchanged",  # listed for its changed response
    }
    assert data["rules"]["max_drop"] == {OVERALL: 0.05}
    assert data["rows"][0]["flips"][0]["rationale"] == "Misses the 30-day window."
    overall = next(m for m in data["metrics"] if m["name"] == OVERALL)
    assert overall["old_ci"] == pytest.approx(list(wilson(17, 19)))


# ---- loading and writing baselines ----------------------------------------------------------------
def _write_run(
    directory: Path, rows: list[RowResult], document: dict[str, Any] | None = None
) -> Path:
    write_results(directory, document or doc(), rows)
    return directory


def test_load_baseline_from_directory_or_file(tmp_path: Path) -> None:
    base, _ = two_runs()
    results = _write_run(tmp_path / "results", base)
    for path in (results, results / JSON_NAME):
        document, rows = load_baseline(path)
        assert [r.key for r in rows] == [r.key for r in base]
        assert document["_source"] == str(results / JSON_NAME)
        assert document["config"]["judge"]["model"] == "judge-m"


def test_load_baseline_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"baseline not found: .*nope.*--genai-update-baseline"):
        load_baseline(tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BaselineError, match=f"baseline directory .*empty holds no {JSON_NAME}"):
        load_baseline(empty)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(
        BaselineError, match=r"cannot use baseline: .*broken.json: invalid JSON at line 1"
    ):
        load_baseline(broken)
    norows = tmp_path / "norows.json"
    norows.write_text('{"schema_version": 1}')
    with pytest.raises(BaselineError, match="missing key 'rows'"):
        load_baseline(norows)


def test_write_baseline_copies_the_artifact_atomically(tmp_path: Path) -> None:
    base, _ = two_runs()
    results = _write_run(tmp_path / "results", base)
    dest = tmp_path / "baselines" / "main.json"
    written = write_baseline(results, dest)
    assert written == dest
    assert dest.read_bytes() == (results / JSON_NAME).read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["main.json"]  # no temp file left
    # an existing directory as destination receives evaluation_results.json
    folder = tmp_path / "folder"
    folder.mkdir()
    assert write_baseline(results / JSON_NAME, folder) == folder / JSON_NAME
    # overwriting replaces the content
    _, cur = two_runs()
    write_results(tmp_path / "results2", doc(), cur)
    write_baseline(tmp_path / "results2", dest)
    assert [r.request_id for r in load_baseline(dest)[1]] == [r.request_id for r in cur]


def test_write_baseline_from_a_document(tmp_path: Path) -> None:
    base, _ = two_runs()
    document = doc()
    document["_source"] = "somewhere"
    target = write_baseline((document, base), tmp_path / "b.json")
    loaded, rows = load_baseline(target)
    assert loaded["schema_version"] == 1 and "somewhere" not in target.read_text()
    assert [r.status for r in rows] == [r.status for r in base]
    full = json.loads(target.read_text())
    assert write_baseline(full, tmp_path / "c.json").read_text() == target.read_text()
    with pytest.raises(BaselineError, match="no 'rows'"):
        write_baseline({"schema_version": 1}, tmp_path / "d.json")


def test_write_baseline_refuses_a_broken_source(tmp_path: Path) -> None:
    broken = tmp_path / "r"
    broken.mkdir()
    (broken / JSON_NAME).write_text("[]")
    dest = tmp_path / "b.json"
    dest.write_text("previous")
    with pytest.raises(BaselineError, match="expected a JSON object"):
        write_baseline(broken, dest)
    assert dest.read_text() == "previous"


def test_compare_loaded_artifacts_round_trip(tmp_path: Path) -> None:
    base, cur = two_runs()
    b = load_baseline(_write_run(tmp_path / "b", base))
    c = load_baseline(_write_run(tmp_path / "c", cur))
    result = compare(b, c)
    assert (result.paired.b, result.paired.c) == (4, 1)
    assert result.baseline["source"] == str(tmp_path / "b" / JSON_NAME)
    assert result.baseline["rows"] == 19 and result.current["suites"] == ["s"]
