"""Evaluation sets: the row schema and the loaders.

Rows follow the Databricks Agent Evaluation input schema (``request``, ``response``,
``expected_response`` / ``expected_facts``, ``guidelines``, ``retrieved_context``,
``expected_retrieved_context``; for agents ``expected_tool_calls``, ``available_tools`` and a
``tool_call_match`` override; any other column kept verbatim) or the MLflow 3 form (``inputs``,
``outputs``, ``expectations``, ``tags``). :func:`load_rows` reads JSONL, JSON, CSV, Parquet or YAML
files, a pandas DataFrame or a list of dicts, validates every row first and raises one
:class:`EvalSetError` listing every problem (file, line/row and field) before anything is called.

Bad input is a row or file issue, never a traceback:

* Row values may nest lists and objects at most :data:`MAX_NESTING_DEPTH` (64) levels deep
  (``[1]`` is one level) and hold at most :data:`MAX_FIELD_VALUES` values, counting repeats (YAML
  aliases); deeper or larger is ``evalset.jsonl, line 3, field 'request': nested deeper than 64
  levels``. The check is iterative and runs right after each entry is parsed, before anything
  recurses; a parser's own ``RecursionError`` (a file nested thousands of levels deep) is reported
  the same way, with the line, the row and the field it was reading.
* Text must be UTF-8 (a leading BOM is skipped). A JSONL line that is not is that line's issue
  (``line 7: not valid UTF-8 (byte 0xff at column 12)``) and the other lines are still checked;
  a JSON, YAML or CSV file that is not is a file issue naming the line and column.
* Identical issues (same field, same message) are listed once in the error message, with the
  count and the first lines or rows (``310 rows: field 'request': missing required field
  'request' (lines 2, 3, 4, 5, 6, ... and 305 more)``); :attr:`EvalSetError.issues` keeps them all.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from pytest_genai_eval.errors import EvaluationSetError
from pytest_genai_eval.outputs import normalize_context, parse_app_output
from pytest_genai_eval.tool_calls import parse_available_tools, parse_expected_tool_calls
from pytest_genai_eval.tool_match import parse_tool_call_match
from pytest_genai_eval.turns import CONVERSATION_FIELDS, Turn, parse_conversation

if TYPE_CHECKING:
    import pandas

__all__ = [
    "MAX_FIELD_VALUES",
    "MAX_NESTING_DEPTH",
    "EvalSetError",
    "Row",
    "RowIssue",
    "build_rows",
    "derive_request_id",
    "describe_utf8_error",
    "load_rows",
    "nesting_problem",
    "read_entries",
]

MAX_NESTING_DEPTH = 64
"""How many levels of lists and objects a row value may nest (``[1]`` is one level)."""
MAX_FIELD_VALUES = 1_000_000
"""How many values one row value may hold, nested ones included and repeats counted (YAML
aliases can make a small file expand without bound)."""
_TOO_DEEP = f"nested deeper than {MAX_NESTING_DEPTH} levels"

# Columns with a meaning in the Agent Evaluation input schema.
_AGENT_EVAL_FIELDS = (
    "request_id",
    "request",
    "response",
    "expected_response",
    "expected_facts",
    "guidelines",
    "retrieved_context",
    "expected_retrieved_context",
    "expected_tool_calls",
    "available_tools",
    "tool_call_match",
)
# Columns of the MLflow 3 form (``tags`` and ``trace_id`` are only interpreted in that form).
_MLFLOW_FIELDS = ("inputs", "outputs", "expectations")
_EXPECTATION_FIELDS = (
    "expected_response",
    "expected_facts",
    "guidelines",
    "expected_retrieved_context",
    "expected_tool_calls",
)
# CSV columns read as text, so that "42" stays a string and JSON text stays parseable.
_CSV_TEXT_COLUMNS = (*_AGENT_EVAL_FIELDS, *_MLFLOW_FIELDS, "tags", "trace_id", *CONVERSATION_FIELDS)
_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".yaml", ".yml")
_UTF8_BOM = b"\xef\xbb\xbf"
_SHOWN_LOCATIONS = 5  # a group of identical issues lists this many lines/rows, then a count


# ---- errors ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowIssue:
    """One problem with one row (or with the whole file, when ``location`` is ``"file"``)."""

    source: str  # the file path as given, or the name of an in-memory set
    location: str  # "line 3", "row 4" or "file"
    field: str | None  # the offending field, when there is one
    message: str

    def __str__(self) -> str:
        where = self.source if self.location == "file" else f"{self.source}, {self.location}"
        if self.field is not None:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class EvalSetError(EvaluationSetError):
    """An evaluation set could not be loaded; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[RowIssue], source: str | None = None) -> None:
        self.issues: list[RowIssue] = list(issues)
        self.source: str = source or (self.issues[0].source if self.issues else "evaluation set")
        super().__init__(self._message())

    def _message(self) -> str:
        count = len({issue.location for issue in self.issues})
        lines = [f"{count} invalid row(s) in {self.source}:"]
        lines += [f"  - {_group_text(group)}" for group in _grouped(self.issues)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (xdist workers ship errors around)
        return (type(self), (self.issues, self.source))


def _grouped(issues: Sequence[RowIssue]) -> list[list[RowIssue]]:
    """Issues with the same source, field and message, in order of first appearance."""
    groups: dict[tuple[str, str | None, str], list[RowIssue]] = {}
    for issue in issues:
        groups.setdefault((issue.source, issue.field, issue.message), []).append(issue)
    return list(groups.values())


def _group_text(group: Sequence[RowIssue]) -> str:
    """One issue as itself; several as ``N rows: field 'f': message (lines 2, 3, ...)``."""
    locations = list(dict.fromkeys(issue.location for issue in group))
    if len(locations) == 1:
        return str(group[0])
    field = "" if group[0].field is None else f"field '{group[0].field}': "
    return f"{len(locations)} rows: {field}{group[0].message} ({_locations_text(locations)})"


def _locations_text(locations: Sequence[str]) -> str:
    """``lines 2, 3, 4, 5, 6, ... and 305 more`` (or ``rows ...``, or the locations as they are)."""
    kinds = {location.split(" ", 1)[0] for location in locations}
    numbered = len(kinds) == 1 and kinds <= {"line", "row"}
    shown = [location.split(" ", 1)[1] if numbered else location for location in locations]
    text = ", ".join(shown[:_SHOWN_LOCATIONS])
    if len(shown) > _SHOWN_LOCATIONS:
        text += f", ... and {len(shown) - _SHOWN_LOCATIONS} more"
    return f"{kinds.pop()}s {text}" if numbered else text


# ---- the row ---------------------------------------------------------------------------------
def _content_text(content: Any) -> str:
    """Text of a chat message's content (a string, content parts, or anything else)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, str) or (isinstance(p, Mapping) and isinstance(p.get("text"), str))
        for p in content
    ):
        return "".join(p if isinstance(p, str) else p["text"] for p in content)
    return str(content)


def _request_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The last user message's content; without a user message, the last non-empty content."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    for message in reversed(messages):
        text = _content_text(message.get("content"))
        if text.strip():
            return text
    return ""


class Row(pydantic.BaseModel):
    """One evaluation row, validated and normalized. Build rows with :func:`load_rows`."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    request_id: str
    request: Any  # the original request value (str or dict), JSON-able
    messages: list[dict[str, Any]]  # what the app receives, as {"messages": messages}
    response: str | None = None  # text of a precomputed response (None: it only calls tools)
    response_usage: dict[str, int] | None = None  # token usage the precomputed response carried
    # the tool calls a precomputed response made (None: its form carries none; see outputs.py)
    response_tool_calls: list[dict[str, Any]] | None = None
    expected_response: str | None = None
    expected_facts: list[str] | None = None
    guidelines: list[str] | dict[str, list[str]] | None = None
    retrieved_context: list[dict[str, Any]] | None = None  # {"content", "doc_uri"} chunks
    expected_retrieved_context: list[dict[str, Any]] | None = None
    expected_tool_calls: list[dict[str, Any]] | None = None  # [] : no call may be made
    available_tools: list[dict[str, Any]] | None = None  # {"name", "description"?, "parameters"?}
    tool_call_match: dict[str, Any] | None = None  # this row's override of the suite's modes
    # A conversation (turns.py): scripted user turns, or a simulated user's goal.
    turns: list[Turn] | None = None
    goal: str | None = None
    persona: str | None = None
    max_turns: int | None = None  # set (the default or the row's) when goal is
    assistant_role: str | None = None
    extra: dict[str, Any] = pydantic.Field(
        default_factory=dict
    )  # unknown columns, verbatim (JSON-able)
    location: str = ""  # "evalset.jsonl, line 3", "DataFrame, row 4", ...

    @property
    def request_text(self) -> str:
        """The content of the last user message (``str(content)`` when it is not a string)."""
        return _request_text(self.messages)

    @property
    def is_conversation(self) -> bool:
        """Scripted turns or a simulated user: the app is called turn by turn."""
        return self.turns is not None or self.goal is not None

    @property
    def has_response(self) -> bool:
        """The row carries a precomputed response (text, tool calls or both): no app call."""
        return self.response is not None or self.response_tool_calls is not None

    def to_record(self) -> dict[str, Any]:
        """A JSON-able echo of the input row, extra columns at top level."""
        record: dict[str, Any] = {
            "request_id": self.request_id,
            "request": self.request,
            "expected_response": self.expected_response,
            "expected_facts": self.expected_facts,
            "guidelines": self.guidelines,
        }
        if self.retrieved_context is not None:
            record["retrieved_context"] = self.retrieved_context
        record["expected_retrieved_context"] = self.expected_retrieved_context
        if self.response is not None:
            record["response"] = self.response
        for name in ("expected_tool_calls", "available_tools", "tool_call_match"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        if self.turns is not None:
            record["turns"] = [turn.to_record() for turn in self.turns]
        for name in ("goal", "persona", "max_turns", "assistant_role"):
            if getattr(self, name) is not None:
                record[name] = getattr(self, name)
        for key, value in self.extra.items():
            record.setdefault(key, value)
        return record


def derive_request_id(request: Any, request_text: str) -> str:
    """A readable, stable id: a slug of the first words of the request + a short content hash.

    ``"How do I reset my password?"`` -> ``"how-do-i-reset-my-password-3fa2c1"``.
    """
    ascii_text = (
        unicodedata.normalize("NFKD", request_text).encode("ascii", "ignore").decode("ascii")
    )
    words = ascii_text.lower().split()[:6]
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join(words)).strip("-")
    slug = slug[:40].strip("-") or "request"
    digest = hashlib.sha1(json.dumps(request, sort_keys=True).encode("utf-8")).hexdigest()
    return f"{slug}-{digest[:6]}"


# ---- nesting ---------------------------------------------------------------------------------
_SCALARS = (str, int, float, type(None))  # the common leaves, skipped without a closer look


def _children(value: Any) -> Sequence[Any] | None:
    """The values directly inside a list, tuple, mapping or numpy array; None for a scalar."""
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return value
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray) and value.ndim:
        children: list[Any] = value.tolist()
        return children
    return None


def nesting_problem(
    value: Any, limit: int = MAX_NESTING_DEPTH, max_values: int = MAX_FIELD_VALUES
) -> str | None:
    """Why ``value`` nests too deep (more than ``limit`` levels of lists and objects) or holds too
    many values (more than ``max_values``, repeats counted), or None. Iterative: safe on any
    input, cycles included (they are too deep)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    count = 0
    while pending:
        item, depth = pending.pop()
        children = _children(item)
        if children is None:
            continue
        if depth >= limit:
            return f"nested deeper than {limit} levels"
        count += len(children)
        if count > max_values:
            return f"holds more than {max_values:,} values"
        pending += [(child, depth + 1) for child in children if not isinstance(child, _SCALARS)]
    return None


def _nesting_issues(entry: Mapping[Any, Any], source: str, location: str) -> list[RowIssue]:
    """One issue per field of ``entry`` that nests too deep or holds too many values."""
    issues: list[RowIssue] = []
    for key, value in entry.items():
        problem = None if isinstance(value, _SCALARS) else nesting_problem(value)
        if problem is not None:
            issues.append(RowIssue(source, location, str(key), problem))
    return issues


def _loads(text: str) -> Any:
    """``json.loads`` within the nesting limits: raises ValueError (JSONDecodeError when the text
    is not JSON) or _FieldError (too deep or too large)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _FieldError(_TOO_DEEP) from None
    problem = nesting_problem(value)
    if problem is not None:
        raise _FieldError(problem)
    return value


# ---- value normalization ---------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _plain(value: Any) -> Any:
    """Plain Python: numpy arrays -> lists, numpy scalars -> scalars, NaN/NA/NaT -> None,
    dates -> ISO strings. Unknown objects are left alone (they may be app outputs)."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
    pd = sys.modules.get("pandas")
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _FieldError(Exception):
    """A field's value is invalid; the message explains why."""


def _json_text(value: Any) -> Any:
    """Parse JSON text given for a list/dict field (CSV cells, string columns)."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return _plain(_loads(value))
        except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
            raise _FieldError(f"invalid JSON text: {exc}") from None
    return value


def _json_text_if(value: Any, keys: tuple[str, ...] | None) -> Any:
    """For str-or-dict fields: JSON object text is parsed when it has one of ``keys`` (any
    object when ``keys`` is None); anything else stays a string."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = _loads(value)
        except ValueError:  # not JSON (too deep is a _FieldError, raised)
            return value
        if isinstance(parsed, dict) and (keys is None or any(k in parsed for k in keys)):
            return _plain(parsed)
    return value


def _parse_messages(value: Any, name: str, *, allow_empty: bool) -> list[dict[str, Any]]:
    value = _json_text(value)
    if not isinstance(value, list):
        raise _FieldError(f"{name}: expected a list of messages, got {_type_name(value)}")
    if not value and not allow_empty:
        raise _FieldError(f"{name}: at least one message is needed")
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(message, Mapping):
            raise _FieldError(
                f"{where}: expected a {{'role', 'content'}} dict, got {_type_name(message)}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role.strip():
            raise _FieldError(f"{where}.role: expected a non-empty string, got {_type_name(role)}")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise _FieldError(
                f"{where}.content: expected a string or a list of content parts, "
                f"got {_type_name(content)}"
            )
        messages.append(dict(message))
    return messages


def _parse_request(value: Any) -> tuple[Any, list[dict[str, Any]]]:
    """(original request, messages) for the three request forms."""
    value = _json_text_if(value, ("messages", "query"))
    if isinstance(value, str):
        if not value.strip():
            raise _FieldError("empty request")
        return value, [{"role": "user", "content": value}]
    if isinstance(value, Mapping):
        request = dict(value)
        try:
            json.dumps(request)  # the request is hashed into the request_id and echoed in results
        except (TypeError, ValueError) as exc:
            raise _FieldError(f"the request is not JSON-serializable: {exc}") from None
        if "messages" in request and "query" in request:
            raise _FieldError("give either 'messages' or 'query' (with 'history'), not both")
        if "messages" in request:
            messages = _parse_messages(request["messages"], "messages", allow_empty=False)
            if not _request_text(messages).strip():
                last_user = any(m.get("role") == "user" for m in messages)
                raise _FieldError(
                    "the last user message is empty"
                    if last_user
                    else "no message has non-empty content"
                )
            return request, messages
        if "query" in request:
            query = request["query"]
            if not isinstance(query, str):
                raise _FieldError(f"query: expected a string, got {_type_name(query)}")
            if not query.strip():
                raise _FieldError("query: empty request")
            history = request.get("history")
            past = [] if history is None else _parse_messages(history, "history", allow_empty=True)
            return request, [*past, {"role": "user", "content": query}]
        keys = ", ".join(repr(k) for k in list(request)[:8]) or "none"
        raise _FieldError(
            "a request dict needs 'messages' (ChatCompletionRequest) or 'query' "
            f"(with optional 'history'); got keys {keys}"
        )
    raise _FieldError(
        "expected a non-empty string, a ChatCompletionRequest dict {'messages': [...]} or "
        f"{{'query': ..., 'history': [...]}}, got {_type_name(value)}"
    )


def _parse_inputs(inputs: Any) -> tuple[Any, list[dict[str, Any]]]:
    """MLflow 3 ``inputs`` -> (request, messages).

    A string is the request; a dict with ``messages`` is a chat request (``query``/``history``
    likewise); a dict with a single key whose value is a string (or a request dict) uses that
    value; any other dict is the request, JSON-dumped into one user message.
    """
    inputs = _json_text_if(inputs, None)
    if isinstance(inputs, str):
        return _parse_request(inputs)
    if not isinstance(inputs, Mapping):
        raise _FieldError(f"expected a string or a dict, got {_type_name(inputs)}")
    if not inputs:
        raise _FieldError("empty inputs")
    if "messages" in inputs or ("query" in inputs and set(inputs) <= {"query", "history"}):
        return _parse_request(inputs)
    if len(inputs) == 1:
        (only,) = inputs.values()
        if isinstance(only, str) or (
            isinstance(only, Mapping) and ("messages" in only or "query" in only)
        ):
            return _parse_request(only)
    request = dict(inputs)
    try:
        text = json.dumps(request, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise _FieldError(f"inputs are not JSON-serializable: {exc}") from None
    return request, [{"role": "user", "content": text}]


def _parse_request_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _FieldError(f"expected a non-empty string (or an integer), got {_type_name(value)}")
    return str(value).strip()


def _parse_text(value: Any) -> str:
    if isinstance(value, (Mapping, list)):
        raise _FieldError(
            f"expected a string, got {_type_name(value)}; map one nested field with the suite "
            "key 'columns' (e.g. 'answer.text: expected_response'), or map the whole value and "
            "it becomes text by the documented rule (README, 'Column mapping')"
        )
    if not isinstance(value, str):
        raise _FieldError(f"expected a string, got {_type_name(value)}")
    return value


def _parse_facts(value: Any) -> list[str] | None:
    value = _json_text(value)
    if not isinstance(value, list):
        raise _FieldError(f"expected a list of strings, got {_type_name(value)}")
    for index, fact in enumerate(value):
        if not isinstance(fact, str):
            raise _FieldError(f"item {index}: expected a string, got {_type_name(fact)}")
        if not fact.strip():
            raise _FieldError(f"item {index}: empty fact")
    return list(value) or None


def _string_list(value: list[Any], what: str) -> list[str]:
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _FieldError(f"{what}item {index}: expected a string, got {_type_name(item)}")
        if not item.strip():
            raise _FieldError(f"{what}item {index}: empty guideline")
    return list(value)


def _parse_guidelines(value: Any) -> list[str] | dict[str, list[str]] | None:
    value = _json_text(value)
    if isinstance(value, list):
        return _string_list(value, "") or None
    if isinstance(value, Mapping):
        named: dict[str, list[str]] = {}
        for name, rules in value.items():
            if not name.strip():
                raise _FieldError("guideline set names must be non-empty")
            if isinstance(rules, str):
                rules = [rules]
            if not isinstance(rules, list):
                raise _FieldError(f"'{name}': expected a list of strings, got {_type_name(rules)}")
            if not rules:
                raise _FieldError(f"'{name}': no guidelines")
            named[name] = _string_list(rules, f"'{name}' ")
        return named or None
    raise _FieldError(
        f"expected a list of strings or a dict of name -> list of strings, got {_type_name(value)}"
    )


def _context_parser(
    label: str, *, keep_empty: bool
) -> Callable[[Any], list[dict[str, Any]] | None]:
    def parse(value: Any) -> list[dict[str, Any]] | None:
        try:
            chunks = normalize_context(_json_text(value), label)
        except ValueError as exc:
            raise _FieldError(str(exc).removeprefix(f"{label}: ")) from None
        return chunks if chunks or keep_empty else None

    return parse


def _parsed(parser: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A field parser from a ``ValueError``-raising one, JSON text parsed first."""

    def parse(value: Any) -> Any:
        try:
            return parser(_json_text(value))
        except ValueError as exc:
            raise _FieldError(str(exc)) from None

    return parse


def _parse_available_tools(value: Any) -> list[dict[str, Any]] | None:
    return _parsed(parse_available_tools)(value) or None


def _parse_tool_call_match(value: Any) -> dict[str, Any]:
    _parsed(parse_tool_call_match)(value)
    return dict(_json_text(value))


def _transcript_text(value: Any) -> Any:
    """JSON array text of a transcript (a list of message or item objects) as the list; any
    other text (an answer that happens to start with '[') stays a string."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            parsed = _loads(value)
        except ValueError:
            return value
        if isinstance(parsed, list) and parsed and all(isinstance(i, dict) for i in parsed):
            return _plain(parsed)
    return value


_ResponseParts = tuple[str | None, dict[str, int] | None, Any, list[dict[str, Any]] | None]


def _parse_response(value: Any, *, mlflow: bool) -> _ResponseParts:
    value = _transcript_text(_json_text_if(value, ("choices", "content", "output", "messages")))
    try:
        output = parse_app_output(value)
    except ValueError as exc:
        # MLflow ``outputs`` is often {"<name>": <answer>}: look inside a single-key dict.
        if mlflow and isinstance(value, Mapping) and len(value) == 1:
            try:
                output = parse_app_output(next(iter(value.values())))
            except ValueError:
                raise _FieldError(str(exc)) from None
        else:
            raise _FieldError(str(exc)) from None
    usage = output.usage.to_dict() if output.usage is not None else None
    return output.text, usage, output.retrieved_context, output.tool_calls


# ---- building one row ------------------------------------------------------------------------
@dataclass
class _Built:
    row: Row | None
    request_id: str | None
    issues: list[RowIssue]


def _build_row(raw: Mapping[Any, Any], source: str, location: str) -> _Built:
    issues: list[RowIssue] = []

    def fail(field: str | None, message: str) -> None:
        issues.append(RowIssue(source, location, field, message))

    def parse(label: str, value: Any, parser: Callable[[Any], Any]) -> Any:
        try:
            return parser(value)
        except _FieldError as exc:
            fail(label, str(exc))
            return None

    data = {str(key): _plain(value) for key, value in raw.items()}
    consumed: set[str] = {*_AGENT_EVAL_FIELDS, *CONVERSATION_FIELDS}
    extra: dict[str, Any] = {}
    mlflow = not _absent(data.get("inputs"))

    # Where each field comes from: field -> (label used in issues, value).
    given: dict[str, tuple[str, Any]] = {
        name: (name, data[name]) for name in _AGENT_EVAL_FIELDS if not _absent(data.get(name))
    }
    request: Any = None
    messages: list[dict[str, Any]] | None = None
    conversation = parse_conversation(data, list(given), mlflow=mlflow)
    if mlflow:
        consumed |= {*_MLFLOW_FIELDS, "tags"}
        if "request" in given:
            fail("inputs", "give either 'request' or MLflow 'inputs', not both")
        else:
            parsed = parse("inputs", data["inputs"], _parse_inputs)
            if parsed is not None:
                request, messages = parsed
        if not _absent(data.get("outputs")):
            if "response" in given:
                fail("outputs", "give either 'response' or MLflow 'outputs', not both")
            else:
                given["response"] = ("outputs", data["outputs"])
        expectations = data.get("expectations")
        if not _absent(expectations):
            expectations = parse("expectations", expectations, _expectations_dict)
        if isinstance(expectations, dict):
            leftovers: dict[str, Any] = {}
            for key, value in expectations.items():
                if key not in _EXPECTATION_FIELDS:
                    leftovers[key] = value
                elif _absent(value):
                    continue
                elif key in given:
                    fail(f"expectations.{key}", f"also given as top-level '{key}'; give it once")
                else:
                    given[key] = (f"expectations.{key}", value)
            if leftovers:
                extra["expectations"] = leftovers
        if not _absent(data.get("tags")):
            extra["tags"] = parse("tags", data["tags"], _json_text)
        if "request_id" not in given and not _absent(data.get("trace_id")):
            given["request_id"] = ("trace_id", data["trace_id"])
            consumed.add("trace_id")
    else:
        for name in _MLFLOW_FIELDS:
            if name in data:
                consumed.add(name)
                if not _absent(data[name]):
                    fail(name, f"'{name}' belongs to the MLflow 3 form, which needs 'inputs'")
        if "request" in given:
            parsed = parse("request", data["request"], _parse_request)
            if parsed is not None:
                request, messages = parsed
        elif isinstance(data.get("request"), str):
            fail("request", "empty request")
        elif not conversation.active:
            fail("request", "missing required field 'request'")
    for label, message in conversation.issues:
        fail(label, message)
    if conversation.turns and messages is None:  # the first turn is the row's request
        request = conversation.turns[0].request
        messages = [{"role": "user", "content": request}]
    elif conversation.goal is not None and messages is None:  # the simulated user begins
        messages = []

    def field(name: str, parser: Callable[[Any], Any]) -> Any:
        if name not in given:
            return None
        label, value = given[name]
        return parse(label, value, parser)

    def context(name: str, *, keep_empty: bool) -> list[dict[str, Any]] | None:
        if name not in given:
            return None
        label, value = given[name]
        result: list[dict[str, Any]] | None = parse(
            label, value, _context_parser(label, keep_empty=keep_empty)
        )
        return result

    request_id: str | None = field("request_id", _parse_request_id) or None
    expected_response: str | None = field("expected_response", _parse_text)
    expected_facts: list[str] | None = field("expected_facts", _parse_facts)
    guidelines: list[str] | dict[str, list[str]] | None = field("guidelines", _parse_guidelines)
    retrieved_context = context("retrieved_context", keep_empty=True)
    expected_context = context("expected_retrieved_context", keep_empty=False)
    expected_calls: list[dict[str, Any]] | None = field(
        "expected_tool_calls", _parsed(parse_expected_tool_calls)
    )
    tools: list[dict[str, Any]] | None = field("available_tools", _parse_available_tools)
    tool_call_match: dict[str, Any] | None = field("tool_call_match", _parse_tool_call_match)
    if expected_calls and tools:
        known = [tool["name"] for tool in tools]
        for index, call in enumerate(expected_calls):
            if call["name"] not in known:
                fail(
                    given["expected_tool_calls"][0],
                    f"[{index}].name: {call['name']!r} is not one of the available_tools "
                    f"({', '.join(known)})",
                )
    response: str | None = None
    response_calls: list[dict[str, Any]] | None = None
    usage: dict[str, int] | None = None
    if "response" in given:
        label, value = given["response"]
        parsed = parse(label, value, lambda v: _parse_response(v, mlflow=mlflow))
        if parsed is not None:
            response, usage, output_context, response_calls = parsed
            if "retrieved_context" not in given:
                retrieved_context = output_context

    # Both ground truths given (an invalid value still counts as given; an empty list does not).
    if "expected_response" in given and "expected_facts" in given:
        labels = {given["expected_response"][0], given["expected_facts"][0]}
        failed = any(issue.field in labels for issue in issues)
        if failed or (expected_response is not None and expected_facts is not None):
            fail(
                given["expected_facts"][0],
                "give at most one of expected_response and expected_facts, not both",
            )

    for key, value in data.items():
        if key in consumed or key in extra:
            continue
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            fail(key, f"a value of type {type(value).__name__} is not JSON-serializable")
            continue
        extra[key] = value

    if request_id is None and messages is not None:
        if conversation.goal is not None and not messages:
            request_id = derive_request_id(conversation.goal, conversation.goal)
        else:
            request_id = derive_request_id(request, _request_text(messages))

    if issues or messages is None or request_id is None:
        return _Built(None, request_id, issues)
    try:
        row = Row(
            request_id=request_id,
            request=request,
            messages=messages,
            response=response,
            response_usage=usage,
            response_tool_calls=response_calls,
            expected_response=expected_response,
            expected_facts=expected_facts,
            guidelines=guidelines,
            retrieved_context=retrieved_context,
            expected_retrieved_context=expected_context,
            expected_tool_calls=expected_calls,
            available_tools=tools,
            tool_call_match=tool_call_match,
            turns=conversation.turns,
            goal=conversation.goal,
            persona=conversation.persona,
            max_turns=conversation.max_turns,
            assistant_role=conversation.assistant_role,
            extra=extra,
            location=f"{source}, {location}",
        )
    except pydantic.ValidationError as exc:  # defensive: normalization should prevent this
        fail(None, f"invalid row: {exc}")
        return _Built(None, request_id, issues)
    return _Built(row, request_id, issues)


def _expectations_dict(value: Any) -> dict[str, Any]:
    value = _json_text(value)
    if not isinstance(value, Mapping):
        raise _FieldError(f"expected a dict, got {_type_name(value)}")
    return dict(value)


def _build_rows(
    source: str, entries: Sequence[tuple[str, Any]], issues: list[RowIssue]
) -> list[Row]:
    """Validate every entry; raise one EvalSetError with every issue, or return the rows."""
    rows: list[Row] = []
    seen: dict[str, str] = {}
    for location, entry in entries:
        if not isinstance(entry, Mapping):
            issues.append(
                RowIssue(source, location, None, f"expected an object, got {_type_name(entry)}")
            )
            continue
        too_deep = _nesting_issues(entry, source, location)
        if too_deep:
            issues += too_deep
            continue
        built = _build_row(entry, source, location)
        issues += built.issues
        if built.request_id is not None:
            first = seen.get(built.request_id)
            if first is not None:
                issues.append(
                    RowIssue(
                        source,
                        location,
                        "request_id",
                        f"duplicate request_id '{built.request_id}' (first used at {first}); "
                        "give each row a unique request_id",
                    )
                )
            else:
                seen[built.request_id] = location
        if built.row is not None:
            rows.append(built.row)
    if issues:
        issues.sort(key=lambda issue: _location_order(issue.location))
        raise EvalSetError(issues, source)
    return rows


def _location_order(location: str) -> tuple[int, int]:
    match = re.fullmatch(r"(?:line|row) (\d+)", location)
    return (1, int(match.group(1))) if match else (0, 0)


# ---- readers ---------------------------------------------------------------------------------
def _file_error(source: str, message: str) -> EvalSetError:
    return EvalSetError([RowIssue(source, "file", None, message)], source)


def _read_bytes(path: Path, source: str) -> bytes:
    """The file's bytes, a leading UTF-8 byte order mark dropped."""
    try:
        return path.read_bytes().removeprefix(_UTF8_BOM)
    except FileNotFoundError:
        raise _file_error(source, f"file not found: {path}") from None
    except IsADirectoryError:
        raise _file_error(source, f"is a directory, not a file: {path}") from None
    except OSError as exc:
        raise _file_error(source, f"cannot read {path}: {exc.strerror or exc}") from None


def describe_utf8_error(data: bytes, exc: UnicodeDecodeError) -> str:
    """Where decoding ``data`` as UTF-8 failed: ``line 7, column 12 (byte 0xff)``."""
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    line = data.count(b"\n", 0, exc.start) + 1
    column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
    return f"line {line}, column {column} (byte 0x{data[exc.start]:02x})"


def _read_text(path: Path, source: str) -> str:
    data = _read_bytes(path, source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _file_error(
            source, f"not valid UTF-8 text: {describe_utf8_error(data, exc)}"
        ) from None


class _LineError(Exception):
    """A JSONL line that holds no entry: the message, and the field when one is to blame."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _jsonl_entry(raw: bytes) -> list[Any]:
    """The value on one JSONL line, ``[]`` for a blank line; raises _LineError."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8")) + 1
        raise _LineError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {column})"
        ) from None
    if not line.strip():
        return []
    try:
        return [json.loads(line)]
    except json.JSONDecodeError as exc:
        raise _LineError(f"malformed JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        spot = _deep_spot(_json_events(line))
        field = spot.path[0] if spot is not None and spot.mappings[0] else None
        raise _LineError(_TOO_DEEP, None if field is None else str(field)) from None
    except ValueError as exc:  # an integer too long to convert, ...
        raise _LineError(f"malformed JSON: {exc}") from None


def _read_jsonl(path: Path, source: str) -> tuple[list[tuple[str, Any]], list[RowIssue]]:
    entries: list[tuple[str, Any]] = []
    issues: list[RowIssue] = []
    for number, raw in enumerate(_read_bytes(path, source).splitlines(), start=1):
        location = f"line {number}"
        try:
            entries += [(location, value) for value in _jsonl_entry(raw)]
        except _LineError as exc:
            issues.append(RowIssue(source, location, exc.field, str(exc)))
    return entries, issues


# ---- documents nested too deep to parse ------------------------------------------------------
@dataclass
class _Level:
    """One open list or object while following a document's events."""

    mapping: bool
    key: Any = None  # the key (an object) or index (a list) of the value being read
    want_key: bool = True  # an object: the next scalar is a key


@dataclass(frozen=True)
class _DeepSpot:
    """Where a document first nests deeper than the limit."""

    path: list[Any]  # the key or index at each level, from the root
    mappings: list[bool]  # whether each level is an object
    line: int


# A document's structure as events: ("start", is_object, line), ("end", None, line) or
# ("scalar", value, line).
_Event = tuple[str, Any, int]


def _deep_spot(events: Iterable[_Event]) -> _DeepSpot | None:
    """Follow ``events`` without recursion until a value nests deeper than a row value may (a row
    sits two levels down in a file: the list of rows, the row)."""
    levels: list[_Level] = []
    for kind, value, line in events:
        if kind == "start":
            levels.append(_Level(bool(value), None if value else 0))
            if len(levels) > MAX_NESTING_DEPTH + 3:
                path = [level.key for level in levels[:-1]]
                return _DeepSpot(path, [level.mapping for level in levels], line)
            continue
        if kind == "end" and levels:
            levels.pop()
        elif kind == "scalar" and levels and levels[-1].mapping and levels[-1].want_key:
            levels[-1].key, levels[-1].want_key = value, False
            continue
        if levels:  # a value ended: the next one is a key (object) or the next index (list)
            top = levels[-1]
            if top.mapping:
                top.want_key = True
            else:
                top.key += 1
    return None


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|[^\s\[\]{}:,"]+')


def _json_events(text: str) -> Iterator[_Event]:
    line, counted = 1, 0  # the line at offset ``counted``, advanced as the tokens go
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        line += text.count("\n", counted, match.start())
        counted = match.start()
        if token in ("[", "{"):
            yield "start", token == "{", line
        elif token in ("]", "}"):
            yield "end", None, line
        elif token.startswith('"'):
            yield "scalar", _json_string(token), line
        else:
            yield "scalar", token, line


def _json_string(token: str) -> str:
    try:
        value = json.loads(token)
    except ValueError:
        return token[1:-1]
    return value if isinstance(value, str) else token


def _yaml_events(text: str) -> Iterator[_Event]:
    import yaml

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark is not None else 0
            if isinstance(event, yaml.CollectionStartEvent):
                yield "start", isinstance(event, yaml.MappingStartEvent), line
            elif isinstance(event, yaml.CollectionEndEvent):
                yield "end", None, line
            elif isinstance(event, yaml.ScalarEvent):
                yield "scalar", event.value, line
            elif isinstance(event, yaml.AliasEvent):
                yield "scalar", None, line
    except yaml.YAMLError:
        return


def _deep_document_error(source: str, spot: _DeepSpot | None) -> EvalSetError:
    """The issue for a JSON or YAML document too deep to parse: the row and field when the deep
    value is in a row, else the file (with the line)."""
    if spot is None:
        return _file_error(source, _TOO_DEEP)
    path, mappings = spot.path, spot.mappings
    if mappings[0] and path[0] in ("rows", "data"):
        path, mappings = path[1:], mappings[1:]
    if mappings[0] or not isinstance(path[0], int):
        return _file_error(source, f"{_TOO_DEEP} (line {spot.line})")
    field = str(path[1]) if mappings[1] else None
    issue = RowIssue(source, f"row {path[0] + 1}", field, f"{_TOO_DEEP} (line {spot.line})")
    return EvalSetError([issue], source)


def _rows_in(document: Any, source: str, keys: tuple[str, ...], what: str) -> list[Any]:
    if document is None:
        return []
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        for key in keys:
            if isinstance(document.get(key), list):
                return list(document[key])
    expected = " or ".join(f"'{key}'" for key in keys)
    raise _file_error(
        source, f"expected {what} of rows, or a mapping with {expected}; got {_type_name(document)}"
    )


def _numbered(items: Sequence[Any]) -> list[tuple[str, Any]]:
    return [(f"row {index}", item) for index, item in enumerate(items, start=1)]


def _read_json(path: Path, source: str) -> list[tuple[str, Any]]:
    text = _read_text(path, source)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_error(
            source, f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise _deep_document_error(source, _deep_spot(_json_events(text))) from None
    except ValueError as exc:  # an integer too long to convert, ...
        raise _file_error(source, f"malformed JSON: {exc}") from None
    return _numbered(_rows_in(document, source, ("rows", "data"), "an array"))


# What PyYAML's constructors raise, besides YAMLError, on odd explicit tags (``!!int _``,
# ``!!timestamp x``, ``!!bool y``) and impossible dates (``2024-13-45``).
_YAML_VALUE_ERRORS = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError)


def _read_yaml(path: Path, source: str) -> list[tuple[str, Any]]:
    import yaml

    text = _read_text(path, source)
    try:
        document = yaml.safe_load(text)
    except RecursionError:
        raise _deep_document_error(source, _deep_spot(_yaml_events(text))) from None
    except yaml.YAMLError as exc:
        raise _file_error(source, f"malformed YAML: {exc}") from None
    except _YAML_VALUE_ERRORS as exc:
        raise _file_error(
            source, f"malformed YAML: a value cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    return _numbered(_rows_in(document, source, ("rows", "data"), "a list"))


def _read_csv(path: Path, source: str) -> list[tuple[str, Any]]:
    import pandas as pd

    text = _read_text(path, source)  # uniform errors for missing, unreadable or non-UTF-8 files
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=dict.fromkeys(_CSV_TEXT_COLUMNS, str),
            keep_default_na=False,  # "NA", "None", "null" stay text; only empty cells are missing
            na_values=[""],
        )
    except pd.errors.EmptyDataError:
        return []
    except (ValueError, pd.errors.ParserError) as exc:
        raise _file_error(source, f"malformed CSV: {exc}") from None
    records = frame.to_dict(orient="records")
    return [(f"line {index + 2}", record) for index, record in enumerate(records)]


def _read_parquet(path: Path, source: str) -> list[tuple[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise _file_error(
            source,
            "reading Parquet needs pyarrow: pip install 'pytest-genai-eval[parquet]' "
            "(or pip install pyarrow)",
        ) from None
    if not path.is_file():
        _read_bytes(path, source)  # raises the same errors as the text formats
    try:
        records = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises many kinds (ArrowInvalid, OSError, ...)
        raise _file_error(source, f"cannot read Parquet file: {exc}") from None
    rows = [
        {key: value for key, value in record.items() if not key.startswith("__index_level_")}
        for record in records
    ]
    return _numbered(rows)


def _load_file(data: str | os.PathLike[str], base_dir: Path | None, name: str | None) -> list[Row]:
    source, entries, issues = read_entries(data, base_dir=base_dir, name=name)
    return _build_rows(source, entries, issues)


def build_rows(
    source: str, entries: Sequence[tuple[str, Any]], issues: Sequence[RowIssue] = ()
) -> list[Row]:
    """Validate ``(location, raw row)`` entries (from :func:`read_entries`, perhaps converted by
    an importer or a column mapping) into rows; raise one EvalSetError with every issue."""
    return _build_rows(source, entries, list(issues))


def read_entries(
    data: str | os.PathLike[str], *, base_dir: Path | None = None, name: str | None = None
) -> tuple[str, list[tuple[str, Any]], list[RowIssue]]:
    """A file's raw rows before validation: ``(source, [(location, raw row)], issues)``."""
    source = name or os.fspath(data)
    path = Path(data)
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    suffix = path.suffix.lower()
    issues: list[RowIssue] = []
    if suffix in (".jsonl", ".ndjson"):
        entries, issues = _read_jsonl(path, source)
    elif suffix == ".json":
        entries = _read_json(path, source)
    elif suffix == ".csv":
        entries = _read_csv(path, source)
    elif suffix == ".parquet":
        entries = _read_parquet(path, source)
    elif suffix in (".yaml", ".yml"):
        entries = _read_yaml(path, source)
    else:
        raise _file_error(
            source,
            f"unsupported file type '{path.suffix or path.name}' "
            f"(expected one of {', '.join(_SUFFIXES)})",
        )
    return source, entries, issues


def load_rows(
    data: str | os.PathLike[str] | pandas.DataFrame | Sequence[Mapping[str, Any]],
    *,
    base_dir: Path | None = None,
    name: str | None = None,
) -> list[Row]:
    """Load and validate an evaluation set.

    ``data`` is a path (``.jsonl``/``.ndjson``, ``.json``, ``.csv``, ``.parquet``, ``.yaml``/``.yml``;
    relative paths resolve against ``base_dir``, default the working directory), a pandas
    DataFrame, or a list of dicts. Every row is validated before anything is returned; problems
    are raised together as one :class:`EvalSetError`. ``name`` names the set in messages (default:
    the path as given, ``"DataFrame"`` or ``"rows"``).
    """
    if isinstance(data, (str, os.PathLike)):
        return _load_file(data, base_dir, name)
    if isinstance(data, Sequence) and not isinstance(data, (bytes, bytearray)):
        return _build_rows(name or "rows", _numbered(data), [])
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        records = data.to_dict(orient="records")
        return _build_rows(name or "DataFrame", _numbered(records), [])
    raise TypeError(
        "load_rows() expects a file path, a pandas DataFrame or a list of dicts, "
        f"got {type(data).__name__}"
    )
