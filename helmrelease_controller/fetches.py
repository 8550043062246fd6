"""Chart fetches that run beside the reconcile workers, so a slow source never holds one (rule 9).

A reconcile asks `Fetches.get(key, signature, start)` for its chart. The fetch runs as its own
task; the reconcile waits for it at most `grace` seconds (a cached chart or a healthy repository
answers well within that). When the fetch takes longer, `get` returns `PENDING`: the reconcile
records "fetching" on the object (Ready=Unknown, reason Progressing) and gives its worker back,
and `on_done(key)` queues the HelmRelease again the moment the fetch finishes, successfully or
not. The next reconcile of that key takes the finished result (once) and goes on.

A fetch belongs to one HelmRelease and one chart spec (`signature`): a spec change while a fetch
is in flight abandons it (cancelled) and starts the new one. The sources themselves share one
network fetch per index/archive between HelmReleases (single-flight), and the resolver limits
concurrent fetches per host, so a dead host costs one connection attempt at a time, not one
per HelmRelease.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


PENDING: Final = _Pending()


@dataclass(eq=False)
class _Fetch(Generic[T]):
    signature: Hashable
    task: asyncio.Task[T]
    waited: bool = field(default=False)  # a reconcile returned PENDING and waits for on_done


class Fetches(Generic[T]):
    def __init__(self, on_done: Callable[[Any], None] | None = None, grace: float = 1.0) -> None:
        self.on_done = on_done
        self.grace = grace
        self._fetches: dict[Any, _Fetch[T]] = {}
        self.started = 0  # fetch tasks started (for tests and metrics)

    def __len__(self) -> int:
        return len(self._fetches)

    def in_flight(self, key: Any) -> bool:
        f = self._fetches.get(key)
        return f is not None and not f.task.done()

    async def get(self, key: Any, signature: Hashable, start: Callable[[], Awaitable[T]]) -> T | _Pending:
        """The fetch's result (raising what it raised), or PENDING while it runs on."""
        f = self._fetches.get(key)
        if f is not None and f.signature != signature:
            self._drop(key)
            f = None
        if f is None:
            task: asyncio.Task[T] = asyncio.ensure_future(start())
            f = _Fetch(signature, task)
            self._fetches[key] = f
            self.started += 1
            task.add_done_callback(functools.partial(self._finished, key, f))
        if not f.task.done():
            # asyncio.wait, not wait_for: the fetch must go on when the grace runs out.
            await asyncio.wait({f.task}, timeout=self.grace)
        if not f.task.done():
            f.waited = True
            return PENDING
        del self._fetches[key]  # a finished result is handed out once
        return f.task.result()

    def _finished(self, key: Any, f: _Fetch[T], _task: object = None) -> None:
        if self._fetches.get(key) is not f:
            return  # abandoned
        if f.task.cancelled():
            self._fetches.pop(key, None)
            return
        if f.waited and self.on_done is not None:
            try:
                self.on_done(key)
            except Exception:  # pragma: no cover - a queue add does not raise
                log.exception("fetch of %s finished; requeue failed", key)

    def _drop(self, key: Any) -> None:
        f = self._fetches.pop(key, None)
        if f is not None and not f.task.done():
            f.task.cancel()
        elif f is not None and not f.task.cancelled():
            f.task.exception()  # retrieved: no "exception was never retrieved" warning

    def forget(self, key: Any) -> None:
        """The HelmRelease is gone: abandon its fetch."""
        self._drop(key)

    async def close(self) -> None:
        tasks = [f.task for f in self._fetches.values()]
        for key in list(self._fetches):
            self._drop(key)
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t


__all__ = ["PENDING", "Fetches"]
