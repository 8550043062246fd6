"""WorkQueue: dedup, per-key serialization, delays, rate limiting, shutdown, depth and age.

Time is a FakeClock: delays and ages are asserted exactly (a delayed key is queued at its due
time, not a tick before), and "nothing is handed out" is checked by letting every runnable task
run (`settle`), never by waiting a while. The timeouts only keep a broken queue from hanging.
"""

from __future__ import annotations

import asyncio

import pytest

from helmrelease_controller.kube.workqueue import ShutDown, WorkQueue
from tests.helpers.clock import HANG, FakeClock, settle


async def get_now(q: WorkQueue[str]) -> str:
    return await asyncio.wait_for(q.get(), HANG)


async def nothing_handed_out(q: WorkQueue[str]) -> None:
    """A waiting get() gets nothing, once every task that could give it a key has run."""
    getter = asyncio.create_task(q.get())
    await settle()
    assert not getter.done()
    getter.cancel()
    await asyncio.wait({getter})


def state(q: WorkQueue[str]) -> tuple[int, int]:
    return q.delayed(), len(q)


async def test_fifo_and_dedup() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [await get_now(q) for _ in range(3)] == ["a", "b", "c"]
    assert len(q) == 0
    await nothing_handed_out(q)


async def test_get_waits_for_an_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(q.get())
    await settle()
    assert not waiter.done()
    q.add("x")
    assert await asyncio.wait_for(waiter, HANG) == "x"


async def test_key_in_processing_is_not_handed_out_twice() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert await get_now(q) == "a"
    q.add("a")  # re-added while a worker holds it
    assert len(q) == 0
    assert q.is_queued("a") and q.is_processing("a")
    await nothing_handed_out(q)  # a second worker must not get it
    q.done("a")
    assert await get_now(q) == "a"  # processed again after done
    q.done("a")
    await nothing_handed_out(q)


async def test_readd_while_processing_is_deduplicated() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    await get_now(q)
    q.add("a")
    q.add("a")
    q.done("a")
    assert len(q) == 1
    await get_now(q)
    q.done("a")
    assert len(q) == 0


async def test_concurrent_workers_never_share_a_key() -> None:
    q: WorkQueue[str] = WorkQueue()
    active: set[str] = set()
    overlaps = 0
    processed: list[str] = []

    async def worker() -> None:
        nonlocal overlaps
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in active:
                overlaps += 1
            active.add(key)
            await settle(3)  # processing takes a few turns of the loop
            active.discard(key)
            processed.append(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for _ in range(20):
        for key in ("k0", "k1", "k2", "k0", "k1", "k2"):
            q.add(key)
        await asyncio.sleep(0)
    await asyncio.wait_for(q.join(), HANG)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), HANG)
    assert overlaps == 0
    assert set(processed) == {"k0", "k1", "k2"}
    assert len(processed) <= 60  # 120 adds: the immediate repeats were folded


async def test_add_after_delays_and_keeps_earliest_due_time() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add_after("a", 0.05)
    q.add_after("a", 0.5)  # later: ignored, the earlier due time stands
    assert state(q) == (1, 0)
    await clock.advance(0.049)
    assert state(q) == (1, 0)
    await clock.advance(0.001)  # due at 0.05, not 0.5
    assert state(q) == (0, 1)
    assert await get_now(q) == "a"
    q.done("a")

    q.add_after("b", 0.5)
    q.add_after("b", 0.03)  # earlier: replaces the pending one
    assert clock.pending() == [clock.now + 0.03]  # the 0.5 s timer was cancelled
    await clock.advance(0.03)
    assert state(q) == (0, 1)
    assert await get_now(q) == "b"
    q.done("b")
    await clock.advance(1.0)
    assert state(q) == (0, 0)  # the replaced timer never fires


async def test_add_after_zero_is_immediate_and_deduplicates_with_add() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add("a")
    q.add_after("a", 0)
    assert len(q) == 1
    q.add_after("a", 0.02)  # fires while "a" is still queued: folded
    await clock.advance(0.02)
    assert state(q) == (0, 1)


async def test_rate_limited_backoff_doubles_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue()
    assert (q.base_delay, q.max_delay) == (0.75, 900.0)  # Flux's defaults
    delays = [q.when("x") for _ in range(6)]
    assert delays == [0.75, 1.5, 3.0, 6.0, 12.0, 24.0]
    assert q.num_requeues("x") == 6
    for _ in range(3000):  # a key failing for ever never overflows the arithmetic
        q.when("x")
    assert q.when("x") == 900.0  # capped at 15 minutes
    assert q.when("y") == 0.75  # per key
    q.forget("x")
    assert q.num_requeues("x") == 0
    assert q.when("x") == 0.75


async def test_add_rate_limited_requeues_exactly_after_backoff() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04, clock=clock)
    delays: list[float] = []
    for _ in range(4):
        q.add_rate_limited("a")
        (due,) = clock.pending()
        delays.append(round(due - clock.now, 9))
        await clock.advance(due - clock.now)
        assert state(q) == (0, 1)  # queued at its due time
        assert await get_now(q) == "a"
        q.done("a")
    assert delays == [0.01, 0.02, 0.04, 0.04]  # doubling, capped at max_delay (not 0.08)
    assert q.retries_total == 4
    q.forget("a")
    q.add_rate_limited("a")
    assert clock.pending() == [clock.now + 0.01]  # back to base_delay


async def test_shutdown_drains_then_raises() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("b")
    q.shutdown()
    assert q.shutting_down
    q.add("c")  # refused after shutdown
    assert await get_now(q) == "a"
    assert await get_now(q) == "b"
    with pytest.raises(ShutDown):
        await get_now(q)


async def test_shutdown_wakes_waiting_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiters = [asyncio.create_task(q.get()) for _ in range(3)]
    await settle()
    q.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), HANG)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_shutdown_immediate_raises_even_with_queued_keys() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    q.add("a")
    q.add_after("b", 0.02)
    q.shutdown(immediate=True)
    assert state(q) == (0, 0)
    with pytest.raises(ShutDown):
        await get_now(q)
    await clock.advance(0.02)
    assert len(q) == 0  # the delayed add was dropped


async def test_len_and_oldest_age() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue(clock=clock)
    assert q.oldest_age() == 0.0
    q.add("old")
    await clock.advance(0.05)
    q.add("new")
    await clock.advance(0.25)
    assert len(q) == 2
    assert q.oldest_age() == pytest.approx(0.30)
    assert await get_now(q) == "old"
    assert q.oldest_age() == pytest.approx(0.25)  # "new" is now the oldest waiting key
    await get_now(q)
    assert q.oldest_age() == 0.0
    assert q.adds_total == 2


async def test_cancelled_getter_does_not_swallow_a_key() -> None:
    q: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await settle()
    q.add("a")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(second, HANG) == "a"


async def test_join_waits_for_processing() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await get_now(q)
    joiner = asyncio.create_task(q.join())
    await settle()
    assert not joiner.done()
    q.done(key)
    await asyncio.wait_for(joiner, HANG)
