"""Command-line options, ini keys and environment variables, resolved into one settings object.

Precedence for judge settings: command line > ini (pytest.ini / pyproject.toml) > environment.
The API key is read only from the environment and never echoed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .cache import CACHE_MODES, CacheMode
from .compare import RegressionRules, rules_from_options
from .gate import Threshold, ThresholdError, parse_threshold
from .llm import EndpointSettings, Secret

ENV_BASE_URL = ("GENAI_EVAL_JUDGE_BASE_URL", "OPENAI_BASE_URL")
ENV_MODEL = ("GENAI_EVAL_JUDGE_MODEL",)
ENV_API_KEY = ("GENAI_EVAL_JUDGE_API_KEY", "OPENAI_API_KEY")
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

DEFAULT_SUITE_FILES = ("genai_*.yaml", "genai_*.yml", "genai_*.toml", "genai_*.json")

HOW_TO_ENABLE = (
    "set GENAI_EVAL_JUDGE_BASE_URL (an OpenAI-compatible /v1 URL) and GENAI_EVAL_JUDGE_MODEL, "
    "plus GENAI_EVAL_JUDGE_API_KEY if the endpoint needs a key "
    "(or --genai-judge-base-url / --genai-judge-model)"
)


class ConfigError(ValueError):
    pass


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("genai", "GenAI evaluation (pytest-genai-eval)")
    group.addoption(
        "--genai-judge-base-url",
        dest="genai_judge_base_url",
        metavar="URL",
        help="OpenAI-compatible base URL of the judge (env GENAI_EVAL_JUDGE_BASE_URL).",
    )
    group.addoption(
        "--genai-judge-model",
        dest="genai_judge_model",
        metavar="MODEL",
        help="Judge model name (env GENAI_EVAL_JUDGE_MODEL).",
    )
    group.addoption(
        "--genai-judge-timeout",
        dest="genai_judge_timeout",
        type=float,
        metavar="SECONDS",
        help="Timeout of one judge call (default 60).",
    )
    group.addoption(
        "--genai-judge-retries",
        dest="genai_judge_retries",
        type=int,
        metavar="N",
        help="Retries of a judge call: one budget for 429/5xx, timeouts, dropped connections "
        "and unusable replies (default 4).",
    )
    group.addoption(
        "--genai-require-judge",
        dest="genai_require_judge",
        action="store_true",
        default=None,
        help="Fail at start (exit 4) when LLM judges are needed but no judge is configured.",
    )
    group.addoption(
        "--genai-threshold",
        dest="genai_thresholds",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Run-level threshold, repeatable: overall=0.9, correctness>=0.8, errors<=2, "
        "latency_p90<=3.",
    )
    group.addoption(
        "--genai-results-dir",
        dest="genai_results_dir",
        metavar="DIR",
        help="Directory for evaluation_results.json and the per-row table (default genai-results).",
    )
    group.addoption(
        "--genai-concurrency",
        dest="genai_concurrency",
        type=int,
        metavar="N",
        help="Rows, app calls and judge calls in flight at once (default 16).",
    )

    group.addoption(
        "--genai-cache",
        dest="genai_cache",
        choices=["use", "refresh", "off", "ci"],
        help="Verdict cache: use (default), refresh (re-ask, overwrite), off, ci (a miss is an "
        "error instead of a judge call).",
    )
    group.addoption(
        "--genai-cache-dir",
        dest="genai_cache_dir",
        metavar="DIR",
        help="Verdict cache directory (default .genai-cache under the rootdir).",
    )
    group.addoption(
        "--genai-rpm",
        dest="genai_rpm",
        type=float,
        metavar="N",
        help="At most N judge requests per minute (default: no limit).",
    )
    group.addoption(
        "--genai-row-timeout",
        dest="genai_row_timeout",
        type=float,
        metavar="SECONDS",
        help="Deadline for one row's app call and judges, retries included (default 600).",
    )
    group.addoption(
        "--genai-repeat",
        dest="genai_repeat",
        type=int,
        metavar="N",
        help="Evaluate every LLM judge N times; the verdict follows --genai-repeat-rule and rows "
        "whose verdicts disagree are flagged flaky.",
    )
    group.addoption(
        "--genai-repeat-rule",
        dest="genai_repeat_rule",
        choices=["majority", "all"],
        help="How repeated verdicts combine (default majority).",
    )
    group.addoption(
        "--genai-shard",
        dest="genai_shard",
        metavar="K/N",
        help="Run only shard K of N (1-based) of every suite's rows; merge shards with "
        "`genai-eval merge`.",
    )
    group.addoption(
        "--genai-progress",
        dest="genai_progress",
        choices=["auto", "on", "off"],
        help="Progress lines while waiting for evaluations (auto: only on a terminal, not in CI "
        "and not with -q).",
    )

    group.addoption(
        "--genai-baseline",
        dest="genai_baseline",
        metavar="PATH",
        help="A previous results directory (or evaluation_results.json) to compare with; "
        "regressions fail the gate.",
    )
    group.addoption(
        "--genai-update-baseline",
        dest="genai_update_baseline",
        action="store_true",
        default=False,
        help="Write this run as the new baseline at --genai-baseline instead of comparing.",
    )
    group.addoption(
        "--genai-baseline-alpha",
        dest="genai_baseline_alpha",
        type=float,
        metavar="A",
        help="Significance level of the paired exact test against the baseline (default 0.05; "
        "0 turns the test off).",
    )
    group.addoption(
        "--genai-baseline-max-drop",
        dest="genai_baseline_max_drop",
        action="append",
        default=[],
        metavar="METRIC=MARGIN",
        help="Largest tolerated drop of a metric vs the baseline, repeatable (default "
        "overall=0.05; METRIC=off removes a rule).",
    )
    group.addoption(
        "--genai-baseline-max-regressions",
        dest="genai_baseline_max_regressions",
        type=int,
        metavar="N",
        help="Fail when more than N rows go from pass to fail (default: no limit).",
    )
    group.addoption(
        "--genai-baseline-force",
        dest="genai_baseline_force",
        action="store_true",
        default=None,
        help="Gate against a baseline even when it comes from another configuration.",
    )
    group.addoption(
        "--genai-history-db",
        dest="genai_history_db",
        metavar="PATH",
        help="SQLite run history (default .genai-cache/history.sqlite under the rootdir).",
    )
    group.addoption(
        "--genai-no-history",
        dest="genai_no_history",
        action="store_true",
        default=False,
        help="Do not record this run in the history database.",
    )

    group.addoption(
        "--genai-parquet",
        dest="genai_parquet",
        action="store_true",
        default=None,
        help="Also write the per-row table as eval_results.parquet (needs pyarrow).",
    )

    parser.addini("genai_judge_base_url", "OpenAI-compatible base URL of the judge.", default=None)
    parser.addini("genai_judge_model", "Judge model name.", default=None)
    parser.addini("genai_judge_timeout", "Timeout of one judge call in seconds.", default=None)
    parser.addini("genai_judge_retries", "Retries of a judge call.", default=None)
    parser.addini(
        "genai_require_judge", "Fail when no judge is configured.", type="bool", default=False
    )
    parser.addini(
        "genai_thresholds", "Run-level thresholds, one per line.", type="linelist", default=[]
    )
    parser.addini("genai_results_dir", "Results directory.", default=None)
    parser.addini("genai_concurrency", "Work in flight at once.", default=None)
    parser.addini("genai_cache", "Verdict cache mode: use, refresh, off, ci.", default=None)
    parser.addini("genai_cache_dir", "Verdict cache directory.", default=None)
    parser.addini("genai_rpm", "Judge requests per minute.", default=None)
    parser.addini("genai_row_timeout", "Deadline for one row in seconds.", default=None)
    parser.addini("genai_repeat", "Evaluate every LLM judge N times.", default=None)
    parser.addini("genai_repeat_rule", "majority or all.", default=None)
    parser.addini("genai_baseline", "Baseline results to compare with.", default=None)
    parser.addini("genai_baseline_alpha", "Paired-test significance level.", default=None)
    parser.addini("genai_baseline_max_drop", "METRIC=MARGIN lines.", type="linelist", default=[])
    parser.addini("genai_baseline_max_regressions", "Most rows allowed to regress.", default=None)
    parser.addini(
        "genai_baseline_force", "Gate on incompatible baselines.", type="bool", default=False
    )
    parser.addini("genai_parquet", "Also write eval_results.parquet.", type="bool", default=False)
    parser.addini("genai_history_db", "SQLite run history path.", default=None)
    parser.addini("genai_progress_interval", "Seconds between progress lines.", default=None)
    parser.addini(
        "genai_suite_files",
        "Glob patterns of suite files pytest collects.",
        type="args",
        default=list(DEFAULT_SUITE_FILES),
    )


@dataclass(frozen=True)
class RunSettings:
    judge: EndpointSettings | None
    judge_missing_reason: str
    results_dir: Path
    thresholds: list[Threshold] = field(default_factory=list)
    concurrency: int = 16
    require_judge: bool = False
    suite_files: tuple[str, ...] = DEFAULT_SUITE_FILES
    cache_mode: CacheMode = "use"
    cache_dir: Path = Path(".genai-cache")
    requests_per_minute: float | None = None
    row_timeout: float | None = 600.0
    repeat: int = 1
    repeat_rule: str = "majority"
    shard: tuple[int, int] | None = None
    progress: str = "auto"
    progress_interval: float = 5.0
    baseline: Path | None = None
    update_baseline: bool = False
    baseline_rules: RegressionRules = field(default_factory=RegressionRules)
    history_db: Path | None = None
    rootdir: Path | None = None
    parquet: bool = False

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
            "shard": {"index": self.shard[0], "count": self.shard[1]} if self.shard else None,
            "judge_missing_reason": None if self.judge else self.judge_missing_reason,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "concurrency": self.concurrency,
            "results_dir": self.shown(self.results_dir),
            "baseline": self.shown(self.baseline),
            "baseline_rules": self.baseline_rules.to_dict(),
        }


def _first_env(names: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _pick(option: Any, ini: Any, env: str | None = None) -> Any:
    for value in (option, ini, env):
        if value not in (None, ""):
            return value
    return None


def _number(value: Any, kind: type, where: str) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None


def resolve(config: pytest.Config, env: Mapping[str, str] | None = None) -> RunSettings:
    env = os.environ if env is None else env
    opt = config.option
    base_url = _pick(
        getattr(opt, "genai_judge_base_url", None),
        config.getini("genai_judge_base_url"),
        _first_env(ENV_BASE_URL, env),
    )
    model = _pick(
        getattr(opt, "genai_judge_model", None),
        config.getini("genai_judge_model"),
        _first_env(ENV_MODEL, env),
    )
    key = _first_env(ENV_API_KEY, env)
    if base_url is None and key and env.get("OPENAI_API_KEY"):
        base_url = OPENAI_DEFAULT_BASE_URL
    timeout = _pick(getattr(opt, "genai_judge_timeout", None), config.getini("genai_judge_timeout"))
    retries = _pick(getattr(opt, "genai_judge_retries", None), config.getini("genai_judge_retries"))
    judge: EndpointSettings | None = None
    missing = ""
    if base_url and model:
        judge = EndpointSettings(
            base_url=str(base_url),
            model=str(model),
            api_key=Secret(key) if key else None,
            timeout=_number(timeout, float, "genai judge timeout") if timeout is not None else 60.0,
            max_retries=_number(retries, int, "genai judge retries") if retries is not None else 4,
        )
    else:
        lacking = [n for n, v in (("base URL", base_url), ("model", model)) if not v]
        missing = f"no judge endpoint configured (missing {' and '.join(lacking)}): {HOW_TO_ENABLE}"

    thresholds: list[Threshold] = []
    try:
        for line in config.getini("genai_thresholds"):
            thresholds.append(parse_threshold(str(line), "ini genai_thresholds"))
        for text in getattr(opt, "genai_thresholds", None) or []:
            thresholds.append(parse_threshold(text, "--genai-threshold"))
    except ThresholdError as exc:
        raise ConfigError(str(exc)) from None

    results_dir = _path_setting(config, "genai_results_dir", None) or (
        config.rootpath / "genai-results"
    )
    concurrency_raw = _pick(
        getattr(opt, "genai_concurrency", None), config.getini("genai_concurrency")
    )
    concurrency = (
        _number(concurrency_raw, int, "genai concurrency") if concurrency_raw is not None else 16
    )
    if concurrency < 1:
        raise ConfigError(f"genai concurrency must be at least 1, got {concurrency}")
    cache_mode = str(
        _pick(getattr(opt, "genai_cache", None), config.getini("genai_cache")) or "use"
    )
    if cache_mode not in CACHE_MODES:
        raise ConfigError(f"genai_cache must be use, refresh, off or ci, got {cache_mode!r}")
    cache_dir = _path_setting(config, "genai_cache_dir", None) or config.rootpath / ".genai-cache"
    rpm_raw = _pick(getattr(opt, "genai_rpm", None), config.getini("genai_rpm"))
    rpm = _number(rpm_raw, float, "genai rpm") if rpm_raw is not None else None
    if rpm is not None and rpm <= 0:
        raise ConfigError(f"genai rpm must be positive, got {rpm:g}")
    row_raw = _pick(getattr(opt, "genai_row_timeout", None), config.getini("genai_row_timeout"))
    row_timeout = _number(row_raw, float, "genai row timeout") if row_raw is not None else 600.0
    repeat_raw = _pick(getattr(opt, "genai_repeat", None), config.getini("genai_repeat"))
    repeat = _number(repeat_raw, int, "genai repeat") if repeat_raw is not None else 1
    if repeat < 1:
        raise ConfigError(f"genai repeat must be at least 1, got {repeat}")
    repeat_rule = str(
        _pick(getattr(opt, "genai_repeat_rule", None), config.getini("genai_repeat_rule"))
        or "majority"
    )
    if repeat_rule not in ("majority", "all"):
        raise ConfigError(f"genai repeat rule must be majority or all, got {repeat_rule!r}")
    shard = parse_shard(getattr(opt, "genai_shard", None))
    progress = str(getattr(opt, "genai_progress", None) or "auto")
    baseline = _path_setting(config, "genai_baseline", None)
    update_baseline = bool(getattr(opt, "genai_update_baseline", False))
    if update_baseline and baseline is None:
        raise ConfigError(
            "--genai-update-baseline needs --genai-baseline PATH (or ini genai_baseline)"
        )
    alpha_raw = _pick(
        getattr(opt, "genai_baseline_alpha", None), config.getini("genai_baseline_alpha")
    )
    regress_raw = _pick(
        getattr(opt, "genai_baseline_max_regressions", None),
        config.getini("genai_baseline_max_regressions"),
    )
    force = getattr(opt, "genai_baseline_force", None)
    if force is None:
        force = bool(config.getini("genai_baseline_force"))
    try:
        rules = rules_from_options(
            alpha=_number(alpha_raw, float, "genai baseline alpha")
            if alpha_raw is not None
            else 0.05,
            max_drop=[
                *config.getini("genai_baseline_max_drop"),
                *(getattr(opt, "genai_baseline_max_drop", None) or []),
            ],
            max_regressions=(
                _number(regress_raw, int, "genai baseline max regressions")
                if regress_raw is not None
                else None
            ),
            allow_incompatible=bool(force),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    history_db: Path | None = None
    if not getattr(opt, "genai_no_history", False):
        history_db = _path_setting(
            config, "genai_history_db", Path(".genai-cache") / "history.sqlite"
        )
    require = getattr(opt, "genai_require_judge", None)
    if require is None:
        require = bool(config.getini("genai_require_judge"))
    return RunSettings(
        judge=judge,
        judge_missing_reason=missing,
        results_dir=results_dir,
        thresholds=thresholds,
        concurrency=concurrency,
        require_judge=bool(require),
        suite_files=tuple(config.getini("genai_suite_files")),
        cache_mode=cache_mode,
        cache_dir=cache_dir,
        requests_per_minute=rpm,
        row_timeout=row_timeout if row_timeout > 0 else None,
        repeat=repeat,
        repeat_rule=repeat_rule,
        shard=shard,
        progress=progress,
        baseline=baseline,
        update_baseline=update_baseline,
        baseline_rules=rules,
        history_db=history_db,
        rootdir=config.rootpath,
        parquet=bool(
            getattr(opt, "genai_parquet", None)
            if getattr(opt, "genai_parquet", None) is not None
            else config.getini("genai_parquet")
        ),
        progress_interval=_number(
            config.getini("genai_progress_interval") or 5.0, float, "genai_progress_interval"
        ),
    )


def _path_setting(config: pytest.Config, name: str, default: Path | None) -> Path | None:
    """A path option: relative to where pytest was invoked when given on the command line,
    relative to the ini file (the rootdir) when given there, the rootdir for the default."""
    given = getattr(config.option, name, None)
    if given:
        path = Path(given)
        return path if path.is_absolute() else config.invocation_params.dir / path
    ini = config.getini(name)
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    if ini:
        path = Path(str(ini))
        return path if path.is_absolute() else base / path
    if default is None:
        return None
    return default if default.is_absolute() else config.rootpath / default


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
