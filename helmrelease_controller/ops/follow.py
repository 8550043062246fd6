"""Asking the controller for a reconcile and following it: the request-token annotations written with
one merge patch, then a watch on the object printing `progress.lines` until `progress.handled` (or a
timeout). Shared by `reconcile` and `resume`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

from ..api.models import ANNOTATION_RECONCILE_REQUESTED_AT
from ..kube.client import Gone, KubeClient, NotFound, Resource
from . import progress
from .common import FAILED, OK, Failure, Out, ref

Obj = dict[str, Any]


def new_token() -> str:
    """A request token as Flux writes one: the time, RFC 3339 with nanoseconds."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


async def read(client: KubeClient, res: Resource, ns: str, name: str) -> Obj:
    try:
        return await client.get(res, ns, name)
    except NotFound:
        raise Failure(f'{res.label} "{name}" not found in namespace {ns}') from None


async def annotate(client: KubeClient, res: Resource, ns: str, name: str, annotations: dict[str, Any]) -> Obj:
    """One merge patch of metadata.annotations (None removes one)."""
    try:
        return await client.patch(res, ns, name, {"metadata": {"annotations": annotations}}, "merge")
    except NotFound:
        raise Failure(f'{res.label} "{name}" not found in namespace {ns}') from None


async def follow(client: KubeClient, res: Resource, obj: Obj, token: str, timeout: float, out: Out) -> int:
    """Print progress of request `token` on `obj` (as the patch returned it) until the controller
    handled it; 0 if it ended Ready, 1 if not or on timeout (with the reason)."""
    meta = obj["metadata"]
    ns, name = str(meta["namespace"]), str(meta["name"])
    out.line(f"waiting for the controller to reconcile {ref(res, ns, name)}")
    last = obj
    try:
        async with asyncio.timeout(timeout):
            last = await _until_handled(client, res, obj, token, out)
    except TimeoutError:
        why = progress.outcome(last)[1] if last.get("status") else "no status written"
        handled = (last.get("status") or {}).get("lastHandledReconcileAt") == token
        state = "still in progress" if handled else "the controller did not pick up the request"
        out.err(
            f"error: timed out after {_seconds(timeout)} waiting for {ref(res, ns, name)}: {state} ({why})"
        )
        return FAILED
    ok, text = progress.outcome(last)
    if ok:
        out.line(f"ready: {text}")
        return OK
    out.err(f"error: {ref(res, ns, name)} is not ready: {text}")
    return FAILED


async def _until_handled(client: KubeClient, res: Resource, obj: Obj, token: str, out: Out) -> Obj:
    last, rv = obj, str(obj["metadata"].get("resourceVersion") or "")
    ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    while not progress.handled(last, token):
        try:
            watch = client.watch(res, ns, rv, field_selector=f"metadata.name={name}", timeout_seconds=60)
            async with contextlib.aclosing(watch) as events:
                async for kind, new in events:
                    rv = str(new.get("metadata", {}).get("resourceVersion") or rv)
                    if kind == "DELETED":
                        raise Failure(f"{ref(res, ns, name)} was deleted")
                    if kind != "MODIFIED" or new["metadata"].get("name") != name:
                        continue
                    for line in progress.lines(last, new):
                        out.line(f"  {line}")
                    last = new
                    if progress.handled(last, token):
                        return last
        except Gone:
            new = await read(client, res, ns, name)
            for line in progress.lines(last, new):
                out.line(f"  {line}")
            last, rv = new, str(new["metadata"].get("resourceVersion") or "")
    return last


def _seconds(timeout: float) -> str:
    return f"{timeout:g}s"


REQUEST = ANNOTATION_RECONCILE_REQUESTED_AT
