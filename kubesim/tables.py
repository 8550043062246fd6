"""Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get`.

kubectl asks for a Table; the server picks the columns. Custom resources use their
CRD's `additionalPrinterColumns` (JSONPath subset: `.a.b`, `[N]`, `[*]`,
`[?(@.k=="v")]`, with `priority`); a handful of built-in kinds get the columns
kubectl users know (Events their own list, Deployments their `-o wide` columns);
everything else gets Name and Age. Watches send a one-row Table per event when
kubectl asks for Tables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from . import pods
from .resources import ResourceType

Obj = dict[str, Any]


def wants_metadata(accept: str) -> bool:
    """`Accept: ...;as=PartialObjectMetadata[List];g=meta.k8s.io`: metadata-only reads."""
    return "as=PartialObjectMetadata" in accept


def partial(obj: Obj) -> Obj:
    return {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": obj.get("metadata") or {},
    }


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_duration(seconds: float) -> str:
    """The short ages kubectl prints (apimachinery's HumanDuration)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m, h, d = s // 60, s // 3600, s // 86400
    if m < 10:
        return _two_units(m, "m", s % 60, "s")
    if m < 180:
        return f"{m}m"
    if h < 8:
        return _two_units(h, "h", m % 60, "m")
    if h < 48:
        return f"{h}h"
    if d < 8:
        return _two_units(d, "d", h % 24, "h")
    if d < 730:
        return f"{d}d"
    return f"{d // 365}y"


def _two_units(n: int, unit: str, rest: int, rest_unit: str) -> str:
    """`5m3s`, or `5m` when the smaller unit is 0."""
    return f"{n}{unit}{rest}{rest_unit}" if rest else f"{n}{unit}"


def age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    try:
        t = dt.datetime.fromisoformat(ts)  # RFC 3339, with or without fractions ("Z" or an offset)
    except ValueError:
        return "<invalid>"
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return human_duration((dt.datetime.now(dt.UTC) - t).total_seconds())


_TOKEN = re.compile(
    r"\.([A-Za-z0-9_\-]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]"
)


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset CRD printer columns use; returns every match."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    cur = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for c in cur:
            if m.group(1) is not None:
                if isinstance(c, dict) and m.group(1) in c:
                    nxt.append(c[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(c, list):
                    if m.group(2) == "*":
                        nxt.extend(c)
                    elif int(m.group(2)) < len(c):
                        nxt.append(c[int(m.group(2))])
            else:
                key, want = m.group(3), m.group(4)
                if isinstance(c, list):
                    for item in c:
                        val: Any = item
                        for k in key.split("."):
                            val = val.get(k) if isinstance(val, dict) else None
                        if val is not None and str(val) == want:
                            nxt.append(item)
        cur = nxt
    return cur


def _cell(value: list[Any], typ: str) -> Any:
    if not value:
        return None
    v = value[0]
    if typ == "date":
        return age(v) if isinstance(v, str) else None
    if isinstance(v, (dict, list)):
        import json

        return json.dumps(v)
    return v


# (name, type, cell function[, priority]): priority 1 columns show only with `-o wide`.
Column = tuple[str, str, Callable[[Obj], Any]] | tuple[str, str, Callable[[Obj], Any], int]


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _svc_ports(o: Obj) -> str:
    ports = _spec(o).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _svc_external_ip(o: Obj) -> str:
    """As kube-apiserver prints it: the load balancer's addresses, `<pending>` while it has none."""
    ips = [
        i.get("ip") or i.get("hostname") for i in (_status(o).get("loadBalancer") or {}).get("ingress") or []
    ]
    ips += _spec(o).get("externalIPs") or []
    if ips:
        return ",".join(str(i) for i in ips)
    return "<pending>" if _spec(o).get("type") == "LoadBalancer" else "<none>"


def _node_status(o: Obj) -> str:
    ready = [c for c in _status(o).get("conditions") or [] if c.get("type") == "Ready"]
    status = "Ready" if ready and ready[0].get("status") == "True" else "NotReady" if ready else "Unknown"
    return status + (",SchedulingDisabled" if _spec(o).get("unschedulable") else "")


def _node_roles(o: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in _meta(o).get("labels") or {} if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _job_status(o: Obj) -> str:
    for c in _status(o).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return "Complete" if c["type"] == "Complete" else "Failed"
    return "Running"


def _containers(o: Obj) -> list[Obj]:
    return ((_spec(o).get("template") or {}).get("spec") or {}).get("containers") or []


def _selector(o: Obj) -> str:
    sel = _spec(o).get("selector") or {}
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    return ",".join(terms) or "<none>"


_WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", lambda o: ",".join(c.get("name", "") for c in _containers(o)), 1),
    ("Images", "string", lambda o: ",".join(c.get("image", "") for c in _containers(o)), 1),
    ("Selector", "string", _selector, 1),
]


def _event_time(o: Obj, *fields: str) -> str:
    for f in fields:
        if o.get(f):
            return age(o[f])
    return "<unknown>"


def _event_ref(o: Obj) -> Obj:
    """What an Event is about: core v1 `involvedObject`, events.k8s.io/v1 `regarding`."""
    return o.get("involvedObject") or o.get("regarding") or {}


def _event_object(o: Obj) -> str:
    ref = _event_ref(o)
    kind = str(ref.get("kind", "")).lower()
    return f"{kind}/{ref['name']}" if ref.get("name") else kind


def _event_source(o: Obj) -> str:
    src = o.get("source") or o.get("deprecatedSource") or {}
    comp = src.get("component") or o.get("reportingController") or o.get("reportingComponent") or ""
    host = src.get("host") or o.get("reportingInstance") or ""
    return f"{comp}, {host}" if comp and host else comp or host


def _event_columns() -> list[Column]:
    first = ("firstTimestamp", "deprecatedFirstTimestamp", "eventTime")
    last = ("lastTimestamp", "deprecatedLastTimestamp", *first)
    return [
        (
            "Last Seen",
            "string",
            lambda o: (
                _event_time(o.get("series") or {}, "lastObservedTime")
                if o.get("series")
                else _event_time(o, *last)
            ),
            0,
        ),
        ("Type", "string", lambda o: o.get("type", ""), 0),
        ("Reason", "string", lambda o: o.get("reason", ""), 0),
        ("Object", "string", _event_object, 0),
        ("Subobject", "string", lambda o: _event_ref(o).get("fieldPath", ""), 1),
        ("Source", "string", _event_source, 1),
        ("Message", "string", lambda o: str(o.get("message") or o.get("note") or "").strip(), 0),
        ("First Seen", "string", lambda o: _event_time(o, *first), 1),
        (
            "Count",
            "integer",
            lambda o: (o.get("series") or {}).get("count") or o.get("count") or o.get("deprecatedCount") or 1,
            1,
        ),
        ("Name", "string", lambda o: _meta(o).get("name"), 1),
    ]


# Kinds printed with their own full column list (no leading Name, no trailing Age), as kube-apiserver does.
_OWN: dict[str, list[Column]] = {"Event": _event_columns()}

_BUILTIN: dict[str, list[Column]] = {
    "Deployment": [
        ("Ready", "string", lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}"),
        ("Up-to-date", "integer", lambda o: _status(o).get("updatedReplicas", 0)),
        ("Available", "integer", lambda o: _status(o).get("availableReplicas", 0)),
    ],
    "ReplicaSet": [
        ("Desired", "integer", lambda o: _spec(o).get("replicas", 1)),
        ("Current", "integer", lambda o: _status(o).get("replicas", 0)),
        ("Ready", "integer", lambda o: _status(o).get("readyReplicas", 0)),
    ],
    "Service": [
        ("Type", "string", lambda o: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", "string", lambda o: _spec(o).get("clusterIP", "<none>")),
        ("External-IP", "string", _svc_external_ip),
        ("Port(s)", "string", _svc_ports),
    ],
    "Node": [
        ("Status", "string", _node_status),
        ("Roles", "string", _node_roles),
    ],
    "Secret": [
        ("Type", "string", lambda o: o.get("type", "Opaque")),
        ("Data", "integer", lambda o: len(o.get("data") or {})),
    ],
    "ConfigMap": [("Data", "integer", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}))],
    "Namespace": [("Status", "string", lambda o: _status(o).get("phase", "Active"))],
    "Job": [
        ("Status", "string", _job_status),
        (
            "Completions",
            "string",
            lambda o: f"{_status(o).get('succeeded', 0)}/{_spec(o).get('completions', 1)}",
        ),
    ],
    "Pod": [*pods.COLUMNS],  # READY, STATUS (the waiting reason), RESTARTS as the pod printer
    "Lease": [("Holder", "string", lambda o: _spec(o).get("holderIdentity", ""))],
}
# Wide (-o wide) columns come after Age, as in kube-apiserver's printers.
_WIDE: dict[str, list[Column]] = {
    "Deployment": _WORKLOAD_WIDE, "ReplicaSet": _WORKLOAD_WIDE, "Pod": [*pods.WIDE]
}  # fmt: skip


def _printer_cell(path: str, typ: str) -> Callable[[Obj], Any]:
    """The cell function of one CRD printer column."""
    return lambda o: _cell(jsonpath(o, path), typ)


def table(
    rt: ResourceType, items: list[Obj], rv: int, include_object: str | None = None, headers: bool = True
) -> Obj:
    """The Table kubectl prints. include_object: the `includeObject` query (None|Metadata|Object);
    headers=False leaves out the column definitions (later events of a watch)."""
    cols: list[Column] = [("Name", "string", lambda o: _meta(o).get("name"))]
    if rt.printer_columns:
        for pc in rt.printer_columns:
            path, typ = pc.get("jsonPath", ""), pc.get("type", "string")
            cols.append((pc.get("name", ""), typ, _printer_cell(path, typ), int(pc.get("priority", 0))))
    elif rt.kind in _OWN:
        cols = list(_OWN[rt.kind])
    else:
        cols.extend(_BUILTIN.get(rt.kind, []))
        cols.append(("Age", "string", lambda o: age(_meta(o).get("creationTimestamp"))))
        cols.extend(_WIDE.get(rt.kind, []))
    defs = [
        {
            "name": c[0],
            "type": "string" if c[1] == "date" else c[1],
            "description": "",
            "format": "name" if c[0] == "Name" else "",
            "priority": c[3] if len(c) > 3 else 0,
        }
        for c in cols
    ]
    rows = []
    for o in items:
        row: Obj = {"cells": [c[2](o) for c in cols]}
        if include_object == "Object":
            row["object"] = o
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": _meta(o),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(rv)},
        "columnDefinitions": defs if headers else [],
        "rows": rows,
    }
