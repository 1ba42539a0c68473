"""Extension points: judges, checks, app targets and reporters from other packages.

A package adds them through entry points; the entry point's name is what suites use.

| group | name used as | the object loaded |
|---|---|---|
| ``pytest_genai_eval.judges`` | ``judges: [name]`` | anything ``custom_judges`` accepts: a plain function of row fields returning a bool, a number (with ``threshold``), ``(bool, rationale)`` or a dict; ``python_judge(...)`` / ``llm_judge(...)`` objects; a suite-file spec dict (``{prompt: ...}``) |
| ``pytest_genai_eval.checks`` | ``checks: [{type: name, ...}]`` | a function of row fields (``response``, ``request``, ...) and of the spec's other keys, returning a bool or ``(bool, rationale)`` |
| ``pytest_genai_eval.targets`` | ``app: {type: name, ...}`` | a factory ``(spec, base_dir) -> target``: an object with ``description`` and ``async call(row)`` returning an app output (a string, a ChatCompletion dict, ...) and, optionally, ``async aclose()`` |
| ``pytest_genai_eval.reporters`` | always, after every run | a function ``(document, results, directory) -> Path | None`` writing a report next to the artifact (the document is the JSON form of ``evaluation_results.json``) |

Entry points are looked up when a suite names something that is not built in (and, for
reporters, when a run ends), so nothing is imported at start-up. A plugin that fails to load is
a configuration error naming the entry point and its package.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .evalset import Row
    from .judges.base import Judge, Where
    from .outputs import AppOutput
    from .results import RowResult

__all__ = [
    "GROUPS",
    "PluginError",
    "Reporter",
    "available",
    "plugin_check",
    "plugin_judge",
    "plugin_target",
    "reporters",
]

Kind = Literal["judges", "checks", "targets", "reporters"]
GROUPS: Mapping[Kind, str] = {
    "judges": "pytest_genai_eval.judges",
    "checks": "pytest_genai_eval.checks",
    "targets": "pytest_genai_eval.targets",
    "reporters": "pytest_genai_eval.reporters",
}

Reporter = Callable[[Mapping[str, Any], Sequence["RowResult"], Path], "Path | None"]


class PluginError(ConfigurationError, ValueError):
    """An entry point could not be loaded or gave something unusable."""


def available(kind: Kind) -> dict[str, EntryPoint]:
    """The installed entry points of one kind, by name."""
    return {ep.name: ep for ep in entry_points(group=GROUPS[kind])}


def _origin(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    package = f" (package {dist.name} {dist.version})" if dist is not None else ""
    return f"entry point {ep.name!r} = {ep.value!r} in {ep.group}{package}"


def _load(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except Exception as exc:
        raise PluginError(f"cannot load {_origin(ep)}: {type(exc).__name__}: {exc}") from None


def plugin_judge(name: str, where: Where) -> Judge | None:
    """The judge an installed package registers under ``name``, or None."""
    ep = available("judges").get(name)
    if ep is None:
        return None
    from .judges.custom import CustomLLMJudge, PythonJudge, parse_custom_judges, python_judge

    obj = _load(ep)
    try:
        if isinstance(obj, (PythonJudge, CustomLLMJudge)):
            return obj if obj.name == name else _renamed(obj, name)
        if isinstance(obj, Mapping):
            (judge,) = parse_custom_judges([{"name": name, **obj}], where, taken=set())
            return judge
        if all(hasattr(obj, attr) for attr in ("run", "applies", "missing", "kind")):
            own: Judge = obj  # a Judge of its own
            return own
        if callable(obj):
            return python_judge(obj, name=name, _where=where.item(f"[{name}]"))
    except ConfigurationError as exc:
        raise PluginError(f"{_origin(ep)}: {exc}") from None
    raise PluginError(
        f"{_origin(ep)} is a {type(obj).__name__}: expected a function, a python_judge / "
        "llm_judge object or a judge spec"
    )


def _renamed(judge: Any, name: str) -> Any:
    import dataclasses

    return dataclasses.replace(judge, name=name)


def plugin_check(kind: str, name: str, options: Mapping[str, Any], where: Where) -> Judge | None:
    """A check of an installed package's ``type``, bound to the spec's ``options``, or None."""
    ep = available("checks").get(kind)
    if ep is None:
        return None
    from .judges.custom import python_judge

    fn = _load(ep)
    if not callable(fn):
        raise PluginError(f"{_origin(ep)} is not a function")
    bound = functools.partial(fn, **options)
    for attr in ("__module__", "__name__", "__qualname__"):  # no __wrapped__: the partial's
        setattr(bound, attr, getattr(fn, attr, attr))  # own signature is what counts
    try:
        judge = python_judge(bound, name=name, _where=where)
    except ConfigurationError as exc:
        raise PluginError(f"{_origin(ep)}: {exc}") from None
    judge.kind = "check"
    return judge


@dataclass
class _PluginTarget:
    """Adapts a plugin's target: whatever its ``call`` returns is read as an app output."""

    inner: Any
    description: str

    async def call(self, row: Row) -> AppOutput:
        from .outputs import AppOutput, parse_app_output
        from .targets import AppCallError, short_traceback

        try:
            value = await self.inner.call(row)
        except Exception as exc:
            raise AppCallError(short_traceback(exc)) from exc
        if isinstance(value, AppOutput):
            return value
        try:
            return parse_app_output(value)
        except ValueError as exc:
            raise AppCallError(f"unusable app output: {exc}") from exc

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def secrets(self) -> list[str]:
        secrets = getattr(self.inner, "secrets", None)
        return list(secrets()) if callable(secrets) else []


def plugin_target(kind: str, spec: Mapping[str, Any], base_dir: Path | None, where: str) -> Any:
    """The app target of an installed package's ``type``, built from ``spec``, or None."""
    ep = available("targets").get(kind)
    if ep is None:
        return None
    factory = _load(ep)
    try:
        inner = factory(dict(spec), base_dir)
    except ConfigurationError as exc:
        raise PluginError(f"{where}: {exc}") from None
    except Exception as exc:
        raise PluginError(f"{where}: {_origin(ep)} failed: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(inner, "call", None)):
        raise PluginError(f"{where}: {_origin(ep)} gave a {type(inner).__name__} without call()")
    description = str(getattr(inner, "description", "") or f"{kind}:{ep.value}")
    return _PluginTarget(inner, description)


def reporters() -> list[tuple[str, Callable[[], Reporter]]]:
    """Every installed reporter as ``(name, load)``: loading one may raise
    :class:`PluginError`, which the caller reports without losing the run."""
    return [
        (name, functools.partial(_load, ep)) for name, ep in sorted(available("reporters").items())
    ]
