"""The exceptions users catch. Every error the plugin raises derives from :class:`GenAIEvalError`;
the four categories below are what a caller usually tells apart.

* :class:`ConfigurationError` - settings, suite files, thresholds, judge or check declarations.
* :class:`EvaluationSetError` - an evaluation set that cannot be loaded (``evalset.EvalSetError``
  is its concrete class, listing every problem with file, row and field).
* :class:`JudgeError` - a judge call that failed for good (``llm.LLMError`` and its subclasses).
* :class:`AppError` - the application under test failed on a row (``targets.AppCallError``).
* :class:`ArtifactError` - a results artifact or baseline that cannot be read or written.

The concrete classes keep ``ValueError`` as a second base where they always had it.
"""

from __future__ import annotations

__all__ = [
    "AppError",
    "ArtifactError",
    "ConfigurationError",
    "EvaluationSetError",
    "GenAIEvalError",
    "JudgeError",
]


class GenAIEvalError(Exception):
    """The base of every pytest-genai-eval error."""


class ConfigurationError(GenAIEvalError):
    """A setting, suite file, threshold or judge declaration is invalid."""


class EvaluationSetError(GenAIEvalError):
    """An evaluation set cannot be loaded."""


class JudgeError(GenAIEvalError):
    """A judge could not give a verdict (after its retries)."""


class AppError(GenAIEvalError):
    """The application under test failed on a row."""


class ArtifactError(GenAIEvalError):
    """A results artifact is missing or malformed; the message names the file and the problem."""
