"""Evaluating rows outside pytest (scripts, notebooks): the same engine, no pytest session.

The engine runs on its own event-loop thread, so this works from Jupyter and from code that is
already inside a running event loop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .artifacts import row_record
from .cache import CacheMode, VerdictCache
from .config import ENV_API_KEY, ENV_BASE_URL, ENV_MODEL, HOW_TO_ENABLE
from .cost import PriceTable
from .engine import Engine, EngineSettings, RowJob
from .llm import EndpointSettings, Secret
from .metrics import compute_metrics
from .results import RowResult
from .settings import SETTINGS_BY_NAME
from .suite import build_suite


@dataclass
class EvaluationRun:
    results: list[RowResult]
    metrics: dict[str, Any]

    def table(self) -> pd.DataFrame:
        """The per-row table with Agent Evaluation column names."""
        return pd.DataFrame([row_record(r) for r in self.results])


def judge_from_env(env: Mapping[str, str] | None = None) -> EndpointSettings | None:
    env = os.environ if env is None else env
    base = next((env[n] for n in ENV_BASE_URL if env.get(n)), None)
    model = next((env[n] for n in ENV_MODEL if env.get(n)), None)
    key = next((env[n] for n in ENV_API_KEY if env.get(n)), None)
    if not base or not model:
        return None
    return EndpointSettings(base_url=base, model=model, api_key=Secret(key) if key else None)


def evaluate_rows(
    data: Any,
    *,
    app: Any = None,
    judge: EndpointSettings | None = None,
    name: str = "notebook",
    concurrency: int = SETTINGS_BY_NAME["concurrency"].default,
    cache_dir: str | Path | None = None,
    cache_mode: CacheMode = "use",
    prices: PriceTable | None = None,
    **suite: Any,
) -> EvaluationRun:
    """Evaluate an evaluation set and return every row's result and the metrics.

    ``judge`` defaults to the GENAI_EVAL_JUDGE_* environment variables; ``suite`` takes the same
    keywords as a suite file (``global_guidelines``, ``judges``, ``checks``, ...); ``prices``
    (``cost.parse_prices``) adds the estimated-cost metrics.
    """
    spec = build_suite(name=name, data=data, app=app, base_dir=Path.cwd(), **suite)
    endpoint = judge if judge is not None else judge_from_env()
    cache = VerdictCache(Path(cache_dir), cache_mode) if cache_dir is not None else None
    engine = Engine(
        EngineSettings(
            judge=endpoint,
            judge_missing_reason=f"no judge endpoint configured: {HOW_TO_ENABLE}",
            concurrency=concurrency,
            cache=cache,
        )
    )
    try:
        futures = [engine.submit(RowJob(suite=spec, row=row)) for row in spec.rows]
        results = [future.result() for future in futures]
    finally:
        engine.close()
    return EvaluationRun(results=results, metrics=compute_metrics(results, prices))
