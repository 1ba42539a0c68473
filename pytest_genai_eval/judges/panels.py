"""Judge panels and repeats: one LLM judge asked by several judge models and/or several times,
the votes aggregated with a declared rule (majority, all, any; see ``voting``).

Suite file::

    panels:
      correctness:
        models: [gpt-4o, gpt-4o-mini]          # same base URL (and key) as the default judge
        endpoints:                              # and/or other endpoints
          - {base_url: "http://host:8000/v1", model: llama3, api_key_env: LLAMA_KEY}
        samples: 3                              # asks per member (default 1)
        aggregate: majority                     # majority | all | any | pass_at_k | pass_hat_k
        k: 2                                    # pass_at_k / pass_hat_k draw size (default: all)
    repeat: 3                                   # every other LLM judge: 3 samples, default judge
    repeat_rule: majority                       # majority | all | any | pass_at_k | pass_hat_k
    repeat_k: 2                                 # pass_at_k / pass_hat_k draw size

The aggregated assessment keeps the judge's name. ``details["votes"]`` lists every vote
``{model, sample, rating, rationale, error}``; ``details["agreement"]`` is the share of the
returned votes that agree with the final rating; ``details["flaky"]`` is True when the returned
votes disagree; ``details["flake_rate"]`` is the share of the returned votes that disagree with
the majority; under ``pass_at_k`` / ``pass_hat_k`` ``details["k"]`` is the draw size and
``details["pass_at_k"]`` / ``details["pass_hat_k"]`` the unbiased estimate. ``model`` is the members' models joined by ","; ``usage`` is summed over votes
(and, with several models, ``details["usage_by_model"]`` splits it by model).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..results import Assessment, AssessmentKind
from .base import (
    EvalContext,
    Judge,
    JudgeAnswer,
    JudgeRunner,
    JudgeUnavailable,
    PromptTemplate,
    Where,
    joined_models,
    sum_usage,
)
from .voting import AGGREGATES, SAMPLING_RULES, Aggregate, aggregate_ratings

if TYPE_CHECKING:
    from ..llm import EndpointSettings


@dataclass(frozen=True)
class PanelMember:
    """One judge of a panel. ``model`` None means the default judge's model; ``base_url`` None
    means the default judge's base URL (and API key)."""

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None

    def label(self, default: EndpointSettings | None) -> str:
        if self.model:
            return self.model
        return default.model if default is not None else "default"

    def resolve(self, default: EndpointSettings | None) -> EndpointSettings | None:
        """The endpoint to ask (None: the runner's default). Raises ``JudgeUnavailable`` when
        the member needs the default judge and none is configured, ``_VoteError`` when its API key
        variable is not set."""
        from ..llm import EndpointSettings, Secret

        if self.base_url is None and self.model is None:
            return None
        if self.base_url is None:
            if default is None:
                raise JudgeUnavailable(
                    f"panel model {self.model!r} uses the default judge's base URL, "
                    "but no judge endpoint is configured"
                )
            return dataclasses.replace(default, model=self.model or default.model)
        key: Secret | None = None
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if not value:
                raise _VoteError(f"environment variable {self.api_key_env} is not set")
            key = Secret(value)
        model = self.model or (default.model if default is not None else "")
        if default is not None:
            return dataclasses.replace(default, base_url=self.base_url, model=model, api_key=key)
        return EndpointSettings(base_url=self.base_url, model=model, api_key=key)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model}
        if self.base_url is not None:
            out["base_url"] = self.base_url
        if self.api_key_env is not None:
            out["api_key_env"] = self.api_key_env
        return out


@dataclass(frozen=True)
class PanelSpec:
    members: tuple[PanelMember, ...] = ()  # empty: the default judge only
    samples: int = 1
    aggregate: Aggregate = "majority"
    k: int | None = None  # pass_at_k / pass_hat_k draw size (None: every returned vote)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "members": [m.describe() for m in self.members] or [{"model": None}],
            "samples": self.samples,
            "aggregate": self.aggregate,
        }
        if self.k is not None:
            out["k"] = self.k
        return out


class _VoteError(Exception):
    pass


class _BoundRunner:
    """A runner that sends every question of one vote to one endpoint, as one sample."""

    def __init__(self, runner: JudgeRunner, endpoint: EndpointSettings | None, sample: int) -> None:
        self._runner = runner
        self._endpoint = endpoint
        self._sample = sample

    @property
    def default(self) -> EndpointSettings | None:
        return self._runner.default

    async def ask(
        self,
        template: PromptTemplate,
        variables: Mapping[str, str],
        schema: Mapping[str, Any],
        *,
        judge: str,
        endpoint: EndpointSettings | None = None,
        sample: int = 0,
    ) -> JudgeAnswer:
        return await self._runner.ask(
            template,
            variables,
            schema,
            judge=judge,
            endpoint=self._endpoint,
            sample=self._sample,
        )


@dataclass
class _Vote:
    model: str
    sample: int
    assessments: list[Assessment]
    failure: str | None = None  # the vote could not be cast at all
    skipped: bool = False

    def for_name(self, name: str, judge: str, kind: AssessmentKind) -> Assessment:
        for a in self.assessments:
            if a.name == name:
                return a
        placeholder = Assessment(name=name, judge=judge, kind=kind)
        if self.skipped:
            placeholder.skipped = self.failure or "not run"
        else:
            placeholder.error = self.failure or "no verdict"
        return placeholder


@dataclass
class Panel:
    """Wraps an LLM judge: runs it once per (member, sample) and aggregates per assessment."""

    inner: Judge
    spec: PanelSpec
    name: str = field(init=False)
    kind: AssessmentKind = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name
        self.kind = self.inner.kind

    @property
    def template(self) -> PromptTemplate | None:
        template = getattr(self.inner, "template", None)
        return template if isinstance(template, PromptTemplate) else None

    def applies(self, ctx: EvalContext) -> bool:
        return self.inner.applies(ctx)

    def missing(self, ctx: EvalContext) -> str | None:
        return self.inner.missing(ctx)

    async def _vote(
        self, ctx: EvalContext, runner: JudgeRunner, member: PanelMember, sample: int
    ) -> _Vote:
        label = member.label(runner.default)
        try:
            endpoint = member.resolve(runner.default)
        except JudgeUnavailable as exc:
            return _Vote(label, sample, [], failure=str(exc), skipped=True)
        except _VoteError as exc:
            return _Vote(label, sample, [], failure=str(exc))
        assessments = await self.inner.run(ctx, _BoundRunner(runner, endpoint, sample))
        return _Vote(label, sample, assessments)

    async def run(self, ctx: EvalContext, runner: JudgeRunner) -> list[Assessment]:
        members = self.spec.members or (PanelMember(),)
        slots = [(m, s) for m in members for s in range(self.spec.samples)]
        votes = list(await asyncio.gather(*(self._vote(ctx, runner, m, s) for m, s in slots)))
        names: list[str] = []
        judges: dict[str, str] = {}
        for vote in votes:
            for a in vote.assessments:
                if a.name not in judges:
                    names.append(a.name)
                    judges[a.name] = a.judge
        if not names:
            names, judges = [self.name], {self.name: self.name}
        return [self._combine(name, judges[name], votes) for name in names]

    def _combine(self, name: str, judge: str, votes: Sequence[_Vote]) -> Assessment:
        ballots = [v.for_name(name, judge, self.kind) for v in votes]
        rule = self.spec.aggregate
        template = self.template
        result = Assessment(
            name=name,
            judge=judge,
            kind=self.kind,
            model=joined_models([v.model for v in votes]),
            prompt_version=next(
                (b.prompt_version for b in ballots if b.prompt_version),
                template.version if template else None,
            ),
            usage=sum_usage([b.usage for b in ballots]),
            latency_seconds=max((b.latency_seconds for b in ballots), default=0.0),
            cached=all(b.cached for b in ballots),
        )
        result.details["votes"] = [
            {
                "model": vote.model,
                "sample": vote.sample,
                "rating": ballot.rating,
                "rationale": ballot.rationale,
                "error": ballot.error or (f"not run: {ballot.skipped}" if ballot.skipped else None),
            }
            for vote, ballot in zip(votes, ballots, strict=True)
        ]
        result.details["aggregate"] = rule
        by_model: dict[str, dict[str, int]] = {}  # several models: cost.py prices each one's tokens
        for vote, ballot in zip(votes, ballots, strict=True):
            used = by_model.setdefault(ballot.model or vote.model, {})
            for key, count in ballot.usage.to_dict().items():
                used[key] = used.get(key, 0) + count
        if len(by_model) > 1:
            result.details["usage_by_model"] = by_model
        if all(b.skipped for b in ballots):
            result.skipped = ballots[0].skipped
            result.details["agreement"] = None
            result.details["flaky"] = False
            return result
        tally = aggregate_ratings([b.rating for b in ballots], rule, self.spec.k)
        result.details["flake_rate"] = tally.flake_rate
        if rule in SAMPLING_RULES:
            result.details["k"] = tally.k
            result.details[rule] = tally.estimate
        if tally.rating is None:
            first = next((b.error or b.skipped for b in ballots if b.rating is None), None)
            result.error = (tally.error or "no verdict") + (
                f"; first failure: {first}" if first else ""
            )
        else:
            result.rating = tally.rating
            agreeing = next((b for b in ballots if b.rating == tally.rating and b.rationale), None)
            result.rationale = tally.summary + (f". {agreeing.rationale}" if agreeing else "")
            values = [b.value for b in ballots if b.rating is not None and b.value is not None]
            if values:
                result.value = sum(values) / len(values)
        result.details["flaky"] = tally.split
        refine = getattr(self.inner, "refine_panel", None)
        if callable(refine):
            refine(result, ballots, rule)
        returned = [b for b in ballots if b.rating is not None]
        if result.rating is not None and returned:
            agree = sum(1 for b in returned if b.rating == result.rating)
            result.details["agreement"] = agree / len(returned)
        else:
            result.details["agreement"] = None
        return result


# ---- parsing ------------------------------------------------------------------------------------


def _positive_int(value: Any, where: Where, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise where.error(key, f"expected a positive integer, got {value!r}")
    return value


def parse_aggregate(value: Any, where: Where, key: str) -> Aggregate:
    if value not in AGGREGATES:
        raise where.error(key, f"expected one of {', '.join(AGGREGATES)}, got {value!r}")
    aggregate: Aggregate = value
    return aggregate


def parse_k(value: Any, aggregate: Aggregate, votes: int, where: Where, key: str) -> int | None:
    """The draw size of ``pass_at_k`` / ``pass_hat_k``: None (every returned vote) or 1..votes."""
    if value is None:
        return None
    k = _positive_int(value, where, key)
    if aggregate not in SAMPLING_RULES:
        raise where.error(key, f"applies to {' and '.join(SAMPLING_RULES)}, not {aggregate!r}")
    if k > votes:
        raise where.error(key, f"k={k} is more than the {votes} vote(s) asked")
    return k


def parse_repeat(value: Any, where: Where) -> int:
    return _positive_int(value, where, "repeat") if value is not None else 1


def _members(spec: Mapping[str, Any], where: Where) -> tuple[PanelMember, ...]:
    members: list[PanelMember] = []
    models = spec.get("models")
    if models is not None:
        if isinstance(models, str) or not isinstance(models, Sequence) or not models:
            raise where.error("models", f"expected a non-empty list of model names, got {models!r}")
        for i, model in enumerate(models):
            if not isinstance(model, str) or not model.strip():
                raise where.error(f"models[{i}]", f"expected a model name, got {model!r}")
            members.append(PanelMember(model=model))
    endpoints = spec.get("endpoints")
    if endpoints is not None:
        if isinstance(endpoints, str) or not isinstance(endpoints, Sequence) or not endpoints:
            raise where.error(
                "endpoints", "expected a non-empty list of {base_url, model, api_key_env}"
            )
        for i, item in enumerate(endpoints):
            at = f"endpoints[{i}]"
            if not isinstance(item, Mapping):
                raise where.error(at, f"expected a mapping, got {type(item).__name__}")
            unknown = sorted(set(map(str, item)) - {"base_url", "model", "api_key_env"})
            if unknown:
                raise where.error(
                    f"{at}.{unknown[0]}", "unknown field; fields: base_url, model, api_key_env"
                )
            for key in ("base_url", "model"):
                if not isinstance(item.get(key), str) or not item[key].strip():
                    raise where.error(
                        f"{at}.{key}", f"expected a non-empty string, got {item.get(key)!r}"
                    )
            if not str(item["base_url"]).startswith(("http://", "https://")):
                raise where.error(
                    f"{at}.base_url", f"expected an http(s) URL, got {item['base_url']!r}"
                )
            env = item.get("api_key_env")
            if env is not None and (not isinstance(env, str) or not env):
                raise where.error(f"{at}.api_key_env", f"expected a variable name, got {env!r}")
            members.append(
                PanelMember(model=item["model"], base_url=item["base_url"], api_key_env=env)
            )
    return tuple(members)


def parse_panel(spec: Any, where: Where) -> PanelSpec:
    if isinstance(spec, PanelSpec):
        return spec
    if not isinstance(spec, Mapping):
        raise where.error(
            None, f"expected a mapping of models/endpoints/samples/aggregate, got {spec!r}"
        )
    unknown = sorted(set(map(str, spec)) - {"models", "endpoints", "samples", "aggregate", "k"})
    if unknown:
        raise where.error(
            unknown[0], "unknown field; fields: models, endpoints, samples, aggregate, k"
        )
    members = _members(spec, where)
    samples = _positive_int(spec.get("samples", 1), where, "samples")
    aggregate = parse_aggregate(spec.get("aggregate", "majority"), where, "aggregate")
    if not members and samples == 1:
        raise where.error(None, "a panel needs models, endpoints or samples > 1")
    k = parse_k(spec.get("k"), aggregate, len(members or (None,)) * samples, where, "k")
    return PanelSpec(members=members, samples=samples, aggregate=aggregate, k=k)


def parse_panels(specs: Any, where: Where) -> dict[str, PanelSpec]:
    if specs is None:
        return {}
    if not isinstance(specs, Mapping):
        raise where.error(None, "expected a mapping of judge name -> panel")
    return {str(name): parse_panel(spec, where.item(f".{name}")) for name, spec in specs.items()}
