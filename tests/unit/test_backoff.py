"""The one backoff policy (`Backoff`), its tenacity wait (Retry-After wins, capped), and retries
timed on a FakeClock: exact schedules, no wall clock."""

from __future__ import annotations

import math

import pytest

from helmrelease_controller.reconcile.backoff import Backoff
from helmrelease_controller.retrying import backoff_wait, retrying
from tests.helpers.clock import FakeClock

WORKQUEUE = Backoff(0.75, 900.0, 2.0, 0.0)
INFORMER = Backoff(0.8, 30.0, 2.0, 0.1)
NOTIFY = Backoff(1.0, 30.0, 2.0, 0.1)
SPEC = Backoff(10.0, 600.0, 2.0, 0.1)


@pytest.mark.parametrize(
    ("policy", "failures", "rand", "want"),
    [
        (WORKQUEUE, 0, 0.0, 0.0),
        (WORKQUEUE, 1, 0.0, 0.75),
        (WORKQUEUE, 2, 0.0, 1.5),
        (WORKQUEUE, 6, 0.0, 24.0),
        (WORKQUEUE, 12, 0.0, 900.0),  # 15 min cap
        (WORKQUEUE, 100_000, 0.0, 900.0),  # a key failing for ever: no overflow
        (INFORMER, 1, 0.0, 0.8),
        (INFORMER, 1, 1.0, 0.88),
        (INFORMER, 6, 0.0, 25.6),
        (INFORMER, 7, 1.0, 30.0),  # jitter never pushes past max
        (NOTIFY, 3, -1.0, 3.6),
        (SPEC, 1, -1.0, 9.0),
        (SPEC, 3, 0.0, 40.0),
        (SPEC, 1, 5.0, 11.0),  # rand is clamped to [-1, 1]
        (Backoff(5.0, 5.0, 1.0, 0.0), 50, 0.0, 5.0),  # factor 1: constant
    ],
)
def test_delay(policy: Backoff, failures: int, rand: float, want: float) -> None:
    assert policy.delay(failures, rand) == pytest.approx(want)


class Busy(Exception):
    def __init__(self, retry_after: float | None = None, retry: bool = True) -> None:
        super().__init__("busy")
        self.retry_after, self.retry = retry_after, retry


async def attempts_on(clock: FakeClock, failures: list[Busy], attempts: int, cap: float = math.inf) -> float:
    """Run a block that fails with `failures` in turn, then succeeds; the clock time it ended at."""
    pending = list(failures)
    tries = retrying(
        attempts=attempts,
        wait=backoff_wait(Backoff(1.0, 8.0, 2.0, 0.5), lambda: 0.0, cap=cap),
        retry_on=lambda e: isinstance(e, Busy) and e.retry,
        clock=clock,
    )
    async for attempt in tries:
        with attempt:
            if pending:
                raise pending.pop(0)
    return clock.now


async def test_backoff_schedule_on_the_clock() -> None:
    clock = FakeClock(start=0.0, auto=True)
    assert await attempts_on(clock, [Busy()] * 5, attempts=6) == 1 + 2 + 4 + 8 + 8
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 8.0]


async def test_retry_after_wins_and_is_capped() -> None:
    clock = FakeClock(start=0.0, auto=True)
    await attempts_on(clock, [Busy(retry_after=0.5), Busy(), Busy(retry_after=3600), Busy(0.0)], 5, cap=60)
    assert clock.sleeps == [0.5, 2.0, 60.0, 0.0]  # the policy's 2 s for the second failure


async def test_gives_up_after_attempts_and_on_permanent_failures() -> None:
    clock = FakeClock(start=0.0, auto=True)
    with pytest.raises(Busy):
        await attempts_on(clock, [Busy()] * 3, attempts=3)
    assert clock.sleeps == [1.0, 2.0]
    clock = FakeClock(start=0.0, auto=True)
    with pytest.raises(Busy):
        await attempts_on(clock, [Busy(retry=False)], attempts=3)
    assert clock.sleeps == []
