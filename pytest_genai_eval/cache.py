"""The verdict cache: one small JSON file per judge answer, keyed by a content hash.

The key covers everything that could change the answer: the endpoint's model, the prompt
version, the sampling parameters, the repeat index, the schema and the exact rendered messages.
Writes go to a temporary file in the same directory and are renamed into place, so several
processes (xdist workers, CI shards on a shared cache) can write at once; a reader sees a whole
entry or none. An entry that cannot be read or does not match its key is ignored, counted and
reported, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CacheMode = Literal["use", "refresh", "off", "ci"]
CACHE_MODES: tuple[CacheMode, ...] = ("use", "refresh", "off", "ci")
FORMAT = 1


class CacheMiss(Exception):
    """In ``ci`` mode a verdict that is not cached is an error instead of a judge call."""


def cache_key(
    *,
    model: str,
    prompt_version: str,
    messages: Sequence[Mapping[str, Any]],
    schema: Mapping[str, Any],
    temperature: float,
    max_tokens: int | None,
    sample: int,
) -> str:
    payload = {
        "format": FORMAT,
        "model": model,
        "prompt_version": prompt_version,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "sample": sample,
        "schema": schema,
        "messages": messages,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    corrupt: int = 0
    corrupt_paths: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "corrupt": self.corrupt,
            "corrupt_paths": self.corrupt_paths[:20],
        }


class VerdictCache:
    def __init__(self, directory: Path, mode: CacheMode = "use") -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
        self.directory = directory
        self.mode: CacheMode = mode
        self.stats = CacheStats()
        self._lock = threading.Lock()

    @property
    def reads(self) -> bool:
        return self.mode in ("use", "ci")

    @property
    def writes(self) -> bool:
        return self.mode in ("use", "refresh", "ci")

    def _path(self, key: str) -> Path:
        return self.directory / "verdicts" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached entry, or None (a miss). Corrupt entries count as misses and are reported."""
        if not self.reads:
            return None
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            self._count(miss=True)
            return None
        except OSError:
            self._corrupt(path)
            return None
        try:
            entry = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._corrupt(path)
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("key") != key
            or entry.get("format") != FORMAT
            or not isinstance(entry.get("data"), dict)
        ):
            self._corrupt(path)
            return None
        self._count(hit=True)
        return entry

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        if not self.writes:
            return
        path = self._path(key)
        document = {"format": FORMAT, "key": key, **entry}
        data = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            return  # a cache that cannot be written only costs a future judge call
        with self._lock:
            self.stats.writes += 1

    def _count(self, *, hit: bool = False, miss: bool = False) -> None:
        with self._lock:
            self.stats.hits += int(hit)
            self.stats.misses += int(miss)

    def _corrupt(self, path: Path) -> None:
        with self._lock:
            self.stats.corrupt += 1
            self.stats.misses += 1
            self.stats.corrupt_paths.append(str(path))
