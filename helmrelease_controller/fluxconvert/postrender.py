"""Flux's `spec.postRenderers` as ours (`commonMetadata` is a plain Move in v2.py's table). Pure.

Flux v2's kustomize post-renderer has `patches` and `images`, which we have with the same names:
kept as written. Flux v2beta1/v2beta2 also had `patchesStrategicMerge` (objects) and
`patchesJson6902` (`{target, patch: [operations]}`), which Flux v2 removed and our spec refuses;
each becomes a `patches` item: a strategic merge patch as YAML without a target (it names its
object), JSON 6902 operations as YAML with their target. They keep the order kustomize applied
them in (strategic merge patches, then patches, then JSON 6902 patches), so the result is the same.
Anything else is dropped with a warning, and an empty kustomization is left out (Flux skips it).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from .rules import NO_EQUIVALENT

KUSTOMIZE_FIELDS = ("patches", "images", "patchesStrategicMerge", "patchesJson6902")


def _yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def kustomize(k: dict[str, Any]) -> dict[str, Any]:
    """One Flux kustomize post-renderer (any version) as ours."""
    patches = [{"patch": _yaml(p)} for p in k.get("patchesStrategicMerge") or []]
    patches += [copy.deepcopy(p) for p in k.get("patches") or []]
    for j in k.get("patchesJson6902") or []:
        target = {"target": copy.deepcopy(j["target"])} if j.get("target") else {}
        patches.append({"patch": _yaml(j.get("patch") or []), **target})
    images = copy.deepcopy(k.get("images") or [])
    return {key: v for key, v in (("patches", patches), ("images", images)) if v}


def post_renderers(items: Any, what: str) -> tuple[list[dict[str, Any]], list[str]]:
    """`spec.postRenderers` as ours, and one warning per field dropped."""
    out, warnings = [], []
    for i, item in enumerate(items or []):
        where = f"spec.postRenderers[{i}]"
        item = item or {}
        warnings += [f"{what}: {where}.{key} {NO_EQUIVALENT} (dropped)" for key in item if key != "kustomize"]
        k = item.get("kustomize") or {}
        warnings += [
            f"{what}: {where}.kustomize.{key} {NO_EQUIVALENT} (dropped)"
            for key in k
            if key not in KUSTOMIZE_FIELDS
        ]
        if ours := kustomize(k):
            out.append({"kustomize": ours})
    return out, warnings
