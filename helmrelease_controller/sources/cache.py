"""Caches shared by chart sources: a size-bounded on-disk archive store, a TTL'd index cache, single-flight.

- `ArchiveCache`: chart archives on disk, content-addressed by sha256 (`<root>/<hex>.tgz`), so a chart
  version is stored once however many releases use it. Bounded by total bytes; the least recently used
  files are evicted (use is recorded in the file's mtime, so the order survives restarts). Files used
  within the last `min_age` seconds are never evicted, so a chart a reconcile has just resolved is
  still there when helm reads it. A deleted file or directory is simply a miss.
- `IndexCache`: parsed repository indexes per key with their validators (ETag / Last-Modified) and
  fetch time, for TTL checks and conditional GETs.
- `SingleFlight`: concurrent callers asking for the same key share one in-flight task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["ArchiveCache", "CachedIndex", "IndexCache", "SingleFlight"]

T = TypeVar("T")

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class ArchiveCache:
    """Chart archives on disk keyed by sha256 hex digest, LRU-evicted beyond `max_bytes`.

    Bookkeeping is not thread-safe: call everything on the event loop except `write`, which only writes
    the file (run it in a thread, then `add`). The other calls are cheap system calls (stat, utime, unlink).
    """

    SUFFIX = ".tgz"

    def __init__(
        self,
        root: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        min_age: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.min_age = min_age
        self._clock = clock
        self._entries: OrderedDict[str, int] = OrderedDict()  # hex -> size, least recently used first
        self._used: dict[str, float] = {}  # hex -> last use (clock)
        self._scanned = False
        self.evictions = 0

    # bookkeeping -----------------------------------------------------------------------------

    def _scan(self) -> None:
        """Adopt archives already on disk (after a restart), oldest use first."""
        self._scanned = True
        found: list[tuple[float, str, int]] = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.root):
                name = entry.name
                if name.endswith(self.SUFFIX) and len(name) == 64 + len(self.SUFFIX):
                    st = entry.stat()
                    found.append((st.st_mtime, name[:64], st.st_size))
                elif name.startswith(".tmp-"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)  # a download interrupted by a crash
        for mtime, hexdigest, size in sorted(found):
            self._entries[hexdigest] = size
            self._used[hexdigest] = mtime

    @property
    def total_bytes(self) -> int:
        if not self._scanned:
            self._scan()
        return sum(self._entries.values())

    def __len__(self) -> int:
        if not self._scanned:
            self._scan()
        return len(self._entries)

    def __contains__(self, hexdigest: object) -> bool:
        if not self._scanned:
            self._scan()
        return hexdigest in self._entries

    def path_for(self, hexdigest: str) -> Path:
        return self.root / f"{hexdigest}{self.SUFFIX}"

    # operations ------------------------------------------------------------------------------

    def lookup(self, hexdigest: str) -> Path | None:
        """The archive's path if it is on disk (marking it used), else None."""
        if not self._scanned:
            self._scan()
        path = self.path_for(hexdigest)
        now = self._clock()
        try:
            os.utime(path, (now, now))
            size = path.stat().st_size
        except FileNotFoundError:
            self._forget(hexdigest)
            return None
        self._entries[hexdigest] = size
        self._entries.move_to_end(hexdigest)
        self._used[hexdigest] = now
        return path

    def write(self, hexdigest: str, data: bytes) -> Path:
        """Write `data` as the archive for `hexdigest`, atomically. Touches only the file system, so it
        may run in a thread; follow it with `add` on the event loop."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(hexdigest)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        now = self._clock()
        os.utime(path, (now, now))
        return path

    def add(self, hexdigest: str, size: int) -> list[str]:
        """Account for an archive written by `write` and evict down to `max_bytes`; return the evicted."""
        if not self._scanned:
            self._scan()
        self._entries[hexdigest] = size
        self._entries.move_to_end(hexdigest)
        self._used[hexdigest] = self._clock()
        return self.evict(keep=hexdigest)

    def store(self, hexdigest: str, data: bytes) -> Path:
        """`write` then `add`, in one synchronous call."""
        path = self.write(hexdigest, data)
        self.add(hexdigest, len(data))
        return path

    def discard(self, hexdigest: str) -> None:
        """Remove an archive (e.g. found corrupt on disk)."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(hexdigest).unlink()
        self._forget(hexdigest)

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete least recently used archives until the total fits `max_bytes`; return what was deleted.

        Never deletes `keep` or archives used within `min_age` seconds (the cache may then stay above
        its bound until they age).
        """
        if not self._scanned:
            self._scan()
        evicted: list[str] = []
        total = sum(self._entries.values())
        now = self._clock()
        for hexdigest in list(self._entries):
            if total <= self.max_bytes:
                break
            if hexdigest == keep or now - self._used.get(hexdigest, 0.0) < self.min_age:
                continue
            total -= self._entries[hexdigest]
            self.discard(hexdigest)
            evicted.append(hexdigest)
            self.evictions += 1
        return evicted

    def _forget(self, hexdigest: str) -> None:
        self._entries.pop(hexdigest, None)
        self._used.pop(hexdigest, None)


@dataclass
class CachedIndex(Generic[T]):
    """A parsed index and what is needed to revalidate it."""

    index: T
    fetched_at: float  # monotonic time of the last successful fetch or 304
    body_sha256: str
    etag: str | None = None
    last_modified: str | None = None


class IndexCache(Generic[T]):
    """Parsed indexes per key with a TTL; at most `max_entries`, least recently used dropped first."""

    def __init__(
        self, ttl: float = 60.0, *, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ):
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, CachedIndex[T]] = OrderedDict()

    def get(self, key: Hashable) -> CachedIndex[T] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def fresh(self, key: Hashable) -> CachedIndex[T] | None:
        """The entry if it is younger than the TTL."""
        entry = self.get(key)
        if entry is not None and self.clock() - entry.fetched_at < self.ttl:
            return entry
        return None

    def put(self, key: Hashable, entry: CachedIndex[T]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def touch(self, key: Hashable) -> None:
        """Mark the entry fresh again (after a 304 Not Modified)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.fetched_at = self.clock()

    def invalidate(self, key: Hashable | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class SingleFlight(Generic[T]):
    """Runs at most one task per key; concurrent callers for that key await the same result.

    The task is shielded: a caller being cancelled does not cancel the work others wait for.
    """

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[T]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    def joined(self, key: Hashable) -> bool:
        return key in self._inflight

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        fut = self._inflight.get(key)
        if fut is None:
            fut = asyncio.ensure_future(fn())
            self._inflight[key] = fut

            def done(f: asyncio.Future[T], key: Hashable = key) -> None:
                if self._inflight.get(key) is f:
                    del self._inflight[key]
                if not f.cancelled():
                    f.exception()  # retrieved: no "exception was never retrieved" when all callers left

            fut.add_done_callback(done)
        return await asyncio.shield(fut)

    def cancel_all(self) -> None:
        for fut in list(self._inflight.values()):
            fut.cancel()
        self._inflight.clear()
