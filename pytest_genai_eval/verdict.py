"""Turning a row's result into a pytest outcome, and the text a failing item shows."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pytest

from .conversation_report import transcript_lines
from .gate import Threshold, tolerated
from .results import Assessment, RowResult, request_text
from .tool_calls import call_lines, calls_of

TRUNCATE = 400


def _clip(text: str | None, limit: int = TRUNCATE) -> str:
    if text is None:
        return "(none)"
    text = text.strip()
    if len(text) > limit:
        return text[:limit].rstrip() + f" … [{len(text) - limit} more chars]"
    return text


def _indent(label: str, text: str) -> str:
    lines = text.splitlines() or [""]
    pad = " " * len(label)
    return "\n".join([label + lines[0], *(pad + line for line in lines[1:])])


def _mark(a: Assessment) -> str:
    if a.rating == "yes":
        return "PASS"
    if a.rating == "no":
        return "FAIL"
    if a.error:
        return "ERROR"
    return "SKIP"


def describe(result: RowResult, location: str = "") -> str:
    """A failing or erroring row, as shown under its pytest item."""
    head = f"row {result.request_id!r} of suite {result.suite!r}"
    if location:
        head += f" ({location})"
    status = result.status
    cause = result.root_cause
    if status == "fail" and cause is not None:
        head += f" failed; root cause: {result.root_cause_label}"
    elif status == "error":
        head += " could not be evaluated (an error, not a quality failure)"
    lines = [head]
    if result.turns is not None:  # a conversation: its transcript, each turn's verdict
        lines += transcript_lines(result)
    else:
        lines.append(_indent("  request:  ", _clip(request_text(result.row), 200)))
    if result.app_error:
        lines.append(_indent("  app error: ", result.app_error.strip()))
    elif result.turns is not None:
        pass
    elif result.response is None and result.tool_calls:
        lines.append("  response: (no final answer: the agent only called tools)")
    else:
        lines.append(_indent("  response: ", _clip(result.response)))
    lines += _tool_call_lines(result)
    for a in sorted(result.assessments, key=lambda a: (_mark(a) != "FAIL", _mark(a) != "ERROR")):
        detail = a.rationale or a.error or a.skipped or ""
        wrapped = (
            textwrap.fill(
                detail,
                width=88,
                subsequent_indent="      ",
                break_long_words=False,
                break_on_hyphens=False,
            )
            if detail
            else ""
        )
        lines.append(f"  [{_mark(a)}] {a.name}" + (f": {wrapped}" if wrapped else ""))
    return "\n".join(lines)


def _tool_call_lines(result: RowResult) -> list[str]:
    """Expected and actual tool calls, one per line, when the row has either."""
    expected = calls_of(result.row.get("expected_tool_calls"))
    actual = calls_of(result.tool_calls)
    if expected is None and actual is None:
        return []
    lines = []
    if expected is not None:
        lines.append(_indent("  expected calls: ", "\n".join(call_lines(expected))))
    lines.append(_indent("  actual calls:   ", "\n".join(call_lines(actual or []))))
    return lines


def raise_if_not_evaluated(result: RowResult, location: str = "") -> None:
    """Called in the item's setup: errors are pytest errors, nothing-to-run is a skip."""
    if result.status == "error":
        pytest.fail(describe(result, location), pytrace=False)
    if result.status == "skipped":
        reasons = sorted({a.skipped or "" for a in result.assessments if a.skipped})
        reason = "; ".join(reasons) or "no judge or check applies to this row"
        pytest.skip(f"not evaluated: {reason}")


def raise_if_failed(result: RowResult, thresholds: Sequence[Threshold], location: str = "") -> None:
    """Called in the item's call phase after the row was evaluated."""
    if result.status != "fail":
        return
    text = describe(result, location)
    failing = [a.name for a in result.failing]
    if tolerated(thresholds, failing):
        covering = ", ".join(t.describe() for t in thresholds if t.is_pass_rate and t.value < 1)
        cause = result.root_cause_label or failing[0]
        pytest.xfail(f"{cause} said no; tolerated by {covering} (checked at the end)")
    pytest.fail(text, pytrace=False)


def record_properties(item: pytest.Item, result: RowResult) -> None:
    """Each judge's rating as a JUnit property (``--junitxml`` shows them per test case)."""
    for assessment in result.assessments:
        value = assessment.rating or ("error" if assessment.error else "skipped")
        item.user_properties.append((f"genai/{assessment.name}/rating", value))
    item.user_properties.append(("genai/overall/rating", result.overall_rating or result.status))
    cause = result.root_cause
    if cause is not None:
        item.user_properties.append(("genai/root_cause", cause.name))
