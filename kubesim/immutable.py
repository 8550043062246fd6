"""Immutable fields: the 422s a real API server answers when an update changes what may not change.

One rule per kind, as the registry strategies and `ValidateXUpdate` functions of
kube-apiserver (v1.34+ wording, where a field error renders a structured value as
JSON and a string quoted):

- Deployment, ReplicaSet, DaemonSet: `spec.selector` (`Invalid value: {...}: field is immutable`).
- StatefulSet: any spec field but replicas, ordinals, template, updateStrategy,
  revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds
  (`spec: Forbidden: updates to statefulset spec for fields other than ...`).
- Job: `spec.selector`, `spec.template`, `spec.completionMode`.
- Service: `spec.clusterIPs[i]` (`may not change once set`), unless from or to ExternalName.
- ConfigMap and Secret with `immutable: true`: `data`, `binaryData` and `immutable` itself
  (`Forbidden: field is immutable when `immutable` is set`); a Secret's `type` always.
- PersistentVolumeClaim: the spec but `resources.requests` of a bound claim and a first
  `volumeName` (`spec: Forbidden: spec is immutable after creation except ...`), and no shrinking.
- RoleBinding, ClusterRoleBinding: `roleRef` (`cannot change roleRef`).
- StorageClass: `parameters`, `provisioner`, `reclaimPolicy` (`updates to ... are forbidden.`),
  `volumeBindingMode`.

Pure: `errors(rt, old, new)` returns `field: message` strings (as `validation`); the
store turns them into one 422 Invalid with a cause per error.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]
IMMUTABLE = "field is immutable"
WHEN_SET = "field is immutable when `immutable` is set"
STS_FIELDS = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)
STS_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
PVC_FORBIDDEN = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)
# Go struct field order of the values that get rendered (JSON keys of a struct follow it; maps are sorted).
_FIELD_ORDER = ("matchLabels", "matchExpressions", "key", "operator", "values", "apiGroup", "kind", "name")


def _pruned(value: Any) -> Any:
    """`value` without null and empty members: what the server's defaulting and conversion treat alike."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        known = [k for k in _FIELD_ORDER if k in value]
        rest = sorted(k for k in value if k not in _FIELD_ORDER)
        return {k: _ordered(value[k]) for k in known + rest}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def render(value: Any) -> str:
    """A bad value as a field error prints it: strings quoted, numbers and booleans bare, the rest JSON."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(_ordered(_pruned(value)), separators=(",", ":"))


def _invalid(field: str, value: Any, detail: str) -> str:
    return f"{field}: Invalid value: {render(value)}: {detail}"


def _forbidden(field: str, detail: str) -> str:
    return f"{field}: Forbidden: {detail}"


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _same(a: Any, b: Any) -> bool:
    return bool(_pruned(a) == _pruned(b))


def _immutable_fields(old: Obj, new: Obj, fields: tuple[str, ...]) -> list[str]:
    """`spec.<f>: Invalid value: <new>: field is immutable` for each of `fields` that changed."""
    o, n = _spec(old), _spec(new)
    return [_invalid(f"spec.{f}", n.get(f), IMMUTABLE) for f in fields if not _same(o.get(f), n.get(f))]


def _selector(old: Obj, new: Obj) -> list[str]:
    return _immutable_fields(old, new, ("selector",))


def _job(old: Obj, new: Obj) -> list[str]:
    return _immutable_fields(old, new, ("selector", "template", "completionMode"))


def _statefulset(old: Obj, new: Obj) -> list[str]:
    def rest(obj: Obj) -> Obj:
        spec = {k: v for k, v in _spec(obj).items() if k not in STS_FIELDS}
        if spec.get("podManagementPolicy") == "OrderedReady":  # the default
            del spec["podManagementPolicy"]
        spec["volumeClaimTemplates"] = [_claim_template(t) for t in spec.get("volumeClaimTemplates") or []]
        return spec

    return [] if _same(rest(old), rest(new)) else [_forbidden("spec", STS_FORBIDDEN)]


def _claim_template(template: Any) -> Any:
    """A volumeClaimTemplate without what the server adds or defaults (apiVersion, kind, status,
    volumeMode)."""
    if not isinstance(template, dict):
        return template
    out = {k: v for k, v in template.items() if k not in ("apiVersion", "kind", "status")}
    spec = out.get("spec")
    if isinstance(spec, dict) and spec.get("volumeMode") == "Filesystem":
        out["spec"] = {k: v for k, v in spec.items() if k != "volumeMode"}
    return out


def _service(old: Obj, new: Obj) -> list[str]:
    o, n = _spec(old), _spec(new)
    if "ExternalName" in (o.get("type"), n.get("type")):
        return []
    old_ips, new_ips = _cluster_ips(o), _cluster_ips(n)
    if old_ips and old_ips[0] == "None" and new_ips[:1] == ["None"]:
        return []
    if not old_ips:
        return []
    if not new_ips:
        return [_invalid("spec.clusterIPs[0]", new_ips, "primary clusterIP can not be unset")]
    return [
        _invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set")
        for i, ip in enumerate(old_ips[: len(new_ips)])
        if ip != new_ips[i]
    ]


def _cluster_ips(spec: Obj) -> list[str]:
    """spec.clusterIPs as the server normalizes them: a changed clusterIP alone becomes clusterIPs[0]."""
    ips = [str(ip) for ip in spec.get("clusterIPs") or []]
    ip = spec.get("clusterIP")
    if ip and (not ips or ips[0] != ip):
        return [str(ip), *ips[1:]]
    return ips


def _data_immutable(old: Obj, new: Obj, fields: tuple[str, ...]) -> list[str]:
    if old.get("immutable") is not True:
        return []
    errs = [] if new.get("immutable") is True else [_forbidden("immutable", WHEN_SET)]
    return errs + [_forbidden(f, WHEN_SET) for f in fields if (old.get(f) or {}) != (new.get(f) or {})]


def _configmap(old: Obj, new: Obj) -> list[str]:
    return _data_immutable(old, new, ("data", "binaryData"))


def _secret(old: Obj, new: Obj) -> list[str]:
    errs = _data_immutable(old, new, ("data",))
    old_type, new_type = old.get("type") or "Opaque", new.get("type") or "Opaque"
    if old_type != new_type:
        errs.insert(0, _invalid("type", new_type, IMMUTABLE))
    return errs


def _pvc(old: Obj, new: Obj) -> list[str]:
    o, n = dict(_spec(old)), dict(_spec(new))
    if not o.get("volumeName"):  # binding sets volumeName once
        o["volumeName"] = n.get("volumeName")
    bound = (new.get("status") or old.get("status") or {}).get("phase") == "Bound"
    old_size = _storage(o)
    if bound and isinstance(n.get("resources"), dict):
        n["resources"] = {**n["resources"], "requests": (o.get("resources") or {}).get("requests")}
    errs = []
    if not _same(o, n):
        diff = difflib.unified_diff(
            json.dumps(_pruned(o), indent=1, sort_keys=True).splitlines(),
            json.dumps(_pruned(n), indent=1, sort_keys=True).splitlines(),
            lineterm="",
            n=2,
        )
        errs.append(_forbidden("spec", PVC_FORBIDDEN + "\n" + "\n".join(list(diff)[2:])))
    new_size = _storage(_spec(new))
    if old_size is not None and new_size is not None and new_size < old_size:
        errs.append(
            _forbidden("spec.resources.requests.storage", "field can not be less than previous value")
        )
    return errs


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_UNITS.update({"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18})


def _storage(spec: Obj) -> float | None:
    """spec.resources.requests.storage in bytes (a quantity such as 1Gi or 500M); None when unset or odd."""
    q = str(((spec.get("resources") or {}).get("requests") or {}).get("storage") or "")
    for suffix, factor in _UNITS.items():
        if q.endswith(suffix):
            q, mult = q[: -len(suffix)], factor
            break
    else:
        mult = 1
    try:
        return float(q) * mult
    except ValueError:
        return None


def _role_binding(old: Obj, new: Obj) -> list[str]:
    if _same(old.get("roleRef"), new.get("roleRef")):
        return []
    return [_invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]


def _storage_class(old: Obj, new: Obj) -> list[str]:
    defaults = {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}

    def value(obj: Obj, f: str) -> Any:
        return obj.get(f) or defaults.get(f)

    errs = [
        _forbidden(f, f"updates to {f} are forbidden.")
        for f in ("parameters", "provisioner", "reclaimPolicy")
        if value(old, f) != value(new, f)
    ]
    if value(old, "volumeBindingMode") != value(new, "volumeBindingMode"):
        errs.append(_invalid("volumeBindingMode", value(new, "volumeBindingMode"), IMMUTABLE))
    return errs


RULES: dict[tuple[str, str], Callable[[Obj, Obj], list[str]]] = {
    ("apps", "Deployment"): _selector,
    ("apps", "ReplicaSet"): _selector,
    ("apps", "DaemonSet"): _selector,
    ("apps", "StatefulSet"): _statefulset,
    ("batch", "Job"): _job,
    ("", "Service"): _service,
    ("", "ConfigMap"): _configmap,
    ("", "Secret"): _secret,
    ("", "PersistentVolumeClaim"): _pvc,
    ("rbac.authorization.k8s.io", "RoleBinding"): _role_binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _role_binding,
    ("storage.k8s.io", "StorageClass"): _storage_class,
}


def errors(rt: ResourceType, old: Obj, new: Obj) -> list[str]:
    """The `field: message` errors of an update from `old` to `new` that changes an immutable field."""
    rule = RULES.get((rt.group, rt.kind)) if rt.crd_name is None else None
    return rule(old, new) if rule is not None else []
