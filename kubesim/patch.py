"""Patch semantics of the kubesim API server: pure functions on JSON-like values.

This module owns the four ways a client can change a stored object:
JSON merge patch (RFC 7386), JSON patch (RFC 6902), Kubernetes strategic merge
patch (SMP, after k8s.io/apimachinery/pkg/util/strategicpatch) and an
approximation of server-side apply (SSA, what helm 4 uses), plus the merge-key
table those last two need.  No I/O; inputs are never mutated.

Merge-key table: ``merge_keys(gvk)`` maps a path relative to the object
(field names joined by ".", "[]" after a list whose items we descend into,
e.g. ``spec.template.spec.containers[].env``) to the list's patchMergeKey;
"" marks a list of primitives with patchStrategy=merge (merged as a set).
Lists not in the table are atomic (replaced).  Tags are taken from
k8s.io/api types.go (checked: ObjectMeta, PodSpec, Container; from memory:
status lists, ServiceAccount.secrets, Node, webhooks - see comments).
Version is ignored: the table is keyed by (group, kind).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .jsoncopy import clone

GVK = tuple[str, str, str]
FieldPath = tuple[str, ...]


class PatchError(Exception):
    """A patch that cannot be applied; ``code`` is the HTTP status kube-apiserver answers."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


class PatchTestFailed(PatchError):
    """A JSON patch ``test`` op did not match.  Real kube-apiserver answers 422 for any
    json-patch apply failure (test included), so the code is 422; callers wanting 409
    can catch this subclass."""


# ---------------------------------------------------------------- merge-key table
_OBJECT_META = {"ownerReferences": "uid", "finalizers": ""}
_CONTAINER = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
# tolerations, readinessGates, envFrom, args, command: no patchStrategy in types.go -> atomic.
# volumes and resourceClaims are "merge,retainKeys": retainKeys only matters to the client-side diff.
_POD_SPEC = {
    "volumes": "name",
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}


def _under(prefix: str, rules: Mapping[str, str]) -> dict[str, str]:
    return {f"{prefix}.{k}" if prefix else k: v for k, v in rules.items()}


def _pod_spec(prefix: str) -> dict[str, str]:
    out = _under(prefix, _POD_SPEC)
    for containers in ("containers", "initContainers", "ephemeralContainers"):
        out.update(_under(f"{prefix}.{containers}[]", _CONTAINER))
    return out


def _template(prefix: str) -> dict[str, str]:
    """Rules of a PodTemplateSpec found at ``prefix``."""
    return {**_under(f"{prefix}.metadata", _OBJECT_META), **_pod_spec(f"{prefix}.spec")}


_CONDITIONS = {"status.conditions": "type"}  # metav1.Condition-style lists: merge by type
_WORKLOAD = {**_template("spec.template"), **_CONDITIONS}
_PLAIN: dict[str, str] = {}
_KINDS: dict[tuple[str, str], dict[str, str]] = {
    ("", "Pod"): {
        **_pod_spec("spec"),
        **_CONDITIONS,
        "status.podIPs": "ip",
        "status.hostIPs": "ip",
        "status.resourceClaimStatuses": "name",
    },
    ("", "PodTemplate"): _template("template"),
    ("", "ReplicationController"): _WORKLOAD,
    ("", "Service"): {"spec.ports": "port", **_CONDITIONS},  # real key is "port" (not port+protocol)
    ("", "Node"): {"spec.podCIDRs": "", **_CONDITIONS, "status.addresses": "type"},  # from memory
    ("", "Namespace"): _CONDITIONS,
    ("", "PersistentVolumeClaim"): _CONDITIONS,
    ("", "ServiceAccount"): {"secrets": "name"},  # from memory; imagePullSecrets here is atomic
    **{
        ("", k): _PLAIN
        for k in (
            "ConfigMap",
            "Secret",
            "Endpoints",
            "Event",
            "LimitRange",
            "ResourceQuota",
            "PersistentVolume",
            "Binding",
        )
    },
    **{("apps", k): _WORKLOAD for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")},
    ("apps", "ControllerRevision"): _PLAIN,
    ("batch", "Job"): _WORKLOAD,
    ("batch", "CronJob"): {
        **_under("spec.jobTemplate.metadata", _OBJECT_META),
        **_template("spec.jobTemplate.spec.template"),
    },
    **{
        ("rbac.authorization.k8s.io", k): _PLAIN
        for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    },
    **{("networking.k8s.io", k): _PLAIN for k in ("Ingress", "IngressClass", "NetworkPolicy")},
    ("policy", "PodDisruptionBudget"): _CONDITIONS,
    ("autoscaling", "HorizontalPodAutoscaler"): _CONDITIONS,  # v2 status; v1 has no lists
    **{
        ("admissionregistration.k8s.io", k): {"webhooks": "name"}  # from memory
        for k in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
    },
    ("coordination.k8s.io", "Lease"): _PLAIN,
    ("storage.k8s.io", "StorageClass"): _PLAIN,
    ("scheduling.k8s.io", "PriorityClass"): _PLAIN,
    ("discovery.k8s.io", "EndpointSlice"): _PLAIN,
    ("events.k8s.io", "Event"): _PLAIN,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): _PLAIN,
}


def smp_supported(gvk: GVK) -> bool:
    """True for built-in kinds; kube-apiserver answers 415 to SMP on custom resources."""
    return (gvk[0], gvk[2]) in _KINDS


def merge_keys(gvk: GVK) -> dict[str, str]:
    """Path -> patchMergeKey ("" = set of primitives) for ``gvk``; metadata rules only if unknown."""
    return {**_under("metadata", _OBJECT_META), **_KINDS.get((gvk[0], gvk[2]), {})}


# ---------------------------------------------------------------- helpers
def _eq(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _find(items: list[Any], value: Any) -> int:
    return next((i for i, x in enumerate(items) if _eq(x, value)), -1)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ---------------------------------------------------------------- RFC 7386
def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    return _merge(clone(target), clone(patch))


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


# ---------------------------------------------------------------- RFC 6902
def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch; all or nothing (the input is never modified)."""
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise PatchError("a JSON patch must be a list of operation objects", 400)
    doc = clone(target)
    for op in ops:
        doc = _apply_op(doc, op)
    return doc


def _tokens(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _array_index(token: str, size: int, for_add: bool) -> int:
    if for_add and token == "-":
        return size
    if not (token.isascii() and token.isdigit()) or (len(token) > 1 and token[0] == "0"):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > size or (index == size and not for_add):
        raise PatchError(f"array index {index} out of bounds")
    return index


def _resolve(doc: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_array_index(token, len(doc), False)]
        else:
            raise PatchError(f"path /{'/'.join(tokens)} does not exist")
    return doc


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(tokens[-1], len(parent), True), value)
    else:
        raise PatchError(f"cannot add below a scalar at /{'/'.join(tokens)}")
    return doc


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    if isinstance(parent, list):
        return parent.pop(_array_index(tokens[-1], len(parent), False))
    if isinstance(parent, dict) and tokens[-1] in parent:
        return parent.pop(tokens[-1])
    raise PatchError(f"path /{'/'.join(tokens)} does not exist")


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    kind, path = op.get("op"), _tokens(op.get("path"))
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f"{kind} operation needs a value")
    value = clone(op.get("value"))
    if kind == "add":
        return _add(doc, path, value)
    if kind == "remove":
        _remove(doc, path)
        return doc
    if kind == "replace":
        if not path:
            return value
        parent = _resolve(doc, path[:-1])
        if isinstance(parent, list):
            parent[_array_index(path[-1], len(parent), False)] = value
        elif isinstance(parent, dict) and path[-1] in parent:
            parent[path[-1]] = value
        else:
            raise PatchError(f"path {op.get('path')} does not exist")
        return doc
    if kind in ("move", "copy"):
        source = _tokens(op.get("from"))
        if kind == "copy":
            return _add(doc, path, clone(_resolve(doc, source)))
        if source == path:
            _resolve(doc, path)
            return doc
        if path[: len(source)] == source:
            raise PatchError("cannot move a value into one of its own children")
        return _add(doc, path, _remove(doc, source))
    if kind == "test":
        if not _eq(_resolve(doc, path), value):
            raise PatchTestFailed(f"test failed at {op.get('path')}")
        return doc
    raise PatchError(f"unknown JSON patch operation {kind!r}")


# ---------------------------------------------------------------- strategic merge patch
_DIRECTIVE, _RETAIN = "$patch", "$retainKeys"
_ORDER, _DELETE_PRIMITIVES = "$setElementOrder/", "$deleteFromPrimitiveList/"


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], gvk: GVK) -> dict[str, Any]:
    """Kubernetes strategic merge patch; JSON merge patch for kinds not in the table."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", 400)
    if not smp_supported(gvk):
        result: dict[str, Any] = json_merge_patch(original, patch)
        return result
    start = clone(original) if isinstance(original, dict) else {}
    return _smp_map(start, clone(patch), "", merge_keys(gvk), True)


def _smp_map(
    orig: dict[str, Any], patch: dict[str, Any], path: str, keys: Mapping[str, str], directives: bool
) -> dict[str, Any]:
    """Merge ``patch`` into ``orig`` (both owned, mutated).  ``directives`` is False for SSA."""
    if directives and _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "delete":
            return {}
        if directive == "replace":
            orig = {}
        elif directive != "merge":
            raise PatchError(f"unknown $patch directive {directive!r}")
    if directives and _RETAIN in patch:
        retain = patch.pop(_RETAIN)
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list", 400)
        if any(v is not None and not k.startswith("$") and k not in retain for k, v in patch.items()):
            raise PatchError("every field of the patch must be listed in $retainKeys", 400)
        orig = {k: v for k, v in orig.items() if k in retain}
    deletions: list[tuple[str, Any]] = []
    for key in list(patch):
        if directives and key.startswith(_ORDER):
            _set_element_order(orig, patch, key, path, keys)
    for key, value in patch.items():
        sub = f"{path}.{key}" if path else key
        if directives and key.startswith(_DELETE_PRIMITIVES):
            deletions.append((key[len(_DELETE_PRIMITIVES) :], value))
        elif directives and key.startswith("$"):
            continue  # unknown directive: the typed decode in real k8s drops it too
        elif value is None:
            orig.pop(key, None)
        elif isinstance(value, dict):
            current = orig.get(key)
            orig[key] = _smp_map(current if isinstance(current, dict) else {}, value, sub, keys, directives)
        elif isinstance(value, list):
            current = orig.get(key)
            current = current if isinstance(current, list) else []
            if sub in keys:
                orig[key] = _smp_list(current, value, sub, keys, directives)
            else:
                orig[key] = [_clean(item, f"{sub}[]", keys, directives) for item in value]
        else:
            orig[key] = value
    for key, values in deletions:
        if not isinstance(values, list):
            raise PatchError(f"{_DELETE_PRIMITIVES}{key} must be a list", 400)
        if isinstance(orig.get(key), list):
            orig[key] = [x for x in orig[key] if _find(values, x) < 0]
    return orig


def _clean(item: Any, path: str, keys: Mapping[str, str], directives: bool) -> Any:
    return _smp_map({}, item, path, keys, directives) if isinstance(item, dict) else item


def _identity(item: Any, key: str) -> Any:
    return item.get(key) if key and isinstance(item, dict) else item


def _smp_list(
    orig: list[Any], patch: list[Any], path: str, keys: Mapping[str, str], directives: bool
) -> list[Any]:
    key = keys[path]
    if not key:
        merged = list(orig)
        for item in patch:
            if _find(merged, item) < 0:
                merged.append(item)
        return _order(merged, patch, orig, key)
    if not all(isinstance(item, dict) for item in patch):
        raise PatchError(f"items of {path} must be objects with merge key {key!r}")
    plain, replace = [], False
    for item in patch:
        directive = item.get(_DIRECTIVE) if directives else None
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if key not in item:
                raise PatchError(f"$patch: delete in {path} needs the merge key {key!r}")
            orig = [o for o in orig if not (isinstance(o, dict) and _eq(o.get(key), item[key]))]
        elif directive == "replace":
            replace = True
        elif directive != "merge":  # k8s rejects "merge" here; we treat it as a no-op marker
            raise PatchError(f"unknown $patch directive {directive!r}")
    if replace:
        return [_clean(item, f"{path}[]", keys, directives) for item in plain]
    merged = list(orig)
    for item in plain:
        if key not in item:
            raise PatchError(f"an item of {path} lacks its merge key {key!r}")
        at = next((i for i, o in enumerate(merged) if isinstance(o, dict) and _eq(o.get(key), item[key])), -1)
        if at >= 0:
            merged[at] = _smp_map(merged[at], item, f"{path}[]", keys, directives)
        else:
            merged.append(_smp_map({}, item, f"{path}[]", keys, directives))
    return _order(merged, plain, orig, key)


def _order(merged: list[Any], patch_order: list[Any], server_order: list[Any], key: str) -> list[Any]:
    """normalizeElementOrder: patch items in patch order, server-only items in live order,
    interleaved by their live positions (new items go before server-only ones)."""
    wanted = [_identity(p, key) for p in patch_order]
    live = [_identity(s, key) for s in server_order]
    pos = {id(m): _find(wanted, _identity(m, key)) for m in merged}
    patched = sorted((m for m in merged if pos[id(m)] >= 0), key=lambda m: pos[id(m)])
    server = [m for m in merged if pos[id(m)] < 0]
    server.sort(key=lambda m: _find(live, _identity(m, key)) % (len(live) + 1))
    out: list[Any] = []
    while server or patched:
        if server and patched:
            li, ri = _find(live, _identity(server[0], key)), _find(live, _identity(patched[0], key))
            take_server = li >= 0 and ri >= 0 and li < ri
        else:
            take_server = bool(server)
        out.append(server.pop(0) if take_server else patched.pop(0))
    return out


def _set_element_order(
    orig: dict[str, Any], patch: dict[str, Any], directive_key: str, path: str, keys: Mapping[str, str]
) -> None:
    order = patch.pop(directive_key)
    field = directive_key[len(_ORDER) :]
    if not isinstance(order, list) or not field:
        raise PatchError(f"{directive_key} must be a list", 400)
    sub = f"{path}.{field}" if path else field
    if field in patch:
        value = patch.pop(field)
        if value is None:
            orig.pop(field, None)
            return
        if not isinstance(value, list):
            raise PatchError(f"{field} must be a list", 400)
        current = orig.get(field)
        current = current if isinstance(current, list) else []
        if sub not in keys:
            orig[field] = [_clean(item, f"{sub}[]", keys, True) for item in value]
            return
        merged = _smp_list(list(current), value, sub, keys, True)
    elif isinstance(orig.get(field), list) and sub in keys:
        current = merged = orig[field]
    else:
        return
    orig[field] = _order(merged, order, current, keys[sub])


# ---------------------------------------------------------------- server-side apply
SERVER_META = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
_UNTRACKED = {("f:apiVersion",), ("f:kind",), ("f:status",)} | {
    ("f:metadata", f"f:{k}") for k in ("name", "namespace", "managedFields", *SERVER_META)
}


def apply_patch(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    gvk: GVK,
    manager: str,
    force: bool,
    *,
    time: str | None = None,
) -> dict[str, Any]:
    """Server-side apply, approximated.

    ``applied`` is merged into ``live`` like an SMP without directives; the manager's
    ``Apply`` entry in ``metadata.managedFields`` records the applied field set, and fields
    it applied last time but not now are pruned unless another managedFields entry owns
    them.  Conflicts are never raised: every apply behaves as ``force=True`` (fields owned
    by another manager with a different value are taken over), so ``force`` is ignored.
    ``status`` is neither tracked nor reset (the caller owns status semantics).
    """
    if not isinstance(applied, dict):
        raise PatchError("an apply configuration must be a JSON object", 400)
    applied = clone(applied)
    if isinstance(applied.get("metadata"), dict):
        applied["metadata"].pop("managedFields", None)
    keys = merge_keys(gvk)
    new = field_set(applied, gvk)
    api_version = applied.get("apiVersion") or (f"{gvk[0]}/{gvk[1]}" if gvk[0] else gvk[1])
    entries: list[dict[str, Any]] = []
    if live is None:
        result = applied
    else:
        result = _smp_map(clone(live), clone(applied), "", keys, False)
        entries = (live.get("metadata") or {}).get("managedFields") or []
        entries = [e for e in entries if isinstance(e, dict)]
        mine = [e for e in entries if _is_mine(e, manager)]
        prev = decode_fields(mine[0].get("fieldsV1")) if mine else set()
        entries = [e for e in entries if not _is_mine(e, manager)]
        entries = _take_over(entries, new, live, applied)
        others = set().union(*(decode_fields(e.get("fieldsV1")) for e in entries))
        new_prefixes = {p[:i] for p in new for i in range(1, len(p) + 1)}
        _prune(result, {p for p in prev - new_prefixes if _tracked(p)}, others, new_prefixes)
        live_meta, meta = live.get("metadata") or {}, result.setdefault("metadata", {})
        for name in SERVER_META:
            if name in live_meta:
                meta[name] = clone(live_meta[name])
            else:
                meta.pop(name, None)
    entry: dict[str, Any] = {"manager": manager, "operation": "Apply", "apiVersion": api_version}
    if time is not None:
        entry["time"] = time
    entry.update(fieldsType="FieldsV1", fieldsV1=encode_fields(new))
    result.setdefault("metadata", {})["managedFields"] = [*entries, entry]
    return result


def _is_mine(entry: dict[str, Any], manager: str) -> bool:
    fields = (entry.get("manager"), entry.get("operation"), entry.get("subresource"))
    return fields == (manager, "Apply", None)


def field_set(obj: dict[str, Any], gvk: GVK) -> set[FieldPath]:
    """The fields of ``obj`` as SSA would own them: leaves, list items by key (k:), set items (v:)."""
    out: set[FieldPath] = set()
    _collect(obj, (), "", merge_keys(gvk), out)
    return {p for p in out if _tracked(p)}


def _tracked(path: FieldPath) -> bool:
    return not any(path[: len(u)] == u for u in _UNTRACKED)


def fields_v1(obj: dict[str, Any], gvk: GVK) -> dict[str, Any]:
    """``obj``'s field set in managedFields FieldsV1 notation (for Update entries)."""
    return encode_fields(field_set(obj, gvk))


def _collect(
    obj: dict[str, Any], path: FieldPath, rule: str, keys: Mapping[str, str], out: set[FieldPath]
) -> None:
    for name, value in obj.items():
        if value is None:
            continue
        here, sub = (*path, f"f:{name}"), f"{rule}.{name}" if rule else name
        if isinstance(value, dict) and value:
            _collect(value, here, sub, keys, out)
        elif isinstance(value, list) and value and sub in keys:
            for item in value:
                element = item_element(item, keys[sub])
                if element is not None:
                    out.add((*here, element))
                if element is not None and element.startswith("k:"):
                    _collect(item, (*here, element), f"{sub}[]", keys, out)
        else:
            out.add(here)


def item_element(item: Any, key: str) -> str | None:
    """A list item's FieldsV1 element: `k:{"key":value}` in a keyed list (None when the item lacks the
    key), `v:value` in a set (a list keyed by nothing)."""
    if not key:
        return "v:" + _dumps(item)
    if isinstance(item, dict) and key in item:
        return "k:" + _dumps({key: item[key]})
    return None


def encode_fields(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """Paths as a FieldsV1 tree: an owned node with owned children gets a "." member."""
    owned = set(paths)
    root: dict[str, Any] = {}
    for path in owned:
        node = root
        for element in path:
            node = node.setdefault(element, {})

    def tidy(node: dict[str, Any], path: FieldPath) -> dict[str, Any]:
        out: dict[str, Any] = {".": {}} if node and path in owned else {}
        out.update((k, tidy(node[k], (*path, k))) for k in sorted(node))
        return out

    return tidy(root, ())


def decode_fields(fields: Any, path: FieldPath = ()) -> set[FieldPath]:
    """A FieldsV1 tree as the set of paths it owns ("." marks an owned inner node)."""
    out: set[FieldPath] = set()
    for element, child in fields.items() if isinstance(fields, dict) else ():
        if element == ".":
            out.add(path)
        elif isinstance(child, dict) and child:
            out |= decode_fields(child, (*path, element))
        else:
            out.add((*path, element))
    return out


def _locate(obj: Any, path: FieldPath) -> tuple[Any, Any] | None:
    """(container, key-or-index) holding the node at ``path``, or None."""
    container: Any = None
    at: Any = None
    for element in path:
        if at is not None:
            obj = container[at]
        kind, _, raw = element.partition(":")
        if kind == "f" and isinstance(obj, dict) and raw in obj:
            container, at = obj, raw
            continue
        if kind in ("k", "v") and isinstance(obj, list):
            try:
                want = json.loads(raw)
            except ValueError:
                return None
            for i, item in enumerate(obj):
                if _eq(item, want) if kind == "v" else _matches(item, want):
                    container, at = obj, i
                    break
            else:
                return None
            continue
        return None
    return (container, at) if at is not None else None


def _matches(item: Any, want: Any) -> bool:
    if not (isinstance(item, dict) and isinstance(want, dict)):
        return False
    return all(_eq(item.get(k), v) for k, v in want.items())


def _value_at(obj: Any, path: FieldPath) -> Any:
    found = _locate(obj, path)
    return found[0][found[1]] if found else None


def _take_over(
    entries: list[dict[str, Any]], new: set[FieldPath], live: Any, applied: Any
) -> list[dict[str, Any]]:
    """Forced apply: other managers lose fields this apply sets to a different value."""
    out = []
    for entry in entries:
        owned = decode_fields(entry.get("fieldsV1"))
        lost = {
            p
            for p in owned & new
            if p[-1].startswith("f:") and not _eq(_value_at(live, p), _value_at(applied, p))
        }
        if lost:
            if owned == lost:
                continue
            entry = {**entry, "fieldsV1": encode_fields(owned - lost)}
        out.append(entry)
    return out


def _is_item_key(path: FieldPath) -> bool:
    """A list item's key field: it goes with the item, never alone."""
    if len(path) < 2 or not path[-2].startswith("k:"):
        return False
    try:
        key = json.loads(path[-2][2:])
    except ValueError:
        return False
    return isinstance(key, dict) and path[-1][2:] in key


def _prune(
    result: dict[str, Any], removed: set[FieldPath], others: set[FieldPath], keep: set[FieldPath]
) -> None:
    protected = {p[:i] for p in others for i in range(1, len(p) + 1)}
    for path in sorted(removed, key=len):
        if path in protected or _is_item_key(path) or (found := _locate(result, path)) is None:
            continue
        del found[0][found[1]]
        parent = path[:-1]
        while parent and parent not in keep and parent not in protected:
            found = _locate(result, parent)
            if found is None or found[0][found[1]] not in ({}, []):
                break
            del found[0][found[1]]
            parent = parent[:-1]
