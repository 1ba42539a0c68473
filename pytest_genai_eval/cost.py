"""Estimated cost: the user's price table, and the cost of the app's and the judges' tokens.

There are no built-in prices: prices change and differ by provider, contract and currency.
The table comes from ``--genai-price`` / ini ``genai_prices``, one model per line::

    genai_prices =
        gpt-4o-mini input=0.00015 output=0.0006
        my-judge    input=0.0005  output=0.0015

in any currency, per 1,000 input (prompt) and output (completion) tokens. A model name with a
date suffix that is not in the table (``gpt-4o-mini-2024-07-18``, ``claude-x-20241022``) takes
the price of the name without it. The app's tokens are priced by the model its output names (a
ChatCompletion's ``model``, an ``openai`` app's reply), else by ``--genai-app-model`` /
``genai_app_model`` (a callable app that returns no model name, precomputed responses); each
judge assessment records its own model (a panel of several models, each model's share).

Metrics (only when a price table is set): ``agent/estimated_cost/average`` (per row that
reported usage), ``agent/estimated_cost/sum`` and ``judge/estimated_cost/sum``. A cost that
cannot be known is never a silent zero: when a model that spent tokens has no price (or the
app's model is unknown, or the usage has no input/output split) the metric is None (a
threshold on it is undecidable) and :func:`cost_notes` says why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError
from .results import Assessment, RowResult, TokenUsage

if TYPE_CHECKING:
    from .gate import Threshold

__all__ = [
    "APP_COST_AVERAGE",
    "APP_COST_SUM",
    "COST_METRICS",
    "JUDGE_COST_SUM",
    "ModelPrice",
    "PriceError",
    "PriceTable",
    "cost_metrics",
    "cost_notes",
    "cost_summary",
    "cost_threshold_problems",
    "parse_prices",
]

APP_COST_AVERAGE = "agent/estimated_cost/average"
APP_COST_SUM = "agent/estimated_cost/sum"
JUDGE_COST_SUM = "judge/estimated_cost/sum"
COST_METRICS = (APP_COST_AVERAGE, APP_COST_SUM, JUDGE_COST_SUM)

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")
_KEYS = ("input", "output")
PER_TOKENS = 1000


class PriceError(ConfigurationError, ValueError):
    """A price line that cannot be read; the message names where it came from."""


@dataclass(frozen=True)
class ModelPrice:
    """Prices per 1,000 input and output tokens."""

    input: float
    output: float

    def cost(self, usage: TokenUsage) -> float:
        return (usage.prompt_tokens * self.input + usage.completion_tokens * self.output) / PER_TOKENS

    def to_dict(self) -> dict[str, float]:
        return {"input": self.input, "output": self.output}


@dataclass(frozen=True)
class PriceTable:
    """The price of each model, and the app's model when its outputs name none."""

    models: Mapping[str, ModelPrice]
    app_model: str | None = None

    def price(self, model: str | None) -> ModelPrice | None:
        if not model:
            return None
        found = self.models.get(model)
        if found is None:
            found = self.models.get(_DATE_SUFFIX.sub("", model))
        return found

    def to_dict(self) -> dict[str, Any]:
        """The table as recorded in the run's configuration (``config.prices``)."""
        return {
            "per_tokens": PER_TOKENS,
            "models": {name: price.to_dict() for name, price in sorted(self.models.items())},
            "app_model": self.app_model,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PriceTable | None:
        """The table a document recorded (``to_dict``), or None when it recorded none."""
        if not isinstance(data, Mapping) or not isinstance(data.get("models"), Mapping):
            return None
        models = {
            str(name): ModelPrice(float(p["input"]), float(p["output"]))
            for name, p in data["models"].items()
            if isinstance(p, Mapping)
        }
        app_model = data.get("app_model")
        return cls(models, str(app_model) if app_model else None)


def _price_value(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PriceError(f"{where}: expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise PriceError(f"{where}: expected a non-negative number, got {text!r}")
    return value


def parse_prices(
    lines: Iterable[tuple[str, str]], app_model: str | None = None
) -> PriceTable | None:
    """A price table from ``(line, origin)`` pairs: ``MODEL input=X output=Y`` (per 1,000
    tokens). None when there are no lines. ``app_model`` must be priced."""
    models: dict[str, ModelPrice] = {}
    for line, origin in lines:
        parts = line.split()
        if not parts:
            continue
        model, fields = parts[0], parts[1:]
        where = f"{origin}: price of {model!r}"
        if model in models:
            raise PriceError(f"{where}: the model is priced twice")
        values: dict[str, float] = {}
        for item in fields:
            key, sep, raw = item.partition("=")
            if not sep or key not in _KEYS:
                raise PriceError(
                    f"{where}: cannot read {item!r}; expected MODEL input=PRICE output=PRICE "
                    "(per 1,000 tokens)"
                )
            if key in values:
                raise PriceError(f"{where}: {key} is given twice")
            values[key] = _price_value(raw, f"{where}: {key}")
        lacking = [k for k in _KEYS if k not in values]
        if lacking:
            raise PriceError(
                f"{where}: missing {' and '.join(f'{k}=PRICE' for k in lacking)} "
                "(per 1,000 tokens)"
            )
        models[model] = ModelPrice(values["input"], values["output"])
    if not models:
        if app_model:
            raise PriceError(
                f"the app model {app_model!r} (genai_app_model) only prices the app's tokens: "
                "give the prices too (--genai-price / ini genai_prices)"
            )
        return None
    table = PriceTable(models, app_model or None)
    if app_model and table.price(app_model) is None:
        raise PriceError(
            f"the app model {app_model!r} (genai_app_model) has no price; priced: "
            + ", ".join(sorted(models))
        )
    return table


# ---- costs ----------------------------------------------------------------------------------------
def _unsplit(usage: TokenUsage) -> bool:
    """Tokens reported only as a total: the input/output prices cannot apply."""
    return usage.total_tokens > usage.prompt_tokens + usage.completion_tokens


def _spent(usage: TokenUsage) -> bool:
    return usage.total_tokens > 0 or usage.prompt_tokens > 0 or usage.completion_tokens > 0


@dataclass
class _Tally:
    costs: list[float]
    unknown: int = 0  # rows or assessments whose model is unknown
    unsplit: int = 0  # ... whose usage is only a total
    unpriced: dict[str, int] | None = None  # model -> count without a price

    def add_unpriced(self, model: str) -> None:
        self.unpriced = self.unpriced or {}
        self.unpriced[model] = self.unpriced.get(model, 0) + 1

    @property
    def known(self) -> bool:
        return not (self.unknown or self.unsplit or self.unpriced)

    def charge(self, model: str | None, usage: TokenUsage, prices: PriceTable) -> None:
        """Add the cost of ``usage`` by ``model``, or count why it cannot be known."""
        price = prices.price(model)
        if model is None:
            self.unknown += 1
        elif _unsplit(usage):
            self.unsplit += 1
        elif price is None:
            self.add_unpriced(model)
        else:
            self.costs.append(price.cost(usage))


def _app_tally(results: Sequence[RowResult], prices: PriceTable) -> _Tally:
    tally = _Tally(costs=[])
    for result in results:
        usage = result.app_usage
        if usage is None:
            continue
        if not _spent(usage):
            tally.costs.append(0.0)
            continue
        tally.charge(result.app_model or prices.app_model, usage, prices)
    return tally


def _assessment_usages(a: Assessment) -> list[tuple[str | None, TokenUsage]]:
    split = a.details.get("usage_by_model")
    if isinstance(split, Mapping) and split:
        return [
            (str(model), TokenUsage.from_dict(dict(used)) or TokenUsage())
            for model, used in split.items()
            if isinstance(used, Mapping)
        ]
    return [(a.model, a.usage)]


def _judge_tally(results: Sequence[RowResult], prices: PriceTable) -> _Tally:
    tally = _Tally(costs=[])
    for result in results:
        for a in result.assessments:
            for model, usage in _assessment_usages(a):
                if _spent(usage):
                    tally.charge(model, usage, prices)
    return tally


def cost_metrics(results: Sequence[RowResult], prices: PriceTable) -> dict[str, float | None]:
    """The estimated-cost metrics (see the module docstring)."""
    app, judge = _app_tally(results, prices), _judge_tally(results, prices)
    app_known = app.known and bool(app.costs)
    return {
        APP_COST_AVERAGE: sum(app.costs) / len(app.costs) if app_known else None,
        APP_COST_SUM: sum(app.costs) if app_known else None,
        JUDGE_COST_SUM: sum(judge.costs) if judge.known else None,
    }


def _tally_notes(tally: _Tally, who: str, metrics: str, unit: str) -> list[str]:
    notes = []
    for model, count in sorted((tally.unpriced or {}).items()):
        notes.append(
            f"no price for {who} model {model!r} ({count} {unit}); {metrics} not estimated: "
            "add it to genai_prices"
        )
    if tally.unknown:
        fix = "set genai_app_model" if who == "the app" else "the judge named no model"
        notes.append(
            f"{who}'s model is unknown on {tally.unknown} {unit}; {metrics} not estimated ({fix})"
        )
    if tally.unsplit:
        notes.append(
            f"{who} reported only total_tokens on {tally.unsplit} {unit} (no input/output "
            f"split); {metrics} not estimated"
        )
    return notes


def cost_notes(results: Sequence[RowResult], prices: PriceTable | None) -> list[str]:
    """Why a cost metric could not be estimated, for the verdict's notes."""
    if prices is None:
        return []
    return [
        *_tally_notes(_app_tally(results, prices), "the app", "agent/estimated_cost", "row(s)"),
        *_tally_notes(
            _judge_tally(results, prices), "the judge", JUDGE_COST_SUM, "assessment(s)"
        ),
    ]


def cost_summary(metrics: Mapping[str, Any]) -> str | None:
    """``estimated cost: app 1.6 (0.8/row), judges 0.0031`` for a summary line; None without
    a price table (no cost metrics); ``?`` where a cost could not be estimated."""
    if not any(name in metrics for name in COST_METRICS):
        return None

    def shown(name: str) -> str:
        value = metrics.get(name)
        return "?" if value is None else f"{float(value):.4g}"

    return (
        f"estimated cost: app {shown(APP_COST_SUM)} ({shown(APP_COST_AVERAGE)}/row), "
        f"judges {shown(JUDGE_COST_SUM)}"
    )


def cost_threshold_problems(
    thresholds: Iterable[Threshold], prices: PriceTable | None
) -> list[str]:
    """A cost threshold without a price table can never be decided: a usage error up front."""
    if prices is not None:
        return []
    return [
        f"{t.origin + ': ' if t.origin else ''}threshold {t.name!r} needs a price table "
        "(--genai-price 'MODEL input=PRICE output=PRICE' or ini genai_prices)"
        for t in thresholds
        if t.metric({}) in COST_METRICS
    ]
