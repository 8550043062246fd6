"""WorkQueue: dedup, per-key serialization, delays, rate limiting, shutdown, depth and age.

No assertion depends on how fast the machine is: delays are checked with `state_at` (a timer's
view of the queue; asyncio runs timers in due-time order, however late the loop runs), elapsed
times only as lower bounds, and the timeouts only keep a broken queue from hanging the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from helmrelease_controller.kube.workqueue import ShutDown, WorkQueue

R = TypeVar("R")
HANG = 10.0  # seconds: only a hung queue takes this long


async def get_now(q: WorkQueue[str], timeout: float = HANG) -> str:
    return await asyncio.wait_for(q.get(), timeout)


async def state_at(when: float, probe: Callable[[], R]) -> R:
    """`probe()` as a timer due at loop time `when` sees it: every timer due earlier has fired, none
    due later has (asyncio runs timers in due-time order, even when the loop runs late)."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[R] = loop.create_future()
    loop.call_at(when, lambda: seen.set_result(probe()))
    return await seen


async def nothing_for(q: WorkQueue[str], seconds: float = 0.03) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(q.get(), seconds)


async def test_fifo_and_dedup() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "c", "b"):
        q.add(key)
    assert len(q) == 3
    assert [await get_now(q) for _ in range(3)] == ["a", "b", "c"]
    assert len(q) == 0
    await nothing_for(q)


async def test_get_waits_for_an_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
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
    await nothing_for(q)  # a second worker must not get it
    q.done("a")
    assert await get_now(q) == "a"  # processed again after done
    q.done("a")
    await nothing_for(q)


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
            await asyncio.sleep(0.002)
            active.discard(key)
            processed.append(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for _ in range(20):
        for key in ("k0", "k1", "k2", "k0", "k1", "k2"):
            q.add(key)
        await asyncio.sleep(0.001)
    await asyncio.wait_for(q.join(), HANG)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), HANG)
    assert overlaps == 0
    assert set(processed) == {"k0", "k1", "k2"}
    assert len(processed) <= 60  # 120 adds: the immediate repeats were folded


async def test_add_after_delays_and_keeps_earliest_due_time() -> None:
    q: WorkQueue[str] = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("a", 0.05)
    q.add_after("a", 0.5)  # later: ignored, the earlier due time stands
    assert q.delayed() == 1 and len(q) == 0
    await nothing_for(q, 0.02)
    assert await state_at(start + 0.25, lambda: (q.delayed(), len(q))) == (0, 1)  # due 0.05, not 0.5
    assert await get_now(q) == "a"
    assert loop.time() - start >= 0.04
    q.done("a")

    start = loop.time()
    q.add_after("b", 0.5)
    q.add_after("b", 0.03)  # earlier: replaces the pending one
    assert await state_at(start + 0.25, lambda: (q.delayed(), len(q))) == (0, 1)  # due at 0.03
    assert await get_now(q) == "b"
    q.done("b")
    # The replaced timer never fires (it would have, by then, had it not been cancelled).
    assert await state_at(loop.time() + 0.5, lambda: (q.delayed(), len(q))) == (0, 0)


async def test_add_after_zero_is_immediate_and_deduplicates_with_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add_after("a", 0)
    assert len(q) == 1
    q.add_after("a", 0.02)  # fires while "a" is still queued: folded
    await asyncio.sleep(0.04)
    assert len(q) == 1


async def test_rate_limited_backoff_doubles_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue()
    assert (q.base_delay, q.max_delay) == (0.75, 900.0)  # Flux's defaults
    delays = [q.when("x") for _ in range(6)]
    assert delays == [0.75, 1.5, 3.0, 6.0, 12.0, 24.0]
    assert q.num_requeues("x") == 6
    for _ in range(30):
        q.when("x")
    assert q.when("x") == 900.0  # capped at 15 minutes
    assert q.when("y") == 0.75  # per key
    q.forget("x")
    assert q.num_requeues("x") == 0
    assert q.when("x") == 0.75


async def test_add_rate_limited_requeues_after_backoff() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04)
    loop = asyncio.get_running_loop()
    for backoff in (0.01, 0.02, 0.04, 0.04):  # doubling, capped at max_delay (not 0.08)
        before = loop.time()
        q.add_rate_limited("a")
        after = loop.time()
        assert await state_at(before + backoff * 0.9, q.delayed) == 1  # not before its backoff ...
        assert await state_at(after + backoff * 1.1, q.delayed) == 0  # ... and right at its end
        assert await get_now(q) == "a"
        q.done("a")
    assert q.retries_total == 4
    q.forget("a")
    q.add_rate_limited("a")
    assert await state_at(loop.time() + 0.015, q.delayed) == 0  # back to base_delay (0.01)
    assert await get_now(q) == "a"


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
    await asyncio.sleep(0.01)
    q.shutdown()
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), HANG)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_shutdown_immediate_raises_even_with_queued_keys() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add_after("b", 0.02)
    q.shutdown(immediate=True)
    assert len(q) == 0 and q.delayed() == 0
    with pytest.raises(ShutDown):
        await get_now(q)
    await asyncio.sleep(0.04)
    assert len(q) == 0  # the delayed add was dropped


async def test_len_and_oldest_age() -> None:
    q: WorkQueue[str] = WorkQueue()
    assert q.oldest_age() == 0.0
    before_old = time.monotonic()
    q.add("old")
    await asyncio.sleep(0.05)
    before_new = time.monotonic()
    q.add("new")
    assert len(q) == 2
    assert 0.04 <= q.oldest_age() <= time.monotonic() - before_old
    assert await get_now(q) == "old"
    assert q.oldest_age() <= time.monotonic() - before_new  # "new" is now the oldest waiting key
    await get_now(q)
    assert q.oldest_age() == 0.0
    assert q.adds_total == 2


async def test_cancelled_getter_does_not_swallow_a_key() -> None:
    q: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    q.add("a")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(second, HANG) == "a"


async def test_join_waits_for_processing() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await get_now(q)
    joiner = asyncio.create_task(q.join())
    await asyncio.sleep(0.01)
    assert not joiner.done()
    q.done(key)
    await asyncio.wait_for(joiner, HANG)
