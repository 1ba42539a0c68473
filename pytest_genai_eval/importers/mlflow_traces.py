"""Production logs: rows from MLflow traces, as ``Trace.to_dict()`` / ``Trace.to_json()`` write
them (a JSON list of traces, one trace, or JSONL with one per line).

A trace ``{"info": {...}, "data": {"spans": [...]}}`` gives one row in the MLflow 3 form: the
root span's inputs and outputs (``mlflow.spanInputs`` / ``mlflow.spanOutputs``, else the trace's
``mlflow.traceInputs`` / ``mlflow.traceOutputs``), its expectation assessments as
``expectations`` (``expected_response``, ``expected_facts``, ...), and its trace id as
``request_id`` and ``trace_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..evalset import RowIssue
from .base import Entry, Imported, decoded_json

__all__ = ["convert", "looks_like"]


def looks_like(raw: Mapping[str, Any]) -> bool:
    info, data = raw.get("info"), raw.get("data")
    return isinstance(info, Mapping) and isinstance(data, Mapping) and "spans" in data


def _root(spans: list[Any]) -> Mapping[str, Any] | None:
    for span in spans:
        if isinstance(span, Mapping) and not span.get("parent_span_id") and not span.get(
            "parentSpanId"
        ):
            return span
    return None


def convert(entries: list[Entry], source: str) -> Imported:
    out = Imported()
    for location, raw in entries:
        if not isinstance(raw, Mapping) or not looks_like(raw):
            out.issues.append(RowIssue(source, location, None,
                                       "expected an MLflow trace {info, data: {spans}}"))
            continue
        info: Mapping[str, Any] = raw["info"]
        trace_id = info.get("trace_id") or info.get("request_id")
        metadata = info.get("trace_metadata") or info.get("request_metadata") or {}
        root = _root(list(raw["data"].get("spans") or []))
        attributes = root.get("attributes", {}) if root is not None else {}
        inputs = decoded_json(attributes.get("mlflow.spanInputs", metadata.get("mlflow.traceInputs")))
        outputs = decoded_json(
            attributes.get("mlflow.spanOutputs", metadata.get("mlflow.traceOutputs"))
        )
        if inputs is None:
            out.issues.append(RowIssue(source, location, "info",
                                       f"trace {trace_id}: its root span has no inputs"))
            continue
        row: dict[str, Any] = {
            "request_id": trace_id,
            "trace_id": trace_id,
            "inputs": inputs if isinstance(inputs, Mapping) else {"request": inputs},
        }
        if outputs is not None:
            row["outputs"] = outputs
        expectations = {
            a.get("assessment_name") or a.get("name"): a["expectation"].get("value")
            for a in info.get("assessments") or []
            if isinstance(a, Mapping) and isinstance(a.get("expectation"), Mapping)
        }
        if expectations:
            row["expectations"] = expectations
        out.entries.append((location, row))
    return out
