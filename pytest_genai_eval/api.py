"""The Python API: a decorator that turns a test function into a suite, one item per row."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

F = TypeVar("F", bound=Callable[..., Any])

MARKER = "genai_eval"


def evaluate(
    data: Any,
    *,
    app: Any = None,
    name: str | None = None,
    description: str | None = None,
    judges: Sequence[str] | None = None,
    exclude_judges: Sequence[str] = (),
    global_guidelines: Sequence[str] = (),
    thresholds: Mapping[str, Any] | None = None,
    prompts: Mapping[str, str | Path] | None = None,
    custom_judges: Sequence[Any] | None = None,
    checks: Sequence[Mapping[str, Any]] | None = None,
    panels: Mapping[str, Any] | None = None,
    repeat: int | None = None,
    repeat_rule: str | None = None,
    repeat_k: int | None = None,
    judge_examples: Mapping[str, str | Path] | None = None,
    allow_empty: bool = False,
    tool_call_match: Mapping[str, Any] | None = None,
    format: str | None = None,
    transform: Any = None,
    columns: Mapping[str, str] | None = None,
    labels: str | Path | Mapping[str, Any] | None = None,
    cluster: str | None = None,
) -> Callable[[F], F]:
    """Parametrize a test over the rows of an evaluation set.

    ``data`` is a file path (relative to the test module), a pandas DataFrame or a list of dicts;
    ``app`` an import string, a callable, or a mapping (see README); each row becomes one item,
    evaluated concurrently by the engine. The test receives ``genai_row`` (the row) and/or
    ``genai_result`` (its evaluated result) and may assert more; the row's judges are checked
    after the test body returns.

    ``custom_judges`` takes ``llm_judge(...)`` / ``python_judge(...)`` objects (or plain
    functions, or the suite-file dict form); ``checks`` deterministic check specs such as
    ``{"type": "regex", "pattern": "..."}``; ``panels`` judge name -> ``{"models": [...],
    "samples": N, "aggregate": "majority"}``; ``repeat`` / ``repeat_rule`` run every LLM judge
    several times (see docs/judges.md); ``tool_call_match`` how ``tool_call_correctness``
    compares tool calls with ``expected_tool_calls`` (``{"trajectory": "superset", "arguments":
    "subset", "tools": {"search_docs": {"arguments": "ignore"}}}``); ``labels`` a human labels
    file (or ``{"file": ..., "use": "compare"}``); ``cluster`` the column that clusters rows for
    the standard errors; ``format`` / ``transform`` / ``columns`` read another tool's set or
    map a third-party set's fields (README, "Other formats"). An empty evaluation set is
    an error unless ``allow_empty=True``. The arguments are ``suite.SUITE_KEYS`` (all but the
    file-only ``rows``), as in a suite file.
    """
    optional: dict[str, Any] = {
        "custom_judges": list(custom_judges) if custom_judges is not None else None,
        "checks": list(checks) if checks is not None else None,
        "panels": panels,
        "repeat": repeat,
        "repeat_rule": repeat_rule,
        "repeat_k": repeat_k,
        "judge_examples": judge_examples,
        "allow_empty": allow_empty or None,
        "description": description,
        "tool_call_match": tool_call_match,
        "format": format,
        "transform": transform,
        "columns": columns,
        "labels": labels,
        "cluster": cluster,
    }
    marker = pytest.mark.genai_eval(
        data=data,
        app=app,
        name=name,
        judges=judges,
        exclude_judges=exclude_judges,
        global_guidelines=global_guidelines,
        thresholds=thresholds,
        prompts=prompts,
        # only what was given, so a plain decorator stays valid for any plugin version
        **{key: value for key, value in optional.items() if value is not None},
    )

    def decorate(fn: F) -> F:
        return marker(fn)  # type: ignore[no-any-return]

    return decorate
