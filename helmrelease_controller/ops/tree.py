"""`tree NAME`: the objects the HelmRelease's release made (the manifest of its newest revision in
Helm's storage), each read from the API with its readiness: workloads by their ready replicas, Jobs
by completion, Pods by their Ready condition, claims by phase, everything else by existing."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import yaml

from ..kube.client import SECRETS, KubeClient, NotFound, Resource
from ..reconcile.helmstorage import decode_release
from .common import HELMRELEASES, OK, Failure, Out, add_cluster_flags, command, default_namespace
from .fmt import table
from .follow import read
from .history import where

EPILOG = """examples:
  kubectl hr tree web -n apps     # the release's objects and whether each is ready
"""
Obj = dict[str, Any]

# (group, kind) -> (plural, namespaced) for the kinds charts make most; others: lower-case kind + "s".
KNOWN: dict[tuple[str, str], tuple[str, bool]] = {
    ("", "ConfigMap"): ("configmaps", True),
    ("", "Secret"): ("secrets", True),
    ("", "Service"): ("services", True),
    ("", "ServiceAccount"): ("serviceaccounts", True),
    ("", "Pod"): ("pods", True),
    ("", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("", "Namespace"): ("namespaces", False),
    ("apps", "Deployment"): ("deployments", True),
    ("apps", "StatefulSet"): ("statefulsets", True),
    ("apps", "DaemonSet"): ("daemonsets", True),
    ("batch", "Job"): ("jobs", True),
    ("batch", "CronJob"): ("cronjobs", True),
    ("networking.k8s.io", "Ingress"): ("ingresses", True),
    ("rbac.authorization.k8s.io", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): ("customresourcedefinitions", False),
}


@dataclass(frozen=True)
class Ref:
    """One object of a manifest: where it lives in the API and what it is called."""

    resource: Resource
    namespace: str
    name: str

    @property
    def label(self) -> str:
        ns = f"{self.namespace}/" if self.resource.namespaced else ""
        return f"{self.resource.kind} {ns}{self.name}"


def register(sub: Any) -> None:
    p = command(
        sub, "tree", "the objects of the release", "The objects a HelmRelease's release made.", EPILOG
    )
    p.add_argument("name", metavar="NAME", help="the HelmRelease")
    add_cluster_flags(p, all_namespaces=False)
    p.set_defaults(handler=run)


def manifest_refs(manifest: str, namespace: str) -> list[Ref]:
    """The objects of a rendered release manifest, in its order (`namespace`: the release's)."""
    refs = []
    for doc in yaml.safe_load_all(manifest):
        if not isinstance(doc, dict) or not doc.get("kind") or not (doc.get("metadata") or {}).get("name"):
            continue
        api_version = str(doc.get("apiVersion") or "v1")
        group, _, version = api_version.rpartition("/")
        kind = str(doc["kind"])
        plural, namespaced = KNOWN.get((group, kind), (kind.lower() + "s", True))
        meta = doc["metadata"]
        ns = str(meta.get("namespace") or namespace) if namespaced else ""
        refs.append(Ref(Resource(group, version, plural, namespaced, kind), ns, str(meta["name"])))
    return refs


def readiness(obj: Obj | None) -> tuple[str, str]:
    """READY (True, False or Missing) and a detail, from an object as the API returns it."""
    if obj is None:
        return "Missing", "not found"
    kind, spec, st = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    if kind in ("Deployment", "StatefulSet"):
        want, ready = int(spec.get("replicas", 1)), int(st.get("readyReplicas") or 0)
        # Mid-rollout the ready pods may be old ones (a stuck upgrade keeps the old pod serving):
        # count at most the ready pods beyond the old ones, as if those were ready first.
        old = int(st.get("replicas") or 0) - int(st.get("updatedReplicas") or 0)
        ready = max(ready - max(old, 0), 0) if kind == "Deployment" else ready
        current = int(st.get("observedGeneration") or 0) >= int(obj["metadata"].get("generation") or 0)
        return str(ready >= want and current), f"{ready}/{want} ready"
    if kind == "DaemonSet":
        want, ready = int(st.get("desiredNumberScheduled") or 0), int(st.get("numberReady") or 0)
        return str(ready >= want), f"{ready}/{want} ready"
    if kind == "Job":
        done = any(
            c.get("type") == "Complete" and c.get("status") == "True" for c in st.get("conditions") or []
        )
        return str(
            done
        ), "complete" if done else f"{st.get('active', 0)} active, {st.get('failed', 0)} failed"
    if kind == "Pod":
        ok = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
        return str(ok), str(st.get("phase") or "")
    if kind == "PersistentVolumeClaim":
        return str(st.get("phase") == "Bound"), str(st.get("phase") or "")
    return "True", "exists"


def lines(head: str, refs: list[Ref], states: list[tuple[str, str]]) -> list[str]:
    """The tree: the HelmRelease, then each object under it, READY and DETAIL aligned."""
    glyphs = ["├── " if i < len(refs) - 1 else "└── " for i in range(len(refs))]
    rows = [[head, "", ""]] + [[g + r.label, *s] for g, r, s in zip(glyphs, refs, states, strict=True)]
    return table(["OBJECT", "READY", "DETAIL"], rows)


async def run(args: argparse.Namespace, client: KubeClient, out: Out) -> int:
    ns = default_namespace(args)
    obj = await read(client, HELMRELEASES, ns, args.name)
    rel, refs = await release_objects(client, obj)
    if rel is None:
        storage_ns, release = where(obj)
        raise Failure(f"release {storage_ns}/{release} has no revisions in Helm's storage")
    states = [readiness(await _get(client, r)) for r in refs]
    status = (rel.get("info") or {}).get("status", "")
    made = f"release {rel.get('namespace')}/{rel.get('name')} v{rel.get('version')}, {status}"
    head = f"HelmRelease {ns}/{args.name} ({made})"
    for line in lines(head, refs, states):
        out.line(line)
    return OK


async def release_objects(client: KubeClient, hr: Obj) -> tuple[Obj | None, list[Ref]]:
    """The newest stored revision of a HelmRelease's release (None: none) and the objects it made."""
    storage_ns, release = where(hr)
    secrets, _ = await client.list(SECRETS, storage_ns, label_selector=f"owner=helm,name={release}")
    if not secrets:
        return None, []
    newest = max(secrets, key=lambda s: int((s["metadata"].get("labels") or {}).get("version") or 0))
    rel = decode_release(newest)
    rel.setdefault("namespace", storage_ns)
    return rel, manifest_refs(str(rel.get("manifest") or ""), str(rel["namespace"]))


async def _get(client: KubeClient, ref: Ref) -> Obj | None:
    try:
        obj = await client.get(ref.resource, ref.namespace or None, ref.name)
    except NotFound:
        return None
    obj.setdefault("kind", ref.resource.kind)
    return obj
