"""pytest-genai-eval: regression-gate GenAI applications with pytest."""

from __future__ import annotations

from .api import evaluate
from .errors import (
    AppError,
    ArtifactError,
    ConfigurationError,
    EvaluationSetError,
    GenAIEvalError,
    JudgeError,
)
from .evalset import EvalSetError, Row, RowIssue, load_rows
from .fixtures import GenAIJudge, Judged
from .judges import llm_judge, python_judge
from .results import Assessment, RowResult, TokenUsage
from .testing import Verdict

__version__ = "0.1.0"

__all__ = [
    "AppError",
    "ArtifactError",
    "Assessment",
    "ConfigurationError",
    "EvalSetError",
    "EvaluationSetError",
    "GenAIEvalError",
    "GenAIJudge",
    "JudgeError",
    "Judged",
    "Row",
    "RowIssue",
    "RowResult",
    "TokenUsage",
    "Verdict",
    "__version__",
    "evaluate",
    "llm_judge",
    "load_rows",
    "python_judge",
]
