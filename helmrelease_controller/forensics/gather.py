"""Reading what explains a failed action from the cluster (the I/O under forensics/digest.py).

For the revision the action made (or, for `helm test`, the revision tested), from its Helm
storage Secret: the manifest's workloads and the hooks of the action (`pre-`/`post-upgrade`
hooks of an upgrade, `test` hooks of a test). Each is read live (one GET); the pods of a
workload that is not ready, and of a hook Job, with one list by its selector; the last lines of
a failed container's log; and the Warning events of the namespace since the action began (one
list, `type=Warning`), kept when they are about one of those objects. All reads are as helm's
identity (the caller's `client`), bounded in number by the release's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..drift.live import manifest_objects
from ..kube.client import CORE_EVENTS, PODS, SECRETS, KubeClient, NotFound, Resource, parse_time
from ..reconcile.helmstorage import decode_release
from .digest import WORKLOADS, Evidence, container_states, workload_state

RESOURCES = {
    ("apps/v1", "Deployment"): Resource("apps", "v1", "deployments", True, "Deployment"),
    ("apps/v1", "StatefulSet"): Resource("apps", "v1", "statefulsets", True, "StatefulSet"),
    ("apps/v1", "DaemonSet"): Resource("apps", "v1", "daemonsets", True, "DaemonSet"),
    ("batch/v1", "Job"): Resource("batch", "v1", "jobs", True, "Job"),
    ("v1", "Pod"): PODS,
}
ABOUT = ("Pod", "ReplicaSet", *WORKLOADS)  # the kinds whose events explain a failure
HOOK_EVENTS = {
    "install": ("pre-install", "post-install"),
    "upgrade": ("pre-upgrade", "post-upgrade"),
    "test": ("test",),
}


@dataclass(frozen=True)
class Target:
    """Which revision to explain and where."""

    storage_namespace: str
    release: str
    revision: int
    action: str  # install | upgrade | test
    since: float  # seconds since the epoch: events older than this are not about this failure


async def gather(client: KubeClient, storage: KubeClient, t: Target) -> Evidence:
    """The evidence of one failure (a revision that is gone or was never made: none)."""
    secret = f"sh.helm.release.v1.{t.release}.v{t.revision}"
    try:
        release = decode_release(await storage.get(SECRETS, t.storage_namespace, secret))
    except NotFound:
        return Evidence()
    ns = str(release.get("namespace") or t.storage_namespace)
    ev = Evidence()
    wanted = HOOK_EVENTS.get(t.action, ())
    for hook in release.get("hooks") or []:
        events = [e for e in hook.get("events") or [] if e in wanted]
        for doc in manifest_objects(str(hook.get("manifest") or "")) if events else []:
            if live := await _live(client, doc, ns):
                ev.hooks.append((f"{events[0]} hook" if events[0] != "test" else "test", live))
    if t.action != "test":
        for doc in manifest_objects(str(release.get("manifest") or "")):
            if doc.get("kind") in WORKLOADS and (live := await _live(client, doc, ns)):
                ev.workloads.append(live)
    for obj in [*(o for _, o in ev.hooks), *ev.workloads]:
        if obj.get("kind") != "Pod" and (obj.get("kind") == "Job" or workload_state(obj)):
            ev.pods[_ref(obj)] = await _pods(client, obj, ns)
    await _logs(client, ev, ns)
    ev.events = await _events(client, ns, t.since, _names(ev))
    return ev


def _ref(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


async def _live(client: KubeClient, doc: Mapping[str, Any], ns: str) -> dict[str, Any] | None:
    res = RESOURCES.get((str(doc.get("apiVersion")), str(doc.get("kind"))))
    meta = doc.get("metadata") or {}
    if res is None or not meta.get("name"):
        return None
    try:
        return await client.get(res, str(meta.get("namespace") or ns), str(meta["name"]))
    except NotFound:
        return None


async def _pods(client: KubeClient, obj: Mapping[str, Any], ns: str) -> list[dict[str, Any]]:
    if obj.get("kind") == "Job":
        selector = f"job-name={(obj.get('metadata') or {}).get('name')}"
    else:
        labels = (((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
        if not labels:
            return []
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    namespace = str((obj.get("metadata") or {}).get("namespace") or ns)
    pods, _ = await client.list(PODS, namespace, label_selector=selector)
    return pods[:5]  # the first few tell; a 100-replica Deployment's pods all say the same


async def _logs(client: KubeClient, ev: Evidence, ns: str) -> None:
    """The last lines of each failed container of the hooks and their pods (a test's output)."""
    pods = [o for _, o in ev.hooks if o.get("kind") == "Pod"]
    pods += [p for _, h in ev.hooks for p in ev.pods.get(_ref(h), [])]
    for pod in pods[:5]:
        meta = pod.get("metadata") or {}
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated") or {}
            if int(term.get("exitCode") or 0) != 0:
                with contextlib.suppress(Exception):
                    key = f"{meta.get('name')}/{cs.get('name')}"
                    ev.logs[key] = await client.pod_log(
                        str(meta.get("namespace") or ns), str(meta.get("name")), str(cs.get("name"))
                    )


def _names(ev: Evidence) -> set[str]:
    """Names of every object the evidence is about, and of their pods and ReplicaSets' prefixes."""
    objs = [*(o for _, o in ev.hooks), *ev.workloads, *(p for ps in ev.pods.values() for p in ps)]
    return {str((o.get("metadata") or {}).get("name")) for o in objs}


async def _events(client: KubeClient, ns: str, since: float, names: set[str]) -> list[dict[str, Any]]:
    items, _ = await client.list(CORE_EVENTS, ns, field_selector="type=Warning")
    out = []
    for e in items:
        inv = e.get("involvedObject") or {}
        when = parse_time(e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp"))
        about = str(inv.get("name") or "")
        if when is not None and when.timestamp() < since - 1:
            continue
        if inv.get("kind") not in ABOUT:  # not our own HelmRelease events, say
            continue
        if about in names or any(about.startswith(f"{n}-") for n in names):
            out.append(e)
    return out


__all__ = ["Target", "container_states", "gather"]
