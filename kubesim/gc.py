"""The garbage collector: ownerReferences, deletion propagation, dangling owners.

As kube-controller-manager's garbage collector does:

- Background (the default): once an owner is gone, its dependents are deleted;
- Foreground: the API server keeps the owner (deletionTimestamp plus the
  `foregroundDeletion` finalizer, see `deletion_finalizers`); the collector deletes
  its dependents (those with `blockOwnerDeletion` first; a dependent that owns
  others is deleted in the foreground too) and removes the finalizer once no
  blocking dependent is left;
- Orphan: the owner is kept with the `orphan` finalizer until its dependents lost
  their ownerReference to it;
- a dependent whose owners all do not exist (never existed, deleted, another uid
  under that name, or in another namespace) is deleted; one with some existing
  owners only loses the dangling references. A namespaced owner is looked up in
  the dependent's namespace; a cluster-scoped dependent naming a namespaced kind is
  never collected. Both invalid cases get a Warning Event `OwnerRefInvalidNamespace`.
  An owner kind the server does not serve is left alone (unresolvable).
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Callable
from typing import Any

from .resources import Registry, ResourceType
from .store import ApiError, Change, Obj, Store, now_rfc3339

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
_POLICIES = ("Foreground", "Background", "Orphan")

Later = Callable[..., None]


def deletion_finalizers(policy: Any, orphan_dependents: Any = None) -> list[str]:
    """The finalizers a DELETE adds for its DeleteOptions (as the registry's
    deletionFinalizersForGarbageCollection); invalid options are a 422 as the real server says."""
    if orphan_dependents is not None and policy is not None:
        raise _invalid_options(
            f'propagationPolicy: Invalid value: "{policy}": '
            "orphanDependents and deletionPropagation cannot be both set"
        )
    if policy is not None and policy not in _POLICIES:
        raise _invalid_options(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: '
            '"Foreground", "Background", "Orphan", "nil"'
        )
    if policy == "Orphan" or orphan_dependents is True:
        return [ORPHAN]
    if policy == "Foreground":
        return [FOREGROUND]
    return []


def _invalid_options(why: str) -> ApiError:
    field, _, message = why.partition(": ")
    reason = "FieldValueNotSupported" if message.startswith("Unsupported") else "FieldValueInvalid"
    cause = {"reason": reason, "field": field, "message": message}
    details = {"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [cause]}
    return ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: {why}', details)


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _refs(obj: Obj) -> list[dict[str, Any]]:
    return list(_meta(obj).get("ownerReferences") or [])


def _waiting(owner: Obj) -> bool:
    """The owner is being deleted in the foreground: its dependents go first."""
    m = _meta(owner)
    return bool(m.get("deletionTimestamp")) and FOREGROUND in (m.get("finalizers") or [])


class GarbageCollector:
    def __init__(self, registry: Registry, store: Store, later: Later) -> None:
        self.registry, self.store, self.later = registry, store, later

    # -- triggers (called with every committed change) -------------------------------------
    def on_change(self, ch: Change) -> None:
        meta = _meta(ch.obj)
        ns = meta.get("namespace", "")
        if ch.type == "DELETED":
            self.later(self._owner_gone, str(meta.get("uid")))
        elif meta.get("deletionTimestamp") and {FOREGROUND, ORPHAN} & set(meta.get("finalizers") or []):
            self.later(self._process_deleting, ch.rt, ns, meta.get("name", ""))
        if _refs(ch.obj):
            self.later(self._check_dependent, ch.rt, ns, meta.get("name", ""), ch.type == "DELETED", ch.obj)

    # -- owners -----------------------------------------------------------------------------
    def _owner_gone(self, uid: str) -> None:
        """Background propagation: the dependents of a deleted owner go (as their own finalizers allow)."""
        for t, obj in self.store.dependents(uid):
            self._check_dependent(t, _meta(obj).get("namespace", ""), _meta(obj)["name"])

    def _process_deleting(self, rt: ResourceType, ns: str, name: str) -> None:
        owner = self.store.peek(rt, ns, name)
        if owner is None or not _meta(owner).get("deletionTimestamp"):
            return
        fins = list(_meta(owner).get("finalizers") or [])
        uid = _meta(owner)["uid"]
        deps = self.store.dependents(uid)
        if ORPHAN in fins:
            for t, dep in deps:
                self._drop_refs(t, dep, {uid})
            fins.remove(ORPHAN)
        elif FOREGROUND in fins:
            blocking = [(t, d) for t, d in deps if self._blocks(d, uid)]
            for t, dep in sorted(deps, key=lambda td: not self._blocks(td[1], uid)):
                if not _meta(dep).get("deletionTimestamp"):
                    self._check_dependent(t, _meta(dep).get("namespace", ""), _meta(dep)["name"])
            if blocking:
                return  # back here when a blocking dependent is gone (on_change of its deletion)
            fins.remove(FOREGROUND)
        else:
            return
        new = copy.deepcopy(self.store.peek(rt, ns, name) or owner)
        new["metadata"]["finalizers"] = fins
        with contextlib.suppress(ApiError):
            self.store.update(rt, ns, name, new)

    @staticmethod
    def _blocks(dep: Obj, uid: str) -> bool:
        return any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in _refs(dep))

    # -- dependents ---------------------------------------------------------------------------
    def _owner(self, rt: ResourceType, dep: Obj, ref: dict[str, Any]) -> tuple[str, Obj | None]:
        """('solid' | 'waiting' | 'dangling' | 'unresolvable', the owner object when it exists)."""
        ort = self.registry.by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        if ort is None:
            return "unresolvable", None
        ns = _meta(dep).get("namespace", "")
        if ort.namespaced and not rt.namespaced:
            self._invalid_namespace(rt, dep, ref)
            return "unresolvable", None
        owner = self.store.peek(ort, ns if ort.namespaced else "", str(ref.get("name", "")))
        if owner is None or _meta(owner).get("uid") != ref.get("uid"):
            elsewhere = (_meta(o).get("uid") == ref.get("uid") for o in self.store.iter_raw(ort))
            if ort.namespaced and any(elsewhere):
                self._invalid_namespace(rt, dep, ref)
            return "dangling", None
        return ("waiting" if _waiting(owner) else "solid"), owner

    def _check_dependent(
        self, rt: ResourceType, ns: str, name: str, deleted: bool = False, last: Obj | None = None
    ) -> None:
        """attemptToDeleteItem: collect a dependent without owners, or drop its dangling references;
        and wake owners waiting in the foreground when one of their dependents changed or went."""
        dep = last if deleted else self.store.peek(rt, ns, name)
        if dep is None:
            return
        kinds: dict[str, list[dict[str, Any]]] = {}
        for ref in _refs(dep):
            kind, owner = self._owner(rt, dep, ref)
            kinds.setdefault(kind, []).append(ref)
            if kind == "waiting" and owner is not None:
                om = _meta(owner)
                self.later(self._process_deleting, self._owner_rt(ref), om.get("namespace", ""), om["name"])
        if deleted or _meta(dep).get("deletionTimestamp"):
            return
        if kinds.get("solid") or kinds.get("unresolvable"):
            gone = {str(r.get("uid")) for r in kinds.get("dangling", []) + kinds.get("waiting", [])}
            if gone and kinds.get("solid"):
                self._drop_refs(rt, dep, gone)
            return
        if not kinds:
            return
        fins = set(_meta(dep).get("finalizers") or [])
        foreground = (kinds.get("waiting") and self.store.dependents(_meta(dep)["uid"])) or FOREGROUND in fins
        with contextlib.suppress(ApiError):
            self.store.delete(rt, ns, name, finalizers=[FOREGROUND] if foreground else [])

    def _owner_rt(self, ref: dict[str, Any]) -> ResourceType:
        ort = self.registry.by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        assert ort is not None
        return ort

    def _drop_refs(self, rt: ResourceType, dep: Obj, uids: set[str]) -> None:
        new = copy.deepcopy(dep)
        refs = [r for r in _refs(dep) if str(r.get("uid")) not in uids]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        with contextlib.suppress(ApiError):
            self.store.update(rt, _meta(dep).get("namespace", ""), _meta(dep)["name"], new)

    def _invalid_namespace(self, rt: ResourceType, dep: Obj, ref: dict[str, Any]) -> None:
        """The Warning Event the real collector reports for a reference it can never resolve."""
        meta = _meta(dep)
        ns = meta.get("namespace", "")
        ev_rt = self.registry.by_kind("v1", "Event")
        assert ev_rt is not None
        name = f"{meta.get('name')}.gc-{str(ref.get('uid'))[:8]}"
        event_ns = ns or "default"
        if self.store.peek(ev_rt, event_ns, name) is not None:
            return
        ident = (
            f"[{ref.get('apiVersion')}/{ref.get('kind')}, namespace: {ns}, "
            f"name: {ref.get('name')}, uid: {ref.get('uid')}]"
        )
        ts = now_rfc3339()
        event: Obj = {
            "metadata": {"name": name, "namespace": event_ns},
            "involvedObject": {
                "apiVersion": rt.api_version,
                "kind": rt.kind,
                "name": meta.get("name"),
                "namespace": ns or None,
                "uid": meta.get("uid"),
            },
            "reason": "OwnerRefInvalidNamespace",
            "message": f'ownerRef {ident} does not exist in namespace "{ns}"',
            "type": "Warning",
            "source": {"component": "garbage-collector-controller"},
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "reportingComponent": "garbage-collector-controller",
            "reportingInstance": str(uuid.uuid4())[:8],
        }
        event["involvedObject"] = {k: v for k, v in event["involvedObject"].items() if v}
        with contextlib.suppress(ApiError):
            self.store.create(ev_rt, event_ns, event)
