"""Fetches: a slow fetch goes on without the reconcile that started it, and queues it again when done."""

from __future__ import annotations

import asyncio

import pytest

from helmrelease_controller.fetches import PENDING, Fetches


async def test_a_fast_fetch_is_returned_within_the_grace() -> None:
    f: Fetches[str] = Fetches(grace=1.0)

    async def fast() -> str:
        return "chart"

    assert await f.get("k", "sig", fast) == "chart"
    assert len(f) == 0


async def test_a_slow_fetch_is_pending_then_queues_its_key_and_is_handed_out_once() -> None:
    done: list[str] = []
    release = asyncio.Event()
    f: Fetches[str] = Fetches(on_done=done.append, grace=0.01)

    async def slow() -> str:
        await release.wait()
        return "chart"

    assert await f.get("k", "sig", slow) is PENDING
    assert f.in_flight("k")
    # A second look while it runs starts nothing new.
    assert await f.get("k", "sig", slow) is PENDING
    assert f.started == 1 and done == []
    release.set()
    while not done:
        await asyncio.sleep(0)
    assert done == ["k"]
    assert await f.get("k", "sig", slow) == "chart"
    # Handed out once: the next reconcile fetches again (from the sources' caches).
    assert await f.get("k", "sig", slow) == "chart"
    assert f.started == 2
    await f.close()


async def test_a_failed_fetch_raises_in_the_reconcile_that_takes_it() -> None:
    done: list[str] = []
    release = asyncio.Event()
    f: Fetches[str] = Fetches(on_done=done.append, grace=0.01)

    async def failing() -> str:
        await release.wait()
        raise ValueError("repository unreachable")

    assert await f.get("k", "sig", failing) is PENDING
    release.set()
    while not done:
        await asyncio.sleep(0)
    with pytest.raises(ValueError, match="unreachable"):
        await f.get("k", "sig", failing)


async def test_a_spec_change_abandons_the_old_fetch() -> None:
    done: list[str] = []
    f: Fetches[str] = Fetches(on_done=done.append, grace=0.01)
    never = asyncio.Event()
    old: list[asyncio.Task[object]] = []

    async def hangs() -> str:
        old.append(asyncio.current_task())  # type: ignore[arg-type]
        await never.wait()
        return "old"

    async def fast() -> str:
        return "new"

    assert await f.get("k", "v1", hangs) is PENDING
    assert await f.get("k", "v2", fast) == "new"
    # The abandoned fetch has ended, and its done callbacks (registered before ours) have run.
    await asyncio.wait(old)
    assert old[0].cancelled()
    assert done == []  # the abandoned fetch queues nothing
    assert len(f) == 0


async def test_forget_and_close_cancel_what_runs() -> None:
    f: Fetches[str] = Fetches(grace=0.01)
    cancelled = asyncio.Event()

    async def hangs() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return ""

    assert await f.get("a", "s", hangs) is PENDING
    f.forget("a")
    await asyncio.wait_for(cancelled.wait(), 5)
    cancelled.clear()
    assert await f.get("b", "s", hangs) is PENDING
    await f.close()
    assert cancelled.is_set() and len(f) == 0
