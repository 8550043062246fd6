"""Discovery and OpenAPI documents, derived from the resource registry.

Serves `/version`, legacy discovery (`/api`, `/api/v1`, `/apis`, `/apis/G`,
`/apis/G/V`) and OpenAPI v3 (`/openapi/v3`, `/openapi/v3/<gv>`). kubectl and helm
need the OpenAPI v3 documents to list every PATCH operation with its
`x-kubernetes-group-version-kind` and a `fieldValidation` query parameter: that is
how they learn the server validates fields itself, and without it they fall back
to downloading OpenAPI v2 (which kubesim does not serve) and fail. Component
schemas: custom resources' from their CRD, built-in kinds' from the Kubernetes 1.37
schemas (schemas.builtin_components), so `kubectl explain` works for both.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import schemas as kindschemas
from .resources import Registry, ResourceType

SERVER_VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_SUB_VERBS = ["get", "patch", "update"]


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    }


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": vs, "preferredVersion": vs[0]}


def api_group_list(reg: Registry) -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(g, vs) for g, vs in sorted(reg.groups().items())],
    }


def api_group(reg: Registry, group: str) -> dict[str, Any] | None:
    vs = reg.groups().get(group)
    if not vs:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, vs)}


def resource_list(reg: Registry, group: str, version: str) -> dict[str, Any] | None:
    rts = reg.in_group_version(group, version)
    if not rts:
        return None
    resources: list[dict[str, Any]] = []
    for rt in sorted(rts, key=lambda r: r.plural):
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for sub in sorted(rt.subresources):
            kind = "Scale" if sub == "scale" else rt.kind
            sub_entry: dict[str, Any] = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind,
                "verbs": ["update"] if sub == "finalize" else _SUB_VERBS,
            }
            if sub == "scale":
                sub_entry["group"], sub_entry["version"] = "autoscaling", "v1"
            if sub == "log":  # pods/log: read-only text (podlogs.py)
                sub_entry["verbs"] = ["get"]
            if sub == "token":  # serviceaccounts/token under enforcement: the TokenRequest API
                sub_entry.update(kind="TokenRequest", group="authentication.k8s.io", version="v1")
                sub_entry["verbs"] = ["create"]
            resources.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


# -- OpenAPI v3 --------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else "api/v1"


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _schema_name(rt: ResourceType) -> str:
    rev = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{rev}.{rt.version}.{rt.kind}"


def _op(rt: ResourceType, action: str, op_id: str, params: list[str]) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "parameters": [_param(p) for p in params],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
    }


def _rt_paths(rt: ResourceType) -> dict[str, Any]:
    base = "/" + _gv_path(rt.group, rt.version)
    coll = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    tag = f"{rt.group.replace('.', '_')}{rt.version}{rt.kind}"
    write = ["dryRun", "fieldManager", "fieldValidation"]
    paths: dict[str, Any] = {
        coll: {
            "get": _op(
                rt, "list", f"list{tag}", ["labelSelector", "fieldSelector", "watch", "resourceVersion"]
            ),
            "post": _op(rt, "post", f"create{tag}", write),
            "delete": _op(rt, "deletecollection", f"deletecollection{tag}", ["dryRun"]),
        },
        f"{coll}/{{name}}": {
            "get": _op(rt, "get", f"read{tag}", []),
            "put": _op(rt, "put", f"replace{tag}", write),
            "patch": _op(rt, "patch", f"patch{tag}", [*write, "force"]),
            "delete": _op(rt, "delete", f"delete{tag}", ["dryRun"]),
        },
    }
    for sub in sorted(rt.subresources):
        if sub in ("status", "scale"):
            paths[f"{coll}/{{name}}/{sub}"] = {
                "get": _op(rt, "get", f"read{tag}{sub.title()}", []),
                "put": _op(rt, "put", f"replace{tag}{sub.title()}", write),
                "patch": _op(rt, "patch", f"patch{tag}{sub.title()}", [*write, "force"]),
            }
    return paths


def openapi_gv_doc(reg: Registry, group: str, version: str) -> dict[str, Any] | None:
    rts = reg.in_group_version(group, version)
    if not rts:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in rts:
        paths.update(_rt_paths(rt))
        if rt.schema is not None:
            schema = dict(rt.schema)
            schema["x-kubernetes-group-version-kind"] = [
                {"group": rt.group, "version": rt.version, "kind": rt.kind}
            ]
            schemas[_schema_name(rt)] = schema
        else:
            schemas.update(kindschemas.builtin_components(rt.group, rt.version, rt.kind))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kubesim)", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_root(reg: Registry) -> dict[str, Any]:
    gvs = sorted({(rt.group, rt.version) for rt in reg})
    out: dict[str, Any] = {}
    for g, v in gvs:
        doc = openapi_gv_doc(reg, g, v)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        out[_gv_path(g, v)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={digest}"}
    return {"paths": out}
