"""The work queue: which object keys need a reconcile, and when, like client-go's workqueue.

Owns the queueing contract between informers and workers:
- dedup: a key queued twice before a worker takes it is processed once;
- per-key serialization: a key being processed is never handed to a second worker;
  re-added meanwhile, it is queued again when `done(key)` is called;
- delays: `add_after(key, s)` (the earliest due time wins) and `add_rate_limited(key)`,
  per-key exponential backoff (0.75 s doubling up to 15 min, Flux's defaults) reset
  by `forget(key)`;
- shutdown: `get()` raises :class:`ShutDown` once the queue is empty (or at once);
- depth (`len()`) and the age of the longest-waiting key (`oldest_age()`) for metrics.

Time comes from an injectable `Clock` (the system's by default); the backoff is the controller's
one policy type, `reconcile.backoff.Backoff` (factor 2, no jitter).

Single event loop; not thread-safe (call it from the loop that runs the workers).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from ..clock import SYSTEM, Clock, Timer
from ..reconcile.backoff import Backoff

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down: `get()` has nothing more to hand out."""


class WorkQueue(Generic[T]):
    def __init__(
        self, base_delay: float = 0.75, max_delay: float = 900.0, name: str = "", clock: Clock = SYSTEM
    ) -> None:
        self.base_delay, self.max_delay, self.name, self.clock = base_delay, max_delay, name, clock
        self.backoff = Backoff(base_delay, max_delay, factor=2.0, jitter=0.0)
        self.adds_total = 0  # keys that entered the queue (after dedup), for metrics
        self.retries_total = 0  # add_rate_limited calls
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()  # needs processing: queued, or re-added while processing
        self._processing: set[T] = set()
        self._since: dict[T, float] = {}  # dirty key -> when it started waiting (insertion = age order)
        self._delayed: dict[T, tuple[float, Timer]] = {}  # key -> (due, timer)
        self._failures: dict[T, int] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._shutting_down = False
        self._immediate = False

    # -- adding -------------------------------------------------------------------------------------
    def add(self, key: T) -> None:
        """Queue `key` now. No effect if it is already queued, or after shutdown."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._since[key] = self.clock.monotonic()
        self.adds_total += 1
        if key in self._processing:
            return  # queued again by done()
        self._queue.append(key)
        self._wakeup()

    def add_after(self, key: T, delay: float) -> None:
        """Queue `key` after `delay` seconds. A pending earlier due time for the key wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        due = self.clock.monotonic() + delay
        pending = self._delayed.get(key)
        if pending is not None:
            if pending[0] <= due:
                return
            pending[1].cancel()
        self._delayed[key] = (due, self.clock.call_later(delay, lambda: self._fire(key)))

    def _fire(self, key: T) -> None:
        self._delayed.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: T) -> None:
        """Queue `key` after its backoff: base_delay * 2**failures, capped at max_delay."""
        self.retries_total += 1
        self.add_after(key, self.when(key))

    def when(self, key: T) -> float:
        """The next backoff delay for `key` (and count one more failure)."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return self.backoff.delay(failures)

    def forget(self, key: T) -> None:
        """Reset `key`'s backoff (after a success). Does not unqueue it."""
        self._failures.pop(key, None)

    def num_requeues(self, key: T) -> int:
        return self._failures.get(key, 0)

    # -- taking -------------------------------------------------------------------------------------
    async def get(self) -> T:
        """The next key to process; waits for one. Raises ShutDown once shut down (and drained)."""
        while True:
            if self._immediate or (self._shutting_down and not self._queue):
                raise ShutDown(self.name)
            if self._queue:
                key = self._queue.popleft()
                self._dirty.discard(key)
                self._since.pop(key, None)
                self._processing.add(key)
                return key
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut in self._getters:
                    self._getters.remove(fut)
                elif fut.done() and not fut.cancelled():
                    self._wakeup()  # we were woken for a key we will not take: pass it on
                raise

    def done(self, key: T) -> None:
        """Processing of `key` finished; if it was re-added meanwhile, it is queued again."""
        self._processing.discard(key)
        if key in self._dirty:
            if self._immediate:
                self._dirty.discard(key)
                self._since.pop(key, None)
            else:
                self._queue.append(key)
                self._wakeup()
        self._check_idle()

    def _wakeup(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # -- shutdown -----------------------------------------------------------------------------------
    def shutdown(self, immediate: bool = False) -> None:
        """Stop accepting keys; waiting `get()`s raise ShutDown once the queue is empty (at once with
        `immediate`). Pending delayed adds are dropped."""
        self._shutting_down = True
        self._immediate = self._immediate or immediate
        for _due, timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()
        if self._immediate:
            self._queue.clear()
            self._dirty.clear()
            self._since.clear()
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
        self._check_idle()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    async def join(self) -> None:
        """Wait until nothing is queued or being processed (delayed keys do not count)."""
        while self._queue or self._processing:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(fut)
            try:
                await fut
            finally:
                if fut in self._idle_waiters:
                    self._idle_waiters.remove(fut)

    def _check_idle(self) -> None:
        if not self._queue and not self._processing:
            for fut in self._idle_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._idle_waiters.clear()

    # -- introspection ------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Depth: keys queued and not yet handed to a worker."""
        return len(self._queue)

    def oldest_age(self) -> float:
        """Seconds the longest-waiting key has waited (0.0 when none waits)."""
        for since in self._since.values():
            return max(0.0, self.clock.monotonic() - since)
        return 0.0

    def is_processing(self, key: T) -> bool:
        return key in self._processing

    def is_queued(self, key: T) -> bool:
        return key in self._dirty

    def delayed(self) -> int:
        """Keys waiting for a delayed add."""
        return len(self._delayed)
