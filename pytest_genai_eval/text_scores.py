"""Reference-based text scores for the deterministic checks: no LLM, no state.

* :func:`levenshtein_similarity`: ``1 - distance / max(len(a), len(b))`` over characters
  (rapidfuzz's ``Levenshtein.normalized_similarity``); two empty texts are identical (1.0).
* :func:`rouge_l`: ROUGE-L F1 (Lin, 2004, "ROUGE: A Package for Automatic Evaluation of
  Summaries", section 3.1): with ``LCS`` the longest common subsequence of the candidate's
  ``n`` tokens and the reference's ``m`` tokens, ``P = LCS/n``, ``R = LCS/m``,
  ``F1 = 2PR/(P+R)`` (the ``rougeL`` of Google's rouge-score, without stemming).
* :func:`sentence_bleu`: BLEU (Papineni et al., 2002) on one candidate and one reference:
  modified (clipped) n-gram precisions for n = 1..4, uniform weights, brevity penalty
  ``exp(1 - r/c)`` when the candidate is shorter than the reference. Sentence-level
  smoothing is "exp" (Chen & Cherry, 2014, method 3, as NIST mteval-v13a and sacrebleu's
  ``sentence_bleu``): the k-th order with no match counts ``1 / (2^k * total)``; a candidate
  without a single matching word scores 0. A candidate of fewer than 4 tokens is scored on
  the orders it has (sacrebleu's "effective order"). On the same tokens this equals sacrebleu's
  ``BLEU(tokenize="none", smooth_method="exp", effective_order=True).sentence_score``.
* :func:`squad_normalize`, :func:`squad_f1`: the SQuAD evaluation (Rajpurkar et al., 2016;
  the official ``evaluate-v2.0.py``): lower-case, remove punctuation and the articles
  a/an/the, collapse whitespace; F1 over the bag of tokens. Two empty answers agree (1.0).

Tokens for ROUGE-L and BLEU (:func:`word_tokens`): runs of letters and digits, case-folded
(punctuation and whitespace separate tokens); for ASCII text this is rouge-score's tokenizer.
Scores are in [0, 1].
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

__all__ = [
    "levenshtein_similarity",
    "rouge_l",
    "sentence_bleu",
    "squad_f1",
    "squad_normalize",
    "word_tokens",
]

_WORD = re.compile(r"[^\W_]+")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
BLEU_MAX_ORDER = 4


def word_tokens(text: str) -> list[str]:
    """Runs of letters and digits, case-folded: ``"It's 5pm!"`` -> ``["it", "s", "5pm"]``."""
    return _WORD.findall(text.casefold())


def levenshtein_similarity(a: str, b: str) -> float:
    """Normalized Levenshtein similarity of two texts (characters), in [0, 1]."""
    from rapidfuzz.distance import Levenshtein  # imported by the suites that use it only

    return float(Levenshtein.normalized_similarity(a, b))


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    from rapidfuzz.distance import LCSseq

    return int(LCSseq.similarity(a, b))


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 of ``candidate`` against ``reference``: 0.0 when one of them has no tokens,
    1.0 when neither has."""
    cand, ref = word_tokens(candidate), word_tokens(reference)
    if not cand or not ref:
        return 1.0 if not cand and not ref else 0.0
    lcs = _lcs_length(cand, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu(candidate: str, reference: str) -> float:
    """Smoothed sentence BLEU of ``candidate`` against one ``reference`` (see the module
    docstring), in [0, 1]; 0.0 for an empty candidate, 1.0 when both are empty."""
    cand, ref = word_tokens(candidate), word_tokens(reference)
    if not cand:
        return 1.0 if not ref else 0.0
    log_sum = 0.0
    order = min(BLEU_MAX_ORDER, len(cand))
    smooth = 1.0
    for n in range(1, order + 1):
        cand_counts, ref_counts = _ngrams(cand, n), _ngrams(ref, n)
        total = sum(cand_counts.values())
        matches = sum(min(count, ref_counts[gram]) for gram, count in cand_counts.items())
        if matches == 0 and n == 1:
            return 0.0  # not one word in common: nothing to smooth
        if matches == 0:
            smooth *= 2
            precision = 1.0 / (smooth * total)
        else:
            precision = matches / total
        log_sum += math.log(precision)
    penalty = 1.0 if len(cand) >= len(ref) else math.exp(1 - len(ref) / len(cand))
    return penalty * math.exp(log_sum / order)


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalization: lower-case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_f1(prediction: str, truth: str) -> float:
    """SQuAD token F1 of ``prediction`` against ``truth`` (after :func:`squad_normalize`)."""
    pred, gold = squad_normalize(prediction).split(), squad_normalize(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)
