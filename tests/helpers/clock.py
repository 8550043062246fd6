"""A fake `Clock` for timing tests: its time moves only when the test advances it.

Timers (`call_later`, `sleep`, `timeout`) fire in due-time order as `advance()` passes their due
time, and `now` is exactly their due time while they run, so a test asserts the exact schedule
(`clock.sleeps`, the times a callback saw) instead of a window of wall-clock time. With
`auto=True` a `sleep()` advances the clock by its own length at once (for code with one sleeper,
such as a notification provider's delivery task). `until_sleeps(n)` waits, in real time and only
as a guard against a hung test, until the code under test has asked for its n-th sleep
(`until_timeouts(n)`: entered its n-th timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Callable

HANG = 10.0  # seconds of real time: only a hung test waits this long


class FakeTimer:
    def __init__(self, due: float, callback: Callable[[], object]) -> None:
        self.due, self.callback, self.cancelled = due, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    def __init__(self, start: float = 1000.0, wall: float = 1_795_168_800.0, *, auto: bool = False) -> None:
        self.now = start
        self.auto = auto
        self.sleeps: list[float] = []  # every sleep asked for, in order
        self.timeouts: list[float | None] = []  # every timeout() entered, in order
        self._wall_offset = wall - start
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._seq = itertools.count()

    # -- the Clock interface ------------------------------------------------------------------------
    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self._wall_offset

    def call_later(self, delay: float, callback: Callable[[], object]) -> FakeTimer:
        timer = FakeTimer(self.now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.due, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.auto:
            await self.advance(max(0.0, seconds))
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await woken
        finally:
            timer.cancel()

    @contextlib.asynccontextmanager
    async def timeout(self, delay: float | None) -> AsyncIterator[object]:
        loop = asyncio.get_running_loop()
        self.timeouts.append(delay)
        async with asyncio.timeout(None) as cm:
            timer = None if delay is None else self.call_later(delay, lambda: cm.reschedule(loop.time()))
            try:
                yield cm
            finally:
                if timer is not None:
                    timer.cancel()

    # -- driving it ---------------------------------------------------------------------------------
    async def advance(self, seconds: float) -> None:
        """Move time on by `seconds`, firing each timer due meanwhile at its due time, in order."""
        target = self.now + seconds
        await settle()
        while self._timers and self._timers[0][0] <= target:
            due, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, due)
            timer.callback()
            await settle()
        self.now = target
        await settle()

    async def until_sleeps(self, count: int) -> None:
        """Wait (real time, bounded by HANG) until `count` sleeps have been asked for in all."""
        await until(lambda: len(self.sleeps) >= count, f"sleep #{count} (so far: {self.sleeps})")

    async def until_timeouts(self, count: int) -> None:
        """Wait (real time, bounded by HANG) until `count` timeouts have been entered in all."""
        await until(lambda: len(self.timeouts) >= count, f"timeout #{count} (so far: {self.timeouts})")

    def pending(self) -> list[float]:
        """Due times of the timers still to fire, in order."""
        return sorted(due for due, _, timer in self._timers if not timer.cancelled)


async def until(cond: Callable[[], object], what: str = "condition") -> None:
    """Wait for `cond()` (real time, bounded by HANG: only a hung test waits that long), then settle."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not met in time")
        await asyncio.sleep(0.001)
    await settle()


async def settle(rounds: int = 20) -> None:
    """Let every task that can run without waiting on I/O or time run."""
    for _ in range(rounds):
        await asyncio.sleep(0)
