"""`history NAME`: the release's revisions as Helm's storage holds them (the
`sh.helm.release.v1.<release>.v<N>` Secrets, decoded with `reconcile.helmstorage`), joined with what
the HelmRelease's status.history recorded (config digest, tests). Newest last, like `helm history`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

import yaml

from ..api.models import HelmRelease, SpecError
from ..kube.client import SECRETS, KubeClient
from ..reconcile.helmstorage import decode_release
from .common import HELMRELEASES, OK, Failure, Out, add_cluster_flags, command, default_namespace
from .fmt import age, one_line, table
from .follow import read

EPILOG = """examples:
  kubectl hr history web -n apps     # revisions, newest last
  kubectl hr history web -o yaml     # the same as data
"""

COLUMNS = ["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DIGEST", "TESTS", "DESCRIPTION"]
Obj = dict[str, Any]


def register(sub: Any) -> None:
    p = command(
        sub,
        "history",
        "the release's revisions",
        "The Helm release's revisions (Helm's storage) joined with the HelmRelease's status.",
        EPILOG,
    )
    p.add_argument("name", metavar="NAME", help="the HelmRelease")
    add_cluster_flags(p, all_namespaces=False)
    p.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table")
    p.set_defaults(handler=run)


def where(obj: Obj) -> tuple[str, str]:
    """The storage namespace and release name of a HelmRelease (status first, then the spec)."""
    st = obj.get("status") or {}
    try:
        hr = HelmRelease.from_obj(obj, supported_only=False)
        ns, release = hr.storage_namespace, hr.release_name
    except SpecError:
        ns, release = obj["metadata"]["namespace"], obj["metadata"]["name"]
    return str(st.get("storageNamespace") or ns), release


def revisions(releases: list[Obj], recorded: list[Obj]) -> list[Obj]:
    """One entry per stored revision, oldest first, with what status.history recorded about it."""
    by_rev = {h.get("revision"): h for h in recorded if isinstance(h, dict)}
    out = []
    for rel in sorted(releases, key=lambda r: int(r.get("version", 0))):
        info, meta = rel.get("info") or {}, (rel.get("chart") or {}).get("metadata") or {}
        rec = by_rev.get(rel.get("version")) or {}
        hooks = rec.get("testHooks") or {}
        out.append(
            {
                "revision": rel.get("version"),
                "updated": info.get("last_deployed") or "",
                "status": info.get("status", ""),
                "chart": f"{meta.get('name', '')}-{meta.get('version', '')}",
                "appVersion": meta.get("appVersion", ""),
                "description": info.get("description", ""),
                "configDigest": rec.get("configDigest", ""),
                "tests": ", ".join(f"{n}: {h.get('phase', '')}" for n, h in sorted(hooks.items())),
            }
        )
    return out


def cells(entry: Obj, now: dt.datetime) -> list[str]:
    digest = str(entry["configDigest"]).removeprefix("sha256:")[:12] or "-"
    when = age(entry["updated"], now) + " ago" if entry["updated"] else "-"
    return [
        str(entry["revision"]),
        when,
        entry["status"],
        entry["chart"],
        entry["appVersion"] or "-",
        digest,
        entry["tests"] or "-",
        one_line(str(entry["description"])),
    ]


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    ns = default_namespace(args)
    obj = await read(client, HELMRELEASES, ns, args.name)
    storage_ns, release = where(obj)
    secrets, _ = await client.list(SECRETS, storage_ns, label_selector=f"owner=helm,name={release}")
    releases = [_decoded(s) for s in secrets]
    entries = revisions([r for r in releases if r], (obj.get("status") or {}).get("history") or [])
    if args.output in ("json", "yaml"):
        text = (
            json.dumps(entries, indent=4)
            if args.output == "json"
            else yaml.safe_dump(entries, sort_keys=False)
        )
        out.line(text.rstrip("\n"))
        return OK
    if not entries:
        raise Failure(f"release {storage_ns}/{release} has no revisions in Helm's storage")
    now = dt.datetime.now(dt.UTC)
    for line in table(COLUMNS, [cells(e, now) for e in entries]):
        out.line(line)
    return OK


def _decoded(secret: Obj) -> Obj | None:
    try:
        return decode_release(secret)
    except (KeyError, ValueError, OSError):
        return None
