"""The worker loop every kind's runtime shares: take a key from a work queue, reconcile it, schedule
the next look.

- `handle(key)` returns when to look again (seconds) or None ("only on change");
- an exception goes to `failed(key, exc)` first (True: taken care of, e.g. parked until the API
  answers again, see kube/apihealth.py); otherwise it is logged on one line and the key is
  retried with the queue's per-key backoff;
- every log line of one reconcile carries its `reconcileID` (logctx.py);
- `ShutDown` from the queue ends the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from .. import logctx
from .workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


async def work(
    queue: WorkQueue[K],
    handle: Callable[[K], Awaitable[float | None]],
    failed: Callable[[K, Exception], bool] = lambda _k, _e: False,
    what: str = "reconcile",
) -> None:
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        ctx = logctx.new_reconcile()
        try:
            after = await handle(key)
            queue.forget(key)
            if after is not None:
                queue.add_after(key, after)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not failed(key, e):
                log.error("%s of %s failed: %s", what, _name(key), str(e)[:300], extra={"key": _name(key)})
                log.debug("traceback", exc_info=True)
                queue.add_rate_limited(key)
        finally:
            logctx.end_reconcile(ctx)
            queue.done(key)


def _name(key: Any) -> str:
    return "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


__all__ = ["work"]
