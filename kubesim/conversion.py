"""Conversion between API versions that share one storage.

A real API server keeps one copy of an object and serves it in every version
of its kind. kubesim stores custom resources as written (CRDs default to
conversion `None`: only apiVersion changes), and most built-in kinds exist in
one version only. The exception that matters is Event: `events.k8s.io/v1`
Events (what controllers write) and core `v1` Events (what `kubectl get
events` and `kubectl describe` read) are the same objects under different
field names. Storage keeps the core v1 shape (`ResourceType.stored_as` points both at
one bucket); this module renames fields on the way in and out (after
k8s.io/kubernetes pkg/apis/events/v1 conversion). Pure functions.
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]

# (group, kind) of a served version -> (its field, the stored core v1 field) renames.
_RENAMES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("events.k8s.io", "Event"): (
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("reportingController", "reportingComponent"),
    ),
}


def converts(rt: ResourceType) -> bool:
    return (rt.group, rt.kind) in _RENAMES


def to_storage(rt: ResourceType, obj: Obj) -> Obj:
    """`obj` as written through `rt`, in the stored shape (a new dict when fields are renamed)."""
    return _renamed(rt, obj, to_stored=True)


def from_storage(rt: ResourceType, obj: Obj) -> Obj:
    """A stored object as `rt` serves it (a new dict when fields are renamed)."""
    return _renamed(rt, obj, to_stored=False)


def _renamed(rt: ResourceType, obj: Obj, to_stored: bool) -> Obj:
    renames = _RENAMES.get((rt.group, rt.kind))
    if not renames:
        return obj
    out = dict(obj)
    for served, stored in renames:
        src, dst = (served, stored) if to_stored else (stored, served)
        out.pop(dst, None)
        if src in obj:
            out[dst] = out.pop(src)
    return out
