"""`suspend` and `resume`: the helmrelease.dev/suspend annotation on one HelmRelease or GitSync, or on
`--all` of a namespace (with `-l`). `resume` also asks for a reconcile and waits for it (`--no-wait`:
do not), like `flux resume`."""

from __future__ import annotations

import argparse
from typing import Any

from ..api.models import ANNOTATION_SUSPEND
from ..kube.client import KubeClient, Resource
from .common import (
    FAILED,
    OK,
    Failure,
    Out,
    add_cluster_flags,
    command,
    default_namespace,
    duration,
    kind_and_names,
    ref,
)
from .follow import REQUEST, annotate, follow, new_token

SUSPEND_EPILOG = """examples:
  kubectl hr suspend web -n apps          # stop reconciling apps/web (helm is not run for it)
  kubectl hr suspend --all -l team=blue   # every HelmRelease with that label in the namespace
  kubectl hr suspend gitsync releases     # stop applying commits of a GitSync
"""
RESUME_EPILOG = """examples:
  kubectl hr resume web -n apps              # resume and wait until the controller reconciled it
  kubectl hr resume web --no-wait            # resume and return at once
  kubectl hr resume --all -l team=blue       # every suspended HelmRelease with that label
"""


def register(sub: Any) -> None:
    for verb, epilog, text in (
        ("suspend", SUSPEND_EPILOG, "stop reconciling (the helmrelease.dev/suspend annotation)"),
        ("resume", RESUME_EPILOG, "reconcile again, and wait for it"),
    ):
        p = command(
            sub,
            verb,
            text,
            f"{verb.capitalize()}: {text}.",
            epilog,
        )
        p.add_argument("words", nargs="*", metavar="[gitsync] NAME", help="`gitsync` for a GitSync; names")
        p.add_argument("--all", action="store_true", help="every object of the namespace (with -l: matching)")
        p.add_argument("-l", "--selector", help="label selector for --all, e.g. team=blue")
        add_cluster_flags(p, all_namespaces=False)
        if verb == "resume":
            p.add_argument("--no-wait", action="store_true", help="do not wait for the reconcile")
            p.add_argument(
                "--timeout",
                type=duration,
                default=300.0,
                metavar="DURATION",
                help="how long to wait (default: 5m)",
            )
        p.set_defaults(handler=run_suspend if verb == "suspend" else run_resume)


async def _targets(args: argparse.Namespace, client: KubeClient) -> tuple[Resource, str, list[str]]:
    res, names = kind_and_names(args.words)
    ns = default_namespace(args)
    if args.all == bool(names):
        raise Failure("name one or more objects, or use --all")
    if args.selector and not args.all:
        raise Failure("-l/--selector goes with --all")
    if args.all:
        objs, _ = await client.list(res, ns, label_selector=args.selector)
        names = sorted(o["metadata"]["name"] for o in objs)
        if not names:
            raise Failure(f"no {res.plural} found in namespace {ns}")
    return res, ns, names


async def run_suspend(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    res, ns, names = await _targets(args, client)
    for name in names:
        await annotate(client, res, ns, name, {ANNOTATION_SUSPEND: "true"})
        out.line(f"{ref(res, ns, name)} suspended")
    return OK


async def run_resume(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    res, ns, names = await _targets(args, client)
    code = OK
    for name in names:
        token = new_token()
        obj = await annotate(client, res, ns, name, {ANNOTATION_SUSPEND: None, REQUEST: token})
        if (obj.get("spec") or {}).get("suspend"):
            out.err(f"error: {ref(res, ns, name)} stays suspended: spec.suspend is true (edit the spec)")
            code = FAILED
            continue
        out.line(f"{ref(res, ns, name)} resumed")
        if not args.no_wait and await follow(client, res, obj, token, args.timeout, out) != OK:
            code = FAILED
    return code
