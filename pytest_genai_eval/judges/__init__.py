"""Judge registry and selection."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..results import Assessment
from .base import (
    EvalContext,
    Judge,
    JudgeAnswer,
    JudgeRunner,
    JudgeUnavailable,
    PromptError,
    PromptTemplate,
)
from .correctness import Correctness
from .guidelines import GlobalGuidelineAdherence, GuidelineAdherence

__all__ = [
    "BUILTIN_JUDGES",
    "EvalContext",
    "Judge",
    "JudgeAnswer",
    "JudgeRunner",
    "JudgeSet",
    "JudgeUnavailable",
    "PromptError",
    "PromptTemplate",
    "UnknownJudgeError",
]


class UnknownJudgeError(ValueError):
    pass


def _factories() -> dict[str, Callable[[PromptTemplate | None], Judge]]:
    def correctness(t: PromptTemplate | None) -> Judge:
        return Correctness(template=t) if t else Correctness()

    def guideline(t: PromptTemplate | None) -> Judge:
        return GuidelineAdherence(template=t) if t else GuidelineAdherence()

    def global_guideline(t: PromptTemplate | None) -> Judge:
        return GlobalGuidelineAdherence(template=t) if t else GlobalGuidelineAdherence()

    return {
        "correctness": correctness,
        "guideline_adherence": guideline,
        "global_guideline_adherence": global_guideline,
    }


BUILTIN_JUDGES: tuple[str, ...] = (
    "correctness",
    "guideline_adherence",
    "global_guideline_adherence",
)


@dataclass
class JudgeSet:
    """The judges of one suite and the rule that picks them per row.

    ``include`` None means the default selection (each judge's ``applies``); an explicit list runs
    exactly those judges, and a judge lacking its inputs gives a "not applicable" assessment.
    """

    judges: list[Judge]
    explicit: bool = False
    extra: list[Judge] = field(default_factory=list)  # custom judges and checks: always chosen

    @classmethod
    def build(
        cls,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        prompts: Mapping[str, Path] | None = None,
        where: str = "judges",
    ) -> JudgeSet:
        factories = _factories()
        names = list(include) if include is not None else list(BUILTIN_JUDGES)
        for name in [*names, *exclude]:
            if name not in factories:
                raise UnknownJudgeError(
                    f"{where}: unknown judge {name!r}; built-in judges: {', '.join(BUILTIN_JUDGES)}"
                )
        for name in prompts or {}:
            if name not in factories:
                raise UnknownJudgeError(f"{where}: prompt override for unknown judge {name!r}")
        judges = []
        for name in names:
            if name in exclude:
                continue
            path = (prompts or {}).get(name)
            template = PromptTemplate.from_file(name, path) if path else None
            judges.append(factories[name](template))
        return cls(judges=judges, explicit=include is not None)

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.judges] + [j.name for j in self.extra]

    def plan(self, ctx: EvalContext) -> tuple[list[Judge], list[Assessment]]:
        """Judges to run on this row, and "not applicable" assessments for chosen judges that
        lack their inputs."""
        run: list[Judge] = []
        not_applicable: list[Assessment] = []
        for judge in [*self.judges, *self.extra]:
            chosen = self.explicit or judge in self.extra or judge.applies(ctx)
            if not chosen:
                continue
            reason = judge.missing(ctx)
            if reason is None:
                run.append(judge)
            elif self.explicit or judge in self.extra:
                not_applicable.append(
                    Assessment(
                        name=judge.name,
                        judge=judge.name,
                        kind=judge.kind,
                        skipped=f"not applicable: {reason}",
                    )
                )
        return run, not_applicable

    def prompt_versions(self) -> dict[str, str]:
        out = {}
        for judge in [*self.judges, *self.extra]:
            template = getattr(judge, "template", None)
            if isinstance(template, PromptTemplate):
                out[judge.name] = template.version
        return out
