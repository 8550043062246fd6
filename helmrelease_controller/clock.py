"""Time as the controller reads it: one small interface, the system's by default, a fake in tests.

`Clock` is what the work queue, the informer, leader election and the retries take time from:
`monotonic()` for durations and due times, `time()` for wall-clock time written into objects (a
Lease's renewTime) and compared with theirs, `sleep()`, `call_later()` (a cancellable timer) and
`timeout()` (`asyncio.timeout` measured on this clock). `SYSTEM` is the real one (asyncio's loop
time is `time.monotonic`). Tests pass `tests/helpers/clock.FakeClock`, whose time moves only when
the test advances it, so they assert exact schedules instead of wall-clock windows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer: ...

    def timeout(self, delay: float | None) -> AbstractAsyncContextManager[object]: ...


class SystemClock:
    """The real clock: `time.monotonic`, `time.time`, and asyncio's timers, sleeps and timeouts."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)

    def timeout(self, delay: float | None) -> AbstractAsyncContextManager[object]:
        return asyncio.timeout(delay)


SYSTEM: Clock = SystemClock()

__all__ = ["SYSTEM", "Clock", "SystemClock", "Timer"]
