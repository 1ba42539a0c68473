"""The support bot: retrieve the best-matching articles, answer from them, cite the source.

It is deterministic on purpose (no model), so the example suite runs anywhere. Its "prompt"
is a version switch, ``SUPPORT_BOT_PROMPT`` (v1 by default), so you can watch the gate catch a
prompt change (README, "Catching a regression").
"""

from __future__ import annotations

import os
import re
from typing import Any

from .docs import DOCS

STOPWORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "is",
        "are",
        "do",
        "does",
        "i",
        "my",
        "me",
        "you",
        "your",
        "to",
        "of",
        "for",
        "in",
        "on",
        "and",
        "or",
        "can",
        "how",
        "what",
        "when",
        "where",
        "which",
        "who",
        "it",
        "if",
        "be",
        "with",
        "at",
        "by",
        "from",
        "this",
        "that",
        "there",
        "their",
        "we",
        "our",
        "us",
    )
)
OFF_TOPIC = (
    "I can only help with questions about orders, shipping, returns, accounts and membership."
)
SYNONYMS = {
    "refund": "returns",
    "return": "returns",
    "money": "refund",
    "back": "returns",
    "deliver": "shipping",
    "delivery": "shipping",
    "ship": "shipping",
    "shipped": "shipping",
    "broken": "warranty",
    "defect": "warranty",
    "defective": "warranty",
    "guarantee": "warranty",
    "login": "password",
    "forgot": "password",
    "reset": "password",
    "phone": "contact",
    "call": "contact",
    "email": "contact",
    "hours": "contact",
    "open": "contact",
    "plus": "pricing",
    "membership": "pricing",
    "subscription": "pricing",
    "cost": "pricing",
    "cancel": "pricing",
    "price": "pricing",
}


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]


def retrieve(question: str, k: int = 2) -> list[dict[str, str]]:
    terms = _words(question)
    expanded = terms + [SYNONYMS[t] for t in terms if t in SYNONYMS]
    scored = []
    for uri, text in DOCS.items():
        doc_words = set(_words(text)) | {uri.removeprefix("kb://")}
        score = sum(1 for t in expanded if t in doc_words)
        if score:
            scored.append((score, uri))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [{"doc_uri": uri, "content": DOCS[uri]} for _, uri in scored[:k]]


def _best_sentences(question: str, text: str, prompt: str) -> str:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    body = sentences[1:] or sentences
    terms = set(_words(question)) | {SYNONYMS[t] for t in _words(question) if t in SYNONYMS}
    ranked = sorted(body, key=lambda s: -len(terms & set(_words(s))))
    count = 1 if prompt == "v2" else 2  # v2: "be brief" — keeps only the single best sentence
    chosen = [s for s in body if s in ranked[:count]]
    return " ".join(chosen)


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The app under test: receives ``{"messages": [...]}``, returns a ChatCompletion-like dict
    that also carries the retrieved context."""
    prompt = os.environ.get("SUPPORT_BOT_PROMPT", "v1")
    question = str(request["messages"][-1]["content"])
    docs = retrieve(question)
    if not docs:
        text = OFF_TOPIC
    else:
        top = docs[0]
        text = _best_sentences(question, top["content"], prompt)
        if prompt == "v2":
            text = f"{text} (Source: {top['doc_uri']})"
        else:
            text = f"{text} Source: {top['doc_uri']}"
    prompt_tokens = sum(len(m.get("content", "").split()) for m in request["messages"]) + 120
    completion_tokens = len(text.split())
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "retrieved_context": docs,
    }
