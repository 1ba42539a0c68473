"""Ragas single-turn samples (``EvaluationDataset.to_jsonl`` / ``to_csv`` / ``to_list``).

``user_input`` -> ``request``; ``response`` -> ``response``; ``retrieved_contexts`` ->
``retrieved_context``; ``reference`` -> ``expected_response``; ``reference_contexts`` ->
``expected_retrieved_context``. Ragas 0.1's names (``question``, ``answer``, ``contexts``,
``ground_truth``) are read too. List cells of a CSV are JSON or Python list text, as pandas writes
them. Multi-turn samples (``user_input`` a list of messages) are not supported: an error says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..evalset import RowIssue
from .base import Entry, Imported, as_list, context_chunks, extras, pick

__all__ = ["FIELDS", "convert", "looks_like"]

FIELDS: dict[str, tuple[str, ...]] = {
    "request": ("user_input", "question"),
    "response": ("response", "answer"),
    "retrieved_context": ("retrieved_contexts", "contexts"),
    "expected_response": ("reference", "ground_truth"),
    "expected_retrieved_context": ("reference_contexts",),
}


def looks_like(raw: Mapping[str, Any]) -> bool:
    return "user_input" in raw or ("question" in raw and ("contexts" in raw or "ground_truth" in raw))


def convert(entries: list[Entry], source: str) -> Imported:
    out = Imported()
    known = tuple(name for names in FIELDS.values() for name in names)
    for location, raw in entries:
        if not isinstance(raw, Mapping):
            out.issues.append(RowIssue(source, location, None, "expected a Ragas sample object"))
            continue
        request = pick(raw, *FIELDS["request"])
        if isinstance(request, list) or (
            isinstance(request, str) and request.lstrip().startswith("[{")
        ):
            out.issues.append(
                RowIssue(source, location, "user_input",
                         "multi-turn Ragas samples (a list of messages) are not supported; "
                         "give single-turn samples")
            )
            continue
        row: dict[str, Any] = extras(raw, known)
        row["request"] = request
        for target in ("response", "expected_response"):
            value = pick(raw, *FIELDS[target])
            if value is not None:
                row[target] = value
        for target in ("retrieved_context", "expected_retrieved_context"):
            value = pick(raw, *FIELDS[target])
            if value is not None:
                row[target] = context_chunks(as_list(value))
        out.entries.append((location, row))
    return out
