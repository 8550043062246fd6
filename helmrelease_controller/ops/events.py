"""`events [gitsync] NAME`: the Kubernetes Events about one HelmRelease or GitSync (events.k8s.io/v1,
which the controller writes, and core/v1 ones) and, for a HelmRelease, about the objects its release
made (`tree.release_objects`), newest last, with repeats counted."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from ..kube.client import CORE_EVENTS, EVENTS, KubeClient
from .common import (
    HELMRELEASES,
    OK,
    Failure,
    Out,
    add_cluster_flags,
    command,
    default_namespace,
    kind_and_names,
)
from .fmt import age, one_line, table
from .follow import read
from .tree import release_objects

EPILOG = """examples:
  kubectl hr events web -n apps        # what happened to apps/web, newest last
  kubectl hr events gitsync releases   # a GitSync's events
"""

COLUMNS = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]
Obj = dict[str, Any]


def register(sub: Any) -> None:
    p = command(
        sub,
        "events",
        "events of a HelmRelease or GitSync",
        "The Events about one HelmRelease (or GitSync), newest last.",
        EPILOG,
    )
    p.add_argument("words", nargs="+", metavar="[gitsync] NAME", help="`gitsync` for a GitSync; the name")
    add_cluster_flags(p, all_namespaces=False)
    p.set_defaults(handler=run)


def about(event: Obj, kind: str, name: str, uid: str) -> bool:
    """Whether `event` (either API's shape) is about the object; by uid when the event has one."""
    ref = event.get("regarding") or event.get("involvedObject") or {}
    if ref.get("uid") and uid:
        return bool(ref["uid"] == uid)
    return bool(ref.get("kind") == kind and ref.get("name") == name)


def _ref(event: Obj) -> Obj:
    ref = event.get("regarding") or event.get("involvedObject") or {}
    return ref if isinstance(ref, dict) else {}


def about_any(event: Obj, objects: set[tuple[str, str, str]]) -> bool:
    """Whether `event` is about one of `objects` (kind, namespace, name)."""
    ref = _ref(event)
    ns = ref.get("namespace") or (event.get("metadata") or {}).get("namespace") or ""
    return (ref.get("kind"), ns, ref.get("name")) in objects


def normalized(event: Obj) -> Obj:
    """One shape for both APIs: when last seen, type, reason, object, count, message."""
    series = event.get("series") or {}
    last = (
        series.get("lastObservedTime")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("deprecatedLastTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )
    count = series.get("count") or event.get("count") or event.get("deprecatedCount") or 1
    message = event.get("note") if "note" in event else event.get("message", "")
    ref = _ref(event)
    return {
        "last": str(last),
        "type": event.get("type", ""),
        "reason": event.get("reason", ""),
        "object": f"{ref.get('kind', '')}/{ref.get('name', '')}",
        "count": int(count),
        "message": one_line(str(message or "")),
    }


def rows(events: list[Obj], now: dt.datetime) -> list[list[str]]:
    """Table rows, oldest first (the newest is the last line)."""
    ordered = sorted((normalized(e) for e in events), key=lambda e: e["last"])
    return [
        [age(e["last"], now), e["type"], e["reason"], e["object"], str(e["count"]), e["message"]]
        for e in ordered
    ]


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    res, names = kind_and_names(args.words)
    if len(names) != 1:
        raise Failure("events takes one NAME")
    ns, name = default_namespace(args), names[0]
    obj = await read(client, res, ns, name)
    uid = str(obj["metadata"].get("uid") or "")
    made: set[tuple[str, str, str]] = set()
    if res is HELMRELEASES:
        _, refs = await release_objects(client, obj)
        made = {(r.resource.kind, r.namespace, r.name) for r in refs}
    found: dict[tuple[str, str], Obj] = {}  # by namespace and name: both APIs serve the same Events
    for where in sorted({ns} | {m[1] for m in made if m[1]}):
        for api in (EVENTS, CORE_EVENTS):
            items, _ = await client.list(api, where)
            for e in items:
                if about(e, res.kind, name, uid) or about_any(e, made):
                    found.setdefault((where, str(e["metadata"].get("name"))), e)
    if not found:
        out.err(f"No events found for {res.kind.lower()} {ns}/{name}.")
        return OK
    for line in table(COLUMNS, rows(list(found.values()), dt.datetime.now(dt.UTC))):
        out.line(line)
    return OK
