"""Production logs: rows from OpenTelemetry GenAI spans in an OTLP JSON export.

The export is ``{"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]}`` (one document, or one per
line as the collector's file exporter writes). A span is a GenAI call when it has
``gen_ai.operation.name`` or GenAI content. The prompt and completion are read, in this order,
from the attributes ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (semantic conventions
1.37+, JSON text or structured), from the span events ``gen_ai.content.prompt`` /
``gen_ai.content.completion`` (attributes ``gen_ai.prompt`` / ``gen_ai.completion``), from the
events ``gen_ai.{system,user,assistant,tool}.message`` and ``gen_ai.choice``, or from indexed
attributes ``gen_ai.prompt.N.role|content`` / ``gen_ai.completion.N.content``. Each trace gives
one row: its outermost GenAI span with content (an agent's ``invoke_agent`` span rather than the
chat calls inside it). The row keeps ``trace_id`` and ``span_id`` (extra columns; the trace id is
the row's ``request_id``), the model and the token usage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..evalset import RowIssue
from .base import Entry, Imported, decoded_json

__all__ = ["convert", "looks_like", "otlp_value"]


def looks_like(raw: Mapping[str, Any]) -> bool:
    return "resourceSpans" in raw or "resource_spans" in raw


def otlp_value(value: Any) -> Any:
    """An OTLP JSON ``AnyValue`` as a Python value."""
    if not isinstance(value, Mapping):
        return value
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])  # int64 is a JSON string in OTLP JSON
    if "arrayValue" in value:
        return [otlp_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _attributes(items: Any) -> dict[str, Any]:
    if isinstance(items, Mapping):  # already a mapping (some exporters)
        return dict(items)
    return {
        item["key"]: otlp_value(item.get("value"))
        for item in items or []
        if isinstance(item, Mapping) and "key" in item
    }


def _part_text(message: Mapping[str, Any]) -> str | None:
    """A semconv 1.37 message's text parts, or a chat message's content."""
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = [
            str(p.get("content"))
            for p in parts
            if isinstance(p, Mapping) and p.get("type") == "text" and p.get("content") is not None
        ]
        return "".join(texts) if texts else None
    content = message.get("content")
    return content if isinstance(content, str) else None


def _messages(value: Any) -> list[dict[str, Any]]:
    value = decoded_json(value)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        return []
    out = []
    for item in value:
        if isinstance(item, Mapping):
            text = _part_text(item)
            if text is not None:
                out.append({"role": str(item.get("role") or "user"), "content": text})
    return out


def _output_text(value: Any) -> str | None:
    value = decoded_json(value)
    if isinstance(value, str):
        return value
    messages = _messages(value)
    return messages[0]["content"] if messages else None


@dataclass
class _Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start: int
    end: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def genai(self) -> bool:
        return "gen_ai.operation.name" in self.attributes or any(
            key.startswith(("gen_ai.input", "gen_ai.prompt", "gen_ai.output", "gen_ai.completion"))
            for key in self.attributes
        ) or any(name.startswith("gen_ai.") for name, _ in self.events)

    def content(self) -> tuple[list[dict[str, Any]], str | None]:
        a = self.attributes
        messages = _messages(a.get("gen_ai.input.messages"))
        system = a.get("gen_ai.system_instructions")
        if messages and system:
            text = _output_text(system)
            if text:
                messages.insert(0, {"role": "system", "content": text})
        output = _output_text(a.get("gen_ai.output.messages"))
        for name, attrs in self.events:
            if name == "gen_ai.content.prompt" and not messages:
                messages = _messages(attrs.get("gen_ai.prompt"))
            elif name == "gen_ai.content.completion" and output is None:
                output = _output_text(attrs.get("gen_ai.completion"))
            elif name.endswith(".message") and name.startswith("gen_ai."):
                role = name.removeprefix("gen_ai.").removesuffix(".message")
                text = attrs.get("content")
                if isinstance(text, str):
                    messages.append({"role": role, "content": text})
            elif name == "gen_ai.choice" and output is None:
                message = decoded_json(attrs.get("message"))
                if isinstance(message, Mapping):
                    output = _part_text(message)
                elif isinstance(attrs.get("content"), str):
                    output = attrs["content"]
        if not messages:
            messages = self._indexed("gen_ai.prompt")
        if output is None:
            completions = self._indexed("gen_ai.completion")
            output = completions[0]["content"] if completions else None
        return messages, output

    def _indexed(self, prefix: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        index = 0
        while f"{prefix}.{index}.content" in self.attributes:
            out.append({
                "role": str(self.attributes.get(f"{prefix}.{index}.role") or "user"),
                "content": str(self.attributes[f"{prefix}.{index}.content"]),
            })
            index += 1
        return out


def _spans(document: Mapping[str, Any]) -> list[_Span]:
    spans: list[_Span] = []
    for resource in document.get("resourceSpans") or document.get("resource_spans") or []:
        for scope in resource.get("scopeSpans") or resource.get("scope_spans") or []:
            for raw in scope.get("spans") or []:
                spans.append(_Span(
                    trace_id=str(raw.get("traceId") or raw.get("trace_id") or ""),
                    span_id=str(raw.get("spanId") or raw.get("span_id") or ""),
                    parent_id=str(raw.get("parentSpanId") or raw.get("parent_span_id") or ""),
                    name=str(raw.get("name") or ""),
                    start=int(raw.get("startTimeUnixNano") or 0),
                    end=int(raw.get("endTimeUnixNano") or 0),
                    attributes=_attributes(raw.get("attributes")),
                    events=[
                        (str(e.get("name")), _attributes(e.get("attributes")))
                        for e in raw.get("events") or []
                        if isinstance(e, Mapping)
                    ],
                ))
    return spans


def _row(span: _Span, messages: list[dict[str, Any]], output: str | None) -> dict[str, Any]:
    a = span.attributes
    row: dict[str, Any] = {
        "request_id": span.trace_id,
        "request": {"messages": messages},
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "span_name": span.name,
    }
    model = a.get("gen_ai.response.model") or a.get("gen_ai.request.model")
    if output is not None:
        response: dict[str, Any] = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": output}}]
        }
        tokens_in = a.get("gen_ai.usage.input_tokens", a.get("gen_ai.usage.prompt_tokens"))
        tokens_out = a.get("gen_ai.usage.output_tokens", a.get("gen_ai.usage.completion_tokens"))
        if isinstance(tokens_in, int) and isinstance(tokens_out, int):
            response["usage"] = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                 "total_tokens": tokens_in + tokens_out}
        if model:
            response["model"] = model
        row["response"] = response
    if model:
        row["model"] = model
    if span.end and span.start:
        row["span_latency_seconds"] = (span.end - span.start) / 1e9
    return row


def convert(entries: list[Entry], source: str) -> Imported:
    out = Imported()
    by_trace: dict[str, list[_Span]] = {}
    first_location: dict[str, str] = {}
    for location, raw in entries:
        if not isinstance(raw, Mapping) or not looks_like(raw):
            out.issues.append(RowIssue(source, location, None,
                                       "expected an OTLP JSON export with 'resourceSpans'"))
            continue
        for span in _spans(raw):
            by_trace.setdefault(span.trace_id, []).append(span)
            first_location.setdefault(span.trace_id, location)
    for trace_id, spans in by_trace.items():
        ids = {s.span_id: s for s in spans}
        candidates = []
        for span in spans:
            if not span.genai:
                continue
            messages, output = span.content()
            if not messages:
                continue
            depth, parent = 0, ids.get(span.parent_id)
            while parent is not None and depth < 1000:
                depth, parent = depth + 1, ids.get(parent.parent_id)
            candidates.append((depth, span.start, span, messages, output))
        if not candidates:
            continue
        _, _, span, messages, output = min(candidates, key=lambda c: (c[0], c[1]))
        out.entries.append((f"{first_location[trace_id]}, trace {trace_id}",
                            _row(span, messages, output)))
    if not out.entries and not out.issues:
        out.issues.append(RowIssue(source, "file", None,
                                   "no GenAI span with a prompt (gen_ai.* attributes or events)"))
    return out
