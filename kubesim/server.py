"""The HTTP layer: routes Kubernetes API paths to storage, patches and watches.

Parses a request path into (resource type, namespace, name, subresource), derives
the Kubernetes verb, records the request, applies injected faults, decodes the
body (JSON, YAML for apply patches, protobuf for core types) and answers JSON, or
a `meta.k8s.io/v1` Table when kubectl asks for one. The admin endpoints under
`/kubesim/` (request log, faults, dropping watches, forcing 410) let tests in
another process drive the same hooks as the in-process `KubeSim` handle.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from . import discovery, gc, limits, managedfields, patch, podlogs, scale, schemas, tables
from .faults import Faults, RequestLog, RequestRecord
from .resources import Registry, ResourceType
from .selectors import SelectorError, parse_field_selector, parse_label_selector, supported_fields
from .store import ApiError, Obj, Store
from .watch import WatchHub

JSON = "application/json"


@dataclass
class Target:
    rt: ResourceType
    namespace: str  # "" = all namespaces (collections) or cluster-scoped
    name: str
    subresource: str


def _checked(t: Target) -> Target:
    """A subresource the kind does not serve (pods/log, configmaps/status ...) is not found."""
    if t.subresource and t.subresource not in t.rt.subresources:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return t


def _key(obj: Obj) -> list[str]:
    """The storage key lists are sorted by: [namespace, name]."""
    meta = obj.get("metadata") or {}
    return [meta.get("namespace", ""), meta.get("name", "")]


def _encode_continue(rv: int, last: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"rv": rv, "start": last}).encode()).decode()


def _decode_continue(token: str) -> tuple[int, list[str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), [str(x) for x in data["start"]]
    except (ValueError, KeyError, TypeError) as e:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {e}") from e


def _json(data: Any, status: int = 200) -> web.Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(body=body, status=status, content_type=JSON)


def _err(e: ApiError) -> web.Response:
    resp = _json(e.status(), e.code)
    return resp


class Server:
    def __init__(
        self, registry: Registry, store: Store, hub: WatchHub, faults: Faults, log: RequestLog
    ) -> None:
        self.registry, self.store, self.hub, self.faults, self.log = registry, store, hub, faults, log
        self.admin: Any = None  # set by KubeSim: handles /kubesim/ admin calls
        self.guard: Any = None  # set by KubeSim(rbac=True): authn/authz gate (enforce.Enforcer.gate)
        self._doc_cache: dict[tuple[tuple[str, ...], int], tuple[bytes, str]] = {}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- routing -----------------------------------------------------------------
    def _resolve(self, parts: list[str]) -> tuple[str, str, list[str]] | None:
        if parts[:2] == ["api", "v1"]:
            return "", "v1", parts[2:]
        if parts[0] == "apis" and len(parts) >= 3:
            return parts[1], parts[2], parts[3:]
        return None

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        def rt_for(plural: str) -> ResourceType:
            rt = self.registry.get(group, version, plural)
            if rt is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return rt

        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and rest[2] in ("status", "finalize"))
        ):
            ns, rt = rest[1], rt_for(rest[2])
            name = rest[3] if len(rest) > 3 else ""
            sub = "/".join(rest[4:])
            if not rt.namespaced:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return _checked(Target(rt, ns, name, sub))
        rt = rt_for(rest[0])
        return _checked(Target(rt, "", rest[1] if len(rest) > 1 else "", "/".join(rest[2:])))

    @staticmethod
    def _verb(method: str, t: Target | None, query: Any) -> str:
        if t is None:
            return method.lower()
        if method == "GET":
            if query.get("watch") in ("true", "1"):
                return "watch"
            return "get" if t.name else "list"
        return {
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if t.name else "deletecollection",
        }.get(method, method.lower())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "kubesim" and self.admin is not None:
            return await self.admin(request, parts[1:])
        target: Target | None = None
        err: ApiError | None = None
        resolved = self._resolve(parts) if parts else None
        if resolved and resolved[2]:
            try:
                target = self._target(*resolved)
            except ApiError as e:
                err = e
        verb = self._verb(request.method, target, request.query)
        rec = RequestRecord(
            ts=time.time(),
            method=request.method,
            path=path,
            query=request.query_string,
            verb=verb,
            resource=(
                f"{target.rt.plural}.{target.rt.group}" if target and target.rt.group else target.rt.plural
            )
            if target
            else "",
            subresource=target.subresource if target else "",
            namespace=target.namespace if target else "",
            name=target.name if target else "",
            user_agent=request.headers.get("User-Agent", ""),
            accept=request.headers.get("Accept", ""),
            content_type=request.headers.get("Content-Type", ""),
        )
        self.log.record(rec)
        if self.guard is not None and (gated := await self.guard(request)) is not None:
            rec.status = gated.status
            return gated
        fault = self.faults.match(rec)
        if fault is not None:
            if fault.latency:
                await asyncio.sleep(fault.latency)
            if fault.status:
                rec.status = fault.status
                resp: web.StreamResponse = _json(
                    ApiError(
                        fault.status, "InternalError" if fault.status >= 500 else "BadRequest", fault.message
                    ).status(),
                    fault.status,
                )
                if fault.retry_after is not None:
                    resp.headers["Retry-After"] = str(fault.retry_after)
                return resp
        try:
            if err is not None:
                raise err
            if target is not None:
                with schemas.request_scope(request.query.get("fieldValidation")) as warnings:
                    resp = await self._resource(request, target, verb)
                for w in warnings if not resp.prepared else ():
                    resp.headers.add("Warning", schemas.warning_header(w))
            else:
                resp = self._non_resource(parts, request)
        except ApiError as e:
            resp = _err(e)
        except SelectorError as e:
            resp = _err(ApiError(400, "BadRequest", str(e)))
        except patch.PatchError as e:
            resp = _err(ApiError(e.code, "Invalid" if e.code == 422 else "BadRequest", str(e)))
        rec.status = resp.status
        return resp

    def _non_resource(self, parts: list[str], request: web.Request) -> web.Response:
        # Discovery and OpenAPI documents change only with the registry (CRDs): every helm process
        # asks for them, so they are built and serialized once per registry generation.
        key = (tuple(parts), self.registry.generation)
        cached = self._doc_cache.get(key)
        if cached is None:
            resp = self._non_resource_uncached(parts, request)
            if resp.status != 200 or not isinstance(resp.body, bytes):
                return resp
            if len(self._doc_cache) > 256:
                self._doc_cache.clear()
            cached = self._doc_cache[key] = (resp.body, resp.content_type)
        return web.Response(body=cached[0], content_type=cached[1])

    def _non_resource_uncached(self, parts: list[str], request: web.Request) -> web.Response:
        reg = self.registry
        if not parts:
            return _json({"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version", "/healthz"]})
        head = parts[0]
        if head == "version":
            return _json(discovery.SERVER_VERSION)
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok")
        if parts == ["api"]:
            return _json(discovery.api_versions())
        if parts == ["apis"]:
            return _json(discovery.api_group_list(reg))
        if head == "api" and len(parts) == 2:
            doc = discovery.resource_list(reg, "", parts[1])
        elif head == "apis" and len(parts) == 2:
            doc = discovery.api_group(reg, parts[1])
        elif head == "apis" and len(parts) == 3:
            doc = discovery.resource_list(reg, parts[1], parts[2])
        elif parts[:2] == ["openapi", "v3"]:
            if len(parts) == 2:
                doc = discovery.openapi_root(reg)
            elif parts[2] == "api":
                doc = discovery.openapi_gv_doc(reg, "", parts[3] if len(parts) > 3 else "v1")
            else:
                doc = discovery.openapi_gv_doc(reg, parts[3], parts[4]) if len(parts) >= 5 else None
        else:
            doc = None
        if doc is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return _json(doc)

    # -- resources -----------------------------------------------------------------
    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        limits.check_body(len(raw))
        ctype = request.headers.get("Content-Type", JSON).split(";")[0].strip()
        if not raw:
            return None
        if ctype == "application/vnd.kubernetes.protobuf":
            from . import protobuf

            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as e:
                raise ApiError(415, "UnsupportedMediaType", f"cannot decode protobuf body: {e}") from e
        try:
            if ctype.endswith("yaml"):
                # Apply bodies are YAML by type and most often JSON by content (helm sends JSON),
                # which json parses far faster than PyYAML; anything else is YAML proper.
                if raw.lstrip().startswith(b"{"):
                    with contextlib.suppress(ValueError):
                        return json.loads(raw)
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise ApiError(400, "BadRequest", f"error decoding body: {e}") from e

    async def _resource(self, request: web.Request, t: Target, verb: str) -> web.StreamResponse:
        q = request.query
        store, rt = self.store, t.rt
        ns = t.namespace
        dry_run = q.get("dryRun") == "All"
        if verb in ("list", "watch", "deletecollection"):
            lab = parse_label_selector(q.get("labelSelector"))
            crd_fields = rt.selectable_fields if rt.crd_name is not None else None
            supported = supported_fields(rt.group, rt.kind, crd_fields)
            fld = parse_field_selector(q.get("fieldSelector"), supported)

            def match(o: Obj) -> bool:
                return lab(o) and fld(o)

            if verb == "watch":
                return await self.hub.serve(request, rt, ns or None, match)
            items = store.list(rt, ns or None, match)
            if verb == "deletecollection":
                fins = gc.deletion_finalizers(q.get("propagationPolicy"), None)
                for it in items:
                    meta = it["metadata"]
                    store.delete(rt, meta.get("namespace", ""), meta["name"], None, dry_run, fins)
            return self._list_response(request, rt, items)
        if verb == "get":
            obj = store.get(rt, ns, t.name)
            if t.subresource == "scale":
                return _json(scale.to_scale(rt, obj))
            if t.subresource == "log":
                return web.Response(text=podlogs.text(obj, q), content_type="text/plain")
            if tables.wants_table(request.headers.get("Accept", "")):
                return _json(tables.table(rt, [obj], store.resource_version, q.get("includeObject")))
            return _json(obj)
        if verb == "create":
            body = await self._body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be an object")
            return _json(store.create(rt, ns, body, dry_run=dry_run, writer=_writer(request, t)), 201)
        if verb == "update":
            body = await self._body(request)
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the request body must be an object")
            if t.subresource == "scale":
                new = scale.from_scale(rt, store.get(rt, ns, t.name), body)
                updated = store.update(rt, ns, t.name, new, dry_run=dry_run, writer=_writer(request, t))
                return _json(scale.to_scale(rt, updated))
            updated = store.update(rt, ns, t.name, body, t.subresource or None, dry_run, _writer(request, t))
            return _json(updated)
        if verb == "patch":
            return await self._patch(request, t, dry_run)
        if verb == "delete":
            body = await self._body(request) or {}
            pre = body.get("preconditions") if isinstance(body, dict) else None
            policy = q.get("propagationPolicy") or (
                body.get("propagationPolicy") if isinstance(body, dict) else None
            )
            orphan = body.get("orphanDependents") if isinstance(body, dict) else None
            fins = gc.deletion_finalizers(policy, orphan)
            if dry_run or (isinstance(body, dict) and "All" in (body.get("dryRun") or [])):
                obj, _ = store.delete(rt, ns, t.name, pre, dry_run=True, finalizers=fins)
                return _json(obj)
            obj, _gone = store.delete(rt, ns, t.name, pre, finalizers=fins)
            return _json(obj)
        raise ApiError(405, "MethodNotAllowed", f"{verb} is not supported")

    def _list_response(self, request: web.Request, rt: ResourceType, items: list[Obj]) -> web.Response:
        q = request.query
        rv = self.store.resource_version
        meta: dict[str, Any] = {}
        limit = int(q.get("limit") or 0)
        if q.get("continue"):
            # Later pages continue after the last key served, as of the first page's resourceVersion.
            rv, after = _decode_continue(q["continue"])
            if rv < self.store.compacted_rv:
                raise ApiError(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter.",
                )
            items = [o for o in items if _key(o) > after]
        if limit and len(items) > limit:
            meta["continue"] = _encode_continue(rv, _key(items[limit - 1]))
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if tables.wants_table(request.headers.get("Accept", "")):
            table = tables.table(rt, items, rv, q.get("includeObject"))
            table["metadata"].update(meta)
            return _json(table)
        meta["resourceVersion"] = str(rv)
        if tables.wants_metadata(request.headers.get("Accept", "")):
            return _json({
                "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "items": [tables.partial(o) for o in items],
            })  # fmt: skip
        return _json({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items})

    async def _patch(self, request: web.Request, t: Target, dry_run: bool) -> web.Response:
        store, rt = self.store, t.rt
        ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
        body = await self._body(request)
        if t.subresource == "scale":
            # The patch applies to the Scale view; only the replica count reaches the object.
            obj = store.get(rt, t.namespace, t.name)
            new_scale = _patched(request, ctype, scale.to_scale(rt, obj), body, scale.GVK, smp=True)
            new = scale.from_scale(rt, obj, new_scale)
            updated = store.update(rt, t.namespace, t.name, new, dry_run=dry_run, writer=_writer(request, t))
            return _json(scale.to_scale(rt, updated))
        sub = t.subresource or None
        if ctype == APPLY and store.peek(rt, t.namespace, t.name) is None:
            obj = _patched(request, ctype, None, body, rt.gvk, smp=False)
            return _json(store.create(rt, t.namespace, obj, dry_run, _writer(request, t, apply=True)), 201)
        current = store.get(rt, t.namespace, t.name)
        new = _patched(request, ctype, current, body, rt.gvk, smp=patch.smp_supported(rt.gvk))
        writer = _writer(request, t, apply=ctype == APPLY)
        return _json(store.update(rt, t.namespace, t.name, new, sub, dry_run=dry_run, writer=writer))


def _writer(request: web.Request, t: Target, apply: bool = False) -> managedfields.Writer:
    """Who the request writes as, for metadata.managedFields."""
    agent = request.headers.get("User-Agent", "")
    manager = managedfields.manager_name(request.query.get("fieldManager"), agent)
    return managedfields.Writer(manager, t.subresource, apply)


APPLY = "application/apply-patch+yaml"


def _patched(
    request: web.Request, ctype: str, current: Obj | None, body: Any, gvk: tuple[str, str, str], smp: bool
) -> Obj:
    """`current` with the patch `body` of media type `ctype` applied (None: apply creates)."""
    if ctype == APPLY:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "apply patch must be an object")
        manager = request.query.get("fieldManager")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: '
                "fieldManager: Required value: is required for apply patch",
            )
        force = request.query.get("force") in ("true", "1")
        applied = patch.apply_patch(current, body, gvk, manager, force)
        conflict = None
        if not force and current is not None:
            conflict = managedfields.apply_conflict(current, applied, gvk, manager)
        if conflict is not None:
            raise ApiError(409, "Conflict", *conflict)
        return applied
    assert current is not None
    if ctype == "application/json-patch+json":
        if not isinstance(body, list):
            raise ApiError(400, "BadRequest", "json patch must be a list of operations")
        new = patch.json_patch(current, body)
    elif ctype == "application/merge-patch+json":
        new = patch.json_merge_patch(current, body)
    elif ctype == "application/strategic-merge-patch+json":
        if not smp:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            )
        new = patch.strategic_merge_patch(current, body or {}, gvk)
    else:
        raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {ctype!r}")
    if not isinstance(new, dict):
        raise ApiError(422, "Invalid", "patch result is not an object")
    return new
