"""Validating a whole commit for a GitSync, before anything is written. Pure.

`validate(docs, namespace=...)` checks every rendered document and returns either the desired
objects or the problems, never both (a commit is applied whole or not at all):

- kinds: `HelmRelease` (helmrelease.dev/v1), `ConfigMap` and `Namespace` (v1). A Secret is refused
  with a hint (it would sit in git in plain text); any other kind is refused.
- namespaces: an object without one gets the GitSync's namespace; an object in another namespace
  (for a Namespace object: another name) is refused unless `allow_cross_namespace`.
- every HelmRelease is parsed with `HelmRelease.from_obj`, the controller's own models; each
  problem is reported at the line of the field it names (`releases/prod/web.yaml:7: spec.chart: ...`).
- the same kind/namespace/name twice is refused, naming both places.

Desired objects are cleaned of what the API server owns (status, uid, resourceVersion, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from helmrelease_controller.api.models import API_VERSION, KIND, HelmRelease, SpecError

from .render import Document, line_of

__all__ = ["ALLOWED_KINDS", "DesiredObject", "Validated", "validate"]

#: kind -> apiVersion of what a GitSync applies.
ALLOWED_KINDS: dict[str, str] = {"Namespace": "v1", "ConfigMap": "v1", KIND: API_VERSION}
_ALLOWED_TEXT = "HelmRelease (helmrelease.dev/v1), ConfigMap and Namespace"
# metadata the API server sets: never applied from git (a pasted `kubectl get -o yaml` works).
_SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences",
                    "finalizers")  # fmt: skip
SECRET_HINT = (
    "Secrets are not applied from git (they would be stored there in plain text): create the Secret "
    "out of band and reference it with valuesFrom, or commit a SealedSecret-style encrypted object "
    "applied by its own controller"
)


@dataclass(frozen=True)
class DesiredObject:
    """An object of the commit, ready to apply: `obj` has apiVersion, kind and metadata.name (and
    metadata.namespace unless it is a Namespace)."""

    kind: str
    namespace: str  # "" for a Namespace
    name: str
    obj: dict[str, Any] = field(repr=False, compare=False)
    file: str = ""
    line: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass
class Validated:
    """The outcome: `objects` when `errors` is empty; otherwise nothing may be applied."""

    objects: list[DesiredObject] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _clean(obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in _SERVER_METADATA}
    if namespace is None:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = namespace
    out["metadata"] = meta
    return out


def _check(
    doc: Document, namespace: str, allow_cross_namespace: bool
) -> tuple[DesiredObject | None, list[str]]:
    """One document: the desired object, or its problems (`file:line: problem`)."""
    obj, at = doc.obj, doc.where
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(kind, str) or not kind or not isinstance(api_version, str) or not api_version:
        return None, [f"{at}: apiVersion and kind are required"]
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    label = f"{kind} {name}" if isinstance(name, str) and name else kind
    if kind == "Secret" and api_version == "v1":
        return None, [f"{at}: {label}: {SECRET_HINT}"]
    if ALLOWED_KINDS.get(kind) != api_version:
        return None, [f"{at}: {label} ({api_version}) is not applied by a GitSync: only {_ALLOWED_TEXT}"]
    if not isinstance(meta, dict):
        return None, [f"{doc.file}:{line_of(doc, 'metadata')}: {kind}: metadata must be an object"]
    if not isinstance(name, str) or not name:
        return None, [f"{doc.file}:{line_of(doc, 'metadata.name')}: {kind}: metadata.name is required"]
    if meta.get("generateName") is not None:
        return None, [
            f"{doc.file}:{line_of(doc, 'metadata.generateName')}: {label}: generateName is not supported"
        ]
    if kind == "Namespace":
        if name != namespace and not allow_cross_namespace:
            return None, [
                f"{at}: Namespace {name}: only the GitSync's own namespace {namespace} may be declared "
                "(cross-namespace targets are disabled)"
            ]
        return DesiredObject(kind, "", name, _clean(obj, None), doc.file, doc.line), []
    ns = meta.get("namespace") or namespace
    if not isinstance(ns, str):
        return None, [
            f"{doc.file}:{line_of(doc, 'metadata.namespace')}: {label}: metadata.namespace must be a string"
        ]
    if ns != namespace and not allow_cross_namespace:
        return None, [
            f"{doc.file}:{line_of(doc, 'metadata.namespace')}: {kind} {ns}/{name}: namespace {ns} is not "
            f"the GitSync's namespace {namespace} (cross-namespace targets are disabled)"
        ]
    cleaned = _clean(obj, ns)
    if kind == KIND:
        try:
            HelmRelease.from_obj(cleaned)
        except SpecError as exc:
            return None, [f"{doc.file}:{line_of(doc, m.split(': ', 1)[0])}: {m}" for m in exc.messages]
    elif kind == "ConfigMap":
        for key in ("data", "binaryData"):
            section = obj.get(key)
            if section is not None and not (
                isinstance(section, dict) and all(isinstance(v, str) for v in section.values())
            ):
                return None, [f"{doc.file}:{line_of(doc, key)}: {label}: {key} must map keys to strings"]
    return DesiredObject(kind, ns, name, cleaned, doc.file, doc.line), []


def validate(docs: Iterable[Document], *, namespace: str, allow_cross_namespace: bool = False) -> Validated:
    """The desired objects of a commit, or every problem found in it (see the module docstring)."""
    objects: list[DesiredObject] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], DesiredObject] = {}
    for doc in docs:
        desired, problems = _check(doc, namespace, allow_cross_namespace)
        errors.extend(problems)
        if desired is None:
            continue
        first = seen.get(desired.key)
        if first is not None:
            errors.append(f"{desired.where}: {desired.describe()} is already defined at {first.where}")
            continue
        seen[desired.key] = desired
        objects.append(desired)
    return Validated([], errors) if errors else Validated(objects, [])
