"""Checks that compare the response with a value or with the row's ``expected_response``.

* ``equals``: the response equals ``value`` (``case_sensitive`` true, ``strip`` true,
  ``normalize_whitespace`` false);
* ``starts_with``: the response (leading whitespace ignored) starts with ``value`` or with one
  of ``values`` (``case_sensitive`` false);
* ``levenshtein``: normalized Levenshtein similarity to ``expected`` (default: the row's
  ``expected_response``) is at least ``min_similarity``; same text options as ``equals``;
* ``rouge_l``, ``bleu``: ROUGE-L F1 / smoothed sentence BLEU against ``reference`` (default:
  the row's ``expected_response``) is at least ``min_score``;
* ``exact_match``: the response and ``expected_response`` are the same label after SQuAD
  normalization; ``f1``: their SQuAD token F1 is at least ``min_f1``.

The scores are defined in :mod:`pytest_genai_eval.text_scores`. A check that compares with the
expected response is "not applicable" on a row without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .. import text_scores
from .base import EvalContext
from .check_base import Builder, Check, SpecReader, quote_list, string_values

__all__ = [
    "TEXT_BUILDERS",
    "Bleu",
    "Equals",
    "ExactMatch",
    "LevenshteinCheck",
    "RougeL",
    "StartsWith",
    "TextForm",
    "TokenF1",
]

NO_EXPECTED = "needs the row's expected_response"


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


@dataclass(frozen=True)
class TextForm:
    """How a text is compared: case, surrounding whitespace, inner runs of whitespace."""

    case_sensitive: bool = True
    strip: bool = True
    normalize_whitespace: bool = False

    def apply(self, text: str) -> str:
        if self.normalize_whitespace:
            text = " ".join(text.split())
        elif self.strip:
            text = text.strip()
        return text if self.case_sensitive else text.casefold()

    def describe(self) -> dict[str, Any]:
        return {
            "case_sensitive": self.case_sensitive,
            "strip": self.strip,
            "normalize_whitespace": self.normalize_whitespace,
        }


@dataclass(kw_only=True)
class Equals(Check):
    """``equals``: the response equals ``value`` (as ``form`` compares texts)."""

    value: str
    form: TextForm = TextForm()
    type: ClassVar[str] = "equals"

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        response = ctx.response or ""
        if self.form.apply(response) == self.form.apply(self.value):
            return True, f"response equals {_short(self.value)}", {}
        return False, f"response {_short(response)} does not equal {_short(self.value)}", {}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "value": self.value, **self.form.describe()}


@dataclass(kw_only=True)
class StartsWith(Check):
    """``starts_with``: the response, leading whitespace ignored, starts with one of
    ``values``."""

    values: tuple[str, ...]
    case_sensitive: bool = False
    type: ClassVar[str] = "starts_with"

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        text = (ctx.response or "").lstrip()
        if not self.case_sensitive:
            text = text.casefold()
        for value in self.values:
            if text.startswith(value if self.case_sensitive else value.casefold()):
                return True, f"response starts with {value!r}", {"matched": value}
        if len(self.values) == 1:
            return False, f"response does not start with {self.values[0]!r}", {"matched": None}
        return (
            False,
            f"response starts with none of {quote_list(self.values)}",
            {"matched": None},
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "values": list(self.values),
            "case_sensitive": self.case_sensitive,
        }


@dataclass(kw_only=True)
class _Reference(Check):
    """A check against a reference text: the spec's own, else the row's expected_response."""

    reference: str | None = None
    reference_key: ClassVar[str | None] = "reference"  # None: the spec cannot give one

    def reference_of(self, ctx: EvalContext) -> str | None:
        return self.reference if self.reference is not None else ctx.row.expected_response

    def missing(self, ctx: EvalContext) -> str | None:
        problem = super().missing(ctx)
        if problem is None and self.reference_of(ctx) is None:
            key = self.reference_key
            return f"{NO_EXPECTED} (or the check's '{key}')" if key else NO_EXPECTED
        return problem

    @property
    def against(self) -> str:
        return "the check's reference" if self.reference is not None else "the expected response"

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.reference is not None and self.reference_key:
            out[self.reference_key] = self.reference
        return out


@dataclass(kw_only=True)
class _Scored(_Reference):
    """A similarity score against the reference with a lower bound."""

    minimum: float
    label: ClassVar[str] = ""
    bound_key: ClassVar[str] = "min_score"

    def score(self, response: str, reference: str) -> float:
        raise NotImplementedError

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        reference = self.reference_of(ctx) or ""
        value = self.score(ctx.response or "", reference)
        details = {"score": round(value, 6)}
        shown = f"{self.label} {value:.3f} against {self.against}"
        if value + 1e-12 >= self.minimum:
            return True, f"{shown} >= {self.bound_key} {self.minimum:g}", details
        return False, f"{shown} < {self.bound_key} {self.minimum:g}", details

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), self.bound_key: self.minimum}


@dataclass(kw_only=True)
class LevenshteinCheck(_Scored):
    """``levenshtein``: normalized character similarity to the expected text."""

    form: TextForm = TextForm()
    type: ClassVar[str] = "levenshtein"
    label: ClassVar[str] = "Levenshtein similarity"
    bound_key: ClassVar[str] = "min_similarity"
    reference_key: ClassVar[str | None] = "expected"

    @property
    def against(self) -> str:
        return "the check's expected text" if self.reference is not None else "the expected response"

    def score(self, response: str, reference: str) -> float:
        return text_scores.levenshtein_similarity(
            self.form.apply(response), self.form.apply(reference)
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.form.describe()}


@dataclass(kw_only=True)
class RougeL(_Scored):
    """``rouge_l``: ROUGE-L F1 against the reference."""

    type: ClassVar[str] = "rouge_l"
    label: ClassVar[str] = "ROUGE-L F1"

    def score(self, response: str, reference: str) -> float:
        return text_scores.rouge_l(response, reference)


@dataclass(kw_only=True)
class Bleu(_Scored):
    """``bleu``: smoothed sentence BLEU against the reference."""

    type: ClassVar[str] = "bleu"
    label: ClassVar[str] = "BLEU"

    def score(self, response: str, reference: str) -> float:
        return text_scores.sentence_bleu(response, reference)


@dataclass(kw_only=True)
class ExactMatch(_Reference):
    """``exact_match``: the response is the expected label (after SQuAD normalization)."""

    type: ClassVar[str] = "exact_match"
    reference_key: ClassVar[str | None] = None

    def evaluate(self, ctx: EvalContext) -> tuple[bool, str, dict[str, Any]]:
        got = text_scores.squad_normalize(ctx.response or "")
        want = text_scores.squad_normalize(self.reference_of(ctx) or "")
        details = {"normalized_response": got, "normalized_expected": want}
        if got == want:
            return True, f"response matches the expected label {_short(want)}", details
        return False, f"response {_short(got)} is not the expected label {_short(want)}", details


@dataclass(kw_only=True)
class TokenF1(_Scored):
    """``f1``: SQuAD token F1 of the response against the expected response."""

    type: ClassVar[str] = "f1"
    label: ClassVar[str] = "token F1"
    bound_key: ClassVar[str] = "min_f1"
    reference_key: ClassVar[str | None] = None

    def score(self, response: str, reference: str) -> float:
        return text_scores.squad_f1(response, reference)


# ---- building from specs ------------------------------------------------------------------------
def _form(r: SpecReader, *, case_sensitive: bool = True) -> TextForm:
    return TextForm(
        case_sensitive=r.boolean("case_sensitive", case_sensitive),
        strip=r.boolean("strip", True),
        normalize_whitespace=r.boolean("normalize_whitespace", False),
    )


_FORM_FIELDS = ("case_sensitive", "strip", "normalize_whitespace")


def _equals(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    value = r.text("value", allow_empty=True)
    form = _form(r)
    r.finish(("value", *_FORM_FIELDS))
    return Equals(name=name, value=value or "", form=form)


def _starts_with(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    if r.has("value") == r.has("values"):
        raise r.where.error(None, "give exactly one of 'value' or 'values'")
    values = string_values(r, "value" if r.has("value") else "values")
    case = r.boolean("case_sensitive", False)
    r.finish(("value", "values", "case_sensitive"))
    return StartsWith(name=name, values=values, case_sensitive=case)


def _levenshtein(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    expected = r.text("expected", required=False, allow_empty=True)
    minimum = r.fraction("min_similarity")
    form = _form(r)
    r.finish(("expected", "min_similarity", *_FORM_FIELDS))
    return LevenshteinCheck(name=name, reference=expected, minimum=minimum or 0.0, form=form)


def _scored(cls: type[RougeL | Bleu]) -> Builder:
    def build(r: SpecReader, name: str, base_dir: Path | None) -> Check:
        reference = r.text("reference", required=False, allow_empty=True)
        minimum = r.fraction("min_score")
        r.finish(("reference", "min_score"))
        return cls(name=name, reference=reference, minimum=minimum or 0.0)

    return build


def _exact_match(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    r.finish(())
    return ExactMatch(name=name)


def _f1(r: SpecReader, name: str, base_dir: Path | None) -> Check:
    minimum = r.fraction("min_f1")
    r.finish(("min_f1",))
    return TokenF1(name=name, minimum=minimum or 0.0)


TEXT_BUILDERS: Mapping[str, Builder] = {
    "equals": _equals,
    "starts_with": _starts_with,
    "levenshtein": _levenshtein,
    "rouge_l": _scored(RougeL),
    "bleu": _scored(Bleu),
    "exact_match": _exact_match,
    "f1": _f1,
}
