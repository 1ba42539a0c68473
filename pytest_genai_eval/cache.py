"""The verdict cache: judge answers on disk, keyed by a content hash.

The key covers everything that could change the answer: the endpoint's model, the prompt
version, the sampling parameters, the repeat index, the schema and the exact rendered messages.

Storage is a directory of append-only segment files (``verdicts/seg-*.jsonl``), one per writing
process, so several processes (xdist workers, CI shards sharing a cache) never write the same
file and nothing needs a lock. Each line is one entry carrying its key and a checksum of its
content; the index is read once, on the first lookup. A line that does not parse or whose
checksum does not match is ignored, counted and reported, never trusted; an unterminated last
line (another process is writing it) is simply not there yet. Old segments are compacted into
one file, written to a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

CacheMode = Literal["use", "refresh", "off", "ci"]
CACHE_MODES: tuple[CacheMode, ...] = ("use", "refresh", "off", "ci")
FORMAT = 2
COMPACT_AFTER = 32  # segments
COMPACT_MIN_AGE = 600.0  # seconds since a segment was last written


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


def _blob(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _checksum(key: str, entry: Mapping[str, Any], blob: str | None = None) -> str:
    blob = _blob(entry) if blob is None else blob
    return hashlib.sha256(f"{key}\x00{blob}".encode()).hexdigest()[:16]


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
            "corrupt_paths": sorted(set(self.corrupt_paths))[:20],
        }


class VerdictCache:
    def __init__(self, directory: Path, mode: CacheMode = "use") -> None:
        if mode not in CACHE_MODES:
            raise ValueError(f"cache mode must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
        self.directory = directory
        self.mode: CacheMode = mode
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._index: dict[str, bytes] | None = None
        self._segment: IO[bytes] | None = None

    @property
    def reads(self) -> bool:
        return self.mode in ("use", "ci")

    @property
    def writes(self) -> bool:
        return self.mode in ("use", "refresh", "ci")

    @property
    def segments_dir(self) -> Path:
        return self.directory / "verdicts"

    # ---- reading ---------------------------------------------------------------------------------
    def _load(self) -> dict[str, bytes]:
        """key -> the entry's raw line. Lines are parsed and verified only when looked up, so a
        large cache costs little memory; a line without a readable key is counted corrupt now."""
        index: dict[str, bytes] = {}
        try:
            paths = sorted(self.segments_dir.glob("seg-*.jsonl"), key=_mtime)
        except OSError:
            return index
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError:
                continue  # compacted away meanwhile: its entries are in the compacted segment
            lines = data.split(b"\n")
            lines.pop()  # "" after the last newline, or an unterminated line still being written
            for line in lines:
                key = _line_key(line)
                if key is None:
                    self.stats.corrupt += 1
                    self.stats.corrupt_paths.append(str(path))
                else:
                    index[key] = line  # later segments win (refreshed verdicts)
        if len(paths) > COMPACT_AFTER:
            self._compact(paths, index)
        return index

    @staticmethod
    def _parse(line: bytes) -> dict[str, Any] | None:
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            return None
        key, check, body = entry.get("key"), entry.get("check"), entry.get("entry")
        if not isinstance(key, str) or not isinstance(body, dict):
            return None
        if not isinstance(body.get("data"), dict) or check != _checksum(key, body):
            return None
        return {"key": key, **body}

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached entry, or None (a miss). A corrupt entry is reported and is a miss."""
        if not self.reads:
            return None
        with self._lock:
            if self._index is None:
                self._index = self._load()
            line = self._index.get(key)
            entry = self._parse(line) if line is not None else None
            if line is not None and (entry is None or entry["key"] != key):
                entry = None
                self.stats.corrupt += 1
                self.stats.corrupt_paths.append(str(self.segments_dir))
                del self._index[key]
            if entry is None:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
            return entry

    # ---- writing ---------------------------------------------------------------------------------
    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        if not self.writes:
            return
        body = dict(entry)
        blob = _blob(body)
        check = _checksum(key, body, blob)
        line = (f'{{"format":{FORMAT},"key":"{key}","check":"{check}","entry":{blob}}}').encode()
        with self._lock:
            try:
                if self._segment is None:
                    self.segments_dir.mkdir(parents=True, exist_ok=True)
                    name = f"seg-{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
                    self._segment = open(  # noqa: SIM115
                        self.segments_dir / name, "ab", buffering=0
                    )
                # One unbuffered write per verdict: a paid verdict is on disk as soon as it is
                # answered, whatever ends the process afterwards (a signal, a killed worker).
                self._segment.write(line + b"\n")
            except OSError:
                return  # a cache that cannot be written only costs a future judge call
            self.stats.writes += 1
            if self._index is not None:
                self._index[key] = line

    def close(self) -> None:
        with self._lock:
            if self._segment is not None:
                with contextlib.suppress(OSError):
                    self._segment.close()
                self._segment = None

    def _compact(self, paths: list[Path], index: dict[str, bytes]) -> None:
        now = time.time()
        old = [p for p in paths if now - _mtime(p) > COMPACT_MIN_AGE]
        if len(old) < 2:
            return
        target = self.segments_dir / f"seg-compact-{uuid.uuid4().hex[:12]}.jsonl"
        tmp = target.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as handle:
                for line in index.values():
                    handle.write(line + b"\n")
            os.replace(tmp, target)
            os.utime(target, (_mtime(old[-1]), _mtime(old[-1])))
            for path in old:
                with contextlib.suppress(OSError):
                    path.unlink()
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


_KEY_PREFIX = b'{"format":%d,"key":"' % FORMAT


def _line_key(line: bytes) -> str | None:
    """The key of a segment line, read without parsing the line (verified on lookup)."""
    if not line.startswith(_KEY_PREFIX):
        try:  # a line written by another JSON encoder: parse it
            entry = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        key = entry.get("key") if isinstance(entry, dict) else None
        return key if isinstance(key, str) else None
    start = len(_KEY_PREFIX)
    key = line[start : start + 64]
    if len(key) != 64 or line[start + 64 : start + 65] != b'"':
        return None
    try:
        return key.decode("ascii")
    except UnicodeDecodeError:
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
