"""The reference-based scores against values worked out by hand or taken from the papers."""

from __future__ import annotations

import math

import pytest

from pytest_genai_eval.text_scores import (
    levenshtein_similarity,
    rouge_l,
    sentence_bleu,
    squad_f1,
    squad_normalize,
    word_tokens,
)


def test_word_tokens_case_fold_and_split_on_punctuation() -> None:
    assert word_tokens("It's 5PM, Zoë!") == ["it", "s", "5pm", "zoë"]
    assert word_tokens("snake_case") == ["snake", "case"]
    assert word_tokens(" ... ") == []


@pytest.mark.parametrize(
    ("a", "b", "similarity"),
    [
        ("kitten", "sitting", 1 - 3 / 7),  # the textbook distance 3, over the longer length 7
        ("flaw", "lawn", 1 - 2 / 4),
        ("same", "same", 1.0),
        ("", "", 1.0),
        ("abc", "", 0.0),
    ],
)
def test_levenshtein_similarity(a: str, b: str, similarity: float) -> None:
    assert levenshtein_similarity(a, b) == pytest.approx(similarity)


def test_rouge_l_lin_2004_examples() -> None:
    """Lin (2004), section 3.1: with reference S1, S2 scores 3/4 and S3 2/4 (beta = 1, equal
    lengths, so P = R = F)."""
    s1 = "police killed the gunman"
    assert rouge_l("police kill the gunman", s1) == pytest.approx(0.75)
    assert rouge_l("the gunman kill police", s1) == pytest.approx(0.5)


def test_rouge_l_precision_and_recall_differ() -> None:
    # LCS "the cat on the mat" = 5 of 6 candidate and 5 of 8 reference tokens
    p, r = 5 / 6, 5 / 8
    assert rouge_l("the cat sat on the mat", "the cat was sitting on the mat today") == pytest.approx(
        2 * p * r / (p + r)
    )
    assert rouge_l("The CAT!", "the cat") == 1.0
    assert rouge_l("", "the cat") == 0.0
    assert rouge_l("", "") == 1.0
    assert rouge_l("dog", "the cat") == 0.0


def test_sentence_bleu_by_hand() -> None:
    """"the cat sat on the mat" vs "the cat is on the mat": 1-grams 5/6, 2-grams 3/5,
    3-grams 1/4, no 4-gram match (smoothed to 1/(2*3)), equal lengths (no brevity penalty):
    (5/6 * 3/5 * 1/4 * 1/6) ** (1/4) = (1/48) ** (1/4)."""
    assert sentence_bleu("the cat sat on the mat", "the cat is on the mat") == pytest.approx(
        (1 / 48) ** 0.25
    )


def test_sentence_bleu_brevity_penalty_and_effective_order() -> None:
    # one token, all orders it has match; c=1 < r=2: BP = exp(1 - 2/1)
    assert sentence_bleu("hello", "hello world") == pytest.approx(math.exp(-1))
    # longer than the reference: no penalty; 1-grams 1/2, 2-grams 0/1 -> 1/(2*1)
    assert sentence_bleu("hello world", "hello") == pytest.approx(math.sqrt(0.5 * 0.5))
    assert sentence_bleu("the quick brown fox", "The quick brown fox.") == pytest.approx(1.0)
    assert sentence_bleu("a b", "c d") == 0.0  # no word in common
    assert sentence_bleu("", "c d") == 0.0
    assert sentence_bleu("", "") == 1.0


def test_sentence_bleu_clips_repeated_words() -> None:
    """Papineni et al. (2002), section 2.1: "the the the the the the the" against "the cat is
    on the mat" has a modified unigram precision of 2/7 (not 7/7). Higher orders: "the the"
    never matches (smoothed 1/(2*6), 1/(4*5), 1/(8*4)); c=7 > r=6, no brevity penalty."""
    expected = (2 / 7 * 1 / 12 * 1 / 20 * 1 / 32) ** 0.25
    assert sentence_bleu("the the the the the the the", "the cat is on the mat") == pytest.approx(
        expected
    )


def test_squad_normalize_and_f1() -> None:
    assert squad_normalize("The  Denver Broncos!") == "denver broncos"
    assert squad_normalize("An apple, a day") == "apple day"
    assert squad_f1("the Denver Broncos", "Denver Broncos") == 1.0
    # tokens [broncos, won] vs [denver, broncos]: 1 common, P = R = 1/2
    assert squad_f1("Broncos won", "Denver Broncos") == pytest.approx(0.5)
    # [denver, broncos, won, super, bowl] vs [denver, broncos]: P = 2/5, R = 1
    assert squad_f1("Denver Broncos won the Super Bowl", "Denver Broncos") == pytest.approx(
        2 * 0.4 / 1.4
    )
    assert squad_f1("nothing", "Denver") == 0.0
    assert squad_f1("the", "a") == 1.0  # both normalize to no tokens
    assert squad_f1("the", "Denver") == 0.0
