"""The `scale` subresource: an object seen and written as an `autoscaling/v1` Scale.

`kubectl scale`, HPAs and the Python client's `*_scale` calls read and write
`.../<name>/scale`. Reads answer a Scale built from the object; writes (PUT of a
Scale, or a patch applied to the Scale) change only the object's replica count,
keeping its `resourceVersion`/`uid` preconditions, and answer a Scale again.

Where the replicas live: built-in workloads use `.spec.replicas`,
`.status.replicas` and their `.spec.selector`; a custom resource uses the paths
its CRD declares (`specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`).
Pure functions; the server stores the result.
"""

from __future__ import annotations

import copy
from typing import Any

from .resources import ResourceType
from .store import ApiError

Obj = dict[str, Any]

GVK = ("autoscaling", "v1", "Scale")


def _split(path: str) -> list[str]:
    return [p for p in path.strip().lstrip("$").split(".") if p]


def _get(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for part in _split(path):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set(obj: Obj, path: str, value: Any) -> None:
    parts = _split(path)
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = cur[part] = {}
        cur = nxt
    cur[parts[-1]] = value


def selector_string(selector: Any) -> str:
    """A `metav1.LabelSelector` as the selector string Scale.status.selector carries."""
    if isinstance(selector, str):
        return selector
    if not isinstance(selector, dict):
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            terms.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)


def to_scale(rt: ResourceType, obj: Obj) -> Obj:
    """The Scale a GET of `<object>/scale` answers."""
    spec_path, status_path, selector_path = rt.scale_paths
    meta = obj.get("metadata") or {}
    default = 1 if rt.crd_name is None else 0
    replicas = _get(obj, spec_path)
    status: Obj = {"replicas": int(_get(obj, status_path) or 0)}
    if rt.crd_name is None:
        selector = selector_string((obj.get("spec") or {}).get("selector"))
    else:
        selector = selector_string(_get(obj, selector_path)) if selector_path else ""
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": int(default if replicas is None else replicas)},
        "status": status,
    }


def from_scale(rt: ResourceType, obj: Obj, scale: Obj) -> Obj:
    """`obj` with the replica count of a written Scale, carrying the Scale's preconditions."""
    new = copy.deepcopy(obj)
    replicas = (scale.get("spec") or {}).get("replicas", 0) or 0
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        name = (scale.get("metadata") or {}).get("name", "")
        raise ApiError(
            422,
            "Invalid",
            f'Scale.autoscaling "{name}" is invalid: spec.replicas: '
            f"Invalid value: {replicas}: must be greater than or equal to 0",
        )
    _set(new, rt.scale_paths[0], replicas)
    smeta, meta = scale.get("metadata") or {}, new.setdefault("metadata", {})
    for key in ("resourceVersion", "uid"):
        if smeta.get(key):
            meta[key] = smeta[key]
    return new
