"""The pure part of `diff`: split two release manifests into objects (kind, namespace, name), pair
them, mask every Secret's `data`/`stringData` values (a change shows as a changed mask, never the
value), and print a unified diff per changed object in kubectl diff's shape (`--- deployed/...`,
`+++ desired/...`). Hooks are left out: Helm keeps them out of the release manifest too."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

Obj = dict[str, Any]
Key = tuple[str, str, str]  # kind, namespace, name
MASK = "***"
CHANGED = "*** (changed)"
SECRET_FIELDS = ("data", "stringData")


def split_objects(manifest: str, namespace: str) -> dict[Key, Obj]:
    """The objects of a rendered manifest by (kind, namespace, name), in its order; hooks and empty
    documents skipped; an object without a namespace is in `namespace` (the release's)."""
    found: dict[Key, Obj] = {}
    for doc in yaml.safe_load_all(manifest or ""):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        meta = doc.get("metadata") or {}
        if not meta.get("name") or "helm.sh/hook" in (meta.get("annotations") or {}):
            continue
        found[(str(doc["kind"]), str(meta.get("namespace") or namespace), str(meta["name"]))] = doc
    return found


def pair(deployed: dict[Key, Obj], desired: dict[Key, Obj]) -> list[tuple[Key, Obj | None, Obj | None]]:
    """(key, deployed, desired) for every object of either side: deployed order, then additions."""
    keys = list(deployed) + [k for k in desired if k not in deployed]
    return [(k, deployed.get(k), desired.get(k)) for k in keys]


def _masked_map(mine: Any, theirs: Any, changed: bool) -> Any:
    if not isinstance(mine, dict):
        return mine if mine is None else MASK
    other = theirs if isinstance(theirs, dict) else {}
    return {k: CHANGED if changed and k in other and other[k] != v else MASK for k, v in mine.items()}


def mask_secrets(before: Obj | None, after: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Both sides of a Secret with every data/stringData value replaced: `***`, and on the desired
    side `*** (changed)` where the value differs from the deployed one. Other kinds unchanged."""
    if (before or after or {}).get("kind") != "Secret":
        return before, after

    def masked(obj: Obj | None, other: Obj | None, changed: bool) -> Obj | None:
        if obj is None:
            return None
        copy = dict(obj)
        for f in SECRET_FIELDS:
            if f in copy:
                copy[f] = _masked_map(copy[f], (other or {}).get(f), changed)
        return copy

    return masked(before, after, False), masked(after, before, True)


def _lines(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines()


def object_diff(key: Key, before: Obj | None, after: Obj | None) -> list[str]:
    """The unified diff of one object (masked), or [] when both sides are equal."""
    if before == after:
        return []
    b, a = mask_secrets(before, after)
    kind, ns, name = key
    label = f"{kind}/{ns}/{name}"
    return list(
        difflib.unified_diff(_lines(b), _lines(a), f"deployed/{label}", f"desired/{label}", lineterm="", n=3)
    )


def manifest_diff(deployed: str | None, desired: str, namespace: str) -> list[str]:
    """Every changed object's diff, deployed order then additions ([] when nothing changes)."""
    lines: list[str] = []
    pairs = pair(split_objects(deployed or "", namespace), split_objects(desired, namespace))
    for key, before, after in pairs:
        lines += object_diff(key, before, after)
    return lines
