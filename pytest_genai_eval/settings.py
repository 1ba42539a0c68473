"""Every run setting, declared once.

:data:`SETTINGS` is the table: name, kind, default, help, command-line flag, ini key and
environment variables. It drives the pytest options (``pytest --help``, group ``genai``), the ini
keys (``pytest.ini`` or ``[tool.pytest.ini_options]``), the resolution of a value (command line,
then ini, then environment, then the default) and README's options table (a test fails when
README and this table disagree). :mod:`config` turns the resolved values into ``RunSettings``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from .errors import ConfigurationError

__all__ = ["SETTINGS", "Setting", "SettingError", "add_options", "options_markdown", "read_all"]

# "location": a path (made absolute like "path") or a URI with a scheme (s3://...), kept as text.
Kind = Literal["text", "int", "float", "bool", "choice", "path", "location", "lines", "globs"]

DEFAULT_SUITE_FILES = ("genai_*.yaml", "genai_*.yml", "genai_*.toml", "genai_*.json")


class SettingError(ConfigurationError, ValueError):
    """A setting has an invalid value; the message names where it came from."""


@dataclass(frozen=True)
class Setting:
    """One setting. ``flag`` / ``ini`` None: not settable that way. ``shown_default``: how the
    default reads in ``--help`` and README when the bare value would not say enough."""

    name: str
    kind: Kind
    help: str
    default: Any = None
    flag: str | None = None
    ini: str | None = None
    env: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    minimum: float | None = None
    shown_default: str | None = None

    @property
    def dest(self) -> str:
        return f"genai_{self.name}"

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return "—"
        if self.kind == "bool":
            return "on" if self.default else "off"
        if isinstance(self.default, (tuple, list)):
            return " ".join(str(v) for v in self.default) or "—"
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


def _s(name: str, kind: Kind, help: str, default: Any = None, **kw: Any) -> Setting:
    """A setting settable on the command line (``--genai-<name>``) and in ini (``genai_<name>``)
    unless ``flag`` / ``ini`` say otherwise."""
    kw.setdefault("flag", "--genai-" + name.replace("_", "-"))
    kw.setdefault("ini", "genai_" + name)
    return Setting(name=name, kind=kind, help=help, default=default, **kw)


SETTINGS: tuple[Setting, ...] = (
    _s(
        "judge_base_url",
        "text",
        "OpenAI-compatible base URL of the judge (e.g. http://127.0.0.1:8080/v1).",
        env=("GENAI_EVAL_JUDGE_BASE_URL", "OPENAI_BASE_URL"),
        metavar="URL",
        shown_default="— (with only `OPENAI_API_KEY` set: `https://api.openai.com/v1`)",
    ),
    _s("judge_model", "text", "Judge model name.", env=("GENAI_EVAL_JUDGE_MODEL",), metavar="MODEL"),
    _s(
        "judge_api_key",
        "text",
        "API key of the judge: read only from the environment, never from a file or the "
        "command line.",
        flag=None,
        ini=None,
        env=("GENAI_EVAL_JUDGE_API_KEY", "OPENAI_API_KEY"),
    ),
    _s("judge_timeout", "float", "Timeout of one judge call attempt, in seconds.", 60.0,
       metavar="SECONDS", minimum=0.001),
    _s(
        "judge_retries",
        "int",
        "Retries of a judge call: one budget for 429/5xx, timeouts, dropped connections and "
        "unusable replies.",
        4,
        metavar="N",
        minimum=0,
    ),
    _s(
        "ca_bundle",
        "path",
        "CA certificates (a PEM file or a hashed directory) trusted for an https judge instead "
        "of SSL_CERT_FILE and the system store.",
        None,
        metavar="PATH",
        shown_default="`SSL_CERT_FILE`, else the system store",
    ),
    _s("require_judge", "bool", "Fail at start (exit 4) when LLM judges are needed but no judge "
       "is configured.", False),
    _s(
        "thresholds",
        "lines",
        "Run-level thresholds: overall=0.9, correctness>=0.8, errors<=2, latency_p90<=3. "
        "Repeatable; one per line in ini.",
        (),
        flag="--genai-threshold",
        metavar="NAME=VALUE",
    ),
    _s(
        "prices",
        "lines",
        "Price table for estimated cost: MODEL input=PRICE output=PRICE, per 1,000 input and "
        "output tokens, in any currency (no built-in prices). Repeatable; one per line in ini.",
        (),
        flag="--genai-price",
        metavar="'MODEL input=P output=P'",
    ),
    _s("app_model", "text", "The app's model for pricing its tokens when its output names none "
       "(callable apps, precomputed responses); needs a price.", None, metavar="MODEL"),
    _s("results_dir", "path", "Directory for evaluation_results.json, the per-row tables and "
       "the reports.", "genai-results", metavar="DIR",
       shown_default="`genai-results` under the rootdir"),
    _s("concurrency", "int", "Rows, app calls and judge calls in flight at once.", 16,
       metavar="N", minimum=1),
    _s("rpm", "float", "At most N judge requests per minute.", None, metavar="N", minimum=0.001,
       shown_default="no limit"),
    _s("row_timeout", "float", "Deadline for one row's app call and judges, retries included, "
       "in seconds (0: none).", 600.0, metavar="SECONDS", minimum=0),
    _s("cache", "choice", "Verdict cache: use, refresh (re-ask, overwrite), off, ci (a miss is "
       "an error instead of a judge call).", "use", choices=("use", "refresh", "off", "ci")),
    _s("cache_dir", "path", "Verdict cache directory.", ".genai-cache", metavar="DIR",
       shown_default="`.genai-cache` under the rootdir"),
    _s("repeat", "int", "Evaluate every LLM judge N times; verdicts combine by the repeat rule "
       "and rows whose verdicts disagree are flagged flaky.", 1, metavar="N", minimum=1),
    _s("repeat_rule", "choice", "How repeated verdicts combine: majority, all, any, pass_at_k "
       "(pass@k: a draw of k samples holds a pass), pass_hat_k (pass^k: a draw of k samples "
       "all pass).", "majority", choices=("majority", "all", "any", "pass_at_k", "pass_hat_k")),
    _s("repeat_k", "int", "The k of pass_at_k and pass_hat_k: samples per draw, at most the "
       "repeat count.", None, metavar="K", minimum=1, shown_default="every sample"),
    _s("shard", "text", "Run only shard K of N (1-based) of every suite's rows; merge shards "
       "with `genai-eval merge`.", None, ini=None, metavar="K/N"),
    _s("progress", "choice", "Progress lines while waiting for evaluations (auto: only on a "
       "terminal, not in CI, not with -q).", "auto", choices=("auto", "on", "off"),
       shown_default="auto (`CI` set: quiet)"),
    _s("progress_interval", "float", "Seconds between progress lines.", 5.0, metavar="SECONDS",
       minimum=0.01),
    _s("baseline", "path", "A previous results directory (or evaluation_results.json) to "
       "compare with; regressions fail the gate.", None, metavar="PATH"),
    _s("update_baseline", "bool", "Write this run as the new baseline at the baseline path "
       "instead of comparing.", False, ini=None),
    _s("baseline_alpha", "float", "Significance level of the paired exact test against the "
       "baseline (0 turns the test off).", 0.05, metavar="A", minimum=0),
    _s("baseline_max_drop", "lines", "Largest tolerated drop of a metric vs the baseline, "
       "repeatable (METRIC=off removes a rule).", (), metavar="METRIC=MARGIN",
       shown_default="`overall=0.05`"),
    _s("baseline_max_regressions", "int", "Fail when more than N rows go from pass to fail.",
       None, metavar="N", minimum=0, shown_default="no limit"),
    _s("baseline_force", "bool", "Gate against a baseline even when it comes from another "
       "configuration.", False),
    _s("baseline_pairwise", "bool", "Ask the pairwise_preference judge, in both orders, whether "
       "each changed response is at least as good as the baseline's; fail when a two-sided sign "
       "test says worse at the baseline alpha.", False),
    _s("history_db", "path", "SQLite run history.", ".genai-cache/history.sqlite",
       metavar="PATH", shown_default="`.genai-cache/history.sqlite` under the rootdir"),
    _s("no_history", "bool", "Do not record this run in the history database.", False,
       ini=None),
    _s("parquet", "bool", "Also write the per-row table as eval_results.parquet (needs "
       "pyarrow).", False),
    _s("delta_table", "location", "Append each run's metrics to this Delta table after the run "
       "(a path or a URI such as s3://...; needs the delta extra).", None, metavar="PATH"),
    _s("review_queue", "path", "Write the rows worth a human look (failed, errored, flaky, "
       "panel disagreements, stale labels, a sample of passes) to this file in the labels "
       "format (JSONL, or CSV by the suffix); fill in rating and use it as `labels:`.", None,
       metavar="PATH"),
    _s("review_sample", "int", "Passing assessments sampled at random (seed 0) into the review "
       "queue.", 5, metavar="N", minimum=0),
    _s("mlflow", "bool", "Log the run to MLflow after it (the tracking server and experiment "
       "MLflow's own settings name, MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME; the active run, "
       "else a new one): parameters, metrics, one trace per row with its assessments, the "
       "artifacts, the verdict as a tag (needs the mlflow extra).", False),
    _s("sample", "int", "Evaluate only N rows of every suite, the same N for the same seed on "
       "every machine and worker (for production logs).", None, metavar="N", minimum=1,
       shown_default="every row"),
    _s("sample_seed", "int", "Seed of --genai-sample: another seed, another sample.", 0,
       metavar="SEED"),
    _s("suite_files", "globs", "Glob patterns of suite files pytest collects.",
       DEFAULT_SUITE_FILES, flag=None),
)

SETTINGS_BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


# ---- registration -----------------------------------------------------------------------------
def _help(setting: Setting) -> str:
    extra = [f"default {setting.default_text().replace('`', '')}"]
    if setting.ini:
        extra.append(f"ini {setting.ini}")
    if setting.env:
        extra.append("env " + ", ".join(setting.env))
    return f"{setting.help} ({'; '.join(extra)})"


def add_options(parser: pytest.Parser) -> None:
    """Register every setting's command-line option (group ``genai``) and ini key."""
    group = parser.getgroup("genai", "GenAI evaluation (pytest-genai-eval)")
    for s in SETTINGS:
        if s.flag:
            kwargs: dict[str, Any] = {"dest": s.dest, "help": _help(s)}
            if s.kind == "bool":
                kwargs.update(action="store_true", default=None)
            elif s.kind == "lines":
                kwargs.update(action="append", default=[], metavar=s.metavar)
            elif s.kind == "choice":
                kwargs.update(choices=list(s.choices))
            else:
                kwargs["metavar"] = s.metavar
            group.addoption(s.flag, **kwargs)
        if s.ini:
            if s.kind == "bool":
                parser.addini(s.ini, s.help, type="bool", default=bool(s.default))
            elif s.kind == "lines":
                parser.addini(s.ini, s.help, type="linelist", default=[])
            elif s.kind == "globs":
                parser.addini(s.ini, s.help, type="args", default=list(s.default))
            else:
                parser.addini(s.ini, s.help, default=None)


# ---- resolution -------------------------------------------------------------------------------
def _convert(setting: Setting, raw: Any, origin: str) -> Any:
    kind = setting.kind
    if kind in ("text", "path", "location"):
        return str(raw)
    if kind == "choice":
        value = str(raw).strip()
        if value not in setting.choices:
            raise SettingError(
                f"{origin}: expected one of {', '.join(setting.choices)}, got {value!r}"
            )
        return value
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise SettingError(f"{origin}: expected true or false, got {raw!r}")
    number: float
    try:
        number = int(str(raw).strip()) if kind == "int" else float(str(raw).strip())
    except ValueError:
        what = "an integer" if kind == "int" else "a number"
        raise SettingError(f"{origin}: expected {what}, got {raw!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise SettingError(f"{origin}: expected a finite number, got {raw!r}")
    if setting.minimum is not None and number < setting.minimum:
        raise SettingError(f"{origin}: must be at least {setting.minimum:g}, got {raw!r}")
    return number


def _present(value: Any) -> bool:
    return value not in (None, "", [], ())


def read(setting: Setting, config: pytest.Config, env: Mapping[str, str]) -> tuple[Any, str]:
    """``(value, origin)``: the command line, then ini, then the environment, then the default.

    Lines (thresholds, max-drop rules) from ini and the command line are combined, ini first.
    Paths are made absolute: a command-line path against the invocation directory, an ini path
    against the ini file's directory, the default against the rootdir.
    """
    cli = getattr(config.option, setting.dest, None) if setting.flag else None
    ini = config.getini(setting.ini) if setting.ini else None
    if setting.kind == "lines":
        return [*(ini or []), *(cli or [])], "lines"
    if setting.kind == "globs":
        return tuple(ini or setting.default), f"ini {setting.ini}"
    if setting.kind == "bool":
        if cli:
            return True, setting.flag or ""
        return (bool(ini) if setting.ini else bool(setting.default)), f"ini {setting.ini}"
    candidates: list[tuple[Any, str]] = []
    if setting.flag:
        candidates.append((cli, setting.flag))
    if setting.ini:
        candidates.append((ini, f"ini {setting.ini}"))
    candidates += [(env.get(name), f"environment variable {name}") for name in setting.env]
    for raw, origin in candidates:
        if _present(raw):
            value = _convert(setting, raw, origin)
            if setting.kind == "path" or (setting.kind == "location" and "://" not in value):
                base = (
                    config.invocation_params.dir
                    if origin == setting.flag
                    else config.inipath.parent
                    if config.inipath is not None
                    else config.rootpath
                )
                path = Path(value)
                value = path if path.is_absolute() else base / path
            return value, origin
    if setting.kind == "path" and setting.default is not None:
        return config.rootpath / str(setting.default), "default"
    return setting.default, "default"


def read_all(config: pytest.Config, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every setting's resolved value, by name (raises :class:`SettingError`)."""
    env = os.environ if env is None else env
    return {s.name: read(s, config, env)[0] for s in SETTINGS}


# ---- documentation ----------------------------------------------------------------------------
def _flag_text(setting: Setting) -> str:
    if not setting.flag:
        return ""
    if setting.kind == "bool":
        return f"`{setting.flag}`"
    if setting.kind == "choice":
        return f"`{setting.flag} {'|'.join(setting.choices)}`".replace("|", "\\|")
    text = f"`{setting.flag} {setting.metavar or 'VALUE'}`"
    return text + (" (repeatable)" if setting.kind == "lines" else "")


def options_markdown(settings: Sequence[Setting] = SETTINGS) -> str:
    """README's options table, generated from :data:`SETTINGS`."""
    lines = [
        "| command line | ini key | environment | default | what it sets |",
        "|---|---|---|---|---|",
    ]
    for s in settings:
        ini = f"`{s.ini}`" if s.ini else ""
        if s.ini and s.kind == "lines":
            ini += " (one per line)"
        env = ", else ".join(f"`{name}`" for name in s.env)
        lines.append(f"| {_flag_text(s)} | {ini} | {env} | {s.default_text()} | {s.help} |")
    return "\n".join(lines)
