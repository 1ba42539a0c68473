"""Estimated cost: the price table, the cost metrics, the notes, thresholds, end to end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_genai_eval.cost import (
    ModelPrice,
    PriceError,
    PriceTable,
    cost_metrics,
    cost_notes,
    parse_prices,
)
from pytest_genai_eval.metrics import compute_metrics
from pytest_genai_eval.results import Assessment, RowResult, TokenUsage
from pytest_genai_eval.testing import ScriptedJudge
from pytest_genai_eval.vocabulary import ALIASES, metric_direction, metric_kind

APP = "agent/estimated_cost/average"
APP_SUM = "agent/estimated_cost/sum"
JUDGE = "judge/estimated_cost/sum"


def table(*lines: str, app_model: str | None = None) -> PriceTable:
    parsed = parse_prices(((line, "ini genai_prices") for line in lines), app_model=app_model)
    assert parsed is not None
    return parsed


def row(
    usage: TokenUsage | None,
    model: str | None = None,
    assessments: list[Assessment] | None = None,
) -> RowResult:
    return RowResult(
        suite="s", request_id="r", row={}, app_usage=usage, app_model=model,
        assessments=assessments or [],
    )  # fmt: skip


def judged(model: str | None, prompt: int, completion: int, **details: Any) -> Assessment:
    return Assessment(
        name="safety", judge="safety", rating="yes", model=model,
        usage=TokenUsage(prompt, completion, prompt + completion), details=details,
    )  # fmt: skip


def test_parse_prices() -> None:
    prices = table("gpt-4o-mini input=0.00015 output=0.0006", "  judge   output=2 input=1.5 ")
    assert prices.models == {
        "gpt-4o-mini": ModelPrice(0.00015, 0.0006),
        "judge": ModelPrice(1.5, 2.0),
    }
    assert prices.app_model is None
    assert parse_prices([]) is None
    assert parse_prices([("", "ini genai_prices")]) is None
    assert table("m input=1 output=2", app_model="m").app_model == "m"


@pytest.mark.parametrize(
    ("lines", "app_model", "message"),
    [
        (["m input=1"], None, "ini genai_prices: price of 'm': missing output=PRICE (per 1,000 tokens)"),
        (["m"], None, "missing input=PRICE and output=PRICE"),
        (["m input=1 output=x"], None, "price of 'm': output: expected a number, got 'x'"),
        (["m input=-1 output=1"], None, "input: expected a non-negative number, got '-1'"),
        (["m input=1 output=inf"], None, "output: expected a non-negative number, got 'inf'"),
        (["m in=1 output=1"], None, "cannot read 'in=1'; expected MODEL input=PRICE output=PRICE"),
        (["m input=1 input=2 output=1"], None, "input is given twice"),
        (["m input=1 output=1", "m input=2 output=2"], None, "price of 'm': the model is priced twice"),
        (["m input=1 output=1"], "other", "the app model 'other' (genai_app_model) has no price; priced: m"),
        ([], "m", "the app model 'm' (genai_app_model) only prices the app's tokens"),
    ],
)
def test_bad_price_lines_say_where_and_what(lines: list[str], app_model: str | None, message: str) -> None:
    with pytest.raises(PriceError) as info:
        parse_prices(((line, "ini genai_prices") for line in lines), app_model=app_model)
    assert message in str(info.value)


def test_dated_model_names_fall_back_to_the_undated_price() -> None:
    prices = table("gpt-4o input=5 output=15", "gpt-4o-mini input=0.15 output=0.6", "claude-x input=3 output=15")
    assert prices.price("gpt-4o-mini-2024-07-18") == ModelPrice(0.15, 0.6)
    assert prices.price("gpt-4o-2024-08-06") == ModelPrice(5, 15)
    assert prices.price("claude-x-20241022") == ModelPrice(3, 15)
    assert prices.price("gpt-4-0613") is None  # not in the table: no guess
    assert prices.price("gpt-4o-large") is None  # never a prefix match
    assert prices.price(None) is None


def test_cost_metrics_price_app_and_judge_tokens() -> None:
    prices = table("app input=1 output=2", "judge input=0.5 output=1", app_model="app")
    results = [
        row(TokenUsage(1000, 500, 1500), "app", [judged("judge", 2000, 100)]),  # app 1 + 1 = 2.0
        row(TokenUsage(3000, 0, 3000), None, [judged("judge", 1000, 0)]),  # default app model: 3.0
        row(None, None, [judged("judge", 0, 0)]),  # no app usage, a cached verdict: nothing
    ]
    metrics = cost_metrics(results, prices)
    assert metrics[APP_SUM] == pytest.approx(5.0)
    assert metrics[APP] == pytest.approx(2.5)  # per row that reported usage
    assert metrics[JUDGE] == pytest.approx((2000 * 0.5 + 100 * 1 + 1000 * 0.5) / 1000)
    assert cost_notes(results, prices) == []


def test_panel_usage_is_priced_per_model() -> None:
    prices = table("a input=1 output=0", "b input=10 output=0")
    panel = judged(
        "a,b", 300, 0,
        usage_by_model={"a": {"prompt_tokens": 100, "completion_tokens": 0, "total_tokens": 100},
                        "b": {"prompt_tokens": 200, "completion_tokens": 0, "total_tokens": 200}},
    )  # fmt: skip
    assert cost_metrics([row(None, assessments=[panel])], prices)[JUDGE] == pytest.approx(2.1)


def test_unknown_costs_are_none_with_a_note_never_zero() -> None:
    prices = table("judge input=1 output=1")
    results = [
        row(TokenUsage(10, 10, 20), "mystery-app", [judged("judge", 10, 0)]),
        row(TokenUsage(10, 10, 20), None, [judged("other-judge", 10, 0)]),
        row(TokenUsage(0, 0, 50), "judge"),  # only a total: no input/output split
    ]
    metrics = cost_metrics(results, prices)
    assert metrics == {APP: None, APP_SUM: None, JUDGE: None}
    assert cost_notes(results, prices) == [
        "no price for the app model 'mystery-app' (1 row(s)); agent/estimated_cost not "
        "estimated: add it to genai_prices",
        "the app's model is unknown on 1 row(s); agent/estimated_cost not estimated (set "
        "genai_app_model)",
        "the app reported only total_tokens on 1 row(s) (no input/output split); "
        "agent/estimated_cost not estimated",
        "no price for the judge model 'other-judge' (1 assessment(s)); judge/estimated_cost/sum "
        "not estimated: add it to genai_prices",
    ]
    assert cost_notes(results, None) == []


def test_compute_metrics_has_cost_only_with_a_price_table() -> None:
    results = [row(TokenUsage(1000, 1000, 2000), "m")]
    assert not any("estimated_cost" in name for name in compute_metrics(results))
    priced = compute_metrics(results, table("m input=1 output=3"))
    assert priced[APP_SUM] == pytest.approx(4.0)
    assert priced[JUDGE] == 0.0  # no judge spent a token: a known zero


def test_cost_vocabulary() -> None:
    assert ALIASES["cost_avg"] == APP and ALIASES["cost_sum"] == APP_SUM
    assert ALIASES["judge_cost"] == JUDGE
    for name in (APP, APP_SUM, JUDGE):
        assert metric_kind(name) == "cost"
        assert metric_direction(name) == "lower"


def test_price_table_round_trips_through_the_document() -> None:
    prices = table("m input=1 output=3", app_model="m")
    assert PriceTable.from_dict(json.loads(json.dumps(prices.to_dict()))) == prices
    assert PriceTable.from_dict(None) is None


APP_MODULE = """
def answer(request):
    return {"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "model": "app-model-2024-07-18",
            "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}}
"""
SUITE = """
app: costapp:answer
judges: [safety]
rows:
  - {request_id: a, request: one}
  - {request_id: b, request: two}
"""


def _doc(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / "out" / "evaluation_results.json").read_text())  # type: ignore[no-any-return]


def test_cost_end_to_end_with_a_judge(pytester: pytest.Pytester, judge: ScriptedJudge) -> None:
    pytester.makepyfile(costapp=APP_MODULE)
    pytester.makefile(".yaml", genai_cost=SUITE)
    pytester.makeini(
        f"""
[pytest]
genai_prices =
    app-model input=0.5 output=1.5
    {judge.model} input=0.01 output=0.02
genai_thresholds = cost_avg<=0.8
"""
    )
    result = pytester.runpytest("--genai-results-dir", "out", "--genai-cache", "off", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    doc = _doc(pytester)
    metrics = doc["metrics"]
    assert metrics[APP] == pytest.approx((1000 * 0.5 + 200 * 1.5) / 1000)  # 0.8, priced undated
    assert metrics[APP_SUM] == pytest.approx(1.6)
    judge_in, judge_out = metrics["judge/input_token_count/sum"], metrics["judge/output_token_count/sum"]
    assert judge_in > 0
    assert metrics[JUDGE] == pytest.approx((judge_in * 0.01 + judge_out * 0.02) / 1000)
    assert doc["suites"]["cost"]["metrics"][APP_SUM] == pytest.approx(1.6)
    assert doc["config"]["prices"]["models"]["app-model"] == {"input": 0.5, "output": 1.5}
    (check,) = doc["verdict"]["checks"]
    assert (check["metric"], check["op"], check["status"]) == (APP, "<=", "pass")
    assert {r["request_id"]: r["app_model"] for r in doc["rows"]} == {"a": "app-model-2024-07-18", "b": "app-model-2024-07-18"}
    judges = f"{metrics[JUDGE]:.4g}"
    assert f"estimated cost: app 1.6 (0.8/row), judges {judges}" in result.stdout.str()

    # a cheaper budget fails the gate
    result = pytester.runpytest(
        "--genai-results-dir", "out", "--genai-cache", "off", "-p", "no:cacheprovider",
        "--genai-threshold", "cost_sum<=1.5",
    )  # fmt: skip
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*cost_sum <= 1.5 missed (actual 1.6)*"])


def test_missing_price_is_a_note_and_an_undecidable_threshold(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(costapp=APP_MODULE)
    pytester.makefile(".yaml", genai_cost=SUITE.replace("judges: [safety]", "judges: []\nchecks: [{type: finish_reason}]"))
    result = pytester.runpytest(
        "--genai-results-dir", "out", "-p", "no:cacheprovider",
        "--genai-price", "someone-else input=1 output=1", "--genai-threshold", "cost_sum<=10",
    )  # fmt: skip
    assert result.ret == 6, result.stdout.str()  # undecidable: the cost is unknown, not zero
    doc = _doc(pytester)
    assert doc["metrics"][APP_SUM] is None
    assert doc["metrics"][JUDGE] == 0.0
    note = (
        "no price for the app model 'app-model-2024-07-18' (2 row(s)); agent/estimated_cost not "
        "estimated: add it to genai_prices"
    )
    assert note in doc["verdict"]["notes"]
    assert note in result.stdout.str()
    assert "estimated cost: app ? (?/row), judges 0" in result.stdout.str()


def test_cost_threshold_without_prices_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(costapp=APP_MODULE)
    pytester.makefile(".yaml", genai_cost=SUITE.replace("judges: [safety]", "judges: []\nthresholds: {judge_cost: 0.5}"))
    result = pytester.runpytest("--genai-results-dir", "out", "-p", "no:cacheprovider")
    assert result.ret == 4
    assert "threshold 'judge_cost' needs a price table" in result.stdout.str() + result.stderr.str()


def test_bad_price_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", genai_cost="rows: [{request: q, response: a}]\njudges: []\nchecks: [{type: json}]\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--genai-price", "m input=cheap output=1")
    assert result.ret == 4
    assert "--genai-price: price of 'm': input: expected a number, got 'cheap'" in result.stdout.str() + result.stderr.str()


def test_merged_shards_keep_the_price_table(pytester: pytest.Pytester) -> None:
    from pytest_genai_eval.cli import main

    pytester.makepyfile(costapp=APP_MODULE)
    rows = "".join(f"  - {{request_id: r{i}, request: q{i}}}\n" for i in range(8))
    pytester.makefile(".yaml", genai_cost=f"app: costapp:answer\njudges: []\nchecks: [{{type: finish_reason}}]\nrows:\n{rows}")
    for k in (1, 2):
        result = pytester.runpytest(
            "--genai-results-dir", f"shard{k}", "--genai-shard", f"{k}/2", "-p", "no:cacheprovider",
            "--genai-price", "app-model input=0.5 output=1.5",
        )  # fmt: skip
        assert result.ret == 0, result.stdout.str()
    assert main(["merge", str(pytester.path / "merged"), str(pytester.path / "shard1"), str(pytester.path / "shard2")]) == 0
    merged = json.loads((pytester.path / "merged" / "evaluation_results.json").read_text())
    assert merged["metrics"]["rows/count"] == 8
    assert merged["metrics"][APP_SUM] == pytest.approx(8 * 0.8)  # every row, as one unsharded run
    assert merged["metrics"][APP] == pytest.approx(0.8)


def test_notebook_runs_price_the_app_too() -> None:
    from pytest_genai_eval.notebook import evaluate_rows

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        return {"content": "ok", "model": "nb", "usage": {"prompt_tokens": 1000, "completion_tokens": 1000}}

    run = evaluate_rows(
        [{"request": "q"}], app=answer, judges=[], checks=[{"type": "equals", "value": "ok"}],
        prices=table("nb input=1 output=2"),
    )  # fmt: skip
    assert run.metrics[APP_SUM] == pytest.approx(3.0)
    assert run.results[0].app_model == "nb"  # a {"content": ...} output may name its model too
