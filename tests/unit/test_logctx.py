"""Every log line of one reconcile carries its reconcileID; concurrent reconciles keep theirs apart."""

from __future__ import annotations

import asyncio
import logging

import pytest

from helmrelease_controller import logctx


async def test_each_reconcile_has_its_own_id(caplog: pytest.LogCaptureFixture) -> None:
    logctx.install()
    log = logging.getLogger("helmrelease_controller.test")

    async def reconcile(name: str, step: asyncio.Event, other: asyncio.Event) -> str:
        token = logctx.new_reconcile()
        try:
            log.warning("start %s", name)
            step.set()
            await other.wait()  # interleave with the other reconcile
            log.warning("end %s", name)
            return logctx.current()
        finally:
            logctx.end_reconcile(token)

    a, b = asyncio.Event(), asyncio.Event()
    with caplog.at_level(logging.WARNING):
        ids = await asyncio.gather(reconcile("a", a, b), reconcile("b", b, a))
        log.warning("outside")
    assert ids[0] != ids[1] and all(len(i) == 8 for i in ids)
    by_msg = {r.getMessage(): getattr(r, "reconcileID", None) for r in caplog.records}
    assert by_msg["start a"] == by_msg["end a"] == ids[0]
    assert by_msg["start b"] == by_msg["end b"] == ids[1]
    assert by_msg["outside"] is None
