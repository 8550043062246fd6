"""Watch streams: `?watch=true` on a collection, as newline-delimited JSON events.

Semantics follow the real API server:
- `resourceVersion` unset or "0": synthetic ADDED events for the current state, then changes;
  `resourceVersion=N`: every change after N from the history, or an ERROR event with a
  410 `Expired` Status when N is older than the history kept;
- `sendInitialEvents=true` (WatchList): the initial ADDED events end with a BOOKMARK
  annotated `k8s.io/initial-events-end: "true"`, which helm 4 waits for;
- `allowWatchBookmarks=true`: periodic BOOKMARK events carrying the current resourceVersion;
- label and field selectors are applied to both the old and the new state, so an object
  that stops matching is seen as DELETED and one that starts matching as ADDED;
- `timeoutSeconds` ends the stream; the server can drop every open stream (fault injection);
- a client asking for `as=Table` (kubectl get -w) gets each object as a one-row Table, the column
  definitions only in the first one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import tables
from .resources import ResourceType
from .store import Change, Obj, Store

Matcher = Callable[[Obj], bool]


def _event_obj(rt: ResourceType, obj: Obj) -> Obj:
    out = dict(obj)
    out["apiVersion"], out["kind"] = rt.api_version, rt.kind
    return out


def _line(ev_type: str, obj: Obj) -> bytes:
    return (json.dumps({"type": ev_type, "object": obj}, separators=(",", ":")) + "\n").encode()


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> Obj:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


def expired_status(rv: str) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {rv}",
        "reason": "Expired",
        "code": 410,
    }


class WatchHub:
    """Open watch streams; lets the server drop them all at once."""

    def __init__(self, store: Store, bookmark_interval: float = 5.0) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval
        self._streams: set[asyncio.Event] = set()
        self.force_gone_next = 0  # the next N watches with a resourceVersion answer 410

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def drop_all(self) -> int:
        n = len(self._streams)
        for ev in list(self._streams):
            ev.set()
        return n

    async def serve(
        self,
        request: web.Request,
        rt: ResourceType,
        ns: str | None,
        match: Matcher,
        name: str | None = None,
    ) -> web.StreamResponse:
        q = request.query
        rv_param = q.get("resourceVersion", "")
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial = q.get("sendInitialEvents") in ("true", "1")
        timeout = float(q.get("timeoutSeconds") or 0) or None
        as_table = tables.wants_table(request.headers.get("Accept", ""))
        as_metadata = tables.wants_metadata(request.headers.get("Accept", ""))
        headers_sent = False

        def render(ev_type: str, obj: Obj) -> bytes:
            """One event line; kubectl asking for Tables gets a one-row Table per object event."""
            nonlocal headers_sent
            if as_metadata and ev_type in ("ADDED", "MODIFIED", "DELETED"):
                return _line(ev_type, tables.partial(obj))
            if not as_table or ev_type not in ("ADDED", "MODIFIED", "DELETED"):
                return _line(ev_type, obj)
            rv = int((obj.get("metadata") or {}).get("resourceVersion") or self.store.resource_version)
            table = tables.table(rt, [obj], rv, q.get("includeObject"), headers=not headers_sent)
            headers_sent = True
            return _line(ev_type, table)

        def selected(obj: Obj | None) -> bool:
            if obj is None:
                return False
            meta = obj.get("metadata") or {}
            if rt.namespaced and ns and meta.get("namespace") != ns:
                return False
            if name and meta.get("name") != name:
                return False
            return match(obj)

        queue: asyncio.Queue[tuple[str, Obj]] = asyncio.Queue()

        def on_change(ch: Change) -> None:
            if ch.rt.group_resource != rt.group_resource:
                return
            obj = self.store.view(rt, ch.obj)  # changes carry stored objects: serve them as rt
            old = self.store.view(rt, ch.old) if ch.old is not None else None
            now_in, was_in = selected(obj), selected(old)
            if ch.type == "DELETED":
                if was_in or now_in:
                    queue.put_nowait(("DELETED", obj))
            elif now_in and was_in:
                queue.put_nowait(("MODIFIED", obj))
            elif now_in:
                queue.put_nowait(("ADDED", obj))
            elif was_in:
                queue.put_nowait(("DELETED", obj))

        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)

        store = self.store
        start: list[tuple[str, Obj]] = []
        gone = False
        # Everything from here to subscribing runs without awaiting: a consistent cut.
        if initial or rv_param in ("", "0"):
            for obj in store.list(rt, ns, None):
                if selected(obj):
                    start.append(("ADDED", obj))
            if initial:
                start.append(("BOOKMARK", _bookmark(rt, store.resource_version, True)))
        else:
            try:
                since = int(rv_param)
            except ValueError:
                since = -1
            if self.force_gone_next > 0 or since < store.oldest_watchable_rv():
                self.force_gone_next = max(0, self.force_gone_next - 1)
                gone = True
            else:
                for ch in store.history:
                    if ch.rv > since:
                        on_change(ch)  # replayed through the same filter, into the queue
        if gone:
            await resp.write(_line("ERROR", expired_status(rv_param)))
            await resp.write_eof()
            return resp
        store.listeners.append(on_change)
        stop = asyncio.Event()
        self._streams.add(stop)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        getter: asyncio.Future[tuple[str, Obj]] | None = None
        stopper = asyncio.ensure_future(stop.wait())
        try:
            for ev_type, obj in start:
                await resp.write(render(ev_type, obj))
            while not stop.is_set():
                wait = self.bookmark_interval if bookmarks else 3600.0
                if deadline is not None:
                    wait = min(wait, deadline - loop.time())
                    if wait <= 0:
                        break
                if getter is None:
                    getter = asyncio.ensure_future(queue.get())
                waiting: set[asyncio.Future[Any]] = {getter, stopper}
                done, _ = await asyncio.wait(waiting, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    ev_type, obj = getter.result()
                    getter = None
                    await resp.write(render(ev_type, _event_obj(rt, obj)))
                    while not queue.empty():
                        ev_type, obj = queue.get_nowait()
                        await resp.write(render(ev_type, _event_obj(rt, obj)))
                elif bookmarks and not stop.is_set():
                    await resp.write(_line("BOOKMARK", _bookmark(rt, store.resource_version)))
            if stop.is_set():
                # A dropped connection: no clean end of the stream, as when a proxy or apiserver dies.
                if request.transport is not None:
                    request.transport.abort()
                return resp
            await resp.write_eof()
        except ConnectionResetError:
            pass
        finally:
            for fut in (getter, stopper):
                if fut is not None and not fut.done():
                    fut.cancel()
            self._streams.discard(stop)
            if on_change in store.listeners:
                store.listeners.remove(on_change)
        return resp
