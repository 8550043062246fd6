"""Kubernetes Events about our objects: `kubectl describe hr` and `kubectl get events` show them.

Owns recording events.k8s.io/v1 Events without ever disturbing the caller: `emit()`
never raises and never blocks (a bounded queue drained by a background task; when the
queue is full the event is dropped and counted). Repeats are folded like client-go's
event series: the same (object uid, type, reason, message) within `dedup_window`
(10 minutes) bumps the existing Event's `series {count, lastObservedTime}` with a
merge patch instead of creating another object.

Callers redact secrets before emitting (reliability rule 5); the note is cut to 1 KiB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from .client import EVENTS, KubeClient, NotFound, Obj, micro_time

log = logging.getLogger(__name__)

EventType = Literal["Normal", "Warning"]
NOTE_LIMIT = 1024  # bytes: the API server refuses longer notes


@dataclass
class _Pending:
    regarding: Obj
    type: str
    reason: str
    note: str
    action: str
    event_time: str


@dataclass
class _Seen:
    namespace: str
    name: str
    count: int
    last: float  # monotonic time of the last occurrence


def truncate_note(message: str, limit: int = NOTE_LIMIT) -> str:
    """`message` cut to at most `limit` UTF-8 bytes, never splitting a character."""
    raw = message.encode()
    if len(raw) <= limit:
        return message
    return raw[: limit - 3].decode(errors="ignore") + "..."


def object_ref(obj: Obj) -> Obj:
    """An ObjectReference to `obj` (apiVersion, kind, namespace, name, uid, resourceVersion)."""
    meta = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    def __init__(
        self,
        client: KubeClient,
        component: str = "helmrelease-controller",
        host: str = "",
        queue_size: int = 1000,
        dedup_window: float = 600.0,
        cache_size: int = 4096,
    ) -> None:
        self.client = client
        self.component = component
        self.instance = f"{component}-{host or socket.gethostname()}"
        self.dedup_window = dedup_window
        self.cache_size = cache_size
        self.dropped = 0  # events lost: queue full, no event loop, or emit() misuse
        self.failed = 0  # events the API server refused or that could not be sent
        self.created = 0
        self.updated = 0  # series bumps
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=queue_size)
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    # -- the caller's side ----------------------------------------------------------------------------
    def emit(self, obj: Obj, type_: EventType, reason: str, message: str, action: str = "") -> None:
        """Record an event about `obj`. Never raises, never blocks; may drop (counted in `dropped`)."""
        try:
            pending = _Pending(
                object_ref(obj), type_, reason, truncate_note(message), action or reason, micro_time()
            )
            self._ensure_task()
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            self.dropped += 1
            log.debug("event queue full; dropped %s %s", type_, reason)
        except Exception:
            self.dropped += 1
            log.debug("event dropped", exc_info=True)

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="event-recorder")

    async def flush(self) -> None:
        """Wait until every queued event has been written (or failed)."""
        if self._task is not None and not self._task.done():
            await self._queue.join()

    async def close(self, timeout: float = 5.0) -> None:
        """Flush (for at most `timeout` seconds), then stop the background task."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.flush()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.wait({task})

    # -- the background side ----------------------------------------------------------------------------
    async def _drain(self) -> None:
        while True:
            pending = await self._queue.get()
            try:
                await self._write(pending)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.failed += 1
                log.warning("could not record event %s on %s: %s", pending.reason, _describe(pending), e)
            finally:
                self._queue.task_done()

    def _key(self, p: _Pending) -> tuple[str, ...]:
        ref = p.regarding
        ident = ref.get("uid") or f"{ref.get('kind')}/{ref.get('namespace')}/{ref.get('name')}"
        return (ident, p.type, p.reason, p.note)

    async def _write(self, p: _Pending) -> None:
        key = self._key(p)
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen.last < self.dedup_window:
            series = {"series": {"count": seen.count + 1, "lastObservedTime": p.event_time}}
            try:
                await self.client.patch(EVENTS, seen.namespace, seen.name, series, "merge")
            except NotFound:
                pass  # the event expired (TTL) or was deleted: start a new one
            else:
                seen.count += 1
                seen.last = now
                self._seen.move_to_end(key)
                self.updated += 1
                return
        created = await self.client.create(EVENTS, None, self._event(p))
        meta = created.get("metadata") or {}
        self._seen[key] = _Seen(str(meta.get("namespace")), str(meta.get("name")), 1, now)
        self._seen.move_to_end(key)
        self.created += 1
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)

    def _event(self, p: _Pending) -> Obj:
        ref = p.regarding
        ns = ref.get("namespace") or "default"
        name = f"{ref.get('name') or 'unknown'}.{time.time_ns():x}"
        body: dict[str, Any] = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "eventTime": p.event_time,
            "reportingController": self.component,
            "reportingInstance": self.instance,
            "action": p.action,
            "reason": p.reason,
            "regarding": ref,
            "note": p.note,
            "type": p.type,
        }
        return body


def _describe(p: _Pending) -> str:
    ref = p.regarding
    return f"{ref.get('kind')} {ref.get('namespace', '')}/{ref.get('name')}"
