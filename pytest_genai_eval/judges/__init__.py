"""Judge registry and selection."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..evalset import Row
from ..judge_catalog import BUILTIN, BUILTIN_NAMES, BuiltinJudge, builtin
from ..results import NOT_APPLICABLE, Assessment
from .base import (
    EvalContext,
    Judge,
    JudgeAnswer,
    JudgeConfigError,
    JudgeRunner,
    JudgeUnavailable,
    PromptError,
    PromptTemplate,
    Where,
)
from .checks import CHECK_TYPES, Check, parse_checks
from .custom import CustomLLMJudge, PythonJudge, llm_judge, parse_custom_judges, python_judge
from .panels import Panel, PanelMember, PanelSpec, parse_k, parse_panel, parse_panels
from .voting import AGGREGATES, Aggregate

__all__ = [
    "AGGREGATES",
    "BUILTIN_JUDGES",
    "CHECK_TYPES",
    "SIMULATOR_PROMPT",
    "Aggregate",
    "Check",
    "CustomLLMJudge",
    "EvalContext",
    "Judge",
    "JudgeAnswer",
    "JudgeConfigError",
    "JudgeRunner",
    "JudgeSet",
    "JudgeUnavailable",
    "Panel",
    "PanelMember",
    "PanelSpec",
    "PromptError",
    "PromptTemplate",
    "PythonJudge",
    "UnknownJudgeError",
    "Where",
    "llm_judge",
    "parse_checks",
    "parse_custom_judges",
    "parse_panels",
    "python_judge",
]


class UnknownJudgeError(ConfigurationError, ValueError):
    pass


# (prompt override, the suite's options by suite key) -> the judge
Factory = Callable[[PromptTemplate | None, Mapping[str, Any]], Judge]

BUILTIN_JUDGES: tuple[str, ...] = BUILTIN_NAMES  # in the order of README's judge table


def _factory(meta: BuiltinJudge) -> Factory:
    module_name, _, class_name = meta.implementation.partition(":")
    cls: Callable[..., Judge] = getattr(
        importlib.import_module(f".{module_name}", __package__), class_name
    )

    def make(template: PromptTemplate | None, options: Mapping[str, Any]) -> Judge:
        kwargs: dict[str, Any] = {}
        if template is not None and meta.takes_prompt:
            kwargs["template"] = template
        if meta.suite_key is not None and options.get(meta.suite_key) is not None:
            kwargs[meta.suite_key] = options[meta.suite_key]
        return cls(**kwargs)

    return make


SIMULATOR_PROMPT = "user_simulator"  # the simulated user's prompt name (simulator.py)
SIMULATOR_VARIABLES = frozenset({"goal", "persona", "conversation"})


def _simulator_template(path: Path, where: str) -> PromptTemplate:
    """The suite's prompt for the simulated user: it may use only the simulator's variables."""
    template = PromptTemplate.from_file(SIMULATOR_PROMPT, path)
    unknown = template.variables - SIMULATOR_VARIABLES
    if unknown:
        raise PromptError(
            f"{where}: prompt for {SIMULATOR_PROMPT!r} ({path}) uses unknown variable(s) "
            f"{', '.join(sorted(unknown))}; it may use {', '.join(sorted(SIMULATOR_VARIABLES))}"
        )
    return template


def _factories() -> dict[str, Factory]:
    """Built-in judge name -> factory, from the catalog (``judge_catalog.BUILTIN``)."""
    return {meta.name: _factory(meta) for meta in BUILTIN}


def _for_row(judge: Judge, ctx: EvalContext) -> Judge:
    """The judge that runs on this row: a judge with ``for_row`` picks it (tool_call_correctness
    is a check on rows with expected_tool_calls, an LLM judge on the others)."""
    pick = getattr(judge, "for_row", None)
    if callable(pick):
        chosen: Judge = pick(ctx)
        return chosen
    return judge


def _not_applicable(judge: Judge, reason: str) -> Assessment:
    return Assessment(
        name=judge.name, judge=judge.name, kind=judge.kind, skipped=f"{NOT_APPLICABLE}: {reason}"
    )


@dataclass
class JudgeSet:
    """The judges of one suite and the rule that picks them per row.

    ``include`` None means the default selection (each judge's ``applies``); an explicit list runs
    exactly those judges, and a judge lacking its inputs gives a "not applicable" assessment.
    ``extra`` (custom judges, suite checks) and ``row_checks`` (per-row checks by request_id)
    always run, after the built-ins. LLM judges named in ``panels`` run as a panel; with
    ``repeat`` > 1 every other LLM judge runs ``repeat`` samples on the default judge, aggregated
    with ``repeat_rule``.
    """

    judges: list[Judge]
    explicit: bool = False
    extra: list[Judge] = field(default_factory=list)  # custom judges and checks: always chosen
    row_checks: dict[str, list[Judge]] = field(default_factory=dict)
    panels: dict[str, PanelSpec] = field(default_factory=dict)
    repeat: int = 1
    repeat_rule: Aggregate = "majority"
    repeat_k: int | None = None  # pass_at_k / pass_hat_k draw size (None: every returned vote)
    # the suite's prompt for the simulated user (``prompts: {user_simulator: file}``); None: built in
    simulator_template: PromptTemplate | None = None

    @classmethod
    def build(
        cls,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        prompts: Mapping[str, Path] | None = None,
        where: str = "judges",
        *,
        custom: Sequence[Judge] = (),
        checks: Sequence[Judge] = (),
        panels: Mapping[str, PanelSpec | Mapping[str, Any]] | None = None,
        repeat: int = 1,
        repeat_rule: str = "majority",
        repeat_k: int | None = None,
        origin: str | None = None,
        options: Mapping[str, Any] | None = None,
        prompt_edits: Mapping[str, Callable[[PromptTemplate], PromptTemplate]] | None = None,
    ) -> JudgeSet:
        """Build a judge set; ``custom`` / ``checks`` are ready judges (see ``llm_judge``,
        ``python_judge``, ``parse_checks``). Raises ``UnknownJudgeError``, ``PromptError`` or
        ``JudgeConfigError`` (panels, repeat, duplicate names); ``origin`` (the suite file)
        prefixes the messages of the latter. ``options``: parsed suite settings by suite key,
        for the built-in judges that take one (``tool_call_match``)."""
        origin = origin or where
        factories = _factories()
        prompts = dict(prompts or {})
        simulator_path = prompts.pop(SIMULATOR_PROMPT, None)
        simulator_template = (
            _simulator_template(simulator_path, where) if simulator_path is not None else None
        )
        names = list(include) if include is not None else list(BUILTIN_JUDGES)
        for name in [*names, *exclude]:
            if name not in factories:
                raise UnknownJudgeError(
                    f"{where}: unknown judge {name!r}; built-in judges: {', '.join(BUILTIN_JUDGES)}"
                )
        for name in prompts or {}:
            if name not in factories:
                raise UnknownJudgeError(f"{where}: prompt override for unknown judge {name!r}")
            meta = builtin(name)
            if meta is not None and not meta.takes_prompt:
                raise UnknownJudgeError(f"{where}: {name} asks no LLM and takes no prompt")
        for name in prompt_edits or {}:
            meta = builtin(name)
            if meta is None or not meta.takes_prompt:
                raise UnknownJudgeError(f"{where}: examples for {name!r}: not a built-in LLM judge")
        judges = []
        for name in names:
            if name in exclude:
                continue
            path = (prompts or {}).get(name)
            template = PromptTemplate.from_file(name, path) if path else None
            edit = (prompt_edits or {}).get(name)
            if edit is not None:  # few-shot examples (few_shot.py): on the prompt in use
                current = getattr(factories[name](template, options or {}), "template", None)
                template = edit(current) if isinstance(current, PromptTemplate) else template
            judges.append(factories[name](template, options or {}))
        seen = set(BUILTIN_JUDGES)
        for judge in [*custom, *checks]:
            if judge.name in seen:
                raise JudgeConfigError(
                    f"{origin}: the name {judge.name!r} is already used by another judge or check"
                )
            seen.add(judge.name)
        llm_names = {j.name for j in BUILTIN if j.takes_prompt} | {
            j.name for j in custom if j.kind == "llm"
        }
        parsed_panels: dict[str, PanelSpec] = {}
        for name, spec in (panels or {}).items():
            at = Where(origin, f"panels.{name}")
            if name not in llm_names:
                raise at.error(
                    None,
                    "panels apply to LLM judges: a built-in LLM judge or a custom LLM judge "
                    f"(not {name!r})",
                )
            parsed_panels[name] = parse_panel(spec, at)
        result = cls(
            judges=judges,
            explicit=include is not None,
            extra=[*custom, *checks],
            panels=parsed_panels,
            simulator_template=simulator_template,
        )
        return result.with_repeat(repeat, repeat_rule, origin=origin, k=repeat_k)

    def with_repeat(
        self,
        repeat: int,
        rule: str = "majority",
        *,
        origin: str = "--genai-repeat",
        k: int | None = None,
    ) -> JudgeSet:
        """A copy in which every LLM judge without a panel runs ``repeat`` samples on the default
        judge, aggregated with ``rule`` (majority | all | any). ``repeat=1`` turns repeats off.
        Raises ``JudgeConfigError`` naming ``origin`` for an invalid value."""
        if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
            raise JudgeConfigError(f"{origin}: repeat: expected a positive integer, got {repeat!r}")
        if rule not in AGGREGATES:
            raise JudgeConfigError(
                f"{origin}: repeat_rule: expected one of {', '.join(AGGREGATES)}, got {rule!r}"
            )
        aggregate: Aggregate = rule
        repeat_k = parse_k(k, aggregate, repeat, Where(origin, "repeat_k"), "") if repeat > 1 else k
        return dataclasses.replace(self, repeat=repeat, repeat_rule=aggregate, repeat_k=repeat_k)

    # ---- per-row checks --------------------------------------------------------------------------
    def attach_row_checks(self, rows: Sequence[Row], base_dir: Path | None = None) -> None:
        """Parse each row's ``checks`` column; errors name the row's location and the field."""
        for row in rows:
            if "checks" in row.extra and row.extra["checks"] is not None:
                self.row_checks[row.request_id] = self._parse_row_checks(row, base_dir)

    def _parse_row_checks(self, row: Row, base_dir: Path | None) -> list[Judge]:
        taken = {*BUILTIN_JUDGES, *(j.name for j in self.extra)}
        where = Where(row.location or row.request_id, "checks", row=True)
        return list(parse_checks(row.extra["checks"], where, taken=taken, base_dir=base_dir))

    def _checks_for(self, row: Row) -> tuple[list[Judge], list[Assessment]]:
        if row.request_id in self.row_checks:
            return self.row_checks[row.request_id], []
        if row.extra.get("checks") is None:
            return [], []
        try:
            return self._parse_row_checks(row, None), []
        except JudgeConfigError as exc:
            return [], [Assessment(name="checks", judge="checks", kind="check", error=str(exc))]

    # ---- selection ------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [j.name for j in self.judges] + [j.name for j in self.extra]

    def _wrap(self, judge: Judge) -> Judge:
        if judge.kind != "llm" or isinstance(judge, Panel):
            return judge
        spec = self.panels.get(judge.name)
        if spec is not None:
            return Panel(judge, spec)
        if self.repeat > 1:
            return Panel(
                judge, PanelSpec(samples=self.repeat, aggregate=self.repeat_rule, k=self.repeat_k)
            )
        return judge

    def plan(self, ctx: EvalContext) -> tuple[list[Judge], list[Assessment]]:
        """Judges to run on this row, and "not applicable" assessments for chosen judges that
        lack their inputs."""
        run: list[Judge] = []
        not_applicable: list[Assessment] = []
        row_checks, broken = self._checks_for(ctx.row)
        always = [*self.extra, *row_checks]
        for judge in self.judges:
            if not (self.explicit or judge.applies(ctx)):
                continue
            reason = judge.missing(ctx)
            if reason is None:
                run.append(self._wrap(_for_row(judge, ctx)))
            elif self.explicit:
                not_applicable.append(_not_applicable(judge, reason))
        for judge in always:
            reason = judge.missing(ctx)
            if reason is None:
                run.append(self._wrap(judge))
            else:
                not_applicable.append(_not_applicable(judge, reason))
        return run, [*broken, *not_applicable]

    def prompt_versions(self) -> dict[str, str]:
        out = {}
        for judge in [*self.judges, *self.extra]:
            template = getattr(judge, "template", None)
            if isinstance(template, PromptTemplate):
                out[judge.name] = template.version
        return out

    def describe(self) -> dict[str, Any]:
        """The custom judges, checks, panels and repeat setting, for the results artifact."""

        def of(judge: Judge) -> dict[str, Any]:
            describe = getattr(judge, "describe", None)
            return describe() if callable(describe) else {"name": judge.name, "kind": judge.kind}

        return {
            "custom_judges": [of(j) for j in self.extra if j.kind != "check"],
            "checks": [of(j) for j in self.extra if j.kind == "check"],
            "row_check_count": sum(len(v) for v in self.row_checks.values()),
            "panels": {name: spec.describe() for name, spec in self.panels.items()},
            "repeat": {"samples": self.repeat, "rule": self.repeat_rule}
            | ({"k": self.repeat_k} if self.repeat_k is not None else {}),
        }
