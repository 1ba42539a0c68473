"""A suite: rows, the app under test, the judges, global guidelines and thresholds.

Built from a suite file (YAML, TOML or JSON, collected by pytest) or from the Python API.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .columns import ColumnError
from .errors import ConfigurationError
from .evalset import EvalSetError, Row
from .few_shot import ExamplesError, example_edits
from .gate import Threshold, ThresholdError, parse_threshold_mapping
from .judges import (
    BUILTIN_JUDGES,
    Judge,
    JudgeConfigError,
    JudgeSet,
    PromptError,
    UnknownJudgeError,
    Where,
    parse_checks,
    parse_custom_judges,
    parse_panels,
)
from .label_suite import LabelsSpec, parse_labels_spec
from .labels import LabelsError
from .mlflow_source import MlflowSourceError
from .sources import load_source_rows, parse_row_source
from .targets import Target, TargetConfigError, build_target
from .tool_match import ToolCallMatch, parse_tool_call_match

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

@dataclass(frozen=True)
class SuiteKey:
    """One suite setting: a key of a suite file and (unless ``file_only``) an argument of the
    ``evaluate`` decorator / ``genai_eval`` marker."""

    name: str
    help: str
    file_only: bool = False


# Every suite setting, declared once: suite files, the decorator and marker, README's list.
SUITE_KEYS: tuple[SuiteKey, ...] = (
    SuiteKey("name", "the suite's name in results and reports (default: the file name)"),
    SuiteKey("description", "free text shown in the reports"),
    SuiteKey("data", "the evaluation set: a file relative to the suite (JSONL, JSON, CSV, "
             "Parquet, YAML), or `mlflow://experiments/<name-or-id>?filter=...&max_results=N` "
             "for traces on the MLflow tracking server; in Python also a DataFrame or a list "
             "of dicts"),
    SuiteKey("rows", "inline rows instead of `data`", file_only=True),
    SuiteKey("app", "the application: `module:function`, a callable, or a mapping "
             "(`type: openai` / `type: http`)"),
    SuiteKey("judges", "run exactly these built-in judges"),
    SuiteKey("exclude_judges", "remove judges from the default selection"),
    SuiteKey("global_guidelines", "guidelines every response must follow"),
    SuiteKey("thresholds", "minimum pass rates and maximum costs, e.g. `{overall: 0.9}`"),
    SuiteKey("prompts", "judge name (or `user_simulator`) -> prompt template file overriding the "
             "built-in prompt"),
    SuiteKey("judge_examples", "judge name -> few-shot examples file (`genai-eval align` writes "
             "one) added to the judge's prompt"),
    SuiteKey("checks", "deterministic checks for every row"),
    SuiteKey("custom_judges", "LLM judges from prompt templates, Python judges"),
    SuiteKey("panels", "judge name -> a panel of judge models"),
    SuiteKey("repeat", "evaluate every LLM judge N times"),
    SuiteKey("repeat_rule", "how repeated verdicts combine: majority, all, any, pass_at_k, "
             "pass_hat_k"),
    SuiteKey("repeat_k", "the k of `pass_at_k` / `pass_hat_k` (default: every sample)"),
    SuiteKey("allow_empty", "accept an empty evaluation set (otherwise an error)"),
    SuiteKey("tool_call_match", "how `tool_call_correctness` compares tool calls with "
             "`expected_tool_calls`: `{trajectory, arguments, tools: {name: {arguments}}}`"),
    SuiteKey("format", "the evaluation set's format when it is another tool's: promptfoo, "
             "deepeval, ragas, openai_evals, otel, mlflow_traces (default: recognized by shape)"),
    SuiteKey("transform", "`module:function` (in Python, a callable) taking a raw row dict and "
             "returning a row dict, or None to drop the row"),
    SuiteKey("columns", "field of the set -> row column, dotted paths into nested fields: "
             "`{question: request, answers.0.text: expected_response}`"),
    SuiteKey("labels", "human labels (JSONL or CSV) for the rows' judges: a file, or `{file, "
             "use}` (`use`: `verdict` or `compare`); a current label is the verdict of record or "
             "only measures the judge's agreement (`compare`)"),
    SuiteKey("cluster", "a column whose rows are not independent (same document, same "
             "conversation): clustered standard errors"),
)
SUITE_KEY_NAMES = frozenset(key.name for key in SUITE_KEYS)
PYTHON_KEY_NAMES = frozenset(key.name for key in SUITE_KEYS if not key.file_only)


def suite_keys_markdown() -> str:
    """README's list of suite keys, generated from :data:`SUITE_KEYS`."""
    rows = ["| key | what it sets | in Python |", "|---|---|---|"]
    rows += [
        f"| `{k.name}` | {k.help} | {'' if k.file_only else 'yes'} |" for k in SUITE_KEYS
    ]
    return "\n".join(rows)



class SuiteError(ConfigurationError, ValueError):
    """An invalid suite definition; the message names the file and the field."""


@dataclass
class SuiteSpec:
    name: str
    rows: list[Row]
    target: Target | None = None
    judges: JudgeSet = field(default_factory=JudgeSet.build)
    global_guidelines: tuple[str, ...] = ()
    thresholds: list[Threshold] = field(default_factory=list)
    source: str = ""
    description: str = ""
    tool_call_match: ToolCallMatch | None = None  # None: not set (the defaults apply)
    labels: LabelsSpec | None = None  # human labels (label_suite.py)
    cluster: str | None = None  # the column that clusters rows (error_bars.py)

    def assessment_names(self) -> set[str]:
        """The names this suite's assessments can have: its judges and checks, the rows' own
        checks and named guidelines (``guideline_adherence/<name>``)."""
        names = set(self.judges.names)
        for checks in self.judges.row_checks.values():
            names |= {check.name for check in checks}
        if "guideline_adherence" in names:
            for row in self.rows:
                guidelines = [row.guidelines] if not row.is_conversation else []
                guidelines += [turn.guidelines for turn in row.turns or []]
                for named in guidelines:
                    if isinstance(named, dict):
                        names |= {f"guideline_adherence/{key}" for key in named}
        if "conversational_guidelines" in names:  # a conversation row's own guidelines
            for row in self.rows:
                if row.is_conversation and isinstance(row.guidelines, dict):
                    names |= {f"conversational_guidelines/{key}" for key in row.guidelines}
        return names

    def public_dict(self) -> dict[str, Any]:
        """Configuration echoed into the artifact (never secrets)."""
        return {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "app": self.target.description if self.target else None,
            "judges": self.judges.names,
            "judge_selection": "explicit" if self.judges.explicit else "default",
            "prompt_versions": self.judges.prompt_versions(),
            **self.judges.describe(),
            "global_guidelines": list(self.global_guidelines),
            "thresholds": [t.to_dict() for t in self.thresholds],
            "row_count": len(self.rows),
            **(
                {"tool_call_match": self.tool_call_match.describe()}
                if self.tool_call_match is not None
                else {}
            ),
            **({"cluster": self.cluster} if self.cluster else {}),
            **({"labels": self.labels.describe()} if self.labels is not None else {}),
        }


def _str_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise SuiteError(f"{where}: expected a list of strings, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise SuiteError(f"{where}[{i}]: expected a non-empty string, got {item!r}")
        out.append(item)
    return out


def _is_dataframe(value: Any) -> bool:
    # pandas is imported only if the caller already did: plugin start-up stays light
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def build_suite(
    *,
    name: str,
    data: Any,
    app: Any = None,
    judges: Sequence[str] | None = None,
    exclude_judges: Sequence[str] | None = (),
    global_guidelines: Sequence[str] | None = (),
    thresholds: Mapping[str, Any] | Sequence[Threshold] | None = None,
    prompts: Mapping[str, str | Path] | None = None,
    base_dir: Path | None = None,
    source: str = "",
    description: str = "",
    custom_judges: Sequence[Any] | None = (),
    checks: Sequence[Any] | None = (),
    panels: Mapping[str, Any] | None = None,
    repeat: int | None = None,
    repeat_rule: str | None = None,
    repeat_k: int | None = None,
    judge_examples: Mapping[str, str | Path] | None = None,
    allow_empty: bool = False,
    tool_call_match: Mapping[str, Any] | ToolCallMatch | None = None,
    format: str | None = None,
    transform: Any = None,
    columns: Mapping[str, str] | None = None,
    labels: str | Path | Mapping[str, Any] | LabelsSpec | None = None,
    cluster: str | None = None,
) -> SuiteSpec:
    """Validate everything about a suite before anything is called.

    ``custom_judges``: specs or objects from ``llm_judge`` / ``python_judge`` (or plain
    functions); ``checks``: check specs ``{type, name?, ...}``; ``panels``: judge name -> panel;
    ``repeat`` / ``repeat_rule``: samples per LLM judge and their aggregation (see
    docs/judges.md); ``tool_call_match``: how tool calls compare with ``expected_tool_calls``
    (``tool_match.py``). Row-level checks come from each row's ``checks`` column.
    """
    where = source or name
    exclude_judges = exclude_judges or ()
    global_guidelines = global_guidelines or ()
    try:
        row_source = parse_row_source(
            format=format, transform=transform, columns=columns, base_dir=base_dir, where=where
        )
    except ColumnError as exc:
        raise SuiteError(str(exc)) from None
    if isinstance(data, (str, Path)):
        try:
            rows = load_source_rows(data, row_source, base_dir=base_dir, where=where)
        except MlflowSourceError as exc:  # data: mlflow://experiments/...
            raise SuiteError(str(exc)) from None
    elif _is_dataframe(data):
        rows = load_source_rows(data, row_source, name=f"{where}: data")
    elif isinstance(data, Sequence):
        shown = f"{Path(where).name}: rows" if source else where
        rows = load_source_rows(list(data), row_source, name=shown)
    else:
        raise SuiteError(f"{where}: 'data' must be a file path, a DataFrame or a list of rows")
    if not rows and not allow_empty:
        shown = f"{data}" if isinstance(data, (str, Path)) else "its rows"
        raise SuiteError(
            f"{where}: the evaluation set ({shown}) has no rows: nothing would be evaluated; "
            "add rows, or set allow_empty: true if an empty set is expected"
        )
    try:
        target = build_target(app, base_dir=base_dir, where=f"{where}: app")
    except TargetConfigError as exc:
        raise SuiteError(str(exc)) from None
    if target is None:
        missing = [r for r in rows if not r.has_response]
        if missing:
            shown = ", ".join(f"{r.location or r.request_id}" for r in missing[:5])
            talks = " (a conversation row always needs an app)" * any(
                r.is_conversation for r in missing
            )
            raise SuiteError(
                f"{where}: no app is configured, so every row needs a 'response'; "
                f"{len(missing)} row(s) have none ({shown}){talks}"
            )
    match = _tool_call_match(tool_call_match, where)
    prompt_paths = {
        key: (base_dir / value if base_dir and not Path(value).is_absolute() else Path(value))
        for key, value in (prompts or {}).items()
    }
    try:
        taken = set(BUILTIN_JUDGES)
        custom: list[Judge] = list(
            parse_custom_judges(
                _as_list(custom_judges),
                Where(where, "custom_judges"),
                taken=taken,
                base_dir=base_dir,
            )
        )
        if judges is not None:  # names that are not built in: judges of installed packages
            judges, plugins = _plugin_judges(list(judges), Where(where, "judges"), taken)
            custom += plugins
        extra_columns = {key for row in rows for key in row.extra}
        for index, judge in enumerate(custom):
            validate = getattr(judge, "validate_columns", None)
            if callable(validate):
                validate(extra_columns, Where(where, f"custom_judges[{index}]"))
        suite_checks: list[Judge] = list(
            parse_checks(_as_list(checks), Where(where, "checks"), taken=taken, base_dir=base_dir)
        )
        judge_set = JudgeSet.build(
            include=list(judges) if judges is not None else None,
            exclude=list(exclude_judges),
            prompts=prompt_paths,
            where=f"{where}: judges",
            custom=custom,
            checks=suite_checks,
            panels=parse_panels(panels, Where(where, "panels")),
            repeat=1 if repeat is None else repeat,
            repeat_rule=repeat_rule or "majority",
            repeat_k=repeat_k,
            origin=where,
            options={"tool_call_match": match},
            prompt_edits=example_edits(judge_examples, base_dir, where),
        )
        judge_set.attach_row_checks(rows, base_dir)
    except (UnknownJudgeError, PromptError, JudgeConfigError, ExamplesError) as exc:
        raise SuiteError(str(exc)) from None
    try:
        if thresholds is None:
            parsed: list[Threshold] = []
        elif isinstance(thresholds, Mapping):
            parsed = parse_threshold_mapping(thresholds, f"{where}: thresholds")
        else:
            parsed = list(thresholds)
    except ThresholdError as exc:
        raise SuiteError(str(exc)) from None
    spec = SuiteSpec(
        name=name,
        rows=rows,
        target=target,
        judges=judge_set,
        global_guidelines=tuple(_str_list(global_guidelines, f"{where}: global_guidelines")),
        thresholds=parsed,
        source=source,
        description=description,
        tool_call_match=match,
        cluster=_cluster(cluster, rows, where),
    )
    try:
        spec.labels = parse_labels_spec(
            labels,
            suite=name,
            base_dir=base_dir,
            where=where,
            request_ids=[row.request_id for row in rows],
            names=spec.assessment_names(),
        )
    except LabelsError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    return spec


def _cluster(column: Any, rows: Sequence[Row], where: str) -> str | None:
    """The ``cluster`` column: a name that some row has."""
    if column is None:
        return None
    if not isinstance(column, str) or not column.strip():
        raise SuiteError(f"{where}: 'cluster' must name a column of the evaluation set")
    if rows and not any(column in row.extra for row in rows):
        raise SuiteError(
            f"{where}: cluster: no row has the column {column!r} "
            f"(columns: {', '.join(sorted({k for r in rows for k in r.extra})) or 'none'})"
        )
    return column


def _tool_call_match(value: Any, where: str) -> ToolCallMatch | None:
    if value is None or isinstance(value, ToolCallMatch):
        return value
    try:
        return parse_tool_call_match(value, "tool_call_match")
    except ValueError as exc:
        raise SuiteError(f"{where}: {exc}") from None


def _plugin_judges(
    names: list[str], where: Where, taken: set[str]
) -> tuple[list[str], list[Judge]]:
    """Split ``judges:`` into built-in names and the judges installed packages register
    (entry points ``pytest_genai_eval.judges``); a name that is neither is an error."""
    from .registry import available, plugin_judge

    builtin_names, plugins = [], []
    for name in names:
        if name in BUILTIN_JUDGES:
            builtin_names.append(name)
            continue
        judge = plugin_judge(name, where)
        if judge is None:
            installed = sorted(available("judges"))
            extra = f"; judges of installed packages: {', '.join(installed)}" if installed else ""
            raise UnknownJudgeError(
                f"{where.at()}: unknown judge {name!r}; built-in judges: "
                f"{', '.join(BUILTIN_JUDGES)}{extra}"
            )
        if judge.name in taken:
            raise JudgeConfigError(f"{where.at()}: the name {judge.name!r} is used twice")
        taken.add(judge.name)
        plugins.append(judge)
    return builtin_names, plugins


def _as_list(value: Any) -> Any:
    """``None`` -> ``[]``; anything else unchanged (the parsers report a wrong type)."""
    return [] if value is None else value


def read_suite_file(path: Path) -> dict[str, Any]:
    """The settings of a YAML, TOML or JSON suite file. Any problem (unreadable, not UTF-8,
    malformed, nested too deep) is a SuiteError naming the file, and the line when known."""
    from .evalset import MAX_NESTING_DEPTH, describe_utf8_error, nesting_problem

    try:
        data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite file: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"{path}: not valid UTF-8 text: {describe_utf8_error(data, exc)}"
        ) from None
    kind = path.suffix.lstrip(".")
    try:
        if path.suffix == ".toml":
            doc: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            doc = json.loads(text)
        else:
            doc = yaml.safe_load(text)
    except RecursionError:
        raise SuiteError(f"{path}: nested deeper than {MAX_NESTING_DEPTH} levels") from None
    except (ValueError, yaml.YAMLError) as exc:  # TOMLDecodeError, JSONDecodeError: ValueErrors
        raise SuiteError(f"{path}: not a valid {kind} file: {exc}") from None
    except (TypeError, LookupError, AttributeError, ArithmeticError) as exc:  # PyYAML, odd tags
        raise SuiteError(f"{path}: not a valid {kind} file: {type(exc).__name__}: {exc}") from None
    if not isinstance(doc, dict):
        raise SuiteError(f"{path}: a suite file must hold a mapping of settings")
    for key, value in doc.items():
        if not isinstance(key, str):
            raise SuiteError(f"{path}: setting names must be strings, got {key!r}")
        problem = None if key == "rows" else nesting_problem(value)  # rows: checked row by row
        if problem is not None:
            raise SuiteError(f"{path}: '{key}': {problem}")
    return doc


def load_suite_file(path: Path, shown: str | None = None) -> SuiteSpec:
    """``shown``: how messages and artifacts name the file (default: the path as given)."""
    where = shown or str(path)
    doc = read_suite_file(path)
    unknown = sorted(set(map(str, doc)) - SUITE_KEY_NAMES)
    if unknown:
        raise SuiteError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(k.name for k in SUITE_KEYS)}"
        )
    if ("data" in doc) == ("rows" in doc):
        raise SuiteError(f"{where}: give exactly one of 'data' (a file) or 'rows' (inline rows)")
    data = doc.get("data", doc.get("rows"))
    if "data" in doc and not isinstance(data, str):
        raise SuiteError(f"{where}: 'data' must be a path to an evaluation set file")
    if "rows" in doc and not isinstance(data, list):
        raise SuiteError(f"{where}: 'rows' must be a list of rows")
    judges = doc.get("judges")
    if judges is not None:
        judges = _str_list(judges, f"{where}: judges")
    thresholds = doc.get("thresholds")
    if thresholds is not None and not isinstance(thresholds, Mapping):
        raise SuiteError(f"{where}: 'thresholds' must be a mapping, e.g. {{overall: 0.9}}")
    prompts = doc.get("prompts")
    if prompts is not None and not isinstance(prompts, Mapping):
        raise SuiteError(f"{where}: 'prompts' must map a judge name to a template file")
    name = doc.get("name") or _default_name(path)
    if not isinstance(name, str):
        raise SuiteError(f"{where}: 'name' must be a string")
    return build_suite(
        name=name,
        data=data,
        app=doc.get("app"),
        judges=judges,
        exclude_judges=_str_list(doc.get("exclude_judges", []), f"{where}: exclude_judges"),
        global_guidelines=doc.get("global_guidelines", []),
        thresholds=thresholds,
        prompts=prompts,
        base_dir=path.parent,
        source=where,
        description=str(doc.get("description", "")),
        custom_judges=_as_list(doc.get("custom_judges")),
        checks=_as_list(doc.get("checks")),
        panels=doc.get("panels"),
        repeat=doc.get("repeat"),
        repeat_rule=doc.get("repeat_rule"),
        repeat_k=doc.get("repeat_k"),
        judge_examples=doc.get("judge_examples"),
        allow_empty=_flag(doc.get("allow_empty", False), f"{where}: allow_empty"),
        tool_call_match=doc.get("tool_call_match"),
        format=doc.get("format"),
        transform=doc.get("transform"),
        columns=doc.get("columns"),
        labels=doc.get("labels"),
        cluster=doc.get("cluster"),
    )


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SuiteError(f"{where}: expected true or false, got {value!r}")
    return value


def _default_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    return stem.removeprefix("genai_") or stem


__all__ = ["EvalSetError", "SuiteError", "SuiteSpec", "build_suite", "load_suite_file"]
