"""`get [gitsync] [NAME]`: HelmReleases or GitSyncs as a table (`-o wide` adds columns), or the objects
as JSON/YAML; `--watch` prints a new row each time an object changes what its row shows."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from typing import Any

from ..kube.client import Gone, KubeClient, NotFound, Resource
from . import rows
from .common import (
    GITSYNCS,
    OK,
    Failure,
    Out,
    add_cluster_flags,
    command,
    default_namespace,
    dump,
    kind_and_names,
)
from .fmt import format_row, table, widths

EPILOG = """examples:
  kubectl hr get                      # HelmReleases of the current namespace
  kubectl hr get web -n apps -o wide  # one, with release, applied revision, failures, next retry
  kubectl hr get -A --watch           # every namespace; a new row at each change
  kubectl hr get gitsync -n prod      # GitSyncs
  kubectl hr get web -o yaml          # the object
"""

LIVE = ("AGE", "LAST CHANGE")  # columns that change with the clock, not with the object


def register(sub: Any) -> None:
    p = command(
        sub,
        "get",
        "list HelmReleases or GitSyncs",
        "Show HelmReleases (or, with `gitsync`, GitSyncs): ready, one-line status, chart, "
        "revision, suspension, last change, age.",
        EPILOG,
    )
    p.add_argument("words", nargs="*", metavar="[gitsync] [NAME]", help="`gitsync` for GitSyncs; a name")
    add_cluster_flags(p)
    p.add_argument("-o", "--output", choices=["table", "wide", "json", "yaml"], default="table")
    p.add_argument("-w", "--watch", action="store_true", help="after the list, print a row at each change")
    p.set_defaults(handler=run)


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    res, names = kind_and_names(args.words)
    if len(names) > 1:
        raise Failure("get takes at most one NAME")
    name = names[0] if names else None
    ns = None if args.all_namespaces else default_namespace(args)
    objs, rv = await _list(client, res, ns, name)
    view = _View(res is GITSYNCS, args.output, bool(args.all_namespaces), out, args.watch)
    if args.output in ("json", "yaml"):
        if objs or not args.watch:
            out.line(dump(objs, args.output, single=name is not None))
    elif objs:
        view.table(objs)
    elif not args.watch:
        out.err(f"No resources found in {ns} namespace." if ns else "No resources found")
    if args.watch:
        await _watch(client, res, ns, name, rv, view, objs)
    return OK


async def _list(client: KubeClient, res: Resource, ns: str | None, name: str | None) -> tuple[list[Any], str]:
    if name is None:
        objs, rv = await client.list(res, ns)
        return sorted(objs, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])), rv
    try:
        obj = await client.get(res, ns, name)
    except NotFound:
        raise Failure(f'{res.label} "{name}" not found') from None
    obj.setdefault("apiVersion", res.api_version)
    obj.setdefault("kind", res.kind)
    return [obj], str(obj["metadata"].get("resourceVersion") or "")


class _View:
    """How rows print, and which row each object printed last (a change prints a new one)."""

    def __init__(self, gitsync: bool, output: str, all_ns: bool, out: Out, watching: bool) -> None:
        self.gitsync, self.output, self.all_ns, self.out = gitsync, output, all_ns, out
        self.watching = watching
        self.header = rows.columns(gitsync, output == "wide", all_ns)
        self.widths: list[int] = []
        self.shown: dict[tuple[str, str], list[str]] = {}

    def cells(self, obj: dict[str, Any]) -> list[str]:
        now = dt.datetime.now(dt.UTC)
        return rows.row(obj, now, self.gitsync, self.output == "wide", self.all_ns)

    def table(self, objs: list[dict[str, Any]]) -> None:
        cells = [self.cells(o) for o in objs]
        self.widths = widths(self.header, cells)
        for obj, c in zip(objs, cells, strict=True):
            self.shown[_key(obj)] = _stable(self.header, c)
        if not self.watching:
            for line in table(self.header, cells, self.out.colour):
                self.out.line(line)
            return
        # Rows printed later keep the columns: READY has room for any of its values.
        ready = self.header.index("READY")
        self.widths[ready] = max(self.widths[ready], len("Unknown"))
        self.out.line(format_row(self.header, self.widths))
        for c in cells:
            self.out.line(format_row(c, self.widths, ready if self.out.colour else -1))

    def change(self, obj: dict[str, Any]) -> None:
        """Print `obj` again if what its row shows changed (the first one prints the header too)."""
        if self.output in ("json", "yaml"):
            self.out.line(dump([obj], self.output, single=True) + ("\n---" if self.output == "yaml" else ""))
            return
        c = self.cells(obj)
        if self.shown.get(_key(obj)) == _stable(self.header, c):
            return
        if not self.widths:
            self.table([obj])
            return
        self.shown[_key(obj)] = _stable(self.header, c)
        ready = self.header.index("READY") if self.out.colour else -1
        self.out.line(format_row(c, self.widths, ready))


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("namespace", "")), str(meta["name"])


def _stable(header: list[str], cells: list[str]) -> list[str]:
    return [c for h, c in zip(header, cells, strict=True) if h not in LIVE]


async def _watch(
    client: KubeClient,
    res: Resource,
    ns: str | None,
    name: str | None,
    rv: str,
    view: _View,
    objs: list[dict[str, Any]],
) -> None:
    """Follow changes from `rv` until interrupted; a stream the server ends is resumed, a 410 re-lists."""
    selector = f"metadata.name={name}" if name else None
    while True:
        try:
            async with contextlib.aclosing(client.watch(res, ns, rv, field_selector=selector)) as events:
                async for kind, obj in events:
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if kind in ("ADDED", "MODIFIED") and (name is None or obj["metadata"]["name"] == name):
                        obj.setdefault("apiVersion", res.api_version)
                        obj.setdefault("kind", res.kind)
                        view.change(obj)
        except Gone:
            objs, rv = await client.list(res, ns, field_selector=selector)
            for obj in objs:
                view.change(obj)
