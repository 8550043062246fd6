"""managedFields: which field manager owns which field, and server-side apply conflicts.

Owns what kube-apiserver's field manager (k8s.io/apiserver .../fieldmanager and
sigs.k8s.io/structured-merge-diff) does around a write:

- the manager's name: the ``fieldManager`` query parameter, else the User-Agent up to
  its first "/" (``managerOrUserAgent``: ``kubectl/v1.37.1 (...)`` -> ``kubectl``,
  ``Helm/4.3.1`` -> ``Helm``), printable characters only, at most 128 bytes;
- an ``Update`` entry per (manager, apiVersion, subresource) for every create, update and
  non-apply patch (``kubectl create/edit/patch/scale/label``, helm 3): the fields the write
  added or changed join the writer's set, and every other manager (``Apply`` ones too)
  loses them, as structured-merge-diff's ``Updater.Update`` does; the entry's time is
  stamped when the write changed something; entries that own nothing are dropped;
- server-side apply conflicts: an apply (without ``force``) that adds or changes a field
  another manager owns answers 409 Conflict with the real message
  (``Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using
  apps/v1: .spec.replicas``) and one ``FieldManagerConflict`` cause per field.  The merge,
  prune and forced take-over of an apply itself live in ``patch.apply_patch``;
- the entry order kube-apiserver writes (Apply before Update, then time, manager,
  apiVersion, subresource).

Field paths are tuples of fieldsV1 elements (``f:spec``, ``k:{"name":"app"}``, ``v:"x"``)
with the list keys of ``patch.merge_keys`` (the strategic-merge patchMergeKey), the same
notation ``patch.apply_patch`` records, so Apply and Update entries intersect.  Pure
functions on JSON-like values; the store calls ``record`` and the server ``apply_conflict``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import patch

Obj = dict[str, Any]
Path = tuple[str, ...]
GVK = tuple[str, str, str]

MAX_MANAGER_BYTES = 128  # validation.FieldManagerMaxLength
_MISSING = object()
# Never owned: set by the server or not fields of the object (fieldmanager's ignored paths).
_IGNORED_META = ("managedFields", "name", "namespace", *patch.SERVER_META)
# Non-pointer structs (and PodSpec.containers, a list without omitempty) that exist in the empty
# object a create is compared with, so a create's entry carries no "." for them; anything else a
# create adds (labels, data, rollingUpdate ...) is an added node and gets its "." marker.
_ZERO_PRESENT = {"metadata", "spec", "status", "template", "jobTemplate", "strategy", "updateStrategy"}
_ZERO_LISTS = {"containers"}


@dataclass(frozen=True)
class Writer:
    """Who is writing: the manager and the subresource ("" for the object itself)."""

    manager: str
    subresource: str = ""
    apply: bool = False  # an apply patch: its Apply entry is already computed (patch.apply_patch)


def manager_name(field_manager: str | None, user_agent: str) -> str:
    """``fieldManager`` when given, else the User-Agent's prefix (kube-apiserver's managerOrUserAgent)."""
    if field_manager:
        return field_manager
    out = ""
    for ch in user_agent.split("/")[0]:
        if not ch.isprintable():
            continue
        if len((out + ch).encode()) > MAX_MANAGER_BYTES:
            break
        out += ch
    return out


# ---------------------------------------------------------------- field sets
def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# One FieldsV1 notation for Apply (patch.apply_patch) and Update entries.
decode = patch.decode_fields
encode = patch.encode_fields


@dataclass
class Diff:
    """structured-merge-diff's Comparison: leaves changed, and nodes added or removed."""

    added: set[Path]
    modified: set[Path]
    removed: set[Path]


def diff(old: Obj | None, new: Obj, gvk: GVK) -> Diff:
    """What a write from ``old`` (None: a create) to ``new`` added, changed and removed."""
    out = Diff(set(), set(), set())
    _diff_map(old if old is not None else _zero(new), new, (), "", patch.merge_keys(gvk), out)
    for paths in (out.added, out.modified, out.removed):
        paths -= {p for p in paths if _ignored(p)}
    return out


def _ignored(path: Path) -> bool:
    if not path or path[0] in ("f:apiVersion", "f:kind"):
        return True
    return path[0] == "f:metadata" and (len(path) == 1 or path[1][2:] in _IGNORED_META)


def _zero(new: Obj, depth: int = 0) -> Obj:
    """The empty object a create is compared with: the non-pointer structs of ``new``, emptied."""
    out: Obj = {}
    for name, value in new.items():
        if isinstance(value, dict) and name in _ZERO_PRESENT:
            out[name] = _zero(value, depth + 1)
        elif isinstance(value, list) and name in _ZERO_LISTS:
            out[name] = []
    return out


def _subtree(value: Any, path: Path, rule: str, keys: Mapping[str, str], out: set[Path]) -> None:
    out.add(path)
    if isinstance(value, dict):
        for name, child in value.items():
            sub = f"{rule}.{name}" if rule else name
            _subtree(child, (*path, f"f:{name}"), sub, keys, out)
    elif isinstance(value, list) and rule in keys:
        for item in value:
            element = patch.item_element(item, keys[rule])
            if element is not None:
                _subtree(item, (*path, element), f"{rule}[]", keys, out)


def _diff_map(old: Obj, new: Obj, path: Path, rule: str, keys: Mapping[str, str], out: Diff) -> None:
    for name in {*old, *new}:
        sub = f"{rule}.{name}" if rule else name
        _diff_node(old.get(name, _MISSING), new.get(name, _MISSING), (*path, f"f:{name}"), sub, keys, out)


_SCALARS = (str, int, type(None))  # equal values of one of these types are equal JSON (not float: -0.0)


def _same_json(old: Any, new: Any) -> bool:
    """Certainly the same JSON text (a quick look: False may still be the same)."""
    if type(old) is type(new) and type(old) in _SCALARS:  # bool is not an int here: type() is exact
        return bool(old == new)
    if type(old) is type(new) and type(old) in (dict, list) and old == new:  # == is quick but takes
        try:  # 1 == 1.0 == True, so the text decides
            return _dumps(old) == _dumps(new)
        except (TypeError, ValueError):
            return False
    return False


def _diff_node(old: Any, new: Any, path: Path, rule: str, keys: Mapping[str, str], out: Diff) -> None:
    if _same_json(old, new):
        return  # nothing added, changed or removed below
    if new is _MISSING:
        _subtree(old, path, rule, keys, out.removed)
    elif old is _MISSING:
        _subtree(new, path, rule, keys, out.added)
    elif isinstance(old, dict) and isinstance(new, dict):
        _diff_map(old, new, path, rule, keys, out)
    elif isinstance(old, list) and isinstance(new, list) and rule in keys:
        olds = {e: i for i in old if (e := patch.item_element(i, keys[rule])) is not None}
        news = {e: i for i in new if (e := patch.item_element(i, keys[rule])) is not None}
        for element in {*olds, *news}:
            _diff_node(
                olds.get(element, _MISSING), news.get(element, _MISSING),
                (*path, element), f"{rule}[]", keys, out,
            )  # fmt: skip
    elif _dumps(old) != _dumps(new) or isinstance(old, bool) != isinstance(new, bool):
        out.modified.add(path)


# ---------------------------------------------------------------- entries
def _identity(entry: Obj) -> tuple[str, str, str, str]:
    """What tells managers apart (BuildManagerIdentifier): an applier's apiVersion does not count."""
    operation = str(entry.get("operation", ""))
    version = "" if operation == "Apply" else str(entry.get("apiVersion", ""))
    return str(entry.get("manager", "")), operation, version, str(entry.get("subresource", ""))


def _order(entry: Obj) -> tuple[str, str, str, str, str]:
    """kube-apiserver's sortEncodedManagedFields: operation, time, manager, apiVersion, subresource."""
    return (
        str(entry.get("operation", "")),
        str(entry.get("time", "")),
        str(entry.get("manager", "")),
        str(entry.get("apiVersion", "")),
        str(entry.get("subresource", "")),
    )


def _entries(obj: Obj | None) -> list[Obj]:
    raw = ((obj or {}).get("metadata") or {}).get("managedFields")
    return [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []


def record(old: Obj | None, new: Obj, gvk: GVK, api_version: str, writer: Writer, now: str) -> None:
    """Set ``new``'s ``metadata.managedFields`` after a write by ``writer`` (``new`` is mutated).

    An update that sends managedFields of its own (other than the live ones) sets them, as
    the real server allows; otherwise the live entries are the starting point."""
    live = _entries(old)
    sent = _entries(new)
    if writer.apply:
        _stamp_apply(old, new, writer.manager, live, now)
        return
    entries = sent if sent and sent != live and not writer.subresource else live
    change = diff(old, new, gvk)
    taken = change.added | change.modified
    me = {"manager": writer.manager, "operation": "Update", "apiVersion": api_version}
    if writer.subresource:
        me["subresource"] = writer.subresource
    mine: set[Path] = set()
    out: list[Obj] = []
    for entry in entries:
        owned = decode(entry.get("fieldsV1"))
        if _identity(entry) == _identity(me):
            mine, me = owned - change.removed, {**entry, **me}
            continue
        kept = owned - taken - change.removed
        if kept == owned and kept:
            out.append(entry)
        elif kept:
            out.append({**entry, "fieldsV1": encode(kept)})  # an entry owning nothing goes
    if taken:
        me["time"] = now
    mine |= taken
    if mine:
        out.append({**me, "fieldsType": "FieldsV1", "fieldsV1": encode(mine)})
    _store(new, out)


def _stamp_apply(old: Obj | None, new: Obj, manager: str, live: list[Obj], now: str) -> None:
    """An apply's entries came from patch.apply_patch: stamp the applier's time when the
    object changed (else keep the live entry's time) and put the entries in order."""
    entries = _entries(new)
    changed = old is None or _strip(old) != _strip(new)
    before = {_identity(e): e.get("time") for e in live}
    for entry in entries:
        key = _identity(entry)
        if key == (manager, "Apply", "", "") and (changed or before.get(key) is None):
            entry["time"] = now
        elif key in before and before[key] is not None and "time" not in entry:
            entry["time"] = before[key]
    _store(new, entries)


def _strip(obj: Obj) -> Obj:
    skip = ("managedFields", "resourceVersion")
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in skip}
    return {**obj, "metadata": meta}


def _store(obj: Obj, entries: list[Obj]) -> None:
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = [_shaped(e) for e in sorted(entries, key=_order)]
    else:
        meta.pop("managedFields", None)


def _shaped(entry: Obj) -> Obj:
    """An entry with its fields in the order the real server writes them."""
    order = ("manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource")
    return {**{k: entry[k] for k in order if k in entry}, **entry}


# ---------------------------------------------------------------- apply conflicts
def path_string(path: Path) -> str:
    """A field path as structured-merge-diff prints it: .spec.containers[name="app"].image."""
    out = ""
    for element in path:
        kind, _, raw = element.partition(":")
        if kind == "f":
            out += "." + raw
        elif kind == "k":
            key = json.loads(raw)
            out += "[" + ",".join(f"{k}={_value_string(v)}" for k, v in key.items()) + "]"
        elif kind == "v":
            out += f"[={_value_string(json.loads(raw))}]"
        else:
            out += f"[{raw}]"
    return out


def _value_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, bool) else str(value).lower()


def _print_manager(entry: Obj) -> str:
    """printManager in apimachinery's managedfields/internal/conflict.go (the identifier has no time)."""
    out = json.dumps(str(entry.get("manager", "")))
    if entry.get("subresource"):
        out += f" with subresource {json.dumps(str(entry['subresource']))}"
    if entry.get("operation") == "Update":
        out += f" using {entry.get('apiVersion', '')}"
    return out


def _iteration_key(path: Path) -> tuple[tuple[int, str], ...]:
    """fieldpath.Set's iteration order: at each level the leaves first, then the children, sorted."""
    return (*((1, e) for e in path[:-1]), (0, path[-1]))


def apply_conflict(live: Obj, result: Obj, gvk: GVK, manager: str) -> tuple[str, dict[str, Any]] | None:
    """(message, details) of the 409 an apply by ``manager`` answers when, going from ``live``
    to ``result``, it adds or changes fields other managers own; None when there is none."""
    change = diff(live, result, gvk)
    changed = change.added | change.modified
    found: list[tuple[str, Obj, list[Path]]] = []
    for entry in _entries(live):
        if _identity(entry) == (manager, "Apply", "", ""):
            continue
        paths = sorted(decode(entry.get("fieldsV1")) & changed, key=_iteration_key)
        if paths:
            found.append((json.dumps(_identity(entry)), entry, paths))
    if not found:
        return None
    found.sort(key=lambda f: f[0])
    conflicts = [(_print_manager(entry), p) for _, entry, paths in found for p in paths]
    causes = [
        {"type": "FieldManagerConflict", "message": f"conflict with {who}", "field": path_string(p)}
        for who, p in conflicts
    ]
    if len(conflicts) == 1:
        who, p = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {who}: {path_string(p)}", {"causes": causes}
    lines = []
    for _, entry, paths in found:
        lines.append(f"conflicts with {_print_manager(entry)}:")
        lines += [f"- {path_string(p)}" for p in paths]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines), {"causes": causes}
