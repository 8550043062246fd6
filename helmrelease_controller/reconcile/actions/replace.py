"""Replacing an object helm cannot change in place, for a forced upgrade (`upgrade.force`, `force-at`).

An immutable field (a Deployment's selector, a Job's template ...) cannot be changed by a patch
or by helm's own replace (a PUT: helm 3 `--force`, helm 4 `--force-replace`). What replaces it
is what `kubectl replace --force` does: delete, wait until it is gone, create. A forced upgrade
that fails this way deletes the object the API server named and runs the upgrade once more,
which creates it anew. Only objects of this release (helm's `meta.helm.sh/release-*`
annotations) of the kinds below are deleted; a PersistentVolumeClaim never is (its data would go
with it): the reason then says so and a person decides.
"""

from __future__ import annotations

import asyncio
import time

from ...kube.client import ApiError as KubeApiError
from ...kube.client import KubeClient, Resource

REPLACEABLE = {
    ("Deployment", "apps"): Resource("apps", "v1", "deployments", True, "Deployment"),
    ("StatefulSet", "apps"): Resource("apps", "v1", "statefulsets", True, "StatefulSet"),
    ("DaemonSet", "apps"): Resource("apps", "v1", "daemonsets", True, "DaemonSet"),
    ("Job", "batch"): Resource("batch", "v1", "jobs", True, "Job"),
    ("Service", ""): Resource("", "v1", "services", True, "Service"),
    ("ConfigMap", ""): Resource("", "v1", "configmaps", True, "ConfigMap"),
    ("Secret", ""): Resource("", "v1", "secrets", True, "Secret"),
    ("RoleBinding", "rbac.authorization.k8s.io"): Resource(
        "rbac.authorization.k8s.io", "v1", "rolebindings", True, "RoleBinding"
    ),
}
GONE_WITHIN = 30.0


async def delete_for_replace(
    client: KubeClient, kind: str, group: str, name: str, namespace: str, release: str
) -> str:
    """Delete the object so the next upgrade creates it; "" when done, else why it was not."""
    res = REPLACEABLE.get((kind, group))
    if res is None:
        return f"{kind} {namespace}/{name} is not replaced automatically: delete it yourself"
    try:
        obj = await client.get(res, namespace, name)
        notes = obj.get("metadata", {}).get("annotations") or {}
        ours = (notes.get("meta.helm.sh/release-name"), notes.get("meta.helm.sh/release-namespace"))
        if ours != (release, namespace):
            return f"{kind} {namespace}/{name} does not belong to release {namespace}/{release}: not replaced"
        uid = obj["metadata"]["uid"]
        await client.delete(res, namespace, name, propagation="Background", preconditions={"uid": uid})
        deadline = time.monotonic() + GONE_WITHIN
        while time.monotonic() < deadline:
            await client.get(res, namespace, name)
            await asyncio.sleep(0.2)
    except KubeApiError as e:
        if e.status == 404:
            return ""
        return f"{kind} {namespace}/{name} could not be deleted for its replacement: {e.reason}"
    return f"{kind} {namespace}/{name} was still being deleted after {GONE_WITHIN:.0f}s"
