"""`check`: the prerequisites in one screen — the API server answers, both CRDs are installed and
match this version's, helm and kubectl are on PATH (their versions), the controller holds its
leader Lease (and who), and what the current user may do for the other commands (one
SelfSubjectAccessReview each). Exit 0 when nothing failed (warnings allowed), 1 otherwise."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from dataclasses import dataclass
from typing import Any

from .. import procs
from ..api.crd import build_crd, build_gitsync_crd
from ..kube.client import CRDS, LEASES, ApiError, KubeClient, NotFound, Resource, parse_time
from .common import FAILED, OK, Out, add_cluster_flags, command, default_namespace
from .fmt import human_duration, table

EPILOG = """examples:
  kubectl hr check                  # as the current user, in the current namespace
  kubectl hr check -n prod --leader-election-namespace flux-system
"""
SSAR = Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", False, "SelfSubjectAccessReview")
LEASE_NAME = "helmrelease-controller"

# (verb, group, resource) -> the commands that need it
PERMISSIONS: list[tuple[str, str, str, str]] = [
    ("list", "helmrelease.dev", "helmreleases", "get"),
    ("watch", "helmrelease.dev", "helmreleases", "get --watch, reconcile, resume"),
    ("patch", "helmrelease.dev", "helmreleases", "suspend, resume, reconcile"),
    ("list", "helmrelease.dev", "gitsyncs", "get gitsync"),
    ("list", "", "secrets", "history, tree, diff"),
    ("get", "", "secrets", "values, diff"),
    ("get", "", "configmaps", "values, diff"),
    ("list", "events.k8s.io", "events", "events"),
]


@dataclass(frozen=True)
class Check:
    name: str
    result: str  # ok, warn, FAIL
    detail: str


def register(sub: Any) -> None:
    p = command(
        sub, "check", "check the prerequisites", "Check what the controller and these commands need.", EPILOG
    )
    add_cluster_flags(p, all_namespaces=False)
    p.add_argument(
        "--leader-election-namespace",
        default="helmrelease-system",
        metavar="NS",
        help="where the controller's Lease is (default: %(default)s)",
    )
    p.set_defaults(handler=run)


def crd_check(name: str, stored: dict[str, Any] | None, wanted: dict[str, Any]) -> Check:
    """A CRD installed, and its schema the one this version generates."""
    if stored is None:
        return Check(f"CRD {name}", "FAIL", "not installed: kubectl apply -k crds/")

    def schemas(crd: dict[str, Any]) -> dict[str, Any]:
        return {v.get("name"): v.get("schema") for v in (crd.get("spec") or {}).get("versions") or []}

    if schemas(stored) != schemas(wanted):
        return Check(
            f"CRD {name}", "FAIL", "installed, but not this version's schema: kubectl apply -k crds/"
        )
    return Check(f"CRD {name}", "ok", "installed, current")


def lease_check(lease: dict[str, Any] | None, where: str, now: dt.datetime) -> Check:
    """The controller's leader Lease: who holds it and whether it is renewed in time."""
    if lease is None:
        return Check(
            "controller", "warn", f"no Lease {where} (a controller without --leader-elect takes none)"
        )
    spec = lease.get("spec") or {}
    holder, renewed = spec.get("holderIdentity") or "", parse_time(spec.get("renewTime"))
    if not holder or renewed is None:
        return Check("controller", "FAIL", f"Lease {where} is held by nobody")
    age = (now - renewed).total_seconds()
    if age > float(spec.get("leaseDurationSeconds") or 15):
        return Check(
            "controller", "FAIL", f"leader {holder} last renewed {human_duration(age)} ago: not running?"
        )
    return Check("controller", "ok", f"leader {holder}, renewed {human_duration(age)} ago")


def rbac_check(allowed: dict[tuple[str, str, str], bool | None], namespace: str) -> Check:
    """One line for the current user's permissions in `namespace`."""
    if any(v is None for v in allowed.values()):
        return Check("RBAC", "warn", "not checked: the API server answers no SelfSubjectAccessReview")
    denied = [(v, g, r, needs) for v, g, r, needs in PERMISSIONS if not allowed[(v, g, r)]]
    if not denied:
        return Check("RBAC", "ok", f"every command allowed in namespace {namespace}")
    missing = "; ".join(f"{v} {r} ({needs})" for v, _, r, needs in denied)
    worst = "FAIL" if any((v, r) == ("list", "helmreleases") for v, _, r, _ in denied) else "warn"
    return Check("RBAC", worst, f"in namespace {namespace} you may not: {missing}")


async def _tool(name: str, *args: str) -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(name, "warn", "not on PATH (the controller runs it; these commands do not)")
    done = await procs.run([path, *args], tool=name)  # the one process boundary (procs.py)
    text = " ".join((done.stdout.decode(errors="replace") + done.stderr).split())
    return Check(name, "ok" if done.rc == 0 else "FAIL", f"{text} ({path})")


async def _get(client: KubeClient, res: Resource, ns: str | None, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(res, ns, name)
    except NotFound:
        return None


async def _allowed(client: KubeClient, ns: str, verb: str, group: str, resource: str) -> bool | None:
    attrs = {"namespace": ns, "verb": verb, "group": group, "resource": resource}
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    try:
        review = await client.create(SSAR, None, body)
    except NotFound:
        return None
    return bool((review.get("status") or {}).get("allowed"))


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    ns = default_namespace(args)
    checks = [await _api(client)]
    if checks[0].result == "ok":
        checks += await _cluster_checks(client, ns, args.leader_election_namespace)
    checks += [await _tool("helm", "version", "--short"), await _tool("kubectl", "version", "--client")]
    for line in table(["CHECK", "RESULT", "DETAIL"], [[c.name, c.result, c.detail] for c in checks]):
        out.line(line)
    return FAILED if any(c.result == "FAIL" for c in checks) else OK


async def _cluster_checks(client: KubeClient, ns: str, lease_ns: str) -> list[Check]:
    """CRDs, the Lease and RBAC; what the user may not read is a warning saying so."""
    checks = []
    for crd in (build_crd(), build_gitsync_crd()):
        name = crd["metadata"]["name"]
        try:
            checks.append(crd_check(name, await _get(client, CRDS, None, name), crd))
        except ApiError as e:
            checks.append(Check(f"CRD {name}", "warn", f"cannot read it: {e.status} {e.reason}"))
    where = f"{lease_ns}/{LEASE_NAME}"
    try:
        lease = await _get(client, LEASES, lease_ns, LEASE_NAME)
        checks.append(lease_check(lease, where, dt.datetime.now(dt.UTC)))
    except ApiError as e:
        checks.append(Check("controller", "warn", f"cannot read Lease {where}: {e.status} {e.reason}"))
    allowed = {(v, g, r): await _allowed(client, ns, v, g, r) for v, g, r, _ in PERMISSIONS}
    checks.append(rbac_check(allowed, ns))
    return checks


async def _api(client: KubeClient) -> Check:
    try:
        await client.get(CRDS, None, "helmreleases.helmrelease.dev")
    except NotFound:
        pass
    except ApiError as e:
        if e.status in (401, 403):
            return Check("API server", "ok", f"{client.host} answers ({e.status} {e.reason} for CRDs)")
        return Check("API server", "FAIL", f"{client.host}: {' '.join(str(e).split())}")
    return Check("API server", "ok", f"{client.host} answers")
