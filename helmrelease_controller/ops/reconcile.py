"""`reconcile [gitsync] NAME [--force] [--reset] [--with-source] [--timeout DURATION]`: write a request
token (`helmrelease.dev/reconcile-requested-at`, and `force-at` / `reset-at`), print the progress the
controller reports in status, and exit 0 only if the object ended Ready (1: failed or timed out).

`--with-source` is accepted for `flux reconcile hr --with-source` habits and changes nothing: every
reconcile request already re-reads the chart source (index.yaml, git fetch, OCI tags)."""

from __future__ import annotations

import argparse
from typing import Any

from ..api.models import ANNOTATION_FORCE_AT, ANNOTATION_RESET_AT
from ..kube.client import KubeClient
from . import rows
from .common import (
    GITSYNCS,
    Failure,
    Out,
    add_cluster_flags,
    command,
    default_namespace,
    duration,
    kind_and_names,
    ref,
)
from .follow import REQUEST, annotate, follow, new_token, read

EPILOG = """examples:
  kubectl hr reconcile web -n apps            # reconcile now, re-reading the chart source; wait
  kubectl hr reconcile web --force            # upgrade now with replace (helm --force), past a stall
  kubectl hr reconcile web --reset            # forget the failure counts, then retry
  kubectl hr reconcile web --timeout 10m      # wait up to 10 minutes (default: 5m)
  kubectl hr reconcile gitsync releases       # fetch and apply a GitSync's commit now

exit code: 0 when it ended Ready, 1 when it failed, stalled or timed out (the reason is printed).
"""


def register(sub: Any) -> None:
    p = command(
        sub,
        "reconcile",
        "reconcile now and follow it",
        "Ask the controller to reconcile now (a request-token annotation) and follow it.",
        EPILOG,
    )
    p.add_argument("words", nargs="+", metavar="[gitsync] NAME", help="`gitsync` for a GitSync; the name")
    add_cluster_flags(p, all_namespaces=False)
    p.add_argument("--force", action="store_true", help="HelmRelease: upgrade now with replace (force-at)")
    p.add_argument("--reset", action="store_true", help="HelmRelease: reset the failure counts (reset-at)")
    p.add_argument(
        "--with-source",
        action="store_true",
        help="accepted for Flux habits; changes nothing: every reconcile re-reads the chart source",
    )
    p.add_argument(
        "--timeout", type=duration, default=300.0, metavar="DURATION", help="how long to wait (default: 5m)"
    )
    p.set_defaults(handler=run)


def request_annotations(token: str, force: bool, reset: bool) -> dict[str, str]:
    """The request annotations one reconcile writes, all with the same token."""
    out = {REQUEST: token}
    if force:
        out[ANNOTATION_FORCE_AT] = token
    if reset:
        out[ANNOTATION_RESET_AT] = token
    return out


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    res, names = kind_and_names(args.words)
    if len(names) != 1:
        raise Failure("reconcile takes one NAME")
    if res is GITSYNCS and (args.force or args.reset):
        raise Failure("--force and --reset are for HelmReleases")
    ns, name = default_namespace(args), names[0]
    current = await read(client, res, ns, name)
    if rows.suspended(current):
        raise Failure(f"{ref(res, ns, name)} is suspended: `resume` it first")
    token = new_token()
    obj = await annotate(client, res, ns, name, request_annotations(token, args.force, args.reset))
    out.line(f"{ref(res, ns, name)}: reconcile requested ({token})")
    return await follow(client, res, obj, token, args.timeout, out)
