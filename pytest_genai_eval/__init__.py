"""pytest-genai-eval: regression-gate GenAI applications with pytest."""

from __future__ import annotations

from .api import evaluate
from .evalset import EvalSetError, Row, RowIssue, load_rows
from .fixtures import GenAIJudge, Judged
from .results import Assessment, RowResult, TokenUsage

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "EvalSetError",
    "GenAIJudge",
    "Judged",
    "Row",
    "RowIssue",
    "RowResult",
    "TokenUsage",
    "__version__",
    "evaluate",
    "load_rows",
]
