"""Label and field selectors: parsing Kubernetes' selector strings and matching objects.

Label selectors support the full string syntax (``=``, ``==``, ``!=``, ``in``,
``notin``, existence and ``!key``). Field selectors accept ``=``, ``==`` and ``!=``
on the fields the real API server supports for each kind (``metadata.name`` and
``metadata.namespace`` everywhere, plus the per-kind ones of ``FIELD_LABELS`` and a
CRD's ``selectableFields``); any other field is a 400 with the real server's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\((.*)\)\s*$")


class SelectorError(ValueError):
    pass


def _split_top_level(s: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


LabelReq = Callable[[dict[str, str]], bool]


def _label_req(op: str, key: str, values: frozenset[str] = frozenset()) -> LabelReq:
    """One label requirement: in, notin, =, !=, exists, !exists (values hold the operand)."""

    def req(lb: dict[str, str]) -> bool:
        if op == "in" or op == "=":
            return lb.get(key) in values
        if op == "notin" or op == "!=":
            return lb.get(key) not in values
        if op == "exists":
            return key in lb
        return key not in lb

    return req


def parse_label_selector(selector: str | None) -> Matcher:
    if not selector:
        return lambda _obj: True
    reqs: list[LabelReq] = []
    for term in _split_top_level(selector):
        m = _SET_RE.match(term)
        if m:
            vals = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(_label_req(m.group(2), m.group(1), vals))
            continue
        if "!=" in term:
            key, val = (x.strip() for x in term.split("!=", 1))
            reqs.append(_label_req("!=", key, frozenset({val})))
        elif "=" in term:
            key, val = (x.strip() for x in term.replace("==", "=").split("=", 1))
            reqs.append(_label_req("=", key, frozenset({val})))
        elif term.startswith("!"):
            reqs.append(_label_req("!exists", term[1:].strip()))
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", term):
            reqs.append(_label_req("exists", term))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


_META = ("metadata.name", "metadata.namespace")
_REF = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_EVENT = (*(f"involvedObject.{f}" for f in _REF), "reason", "reportingComponent", "source", "type", *_META)
_NEW_EVENT = (*(f"regarding.{f}" for f in _REF), "reason", "reportingController", "type", *_META)
# (group, kind) -> the field labels the real server converts (pkg/apis/*/v1/conversion.go), and the
# error format for any other label. Kinds not listed take the default conversion (metadata only).
_NOT_SUPPORTED = "field label not supported: {label}"
FIELD_LABELS: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {
    ("", "Pod"): (
        (
            *_META,
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ),
        _NOT_SUPPORTED,
    ),
    ("", "Node"): (("metadata.name", "spec.unschedulable"), _NOT_SUPPORTED),
    ("", "ReplicationController"): ((*_META, "status.replicas"), _NOT_SUPPORTED),
    ("", "Event"): (_EVENT, _NOT_SUPPORTED),
    ("events.k8s.io", "Event"): (_NEW_EVENT, _NOT_SUPPORTED),
    ("", "Namespace"): (("status.phase", "metadata.name"), _NOT_SUPPORTED),
    ("", "Secret"): (("type", *_META), _NOT_SUPPORTED),
    ("", "Service"): ((*_META, "spec.clusterIP", "spec.type"), _NOT_SUPPORTED),
    ("batch", "Job"): ((*_META, "status.successful"), 'field label "{label}" not supported for batchv1.Job'),
}
_DEFAULT = (_META, '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"')
# Labels whose value lives elsewhere in the object.
_PATHS = {
    "source": "source.component",
    "spec.host": "spec.nodeName",
    "status.podIPs": "status.podIP",
    "status.successful": "status.succeeded",
}
# Fields the server formats from a Go zero value when unset (false, 0).
_ZERO = {
    "spec.unschedulable": "false",
    "spec.hostNetwork": "false",
    "status.successful": "0",
    "status.replicas": "0",
}


Supported = tuple[tuple[str, ...], str]


def supported_fields(group: str, kind: str, crd_fields: tuple[str, ...] | None) -> Supported:
    """The field labels a kind can be selected by, and the message format for others.
    `crd_fields` (not None for custom resources): the CRD's selectableFields."""
    if crd_fields is not None:
        return (*_META, *crd_fields), _NOT_SUPPORTED
    if group == "" and kind == "Pod":
        return FIELD_LABELS[(group, kind)][0] + ("spec.host",), _NOT_SUPPORTED
    return FIELD_LABELS.get((group, kind), _DEFAULT)


def _field_req(label: str, value: str, equal: bool) -> Matcher:
    path, zero = _PATHS.get(label, label), _ZERO.get(label, "")
    return lambda obj: ((field_value(obj, path) or zero) == value) == equal


def parse_field_selector(selector: str | None, supported: Supported | None = None) -> Matcher:
    """A matcher for `selector`; with `supported` (see supported_fields), any other field is an error."""
    if not selector:
        return lambda _obj: True
    reqs: list[Matcher] = []
    for term in _split_top_level(selector):
        if "!=" in term:
            path, val = (x.strip() for x in term.split("!=", 1))
            equal = False
        elif "=" in term:
            path, val = (x.strip() for x in term.replace("==", "=").split("=", 1))
            equal = True
        else:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{term}'")
        if supported is not None and path not in supported[0]:
            raise SelectorError(supported[1].format(label=path))
        reqs.append(_field_req(path, val, equal))
    return lambda obj: all(r(obj) for r in reqs)
