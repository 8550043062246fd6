"""WorkQueue: dedup, per-key serialization, delays, rate limiting, shutdown, depth and age."""

from __future__ import annotations

import asyncio

import pytest

from helmrelease_controller.kube.workqueue import ShutDown, WorkQueue


async def get_now(q: WorkQueue[str], timeout: float = 0.2) -> str:
    return await asyncio.wait_for(q.get(), timeout)


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
    assert await asyncio.wait_for(waiter, 0.2) == "x"


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
    await asyncio.wait_for(q.join(), 1.0)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 1.0)
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
    assert await get_now(q) == "a"
    assert 0.04 <= loop.time() - start < 0.2
    q.done("a")

    q.add_after("b", 0.5)
    q.add_after("b", 0.03)  # earlier: replaces the pending one
    assert await get_now(q) == "b"
    assert loop.time() - start < 0.3
    q.done("b")
    await nothing_for(q, 0.05)  # the replaced timer did not fire a second add


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
    waits = []
    for _ in range(4):
        start = loop.time()
        q.add_rate_limited("a")
        assert await get_now(q) == "a"
        waits.append(loop.time() - start)
        q.done("a")
    assert waits[0] >= 0.009 and waits[1] >= 0.019 and waits[2] >= 0.038
    assert waits[3] < 0.1  # capped at max_delay
    assert q.retries_total == 4
    q.forget("a")
    start = loop.time()
    q.add_rate_limited("a")
    await get_now(q)
    assert loop.time() - start < 0.035


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
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), 0.2)
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
    q.add("old")
    await asyncio.sleep(0.05)
    q.add("new")
    assert len(q) == 2
    assert 0.04 <= q.oldest_age() < 0.2
    assert await get_now(q) == "old"
    assert q.oldest_age() < 0.04  # "new" is now the oldest waiting key
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
    assert await asyncio.wait_for(second, 0.2) == "a"


async def test_join_waits_for_processing() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await get_now(q)
    joiner = asyncio.create_task(q.join())
    await asyncio.sleep(0.01)
    assert not joiner.done()
    q.done(key)
    await asyncio.wait_for(joiner, 0.2)
