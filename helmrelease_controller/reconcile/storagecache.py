"""Helm's release storage, answered from memory: a metadata-only informer over its Secrets.

A no-op reconcile needs one thing from the API server: the labels of its release's storage
Secrets (`owner=helm,name=<release>`: version, status, our digest). `StorageCache` keeps them
for every release in the controller's scope from one list+watch (`owner=helm`, metadata only,
slimmed to the labels we read), so a reconcile of an unchanged HelmRelease makes no request.

A cache can lag behind the API server: right after our own helm run, helm's write may not have
arrived through the watch yet. So the cache answers for a release only when what it holds
equals what the last direct look saw for that release (its Secrets' names and
resourceVersions, `_confirmed`); otherwise (the first look at a release, a change not yet
confirmed, a lagging watch, a storage namespace outside the informer's scope, the cache not yet
synced) the look is one direct metadata-only list, as before, and that becomes the confirmed
view. Looks that must be current (after an action, a requested reconcile, an uninstall) ask for
`fresh=True`. A change made behind our back (a manual `helm rollback`) is seen by the next
reconcile the moment the watch delivers it: the cache then differs from the confirmed view,
and the look goes to the API server.

After a successful install or upgrade the look names the revision helm reported (`after`): the
cache answers once it shows that revision `deployed`, waiting up to `SETTLE_WAIT` for the watch.
Helm's last storage write of an install or upgrade is that revision's `deployed` (history is
pruned before the new revision is created, the previous one is marked superseded before), and a
watch delivers one resource's writes in order, so when the cache shows it, it holds everything
helm wrote; that view becomes the confirmed one. This saves the list every action used to end
with (one of six requests of an install). Not shown in time: one direct list, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from ..kube.client import SECRETS, KubeClient, Obj
from ..kube.informer import EventKind, Informer
from .helmstorage import DIGEST_LABEL, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL, ReleaseObservation, observe

Release = tuple[str, str]  # (storage namespace, release name)

SETTLE_WAIT = 2.0  # seconds a look after an action waits for the watch to show helm's last write

# The labels a look reads (helmstorage.revision_from_secret); the rest are not kept in memory.
KEPT_LABELS = frozenset(
    {
        "owner",
        "name",
        "version",
        "status",
        DIGEST_LABEL,
        OWNER_NAME_LABEL,
        OWNER_NAMESPACE_LABEL,
    }
)


def slim(obj: Obj) -> Obj:
    """The part of a storage Secret's metadata a look needs (the informer's transform): name,
    namespace, resourceVersion and the kept labels, strings interned (statuses, label keys, release
    names and digests repeat). No uid: a Secret deleted and made again has a new resourceVersion,
    which is what the informer's re-list compares. About 0.9 KB per Secret, 1.1 KB with the
    informer's and this cache's indexes (10,000 releases with 5 revisions each: 50,000 Secrets,
    53 MiB; hack/storage_memory.py)."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    kept = {sys.intern(k): sys.intern(str(v)) for k, v in labels.items() if k in KEPT_LABELS}
    return {
        "metadata": {
            "name": meta.get("name", ""),
            "namespace": sys.intern(str(meta.get("namespace", ""))),
            "resourceVersion": meta.get("resourceVersion", ""),
            "labels": kept,
        }
    }


def _release_of(obj: Obj) -> Release:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str((meta.get("labels") or {}).get("name") or ""))


def _view(items: list[Obj]) -> int:
    """A fingerprint of what a look saw: its Secrets' names and resourceVersions."""
    return hash(frozenset((str(m.get("name")), str(m.get("resourceVersion"))) for m in _metas(items)))


def _metas(items: list[Obj]) -> list[dict[str, Any]]:
    return [i.get("metadata") or {} for i in items]


class StorageCache:
    """Looks at Helm's storage for one release: from the informer's memory when it is known to be
    current for that release, else one direct list (see the module docstring)."""

    def __init__(self, client: KubeClient, namespace: str | None = None) -> None:
        self.client, self.namespace = client, namespace  # namespace None: every namespace
        self.informer = Informer(
            client,
            SECRETS,
            namespace=namespace,
            label_selector="owner=helm",
            metadata_only=True,
            transform=slim,
        )
        self.informer.add_handler(self._index)
        self._secrets: dict[Release, dict[str, Obj]] = {}  # release -> storage Secret name -> slim object
        self._confirmed: dict[Release, int] = {}  # release -> fingerprint of the last direct look
        self._changed: dict[Release, asyncio.Event] = {}  # looks waiting for a release's news
        self.hits = 0  # looks answered from memory
        self.lists = 0  # looks that went to the API server

    def _index(self, kind: EventKind, obj: Obj) -> None:
        release, name = _release_of(obj), str(obj["metadata"].get("name") or "")
        if (changed := self._changed.get(release)) is not None:
            changed.set()
        if kind == "delete":
            secrets = self._secrets.get(release)
            if secrets is not None:
                secrets.pop(name, None)
                if not secrets:
                    del self._secrets[release]
            return
        self._secrets.setdefault(release, {})[name] = obj

    def covers(self, namespace: str) -> bool:
        return self.namespace is None or self.namespace == namespace

    def cached(self, namespace: str, release: str) -> list[Obj] | None:
        """The release's storage Secrets from memory, when memory is known current; else None."""
        key = (namespace, release)
        if not (self.covers(namespace) and self.informer.synced.is_set()) or key not in self._confirmed:
            return None
        items = list(self._secrets.get(key, {}).values())
        return items if _view(items) == self._confirmed[key] else None

    def _shows_deployed(self, key: Release, version: int) -> list[Obj] | None:
        items = list(self._secrets.get(key, {}).values())
        for item in items:
            labels = item["metadata"].get("labels") or {}
            if labels.get("version") == str(version) and labels.get("status") == "deployed":
                return items
        return None

    async def settled(self, namespace: str, release: str, version: int) -> list[Obj] | None:
        """The release's storage Secrets from memory once they show revision `version` deployed
        (see the module docstring), waiting up to SETTLE_WAIT; None if the watch did not show it."""
        key = (namespace, release)
        if not (self.covers(namespace) and self.informer.synced.is_set()):
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_WAIT
        changed = self._changed.setdefault(key, asyncio.Event())
        try:
            while (items := self._shows_deployed(key, version)) is None:
                changed.clear()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await changed.wait()
        finally:
            self._changed.pop(key, None)
        self._confirmed[key] = _view(items)
        return items

    async def observe(
        self, namespace: str, release: str, *, fresh: bool = False, after: int = 0
    ) -> ReleaseObservation:
        """Helm's storage for one release (`fresh`: always from the API server; `after`: the
        revision a successful install or upgrade just made, which the cache may answer for)."""
        if after and (items := await self.settled(namespace, release, after)) is not None:
            self.hits += 1
            return observe(items)
        if not fresh and (items := self.cached(namespace, release)) is not None:
            self.hits += 1
            return observe(items)
        return observe(await self.list(namespace, release))

    async def list(self, namespace: str, release: str) -> list[Obj]:
        """One metadata-only list of the release's storage Secrets; it becomes the confirmed view."""
        items, _ = await self.client.list(
            SECRETS, namespace, label_selector=f"owner=helm,name={release}", metadata_only=True
        )
        self.lists += 1
        self._confirmed[(namespace, release)] = _view(items)
        return items
