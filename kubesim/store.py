"""Object storage: the in-memory etcd of kubesim.

Owns object identity and versioning (uid, resourceVersion, generation,
creationTimestamp), metadata validation (through `validation`), optimistic
concurrency (409 on a stale resourceVersion), the status subresource split,
finalizers and graceful deletion (deletionTimestamp),
namespace existence checks, and the bounded event history that watches replay
from (a watch older than the history answers 410 Gone).

Everything runs on the server's single event loop, so there are no locks: each
operation is synchronous and atomic. Listeners (watch streams, the simulated
controllers) are called synchronously after every committed change.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import conversion, immutable, limits, managedfields, validation
from .jsoncopy import clone
from .owners import OwnerIndex
from .resources import Registry, ResourceType

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped


def _schemas() -> Any:
    """kubesim.schemas (imported on first use: it raises this module's ApiError)."""
    from . import schemas

    return schemas


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error the API answers with a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> Obj:
        out: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:
            del out["reason"]  # StatusReasonUnknown is omitted, as the apiserver does
        if self.details:
            out["details"] = self.details
        return out


def _object_error(
    rt: ResourceType, name: str, code: int, reason: str, message: Callable[[str], str]
) -> ApiError:
    """An error about one object; `message` gets the object as Kubernetes names it: `plural.group "name"`."""
    gr = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    details = {"name": name, "group": rt.group, "kind": rt.plural}
    return ApiError(code, reason, message(f'{gr} "{name}"'), details)


def not_found(rt: ResourceType, name: str) -> ApiError:
    return _object_error(rt, name, 404, "NotFound", lambda obj: f"{obj} not found")


def conflict(rt: ResourceType, name: str, why: str) -> ApiError:
    return _object_error(
        rt, name, 409, "Conflict", lambda obj: f"Operation cannot be fulfilled on {obj}: {why}"
    )


def invalid(rt: ResourceType, name: str, why: str, causes: list[dict[str, str]] | None = None) -> ApiError:
    details: dict[str, Any] = {"name": name, "group": rt.group, "kind": rt.kind}
    if causes:
        details["causes"] = causes  # kubectl prints "The <Kind> "<name>" is invalid: <field>: <message>"
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind  # as apierrors.NewInvalid: Kind.group
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {why}', details)


def invalid_fields(rt: ResourceType, name: str, errs: list[str]) -> ApiError:
    """A 422 for `field: message` validation errors, with one cause per error."""
    causes = [
        {"reason": validation.cause_reason(e.split(": ", 1)[-1]), "field": e.split(": ", 1)[0],
         "message": e.split(": ", 1)[-1]}
        for e in errs
    ]  # fmt: skip
    return invalid(rt, name, validation.summary(errs), causes)


@dataclass(frozen=True)
class Change:
    """One committed change, as watches see it."""

    type: str  # ADDED | MODIFIED | DELETED
    rt: ResourceType
    obj: Obj  # the object after the change (for DELETED: last state, with the deletion's rv)
    old: Obj | None
    rv: int


Listener = Callable[[Change], None]
Defaulter = Callable[[ResourceType, "Obj", bool], None]


def _finalizers(obj: Obj) -> list[str]:
    """Finalizers that hold deletion: metadata.finalizers, plus a Namespace's spec.finalizers."""
    out = list((obj.get("metadata") or {}).get("finalizers") or [])
    if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1":
        out += (obj.get("spec") or {}).get("finalizers") or []
    return out


_SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "deletionTimestamp")


def _spec_part(obj: Obj, rt: ResourceType) -> Obj:
    """What counts for metadata.generation: everything but metadata (and status when it is a subresource)."""
    skip = (
        {"metadata", "status", "apiVersion", "kind"} if rt.has_status else {"metadata", "apiVersion", "kind"}
    )
    return {k: v for k, v in obj.items() if k not in skip}


def _check_preconditions(rt: ResourceType, name: str, old: Obj, rv: Any, uid: Any) -> None:
    """409 when a resourceVersion or uid precondition (of an update or a delete) does not hold."""
    if rv and str(rv) != old["metadata"]["resourceVersion"]:
        raise conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    if uid and uid != old["metadata"]["uid"]:
        raise conflict(
            rt, name, "Precondition failed: UID in precondition does not match the UID in the object"
        )


_NONE: dict[Key, Obj] = {}  # the objects of a group/resource nothing was stored for (never changed)


class Bucket(dict[Key, Obj]):
    """One group/resource's stored objects by (namespace, name), with a per-namespace index
    (`by_ns`: namespace -> name -> object) kept in step with every change, so a namespaced
    list touches only that namespace's objects. Only item assignment and deletion change it."""

    def __init__(self) -> None:
        super().__init__()
        self.by_ns: dict[str, dict[str, Obj]] = {}

    def __setitem__(self, key: Key, obj: Obj) -> None:
        super().__setitem__(key, obj)
        self.by_ns.setdefault(key[0], {})[key[1]] = obj

    def __delitem__(self, key: Key) -> None:
        super().__delitem__(key)
        names = self.by_ns[key[0]]
        del names[key[1]]
        if not names:
            del self.by_ns[key[0]]

    def _unsupported(self, *_args: Any, **_kw: Any) -> Any:
        raise TypeError("a Bucket changes only by item assignment and deletion")

    pop = popitem = clear = update = setdefault = __ior__ = _unsupported

    def sorted_items(self, ns: str | None) -> builtins.list[tuple[Key, Obj]]:
        """(key, object) pairs sorted by key; only namespace `ns`'s when it is given."""
        if ns is None:
            return sorted(self.items())
        return [((ns, name), obj) for name, obj in sorted(self.by_ns.get(ns, {}).items())]


class Store:
    def __init__(self, registry: Registry, history_size: int = 20000) -> None:
        self.registry = registry
        self._objects: dict[tuple[str, str], Bucket] = {}
        self._rv = 100
        self.history: deque[Change] = deque(maxlen=history_size)
        self.compacted_rv = 0  # changes at or before this rv are gone from history
        self.listeners: list[Listener] = []
        self.defaulter: Defaulter | None = None  # the simulated registry strategies (controllers.py)
        self.owners = OwnerIndex()  # owner uid -> dependents, for dependents() (owners.py)

    # -- versions ---------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def compact(self) -> None:
        """Forget all history: any watch from an older resourceVersion now gets 410 Gone."""
        self.history.clear()
        self.compacted_rv = self._rv

    def oldest_watchable_rv(self) -> int:
        if self.history.maxlen is not None and len(self.history) == self.history.maxlen:
            return self.history[0].rv - 1
        return self.compacted_rv

    def _commit(self, change: Change) -> None:
        if self.history.maxlen is not None and len(self.history) == self.history.maxlen:
            self.compacted_rv = self.history[0].rv
        self.history.append(change)
        self.owners.on_change(change.rt.group_resource, change.type, change.obj, change.old)
        for listener in list(self.listeners):
            listener(change)

    # -- reads -------------------------------------------------------------------
    def _bucket(self, rt: ResourceType) -> Bucket:
        bucket = self._objects.get(rt.group_resource)
        if bucket is None:
            bucket = self._objects[rt.group_resource] = Bucket()
        return bucket

    def _committed(self, type_: str, rt: ResourceType, stored: Obj, old: Obj | None) -> Obj:
        """Commit a change (at the current resourceVersion) and return the object as a client sees it."""
        self._commit(Change(type_, rt, stored, old, self._rv))
        return self._present(rt, stored)

    def _stored(self, rt: ResourceType, ns: str, name: str) -> tuple[Bucket, Key, Obj]:
        """The bucket, key and stored object of an existing object; NotFound when there is none."""
        bucket = self._bucket(rt)
        key = (ns if rt.namespaced else "", name)
        stored = bucket.get(key)
        if stored is None:
            raise not_found(rt, name)
        return bucket, key, stored

    def _present(self, rt: ResourceType, obj: Obj) -> Obj:
        out = conversion.from_storage(rt, clone(obj))
        out["apiVersion"], out["kind"] = rt.api_version, rt.kind
        if rt.schema is not None:
            _schemas().default_on_read(rt, out)
        return out

    @staticmethod
    def view(rt: ResourceType, obj: Obj) -> Obj:
        """A stored object in the shape `rt` serves, for reading only (no deep copy)."""
        return conversion.from_storage(rt, obj)

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        return self._present(rt, self._stored(rt, ns, name)[2])

    def peek(self, rt: ResourceType, ns: str, name: str) -> Obj | None:
        """The stored object itself (no copy): for controllers that only read."""
        return self._bucket(rt).get((ns if rt.namespaced else "", name))

    def list(
        self, rt: ResourceType, ns: str | None = None, match: Callable[[Obj], bool] | None = None
    ) -> list[Obj]:
        items = []
        for _key, obj in self._bucket(rt).sorted_items(ns if rt.namespaced and ns else None):
            if match is None or match(self.view(rt, obj)):
                items.append(self._present(rt, obj))
        return items

    def iter_raw(self, rt: ResourceType) -> Iterable[Obj]:
        return list(self._bucket(rt).values())

    def dependents(self, uid: str) -> builtins.list[tuple[ResourceType, Obj]]:
        """Stored objects whose ownerReferences name `uid`, once each (not once per served version)."""
        served: dict[tuple[str, str], ResourceType] = {}
        for rt in self.registry:
            served.setdefault(rt.group_resource, rt)

        def lookup(key: tuple[tuple[str, str], str, str]) -> tuple[ResourceType, Obj] | None:
            rt = served.get(key[0])
            obj = self._objects.get(key[0], _NONE).get((key[1], key[2])) if rt is not None else None
            return (rt, obj) if rt is not None and obj is not None else None

        return self.owners.dependents(uid, lookup)

    def namespace_names(self) -> builtins.list[str]:
        return [name for (_ns, name) in self._objects.get(("", "namespaces"), _NONE)]

    # -- writes ------------------------------------------------------------------
    def _check_namespace(self, rt: ResourceType, ns: str, name: str) -> None:
        if not rt.namespaced:
            return
        if not ns:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        nsobj = self._objects.get(("", "namespaces"), _NONE).get(("", ns))
        if nsobj is None:
            raise ApiError(
                404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"}
            )
        if nsobj["metadata"].get("deletionTimestamp"):
            raise _object_error(
                rt,
                name,
                403,
                "Forbidden",
                lambda obj: (
                    f"{obj} is forbidden: unable to create new content in namespace {ns} "
                    "because it is being terminated"
                ),
            )

    def create(
        self, rt: ResourceType, ns: str, obj: Obj, dry_run: bool = False,
        writer: managedfields.Writer | None = None,
    ) -> Obj:  # fmt: skip
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            ns = ns or body_ns or ""
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            else:
                raise invalid(rt, "", "metadata.name: Required value: name or generateName is required")
        name = meta["name"]
        _schemas().admit(rt, obj, None)  # prune, default, validate against the kind's schema
        errs = validation.errors(rt, obj, creating=True)
        if errs:
            raise invalid_fields(rt, name, errs)
        self._check_namespace(rt, ns, name)
        bucket = self._bucket(rt)
        key = (ns if rt.namespaced else "", name)
        if key in bucket:
            raise _object_error(rt, name, 409, "AlreadyExists", lambda obj: f"{obj} already exists")
        for k in _SERVER_META:
            meta.pop(k, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        if rt.has_status and rt.crd_name is not None:
            obj.pop("status", None)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if self.defaulter is not None:
            self.defaulter(rt, obj, True)
        if writer is not None:
            managedfields.record(None, obj, rt.gvk, rt.api_version, writer, meta["creationTimestamp"])
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return obj
        limits.check_stored(obj)
        meta["resourceVersion"] = str(self._next_rv())
        stored = bucket[key] = conversion.to_storage(rt, obj)
        return self._committed("ADDED", rt, stored, None)

    def update(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        new: Obj,
        subresource: str | None = None,
        dry_run: bool = False,
        writer: managedfields.Writer | None = None,
    ) -> Obj:
        """Replace an object (PUT semantics). Patches compute `new` and come here too.
        `writer`: a client's write, recorded in metadata.managedFields (None: kubesim's own)."""
        bucket, key, stored_old = self._stored(rt, ns, name)
        old = self.view(rt, stored_old)
        new = clone(new)
        meta = new.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})",
            )
        _check_preconditions(rt, name, old, meta.get("resourceVersion"), meta.get("uid"))
        if subresource == "status":
            merged = clone(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        elif rt.has_status:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        for k in _SERVER_META:
            if k in old["metadata"]:
                meta[k] = old["metadata"][k]
            else:
                meta.pop(k, None)
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = key[0]
        else:
            meta.pop("namespace", None)
        if old["metadata"].get("deletionTimestamp"):
            # Finalizers may only be removed once deletion started; new ones are refused.
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise ApiError(
                    422,
                    "Invalid",
                    f'{rt.kind} "{name}" is invalid: metadata.finalizers: Forbidden: '
                    "no new finalizers can be added if the object is being deleted",
                )
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        _schemas().admit(rt, new, old)
        errs = validation.errors(rt, new, creating=False)
        if errs:
            raise invalid_fields(rt, name, errs)
        if rt.kind == "Service" and rt.group == "" and subresource != "status":
            _keep_allocated(old, new)
        if self.defaulter is not None and subresource != "status":
            self.defaulter(rt, new, False)
        if subresource != "status" and (errs := immutable.errors(rt, old, new)):
            raise invalid_fields(rt, name, errs)
        if _spec_part(new, rt) != _spec_part(old, rt):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        if writer is not None:
            managedfields.record(old, new, rt.gvk, rt.api_version, writer, now_rfc3339())
        if new == old:
            return self._present(
                rt, stored_old
            )  # a no-op write does not bump resourceVersion (as etcd3 storage)
        if dry_run:
            return new
        limits.check_stored(new)
        meta["resourceVersion"] = str(self._next_rv())
        stored = conversion.to_storage(rt, new)
        if meta.get("deletionTimestamp") and not _finalizers(new):
            del bucket[key]
            return self._committed("DELETED", rt, stored, stored_old)
        bucket[key] = stored
        return self._committed("MODIFIED", rt, stored, stored_old)

    def delete(
        self,
        rt: ResourceType,
        ns: str,
        name: str,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
        finalizers: builtins.list[str] | None = None,
    ) -> tuple[Obj, bool]:
        """Delete, or start graceful deletion when finalizers remain (`finalizers`: added by the
        deletion's propagation policy, see gc.deletion_finalizers). Returns (object, gone_now)."""
        bucket, key, old = self._stored(rt, ns, name)
        pre = preconditions or {}
        _check_preconditions(rt, name, old, pre.get("resourceVersion"), pre.get("uid"))
        extra = [f for f in finalizers or [] if f not in (old["metadata"].get("finalizers") or [])]
        if _finalizers(old) or extra:
            if old["metadata"].get("deletionTimestamp") and not extra:
                return self._present(rt, old), False
            new = clone(old)
            if extra:
                new["metadata"]["finalizers"] = [*(old["metadata"].get("finalizers") or []), *extra]
            new["metadata"].setdefault("deletionTimestamp", now_rfc3339())
            new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            if dry_run:
                return self._present(rt, new), False
            new["metadata"]["resourceVersion"] = str(self._next_rv())
            bucket[key] = new
            return self._committed("MODIFIED", rt, new, old), False
        if dry_run:
            return self._present(rt, old), True
        del bucket[key]
        gone = clone(old)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        return self._committed("DELETED", rt, gone, old), True

    def drop_group_resource(self, group: str, plural: str) -> None:
        """Delete every object of a group/resource (a CRD went away)."""
        rts = self.registry.by_group_resource(group, plural)
        for key, obj in list(self._objects.get((group, plural), _NONE).items()):
            del self._objects[(group, plural)][key]
            if rts:
                gone = clone(obj)
                gone["metadata"]["resourceVersion"] = str(self._next_rv())
                self._commit(Change("DELETED", rts[0], gone, obj, self._rv))


def _keep_allocated(old: dict[str, Any], new: dict[str, Any]) -> None:
    """An update of a Service that leaves out what the server allocated keeps it, as the real
    server's patchAllocatedValues does (clusterIP(s), nodePorts, healthCheckNodePort): so a
    replace (`helm --force`, `kubectl replace`) of a manifest without them is not a change."""
    o, n = old.get("spec") or {}, new.get("spec")
    if not isinstance(n, dict) or n.get("type") == "ExternalName" or o.get("type") == "ExternalName":
        return
    for k in ("clusterIP", "clusterIPs"):
        if not n.get(k) and o.get(k):
            n[k] = clone(o[k])
    if n.get("type") in ("NodePort", "LoadBalancer"):
        if not n.get("healthCheckNodePort") and o.get("healthCheckNodePort"):
            n["healthCheckNodePort"] = o["healthCheckNodePort"]
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in o.get("ports") or []}
        for p in n.get("ports") or []:
            before = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
            if isinstance(p, dict) and not p.get("nodePort") and before and before.get("nodePort"):
                p["nodePort"] = before["nodePort"]
