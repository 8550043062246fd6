"""Noticing that the API server is gone, and the moment it answers again.

A reconcile that fails because the API server cannot be reached (connection refused or reset,
timeouts, 429 and 5xx answers) is no fault of its HelmRelease: retrying it with growing per-key
backoff only means that, after an outage, each HelmRelease waits out whatever delay it had
reached (24-44 s after a 60 s outage, measured). Instead such a key is *parked*: one probe
(a cheap GET every `interval` seconds) watches for the API to answer, and then every parked key
is handed back at once (`on_recovered`), with its backoff reset, and the informers are nudged to
re-list and re-watch without waiting out their own backoff.

It also keeps the log readable: one warning when the outage starts, one line when it ends,
instead of an error per reconcile attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from .client import ApiError, TransportError

log = logging.getLogger(__name__)

# Answers that mean "the API server is not serving right now", not "your request is wrong".
UNAVAILABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def api_unavailable(exc: BaseException) -> bool:
    """Did `exc` come from the API server being unreachable or overloaded? (Pure.)"""
    if isinstance(exc, TransportError):
        return True
    if isinstance(exc, ApiError):
        return exc.status in UNAVAILABLE_STATUSES
    return isinstance(exc, ConnectionError | TimeoutError)


class ApiHealth:
    def __init__(
        self,
        probe: Callable[[], Awaitable[Any]],
        on_recovered: Callable[[set[Any]], None],
        interval: float = 0.5,
    ) -> None:
        self.probe, self.on_recovered, self.interval = probe, on_recovered, interval
        self._parked: set[Any] = set()
        self._task: asyncio.Task[None] | None = None
        self._since = 0.0
        self.outages = 0

    @property
    def down(self) -> bool:
        return self._task is not None and not self._task.done()

    def failed(self, key: Hashable, exc: BaseException) -> bool:
        """A reconcile of `key` raised `exc`. True if that was the API being unavailable: the key
        is then parked until the API answers (the caller must not requeue it itself)."""
        if not api_unavailable(exc):
            return False
        self._parked.add(key)
        if not self.down:
            self.outages += 1
            self._since = time.monotonic()
            log.warning(
                "API server unavailable (%s); reconciles wait until it answers again",
                str(exc).splitlines()[0][:200],
            )
            self._task = asyncio.create_task(self._wait_for_api(), name="api-health")
        return True

    async def _wait_for_api(self) -> None:
        while True:
            try:
                await self.probe()
                break
            except ApiError as e:
                if not api_unavailable(e):
                    break  # it answered (a 403 or 404 is an answer)
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(self.interval)
        keys, self._parked = self._parked, set()
        log.info(
            "API server answers again after %.1fs; retrying %d reconcile(s) now",
            time.monotonic() - self._since,
            len(keys),
        )
        self.on_recovered(keys)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


__all__ = ["UNAVAILABLE_STATUSES", "ApiHealth", "api_unavailable"]
