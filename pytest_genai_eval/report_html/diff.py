"""A word-level diff of two responses, as escaped HTML."""

from __future__ import annotations

import difflib
import re

from .formatting import e

__all__ = ("word_diff",)

_DIFF_TOKEN_LIMIT = 6000
_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(old: str | None, new: str | None) -> str:
    """HTML of a word-level diff: removed words in ``<del>``, added words in ``<ins>``, all text
    escaped. Very long texts are shown as old and new without alignment."""
    a = _TOKEN.findall(old or "")
    b = _TOKEN.findall(new or "")
    if len(a) + len(b) > _DIFF_TOKEN_LIMIT:
        return f"<del>{e(old or '')}</del><ins>{e(new or '')}</ins>"
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(e("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(f"<del>{e(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{e(''.join(b[j1:j2]))}</ins>")
    return "".join(out)
