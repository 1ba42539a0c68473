"""The pairwise judge against the baseline: both orders asked, swap-inconsistent answers as
ties, errors unassessed, win/tie/loss counts and the two-sided sign test (hand-computed), the gate
rule on bounds, the verdict cache (a warm rerun asks nothing), and xdist."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_genai_eval.cache import VerdictCache
from pytest_genai_eval.compare.pairwise import (
    PairwiseRow,
    PairwiseSummary,
    pairwise_check,
    sign_test,
)
from pytest_genai_eval.engine import EngineSettings
from pytest_genai_eval.judges.pairwise import PAIRWISE_JUDGE, combine
from pytest_genai_eval.llm import EndpointSettings
from pytest_genai_eval.pairwise_run import changed_pairs, run_pairwise_async
from pytest_genai_eval.results import Assessment, RowResult
from pytest_genai_eval.testing import JudgeCall, ScriptedJudge, Verdict

# ---- the pieces --------------------------------------------------------------------------------


def _answer(rating: str | None, error: str | None = None) -> Assessment:
    a = Assessment(name=PAIRWISE_JUDGE, judge=PAIRWISE_JUDGE, kind="llm")
    a.rating = "yes" if rating == "yes" else "no" if rating == "no" else None
    a.error = error
    return a


@pytest.mark.parametrize(
    ("new_first", "old_first", "outcome"),
    [
        ("yes", "no", "win"),
        ("no", "yes", "loss"),
        ("yes", "yes", "tie"),  # equally good
        ("no", "no", "tie"),  # each order prefers the other position: inconsistent
        (None, "yes", "error"),
        ("no", None, "error"),
    ],
)
def test_combine(new_first: str | None, old_first: str | None, outcome: str) -> None:
    assert combine(_answer(new_first, "x" if new_first is None else None), _answer(old_first)) == outcome


@pytest.mark.parametrize(
    ("wins", "losses", "p"),
    [
        (0, 6, 2 / 64),  # 2 * C(6,0) / 2^6
        (1, 7, 2 * (1 + 8) / 256),  # C(8,0) + C(8,1)
        (3, 3, 1.0),
        (0, 0, 1.0),
        (2, 8, 2 * (1 + 10 + 45) / 1024),
    ],
)
def test_sign_test(wins: int, losses: int, p: float) -> None:
    assert sign_test(wins, losses) == pytest.approx(p)
    assert sign_test(losses, wins) == pytest.approx(p)  # two-sided


def _summary(**counts: int) -> PairwiseSummary:
    rows = [
        PairwiseRow("s", f"{outcome}{i}", {"outcome": outcome})
        for outcome, n in counts.items()
        for i in range(n)
    ]
    return PairwiseSummary(tuple(rows))


def test_rule_fails_passes_and_is_undecidable_on_bounds() -> None:
    failing = pairwise_check(_summary(loss=6, tie=3), 0.05)  # p = 2/64 = 0.03125
    assert failing.passed is False and "p = 0.03125" in failing.detail
    assert "0 win(s), 3 tie(s), 6 loss(es)" in failing.detail
    # better, not worse: passes
    assert pairwise_check(_summary(win=6), 0.05).passed is True
    # 0 wins, 6 losses, 1 error: if the error is a win, p = 2*(1+7)/128 = 0.125 (not worse);
    # if it is a loss, p = 2/128 = 0.0156 (worse): open
    open_check = pairwise_check(_summary(loss=6, error=1), 0.05)
    assert open_check.passed is None and open_check.undecidable
    # 0 wins, 8 losses, 1 error: even as a win, p = 2*(1+9)/512 = 0.039 < 0.05: fails
    assert pairwise_check(_summary(loss=8, error=1), 0.05).passed is False
    # 1 win, 1 loss, 1 error: even as a loss, p = min(1, 2*(1+3)/8) = 1: passes
    assert pairwise_check(_summary(win=1, loss=1, error=1), 0.05).passed is True
    assert pairwise_check(_summary(loss=6), None).passed is None  # alpha off: reported only


def test_changed_pairs_only_rows_whose_response_changed() -> None:
    def row(rid: str, response: str | None) -> RowResult:
        return RowResult(suite="s", request_id=rid, row={"request": f"q {rid}"}, response=response)

    old = [row("a", "same"), row("b", "old b"), row("c", None), row("gone", "x")]
    new = [row("a", "same"), row("b", "new b"), row("c", "new c"), row("added", "y")]
    pairs = changed_pairs(old, new)
    assert [(p.request_id, p.request, p.new, p.old) for p in pairs] == [("b", "q b", "new b", "old b")]


# ---- over HTTP, through the real runner and cache ----------------------------------------------


def _prefers(
    new_wins: set[str], biased: set[str], garbage: set[str]
) -> Callable[[JudgeCall], Verdict | str | None]:
    """A pairwise handler: rows in ``new_wins`` prefer the new response whatever its position;
    ``biased`` rows always answer "no" (swap-inconsistent); ``garbage`` rows answer no JSON;
    every other row prefers the baseline's response."""

    def handle(call: JudgeCall) -> Verdict | str | None:
        if call.judge != PAIRWISE_JUDGE:
            return None
        request = call.sections["request"]
        a = call.sections["response_a"]
        if request in garbage:
            return "no JSON here"
        if request in biased:
            return Verdict("no", "B looks better")
        new_is_a = a.startswith("new")
        prefers_new = request in new_wins
        return Verdict("yes" if new_is_a == prefers_new else "no", "scripted preference")

    return handle


def _rows(responses: dict[str, str]) -> list[RowResult]:
    return [RowResult(suite="s", request_id=k, row={"request": k}, response=v) for k, v in responses.items()]


def test_both_orders_asked_counts_and_warm_rerun(tmp_path: Path) -> None:
    ids = ["w1", "l1", "l2", "biased", "broken", "same"]
    old = _rows({i: f"old {i}" for i in ids[:-1]} | {"same": "unchanged"})
    new = _rows({i: f"new {i}" for i in ids[:-1]} | {"same": "unchanged"})
    with ScriptedJudge() as server:
        server.set_handler(_prefers({"w1"}, {"biased"}, {"broken"}))
        settings = EngineSettings(
            judge=EndpointSettings(server.base_url, server.model, max_retries=0),
            cache=VerdictCache(tmp_path / "cache", "use"),
        )
        summary = asyncio.run(run_pairwise_async(changed_pairs(old, new), settings))
        calls = server.calls(judge=PAIRWISE_JUDGE)
        orders = sorted((c.sections["request"], c.sections["response_a"][:3]) for c in calls if c.sections["request"] == "w1")
        assert orders == [("w1", "new"), ("w1", "old")]  # both orders
        assert sorted({c.sections["request"] for c in calls}) == ["biased", "broken", "l1", "l2", "w1"]
        assert len(calls) == 10  # 5 changed rows x 2 orders; the unchanged row asks nothing
        by_id = {r.request_id: r.verdict for r in summary.rows}
        assert by_id["w1"]["outcome"] == "win"
        assert by_id["l1"]["outcome"] == by_id["l2"]["outcome"] == "loss"
        assert by_id["biased"] == {
            "outcome": "tie",
            "new_first": "no",
            "baseline_first": "no",
            "rationale": "B looks better",
            "error": None,
        }
        assert by_id["broken"]["outcome"] == "error" and by_id["broken"]["error"]
        assert (summary.wins, summary.ties, summary.losses, summary.errors) == (1, 1, 2, 1)
        assert summary.p_value == pytest.approx(2 * (1 + 3) / 8)  # wins 1 vs losses 2: 1.0
        assert summary.calls == 10

        server.reset()  # warm rerun: every answer that was read comes from the cache
        server.set_handler(_prefers({"w1"}, {"biased"}, {"broken"}))
        again = asyncio.run(run_pairwise_async(changed_pairs(old, new), settings))
        assert [c.sections["request"] for c in server.calls(judge=PAIRWISE_JUDGE)] == ["broken", "broken"]
        assert again.to_dict()["rows"] == summary.to_dict()["rows"]


# ---- in a pytest run, against a recorded baseline ----------------------------------------------


def _suite(pytester: pytest.Pytester, prefix: str) -> None:
    rows = [f'  - {{request_id: r{i}, request: "q{i}", response: "{prefix} {i}"}}' for i in range(7)]
    rows.append('  - {request_id: same, request: "qs", response: "unchanged"}')
    pytester.makefile(".yaml", genai_pw="name: pw\njudges: [safety]\nrows:\n" + "\n".join(rows) + "\n")


def _load(path: Path) -> dict[str, Any]:
    return json.loads((path / "evaluation_results.json").read_text())


@pytest.mark.parametrize("xdist", ["", "-n 2"])
def test_gate_fails_when_significantly_worse(pytester: pytest.Pytester, judge: ScriptedJudge, xdist: str) -> None:
    def run(*args: str) -> pytest.RunResult:
        flat = [*args, *xdist.split(), "-p", "no:cacheprovider", "--genai-results-dir", "out"]
        return pytester.runpytest_subprocess(*flat) if xdist else pytester.runpytest(*flat)

    _suite(pytester, "old")
    assert run("--genai-baseline", "base", "--genai-update-baseline").ret == 0
    assert judge.calls(judge=PAIRWISE_JUDGE) == []
    _suite(pytester, "new")
    # q0..q5 prefer the baseline (6 losses); q6 is swap-inconsistent (a tie)
    judge.set_handler(_prefers(set(), {"q6"}, set()))
    result = run("--genai-baseline", "base", "--genai-baseline-pairwise")
    assert result.ret == 1, result.stdout.str()
    assert len(judge.calls(judge=PAIRWISE_JUDGE)) == 14  # 7 changed rows x 2 orders
    pairwise = _load(pytester.path / "out")["baseline"]["pairwise"]
    assert (pairwise["wins"], pairwise["ties"], pairwise["losses"], pairwise["errors"]) == (0, 1, 6, 0)
    assert pairwise["sign_test_p"] == pytest.approx(2 / 64)
    assert len(pairwise["rows"]) == 7 and pairwise["prompt_version"]
    checks = {c["rule"]: c for c in _load(pytester.path / "out")["baseline"]["checks"]}
    assert checks["pairwise"]["status"] == "fail"
    assert "new responses significantly worse" in result.stdout.str()

    judge.reset()  # warm rerun: the same questions come from the verdict cache
    judge.set_handler(_prefers(set(), {"q6"}, set()))
    again = run("--genai-baseline", "base", "--genai-baseline-pairwise")
    assert again.ret == 1
    assert judge.calls(judge=PAIRWISE_JUDGE) == []
    assert _load(pytester.path / "out")["baseline"]["pairwise"]["losses"] == 6


def test_off_by_default(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    _suite(pytester, "old")
    pytester.runpytest("--genai-baseline", "base", "--genai-update-baseline", "-p", "no:cacheprovider")
    _suite(pytester, "new")
    result = pytester.runpytest("--genai-baseline", "base", "-p", "no:cacheprovider", "--genai-results-dir", "out")
    assert result.ret == 0
    assert judge.calls(judge=PAIRWISE_JUDGE) == []
    assert "pairwise" not in _load(pytester.path / "out")["baseline"]
