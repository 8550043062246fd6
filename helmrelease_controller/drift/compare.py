"""What drifted: each object of a release as its manifest says, against the live object. Pure.

Only fields the manifest sets are compared, so what the API server adds (defaults, status,
metadata it keeps) and fields other managers set that the manifest leaves out (an HPA's
`replicas` when the chart omits them, a sidecar an admission webhook injects, a label someone
adds) are not drift. A field the manifest sets and the live object changed or lacks is drift; an
object the manifest has and the cluster does not is deleted. Lists whose items all have a
`name` (containers, env, volumes, ports with names) are matched by name, as server-side apply
merges them; other lists item by item. Values equal as Kubernetes quantities ("0.5" and "500m",
"1Gi" and "1024Mi") are equal. A Secret's `stringData` is compared as the `data` the API server
turns it into. Paths are JSON pointers (RFC 6901) of the manifest's field (list items by their
index in the manifest); values are never part of a result, so a Secret's drift shows its keys
only.

Not compared: `status`, metadata other than labels and annotations, fields that always differ
(`BUILTIN_IGNORES`: the caBundle a cert injector writes into webhooks, APIServices and CRD
conversion webhooks), the paths of the spec's `ignore` rules, and objects annotated
`helmrelease.dev/drift-detection: disabled` (on the live object or in the chart).
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .. import labelselector

OPT_OUT_ANNOTATION = "helmrelease.dev/drift-detection"

# (kind, JSON pointer pattern): "*" matches one path segment.
BUILTIN_IGNORES: tuple[tuple[str, str], ...] = (
    ("ValidatingWebhookConfiguration", "/webhooks/*/clientConfig/caBundle"),
    ("MutatingWebhookConfiguration", "/webhooks/*/clientConfig/caBundle"),
    ("APIService", "/spec/caBundle"),
    ("CustomResourceDefinition", "/spec/conversion/webhook/clientConfig/caBundle"),
)

_MISSING: Any = object()


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object of a release: the manifest's apiVersion and kind, and where it lives."""

    api_version: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    @classmethod
    def of(cls, obj: Mapping[str, Any], namespace: str = "") -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(
            str(obj.get("apiVersion") or ""),
            str(obj.get("kind") or ""),
            str(meta.get("namespace") or namespace),
            str(meta.get("name") or ""),
        )


@dataclass(frozen=True)
class Drift:
    """One drifted object: deleted, or the JSON pointers of its changed fields."""

    ref: ObjectRef
    paths: tuple[str, ...] = ()
    deleted: bool = False

    def describe(self, max_paths: int = 4) -> str:
        """`Deployment/web: /spec/replicas, /spec/template/...` or `Service/web: deleted`."""
        if self.deleted:
            return f"{self.ref}: deleted"
        shown = list(self.paths[:max_paths])
        if len(self.paths) > max_paths:
            shown.append(f"and {len(self.paths) - max_paths} more")
        return f"{self.ref}: {', '.join(shown)}"


def summary(drifts: Sequence[Drift], max_objects: int = 5) -> str:
    """One line naming every drifted object and its fields (at most `max_objects` objects)."""
    parts = [d.describe() for d in drifts[:max_objects]]
    if len(drifts) > max_objects:
        parts.append(f"and {len(drifts) - max_objects} more objects")
    return "; ".join(parts)


@dataclass(frozen=True)
class IgnoreRule:
    """The spec's `driftDetection.ignore` item. Its target is kustomize's selector, as in Flux:
    every field given must match (None: any); `name` is a regular expression matching the whole
    name; the selectors are label selectors over the manifest object's labels / annotations."""

    paths: tuple[str, ...]
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    group: str | None = None
    version: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None

    def applies_to(self, ref: ObjectRef, obj: Mapping[str, Any] | None = None) -> bool:
        group, _, version = ref.api_version.rpartition("/")
        wanted = (
            (self.kind, ref.kind),
            (self.namespace, ref.namespace),
            (self.group, group),
            (self.version, version),
        )
        if not all(want is None or want == have for want, have in wanted):
            return False
        if self.name is not None and re.fullmatch(self.name, ref.name) is None:
            return False
        meta = (obj or {}).get("metadata") or {}
        for selector, values in ((self.label_selector, "labels"), (self.annotation_selector, "annotations")):
            if selector and not labelselector.parse(selector)(
                {str(k): str(v) for k, v in (meta.get(values) or {}).items()}
            ):
                return False
        return True


def ignored_paths(
    ref: ObjectRef, rules: Iterable[IgnoreRule], obj: Mapping[str, Any] | None = None
) -> tuple[str, ...]:
    """The path patterns ignored for `ref` (the manifest object `obj`): the built-in ones for its
    kind and the rules'."""
    builtin = [p for kind, p in BUILTIN_IGNORES if kind == ref.kind]
    return (*builtin, *(p for r in rules if r.applies_to(ref, obj) for p in r.paths))


def without_paths(obj: Any, patterns: Sequence[str]) -> Any:
    """A copy of `obj` without the fields the path patterns name (a restore must not take back an
    ignored field: server-side apply would claim it)."""
    out = copy.deepcopy(obj)
    for pattern in patterns:
        _remove(out, _split(pattern))
    return out


def _remove(node: Any, segments: tuple[str, ...]) -> None:
    if not segments:
        return
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            if rest:
                _remove(node[key], rest)
            else:
                del node[key]
    elif isinstance(node, list):
        indexes = (
            range(len(node))
            if head == "*"
            else [int(head)]
            if head.isdigit() and int(head) < len(node)
            else []
        )
        for i in sorted(indexes, reverse=True):
            if rest:
                _remove(node[i], rest)
            else:
                del node[i]


def opted_out(*objs: Mapping[str, Any] | None) -> bool:
    """True when any of the objects carries `helmrelease.dev/drift-detection: disabled`."""
    for obj in objs:
        annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
        if str(annotations.get(OPT_OUT_ANNOTATION, "")).lower() == "disabled":
            return True
    return False


def drift_of(
    desired: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    ignore: Sequence[str] = (),
    namespace: str = "",
) -> Drift | None:
    """The drift of one object (None: none, or the object opted out)."""
    ref = ObjectRef.of(desired, namespace)
    if opted_out(desired, live):
        return None
    if live is None:
        return Drift(ref, deleted=True)
    want = _comparable(desired)
    out: list[str] = []
    _walk(want, live, "", out, tuple(_split(p) for p in ignore))
    return Drift(ref, tuple(out)) if out else None


def _comparable(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a manifest object that are compared (see the module docstring)."""
    want = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "status", "metadata")}
    meta = desired.get("metadata") or {}
    want["metadata"] = {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}
    if desired.get("kind") == "Secret" and isinstance(desired.get("stringData"), dict):
        data = dict(want.get("data") or {})
        for k, v in want.pop("stringData").items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        want["data"] = data
    return want


def _split(pointer: str) -> tuple[str, ...]:
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:])


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _is_ignored(segments: tuple[str, ...], ignore: tuple[tuple[str, ...], ...]) -> bool:
    """A path is ignored when a pattern is a prefix of it ("*" matching any one segment)."""
    for pattern in ignore:
        if len(pattern) <= len(segments) and all(
            p in ("*", s) for p, s in zip(pattern, segments, strict=False)
        ):
            return True
    return False


def _walk(want: Any, live: Any, path: str, out: list[str], ignore: tuple[tuple[str, ...], ...]) -> None:
    if ignore and _is_ignored(_split(path), ignore):
        return
    if isinstance(want, dict):
        if not want:
            return  # `{}` asks for nothing
        if not isinstance(live, dict):
            out.append(path)
            return
        for key, value in want.items():
            if value is not None:  # null in a manifest leaves the field unset
                _walk(value, live.get(key, _MISSING), f"{path}/{_escape(str(key))}", out, ignore)
    elif isinstance(want, list):
        _walk_list(want, live, path, out, ignore)
    elif not equal_values(want, live):
        out.append(path)


def _walk_list(
    want: list[Any], live: Any, path: str, out: list[str], ignore: tuple[tuple[str, ...], ...]
) -> None:
    if not want:
        return
    if not isinstance(live, list):
        out.append(path)
        return
    if all(isinstance(i, dict) and "name" in i for i in want):
        by_name = {i.get("name"): i for i in live if isinstance(i, dict)}
        for n, item in enumerate(want):
            _walk(item, by_name.get(item["name"], _MISSING), f"{path}/{n}", out, ignore)
        return
    if len(live) < len(want):
        out.append(path)
        return
    for n, item in enumerate(want):
        _walk(item, live[n], f"{path}/{n}", out, ignore)


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    **{p: Decimal(10) ** (3 * (n + 1)) for n, p in enumerate("kMGTPE")},  # decimal SI
    **{p + "i": Decimal(2) ** (10 * (n + 1)) for n, p in enumerate("KMGTPE")},  # binary
}


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity's value ("500m" -> 0.5), None when `value` is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    m = _QUANTITY.match(str(value))
    if m is None:
        return None
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2) or ""]
    except InvalidOperation:
        return None


def equal_values(want: Any, live: Any) -> bool:
    """Scalars as the API server would store them: equal (a bool only to a bool), or the same
    quantity written two ways (`cpu: 2` is stored as "2", "0.5" as "500m")."""
    if live is _MISSING:
        return False
    if isinstance(want, bool) or isinstance(live, bool):
        return want is live
    if want == live and (type(want) is type(live) or {type(want), type(live)} <= {int, float}):
        return True
    if not (isinstance(want, str) or isinstance(live, str)):
        return False
    q = quantity(want)
    return q is not None and q == quantity(live)
