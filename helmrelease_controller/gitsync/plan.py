"""What one sync writes: objects to apply, to skip, to prune, and orphans. Pure.

`plan(desired, live, owner=..., prune=...)` compares the validated commit with the live objects
that carry the `helmrelease.dev/gitsync` label (any value: those of other GitSyncs are how a
conflict is seen):

- apply: every desired object whose live copy is missing, belongs to nobody (it is adopted) or
  differs from git. "Differs" is decided without reading the object: each applied object carries
  the digest of what was applied (annotation `helmrelease.dev/gitsync-digest`), so an object whose
  file did not change costs no write. Ordered Namespaces, ConfigMaps, HelmReleases (values and
  namespaces exist before the releases that use them).
- conflicts: a desired object labelled by another GitSync is not taken over; the commit is refused.
- prune candidates: live objects labelled by this GitSync and gone from the commit. With prune
  they are deleted (HelmReleases first, Namespaces last) unless annotated
  `helmrelease.dev/prune: disabled` (or the GitSync's own Namespace); without prune, or when
  protected, they are orphans.

The GitSync's status inventory does not decide anything here; sync.py uses it to widen the
namespaces where live objects are looked for.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from helmrelease_controller.api.gitsync import (
    ANNOTATION_DIGEST,
    ANNOTATION_PRUNE,
    LABEL_GITSYNC,
    PRUNE_DISABLED,
)

from .validate import DesiredObject

__all__ = ["APPLY_ORDER", "LiveObject", "Plan", "Ref", "apply_body", "object_digest", "plan"]

APPLY_ORDER = ("Namespace", "ConfigMap", "HelmRelease")


@dataclass(frozen=True, order=True)
class Ref:
    """kind, namespace ("" when cluster-scoped) and name of one object."""

    kind: str
    namespace: str
    name: str

    def entry(self) -> dict[str, str]:
        """As a status inventory entry."""
        out = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        return {k: v for k, v in out.items() if v}

    def describe(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class LiveObject:
    """What plan needs of a live object: its identity, labels and annotations."""

    ref: Ref
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> LiveObject:
        meta = obj.get("metadata") or {}
        ref = Ref(str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        return cls(ref, dict(meta.get("labels") or {}), dict(meta.get("annotations") or {}))

    @property
    def owner(self) -> str | None:
        return self.labels.get(LABEL_GITSYNC)

    @property
    def protected(self) -> bool:
        return str(self.annotations.get(ANNOTATION_PRUNE, "")).strip().lower() == PRUNE_DISABLED


@dataclass
class Plan:
    apply: list[tuple[DesiredObject, dict[str, Any]]] = field(default_factory=list)  # (object, body)
    unchanged: list[DesiredObject] = field(default_factory=list)
    prune: list[Ref] = field(default_factory=list)
    orphans: list[Ref] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    inventory: list[Ref] = field(default_factory=list)  # the commit's objects, sorted


def object_digest(obj: Mapping[str, Any]) -> str:
    """sha256 of the object as JSON with sorted keys (the object as committed, before labelling)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def apply_body(desired: DesiredObject, owner: str) -> dict[str, Any]:
    """The server-side apply body: the object with the owner label and the digest annotation."""
    body = copy.deepcopy(desired.obj)
    meta = body.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), LABEL_GITSYNC: owner}
    meta["annotations"] = {**(meta.get("annotations") or {}), ANNOTATION_DIGEST: object_digest(desired.obj)}
    return body


def _ref(d: DesiredObject) -> Ref:
    return Ref(d.kind, d.namespace, d.name)


def plan(
    desired: Iterable[DesiredObject], live: Iterable[LiveObject], *, owner: str, prune: bool, home: str = ""
) -> Plan:
    """See the module docstring. The Namespace `home` (the GitSync's own) is never pruned: deleting
    it would delete the GitSync with everything else in it."""
    by_ref = {o.ref: o for o in live}
    out = Plan()
    wanted: set[Ref] = set()
    rank = {k: i for i, k in enumerate(APPLY_ORDER)}
    for d in sorted(desired, key=lambda d: rank.get(d.kind, len(rank))):  # stable: commit order within a kind
        ref = _ref(d)
        wanted.add(ref)
        current = by_ref.get(ref)
        if current is not None and current.owner not in (None, owner):
            out.conflicts.append(f"{d.where}: {ref.describe()} is managed by GitSync {current.owner}")
            continue
        same = current is not None and current.annotations.get(ANNOTATION_DIGEST) == object_digest(d.obj)
        if same and current is not None and current.owner == owner:
            out.unchanged.append(d)
        else:
            out.apply.append((d, apply_body(d, owner)))
    out.inventory = sorted(wanted)
    gone = sorted(
        (o for o in by_ref.values() if o.owner == owner and o.ref not in wanted),
        key=lambda o: (-rank.get(o.ref.kind, -1), o.ref),
    )
    for o in gone:
        keep = o.protected or o.ref == Ref("Namespace", "", home)
        (out.prune if prune and not keep else out.orphans).append(o.ref)
    out.orphans.sort()
    return out
