"""Evaluation sets in other tools' formats, converted to this plugin's rows.

The suite key ``format`` names one of :data:`FORMATS`; without it a file whose rows have none of
this plugin's columns (``request``, ``inputs``, ``turns``, ``goal``) is recognized by its shape
(:func:`detect`). One module per tool; each exposes ``looks_like(raw)`` and
``convert(entries, source) -> Imported``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import deepeval, mlflow_traces, openai_evals, otel, promptfoo, ragas
from .base import Entry, FormatWarning, Imported

__all__ = ["FORMATS", "Entry", "FormatWarning", "Imported", "convert", "detect", "is_document"]

Converter = Callable[[list[Entry], str], Imported]

# name -> (looks_like, convert), in the order detection tries them
FORMATS: Mapping[str, tuple[Callable[[Mapping[str, Any]], bool], Converter]] = {
    "otel": (otel.looks_like, otel.convert),
    "mlflow_traces": (mlflow_traces.looks_like, mlflow_traces.convert),
    "promptfoo": (promptfoo.looks_like, promptfoo.convert),
    "ragas": (ragas.looks_like, ragas.convert),
    "openai_evals": (openai_evals.looks_like, openai_evals.convert),
    "deepeval": (deepeval.looks_like, deepeval.convert),
}
# Columns that mark a row of this plugin's own schema: never converted unless `format` says so.
_OWN_COLUMNS = ("request", "inputs", "turns", "goal")


def detect(entries: Sequence[Entry]) -> str | None:
    """The format the first row's shape names, or None for this plugin's own schema."""
    first = next((raw for _, raw in entries if isinstance(raw, Mapping)), None)
    if first is None or any(key in first for key in _OWN_COLUMNS):
        return None
    for name, (looks_like, _) in FORMATS.items():
        if looks_like(first):
            return name
    return None


def is_document(document: Any) -> bool:
    """A whole file that is one importable document (an OTLP export, a promptfoo config, one
    MLflow trace) rather than a list of rows."""
    return isinstance(document, Mapping) and (
        otel.looks_like(document)
        or mlflow_traces.looks_like(document)
        or isinstance(document.get("tests"), list)
    )


def convert(name: str, entries: list[Entry], source: str) -> Imported:
    return FORMATS[name][1](entries, source)
