"""One timer for many deadlines: the kubelet's back-offs and the Deployment progress deadline.

`Timers.at(delay, key, fn)` runs `fn()` once, `delay` seconds from now, on the server's loop;
setting the same `key` again replaces its deadline. However many pods are backing off, one
`call_later` is pending at a time (for the earliest deadline): no thread or timer per pod.
Without a running loop (synchronous unit use) nothing is scheduled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Hashable

Callback = Callable[[], None]


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, tuple[float, Callback]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = float("inf")
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def at(self, delay: float, key: Hashable, fn: Callback) -> None:
        when = time.monotonic() + max(delay, 0.0)
        self._due[key] = (when, fn)
        heapq.heappush(self._heap, (when, next(self._seq), key))
        self._arm()

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)

    def _arm(self) -> None:
        while self._heap and self._due.get(self._heap[0][2], (None,))[0] != self._heap[0][0]:
            heapq.heappop(self._heap)  # cancelled or replaced
        if not self._heap:
            return
        when = self._heap[0][0]
        if self._handle is not None and self._armed_for <= when:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._armed_for = when
        self._handle = loop.call_later(max(when - time.monotonic(), 0.0), self._fire)

    def _fire(self) -> None:
        self._handle, self._armed_for = None, float("inf")
        now = time.monotonic()
        due: list[Callback] = []
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            entry = self._due.get(key)
            if entry is not None and entry[0] == when:
                del self._due[key]
                due.append(entry[1])
        for fn in due:
            fn()
        self._arm()
