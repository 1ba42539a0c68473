"""Deterministic sampling of a suite's rows (``--genai-sample N``, ``--genai-sample-seed``): the
same N rows on every machine, process and xdist worker for the same seed, chosen by a stable hash
of the seed, the suite and the row's request id (production logs grow; a row once sampled stays
sampled while N and the seed stay)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["sample_key", "sampled"]


def sample_key(seed: int, suite: str, request_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{suite}\x00{request_id}".encode()).digest()


def sampled(rows: Iterable[tuple[str, str]], count: int, seed: int) -> set[tuple[str, str]]:
    """Of ``(suite, request_id)`` pairs, the ``count`` per suite with the smallest keys."""
    by_suite: dict[str, list[str]] = {}
    for suite, request_id in rows:
        by_suite.setdefault(suite, []).append(request_id)
    keep: set[tuple[str, str]] = set()
    for suite, ids in by_suite.items():
        ranked = sorted(set(ids), key=lambda request_id: sample_key(seed, suite, request_id))
        keep |= {(suite, request_id) for request_id in ranked[:count]}
    return keep
