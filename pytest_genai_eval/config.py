"""The run's settings: the values of ``settings.SETTINGS`` (command line > ini > environment >
default) checked and combined into one :class:`RunSettings`. The API key is read only from the
environment and never echoed."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from . import settings as settings_table
from .cache import CacheMode
from .compare import RegressionRules, rules_from_options
from .cost import PriceError, PriceTable, parse_prices
from .errors import ConfigurationError
from .gate import Threshold, ThresholdError, parse_threshold
from .llm import EndpointSettings, Secret
from .settings import SETTINGS_BY_NAME

ENV_BASE_URL = SETTINGS_BY_NAME["judge_base_url"].env
ENV_MODEL = SETTINGS_BY_NAME["judge_model"].env
ENV_API_KEY = SETTINGS_BY_NAME["judge_api_key"].env
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


HOW_TO_ENABLE = (
    "set GENAI_EVAL_JUDGE_BASE_URL (an OpenAI-compatible /v1 URL) and GENAI_EVAL_JUDGE_MODEL, "
    "plus GENAI_EVAL_JUDGE_API_KEY if the endpoint needs a key "
    "(or --genai-judge-base-url / --genai-judge-model)"
)


class ConfigError(ConfigurationError, ValueError):
    pass


def add_options(parser: pytest.Parser) -> None:
    """The pytest options and ini keys: one per row of ``settings.SETTINGS``."""
    settings_table.add_options(parser)


@dataclass(frozen=True)
class RunSettings:
    """The resolved settings of one run (built only by :func:`resolve`; the defaults live in
    ``settings.SETTINGS``)."""

    judge: EndpointSettings | None
    judge_missing_reason: str
    results_dir: Path
    thresholds: list[Threshold]
    concurrency: int
    require_judge: bool
    suite_files: tuple[str, ...]
    cache_mode: CacheMode
    cache_dir: Path
    requests_per_minute: float | None
    row_timeout: float | None
    repeat: int
    repeat_rule: str
    repeat_k: int | None
    shard: tuple[int, int] | None
    progress: str
    progress_interval: float
    baseline: Path | None
    update_baseline: bool
    baseline_rules: RegressionRules
    baseline_pairwise: bool
    history_db: Path | None
    rootdir: Path | None
    parquet: bool
    prices: PriceTable | None = None
    delta_table: str | None = None  # a local path (absolute) or a URI
    mlflow: bool = False  # log the run to MLflow (mlflow_log.py)
    sample: int | None = None  # evaluate N rows of every suite (sampling.py)
    sample_seed: int = 0
    review_queue: Path | None = None  # where to write the review queue (review_queue.py)
    review_sample: int = 5

    def shown(self, path: Path | None) -> str | None:
        """Paths in artifacts are relative to the rootdir when inside it (artifacts travel)."""
        if path is None:
            return None
        if self.rootdir is not None:
            try:
                return str(path.relative_to(self.rootdir))
            except ValueError:
                pass
        return str(path)

    def public_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge.public_dict() if self.judge else None,
            "cache": {"mode": self.cache_mode, "dir": self.shown(self.cache_dir)},
            "requests_per_minute": self.requests_per_minute,
            "row_timeout": self.row_timeout,
            "repeat": self.repeat,
            "repeat_rule": self.repeat_rule,
            "repeat_k": self.repeat_k,
            "shard": {"index": self.shard[0], "count": self.shard[1]} if self.shard else None,
            "judge_missing_reason": None if self.judge else self.judge_missing_reason,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "concurrency": self.concurrency,
            "results_dir": self.shown(self.results_dir),
            "baseline": self.shown(self.baseline),
            "baseline_rules": self.baseline_rules.to_dict(),
            "baseline_pairwise": self.baseline_pairwise,
            **({"prices": self.prices.to_dict()} if self.prices is not None else {}),
        }


def resolve(config: pytest.Config, env: Mapping[str, str] | None = None) -> RunSettings:
    """The run's settings from ``settings.SETTINGS`` (command line > ini > environment >
    default), checked and combined. Raises :class:`ConfigError` naming where a bad value came
    from."""
    env = os.environ if env is None else env
    try:
        v = settings_table.read_all(config, env)
    except settings_table.SettingError as exc:
        raise ConfigError(str(exc)) from None
    base_url, model, key = v["judge_base_url"], v["judge_model"], v["judge_api_key"]
    if base_url is None and key and env.get("OPENAI_API_KEY"):
        base_url = OPENAI_DEFAULT_BASE_URL
    ca_bundle = v["ca_bundle"]
    if ca_bundle is not None and not ca_bundle.exists():
        raise ConfigError(f"genai CA bundle: {ca_bundle} does not exist")
    judge: EndpointSettings | None = None
    missing = ""
    if base_url and model:
        judge = EndpointSettings(
            base_url=str(base_url),
            model=str(model),
            api_key=Secret(key) if key else None,
            timeout=float(v["judge_timeout"]),
            max_retries=int(v["judge_retries"]),
            ca_bundle=str(ca_bundle) if ca_bundle is not None else None,
        )
    else:
        lacking = [n for n, x in (("base URL", base_url), ("model", model)) if not x]
        missing = f"no judge endpoint configured (missing {' and '.join(lacking)}): {HOW_TO_ENABLE}"

    thresholds: list[Threshold] = []
    ini_lines = set(map(str, config.getini("genai_thresholds")))
    try:
        for line in v["thresholds"]:
            origin = "ini genai_thresholds" if line in ini_lines else "--genai-threshold"
            thresholds.append(parse_threshold(str(line), origin))
    except ThresholdError as exc:
        raise ConfigError(str(exc)) from None

    price_lines = set(map(str, config.getini("genai_prices")))
    try:
        prices = parse_prices(
            (
                (str(line), "ini genai_prices" if line in price_lines else "--genai-price")
                for line in v["prices"]
            ),
            app_model=v["app_model"],
        )
    except PriceError as exc:
        raise ConfigError(str(exc)) from None

    baseline = v["baseline"]
    update_baseline = bool(v["update_baseline"])
    if update_baseline and baseline is None:
        raise ConfigError(
            "--genai-update-baseline needs --genai-baseline PATH (or ini genai_baseline)"
        )
    alpha = float(v["baseline_alpha"])
    regressions = v["baseline_max_regressions"]
    try:
        rules = rules_from_options(
            alpha=alpha if alpha > 0 else None,
            max_drop=v["baseline_max_drop"],
            max_regressions=int(regressions) if regressions is not None else None,
            allow_incompatible=bool(v["baseline_force"]),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    row_timeout = float(v["row_timeout"])
    return RunSettings(
        judge=judge,
        judge_missing_reason=missing,
        results_dir=v["results_dir"],
        thresholds=thresholds,
        concurrency=int(v["concurrency"]),
        require_judge=bool(v["require_judge"]),
        suite_files=tuple(v["suite_files"]),
        cache_mode=v["cache"],
        cache_dir=v["cache_dir"],
        requests_per_minute=v["rpm"],
        row_timeout=row_timeout if row_timeout > 0 else None,
        repeat=int(v["repeat"]),
        repeat_rule=v["repeat_rule"],
        repeat_k=None if v["repeat_k"] is None else int(v["repeat_k"]),
        shard=parse_shard(v["shard"]),
        progress=v["progress"],
        progress_interval=float(v["progress_interval"]),
        baseline=baseline,
        update_baseline=update_baseline,
        baseline_rules=rules,
        baseline_pairwise=bool(v["baseline_pairwise"]),
        history_db=None if v["no_history"] else v["history_db"],
        rootdir=config.rootpath,
        parquet=bool(v["parquet"]),
        prices=prices,
        delta_table=str(v["delta_table"]) if v["delta_table"] is not None else None,
        mlflow=bool(v["mlflow"]),
        sample=int(v["sample"]) if v["sample"] is not None else None,
        sample_seed=int(v["sample_seed"]),
        review_queue=v["review_queue"],
        review_sample=int(v["review_sample"]),
    )


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> (2, 4): the second of four shards (1-based)."""
    if text is None:
        return None
    index, sep, count = text.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = 0
    if not sep or n < 1 or not 1 <= k <= n:
        raise ConfigError(f"--genai-shard expects K/N with 1 <= K <= N, got {text!r}")
    return (k, n)
