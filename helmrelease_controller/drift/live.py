"""The I/O of drift detection: the release's manifest, the live objects, and putting them back.

- `Manifests`: the objects a deployed revision applied, read once from its Helm storage Secret
  (helm stores the manifest as rendered and post-rendered, hooks apart) and kept, compressed, in
  an LRU keyed by that Secret (a revision's manifest never changes).
- `Discovery`: apiVersion + kind -> the API resource (plural, namespaced), from the server's
  discovery documents, one request per group version, cached.
- `look`: each manifest object's live copy, one GET per object (a list per kind would read every
  object of that kind in the namespace, a cost that grows with the namespace, not the release).
- `restore`: server-side apply of the manifest object as field manager `helm`, forced: changed
  fields go back, a deleted object is created again, fields other managers own and the manifest
  does not set stay; no helm process and no new revision.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..kube.client import SECRETS, ApiError, KubeClient, NotFound, Resource
from ..reconcile.helmstorage import decode_release
from ..valuesyaml import load_documents
from .compare import ObjectRef, without_paths

HELM_FIELD_MANAGER = "helm"  # helm's own manager name (helm 4 applies with it; helm 3 updates with it)


@dataclass(frozen=True)
class Desired:
    """One object the release applied, with the resource it lives in (None: a kind unknown here)."""

    ref: ObjectRef
    obj: dict[str, Any]
    resource: Resource | None


def manifest_objects(manifest: str) -> list[dict[str, Any]]:
    """The objects of a rendered manifest (multi-document YAML; empty documents skipped). Pure."""
    return [d for d in load_documents(manifest) if isinstance(d, dict) and d.get("kind")]


class Manifests:
    """Deployed revisions' manifests by storage Secret, kept parsed but compressed (zlib of their
    JSON: about a kilobyte a release, so every release of a large cluster fits and a check reads
    its revision's Secret once, not at every interval); `max_entries` revisions at most."""

    def __init__(self, max_entries: int = 16384) -> None:
        self.max_entries = max_entries
        self._cache: OrderedDict[tuple[str, str], tuple[str, bytes]] = OrderedDict()
        self.reads = 0  # storage Secrets read

    async def objects(
        self, client: KubeClient, namespace: str, secret: str
    ) -> tuple[str, list[dict[str, Any]]]:
        """(release namespace, manifest objects) of the revision stored in Secret `namespace/secret`."""
        key = (namespace, secret)
        if key not in self._cache:
            release = decode_release(await client.get(SECRETS, namespace, secret))
            self.reads += 1
            objs = manifest_objects(str(release.get("manifest") or ""))
            packed = zlib.compress(json.dumps(objs, separators=(",", ":")).encode())
            self._cache[key] = (str(release.get("namespace") or namespace), packed)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        ns, packed = self._cache[key]
        return ns, json.loads(zlib.decompress(packed))


class Discovery:
    """Which resource serves an apiVersion and kind, from the API server's discovery."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, Resource]] = {}

    async def resource(self, client: KubeClient, api_version: str, kind: str) -> Resource | None:
        """The resource serving `kind` (None: not served). A group version is read once; one not
        served (yet: a CRD installed later) is asked again at the next check."""
        if api_version not in self._groups:
            found = await self._discover(client, api_version)
            if not found:
                return None
            self._groups[api_version] = found
        return self._groups[api_version].get(kind)

    @staticmethod
    async def _discover(client: KubeClient, api_version: str) -> dict[str, Resource]:
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        try:
            doc = await client.get_path(path)
        except NotFound:
            return {}
        out: dict[str, Resource] = {}
        for r in doc.get("resources") or []:
            if "/" not in str(r.get("name")) and r.get("kind") not in out:
                out[str(r["kind"])] = Resource(
                    group, version, str(r["name"]), bool(r.get("namespaced")), str(r["kind"])
                )
        return out


async def desired_objects(
    client: KubeClient, discovery: Discovery, objs: list[dict[str, Any]], namespace: str
) -> list[Desired]:
    """The manifest's objects with their resources and where they live (a namespaced object
    without a namespace is in the release's namespace)."""
    out = []
    for obj in objs:
        res = await discovery.resource(client, str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
        ref = ObjectRef.of(obj, namespace)
        if res is not None and not res.namespaced:
            ref = replace(ref, namespace="")
        out.append(Desired(ref, obj, res))
    return out


async def look(client: KubeClient, d: Desired) -> dict[str, Any] | None:
    """The live object (None: it does not exist)."""
    assert d.resource is not None
    try:
        return await client.get(d.resource, d.ref.namespace or None, d.ref.name)
    except NotFound:
        return None


async def restore(client: KubeClient, d: Desired, ignore: Sequence[str] = ()) -> None:
    """Apply the manifest object again (server-side apply as `helm`, forced), without the ignored
    fields (applying them would take them back from whoever set them)."""
    assert d.resource is not None
    body = without_paths(d.obj, ignore)  # a copy: the cached manifest object stays as it was
    meta = body.setdefault("metadata", {})
    if d.ref.namespace:
        meta["namespace"] = d.ref.namespace
    await client.patch(
        d.resource,
        d.ref.namespace or None,
        d.ref.name,
        body,
        patch_type="apply",
        field_manager=HELM_FIELD_MANAGER,
        force=True,
    )


__all__ = [
    "ApiError",
    "Desired",
    "Discovery",
    "Manifests",
    "desired_objects",
    "look",
    "manifest_objects",
    "restore",
]
