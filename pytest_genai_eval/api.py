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
    judges: Sequence[str] | None = None,
    exclude_judges: Sequence[str] = (),
    global_guidelines: Sequence[str] = (),
    thresholds: Mapping[str, Any] | None = None,
    prompts: Mapping[str, str | Path] | None = None,
) -> Callable[[F], F]:
    """Parametrize a test over the rows of an evaluation set.

    ``data`` is a file path (relative to the test module), a pandas DataFrame or a list of dicts;
    ``app`` an import string, a callable, or a mapping (see README); each row becomes one item,
    evaluated concurrently by the engine. The test receives ``genai_row`` (the row) and/or
    ``genai_result`` (its evaluated result) and may assert more; the row's judges are checked
    after the test body returns.
    """
    marker = pytest.mark.genai_eval(
        data=data,
        app=app,
        name=name,
        judges=judges,
        exclude_judges=exclude_judges,
        global_guidelines=global_guidelines,
        thresholds=thresholds,
        prompts=prompts,
    )

    def decorate(fn: F) -> F:
        return marker(fn)  # type: ignore[no-any-return]

    return decorate
