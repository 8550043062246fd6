"""`why NAME`: why the HelmRelease's last install, upgrade or test failed, in full.

The controller keeps a digest of at most 10 lines in `status.lastFailure` (and sends it with the
failure's notification). `why` prints that record, what the attempt changed, and then looks again
with the same forensics (forensics/: workloads of the failed revision not ready, their pods'
containers, failed hook Jobs and `helm test` pods with their last log lines, Warning events since
the failure) as the user running it, without the 10-line limit: what the cluster shows now.
Exit 0 when there is a failure to explain, 1 when the HelmRelease has none recorded.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..forensics.digest import findings
from ..forensics.gather import Target, gather
from ..kube.client import ApiError, KubeClient
from ..reconcile.status import parse_rfc3339
from .common import HELMRELEASES, OK, Failure, Out, add_cluster_flags, command, default_namespace
from .follow import read
from .history import where

EPILOG = """examples:
  kubectl hr why web -n apps       # why its last upgrade (install, test) failed
"""


def register(sub: Any) -> None:
    p = command(
        sub,
        "why",
        "why the last install, upgrade or test failed",
        "The recorded failure digest, what the attempt changed, and everything the cluster shows now.",
        EPILOG,
    )
    p.add_argument("name", metavar="NAME", help="the HelmRelease")
    add_cluster_flags(p, all_namespaces=False)
    p.set_defaults(handler=run)


def recorded(name: str, last: dict[str, Any]) -> list[str]:
    """The lines of status.lastFailure (pure)."""
    head = f"{name}: {last.get('action', '?')} of revision {last.get('revision') or '?'} failed"
    lines = [head + (f" at {last['time']}" if last.get("time") else "")]
    if changes := last.get("changes"):
        lines += ["", "What changed:", *(f"  {c}" for c in changes)]
    lines += ["", "Why (recorded):", *(f"  {s}" for s in last.get("summary") or ["(nothing was found)"])]
    return lines


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    ns = default_namespace(args)
    obj = await read(client, HELMRELEASES, ns, args.name)
    last = (obj.get("status") or {}).get("lastFailure")
    if not last:
        raise Failure(f"HelmRelease {ns}/{args.name} has no failure recorded (status.lastFailure)")
    for line in recorded(f"HelmRelease {ns}/{args.name}", last):
        out.line(line)
    storage_ns, release = where(obj)
    target = Target(
        storage_ns,
        release,
        int(last.get("revision") or 0),
        str(last.get("action")),
        parse_rfc3339(last.get("time")),
    )
    try:
        now = findings(await gather(client, client, target)) if target.revision else []
    except ApiError as e:
        out.line(f"\nThe cluster could not be read now: {e}")
        return OK
    out.line("")
    out.line("What the cluster shows now:")
    for line in now or ["(nothing wrong found now)"]:
        out.line(f"  {line}")
    return OK
