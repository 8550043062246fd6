"""Authorization enforcement: the glue between the HTTP layer, the store and the pure RBAC rules.

When a KubeSim is built with `rbac=True`, an `Enforcer` is installed: it registers the
review APIs and the `serviceaccounts/token` subresource, creates the bootstrap policy,
keeps aggregated ClusterRoles filled (the clusterrole-aggregation controller), and gates
every API request as kube-apiserver's filter chain does: authenticate (401), impersonate
(403 on the `impersonate` check), authorize (403 in the apiserver's words), then serve
the virtual APIs (access and rules reviews, SelfSubjectReview, TokenReview,
TokenRequest). Writes of Roles, ClusterRoles and bindings go through `GuardedStore`,
which refuses an escalation unless the writer holds `escalate`/`bind`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import datetime as dt
import json
from typing import Any

from aiohttp import web

from . import authproto, protobuf, rbac, rbacbootstrap, reviews
from .authn import ISSUER, Authenticator, ImpersonationError, impersonation
from .rbac import Attributes, Policy, UserInfo
from .resources import Registry, ResourceType, _rt
from .store import ApiError, Change, Obj, Store

# The identity and attributes of the request being served (set by the gate, read by GuardedStore).
CURRENT: contextvars.ContextVar[tuple[UserInfo, Attributes] | None] = contextvars.ContextVar(
    "kubesim_request_identity", default=None
)


def _review(gv: str, kind: str, namespaced: bool = False) -> ResourceType:
    return _rt(gv, kind, kind.lower() + "s", namespaced, sub=(), verbs=("create",))


REVIEW_TYPES: tuple[ResourceType, ...] = (
    _review("authorization.k8s.io/v1", "SubjectAccessReview"),
    _review("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    _review("authorization.k8s.io/v1", "LocalSubjectAccessReview", namespaced=True),
    _review("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    _review("authentication.k8s.io/v1", "TokenReview"),
    _review("authentication.k8s.io/v1", "SelfSubjectReview"),
)
UNAUTHORIZED = {
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
    "reason": "Unauthorized", "code": 401,
}  # fmt: skip


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(), status=status, content_type="application/json"
    )


def _forbidden(a: Attributes, reason: str) -> web.Response:
    resource = a.resource if a.resource_request else ""
    return _json(rbac.forbidden_status(a.api_group, resource, a.name, rbac.forbidden_message(a, reason)), 403)


def _forbidden_error(rt: ResourceType, name: str, message: str) -> ApiError:
    details = {"name": name, "group": rt.group, "kind": rt.plural}
    return ApiError(403, "Forbidden", rbac.forbidden_prefix(rt.group, rt.plural, name) + message, details)


async def _body(request: web.Request) -> Obj:
    raw = await request.read()
    try:
        if request.headers.get("Content-Type", "").startswith(protobuf.PROTOBUF_CONTENT_TYPE):
            return authproto.decode(raw)
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, protobuf.ProtobufError) as e:
        raise ApiError(400, "BadRequest", f"error decoding body: {e}") from e
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be an object")
    return body


class Enforcer:
    def __init__(self, registry: Registry, store: Store, authn: Authenticator) -> None:
        self.registry, self.store, self.authn = registry, store, authn
        self._policy: Policy | None = None
        self._aggregating = False
        for rt in REVIEW_TYPES:
            registry.add(rt)
        sa = self._rt("", "serviceaccounts")
        registry.add(dataclasses.replace(sa, subresources=sa.subresources | {"token"}))
        store.listeners.append(self._on_change)
        for role in rbacbootstrap.cluster_roles():
            store.create(self._rt(rbac.RBAC_GROUP, "clusterroles"), "", role)
        for binding in rbacbootstrap.cluster_role_bindings():
            store.create(self._rt(rbac.RBAC_GROUP, "clusterrolebindings"), "", binding)

    def _rt(self, group: str, plural: str) -> ResourceType:
        rt = self.registry.get(group, "v1", plural)
        assert rt is not None
        return rt

    # -- the policy snapshot and the aggregation controller ------------------------------------------
    def policy(self) -> Policy:
        if self._policy is None:
            g, s = rbac.RBAC_GROUP, self.store
            self._policy = Policy(
                roles={
                    (o["metadata"]["namespace"], o["metadata"]["name"]): o
                    for o in s.list(self._rt(g, "roles"))
                },
                cluster_roles={o["metadata"]["name"]: o for o in s.list(self._rt(g, "clusterroles"))},
                role_bindings=s.list(self._rt(g, "rolebindings")),
                cluster_role_bindings=s.list(self._rt(g, "clusterrolebindings")),
            )
        return self._policy

    def _on_change(self, ch: Change) -> None:
        if ch.rt.group != rbac.RBAC_GROUP:
            return
        self._policy = None
        if ch.rt.plural == "clusterroles" and not self._aggregating:
            self._aggregating = True
            try:
                asyncio.get_running_loop().call_soon(self._aggregate)
            except RuntimeError:  # no loop yet (bootstrap)
                self._aggregate()

    def _aggregate(self) -> None:
        """Fill every aggregated ClusterRole from the ClusterRoles its selectors match, to a fixed point."""
        rt = self._rt(rbac.RBAC_GROUP, "clusterroles")
        try:
            for _ in range(10):
                roles = {o["metadata"]["name"]: o for o in self.store.list(rt)}
                changed = False
                for name, role in roles.items():
                    want = rbac.aggregated_rules(role, roles)
                    if want is not None and want != (role.get("rules") or []):
                        roles[name] = self.store.update(rt, "", name, {**role, "rules": want})
                        changed = True
                if not changed:
                    break
        finally:
            self._aggregating = False

    # -- the request gate --------------------------------------------------------------------------
    def _sa_uid(self, namespace: str, name: str) -> str | None:
        sa = self.store.peek(self._rt("", "serviceaccounts"), namespace, name)
        return None if sa is None else str(sa["metadata"].get("uid", ""))

    async def gate(self, request: web.Request) -> web.StreamResponse | None:
        """None: serve the request as usual; else the response (401, 403, 400, or a virtual API's)."""
        user = self.authn.authenticate(request.headers.get("Authorization"), self._sa_uid)
        if user is None:
            return _json(UNAUTHORIZED, 401)
        headers = {k.lower(): request.headers.getall(k) for k in set(request.headers.keys())}
        try:
            imp = impersonation(user, headers)
        except ImpersonationError as e:
            return _json(ApiError(400, "BadRequest", str(e)).status(), 400)
        policy = self.policy()
        if imp is not None:
            for check in imp.checks:
                allowed, reason = rbac.authorize(policy, check)
                if not allowed:
                    return _forbidden(check, reason)
            user = imp.user
        attrs = rbac.request_info(user, request.method, request.path, request.query)
        allowed, reason = rbac.authorize(policy, attrs)
        if not allowed:
            return _forbidden(attrs, reason)
        CURRENT.set((user, attrs))
        try:
            return await self._virtual(request, attrs)
        except ApiError as e:
            return _json(e.status(), e.code)

    async def _virtual(self, request: web.Request, a: Attributes) -> web.StreamResponse | None:
        """The APIs with no storage behind them; None for every other request."""
        review = a.api_group in (reviews.AUTHZ, reviews.AUTHN) and a.resource in (
            *reviews.KINDS,
            "tokenreviews",
        )
        token = a.api_group == "" and a.resource == "serviceaccounts" and a.subresource == "token"
        if (
            not (a.resource_request and (review or token))
            or self.registry.get(a.api_group, a.api_version, a.resource) is None
        ):
            return None
        if a.verb != "create":
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        body = await _body(request)
        if token:
            return _json(self._token_request(a, body), 201)
        if a.resource == "selfsubjectreviews":
            return _json(reviews.self_subject_review(a.user), 201)
        if a.resource == "tokenreviews":
            return _json(self._token_review(body), 201)
        if a.resource == "selfsubjectrulesreviews":
            return _json(reviews.rules_review(body, a.user, self.policy()), 201)
        return _json(reviews.access_review(a.resource, body, a.user, a.namespace, self.policy()), 201)

    def _token_request(self, a: Attributes, body: Obj) -> Obj:
        sa = self.store.get(self._rt("", "serviceaccounts"), a.namespace, a.name)
        spec = dict(body.get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise ApiError(
                422, "Invalid",
                f'TokenRequest.authentication.k8s.io "{a.name}" is invalid: spec.expirationSeconds: '
                f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
            )  # fmt: skip
        audiences = list(spec.get("audiences") or [ISSUER])
        token, exp = self.authn.mint_service_account_token(
            a.namespace, a.name, sa["metadata"]["uid"], seconds, audiences
        )
        expires = dt.datetime.fromtimestamp(exp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": a.name, "namespace": a.namespace, "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": seconds,
                     "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": expires},
        }  # fmt: skip

    def _token_review(self, body: Obj) -> Obj:
        spec = dict(body.get("spec") or {})
        user = self.authn.authenticate(f"Bearer {spec.get('token', '')}", self._sa_uid)
        status: Obj = {"authenticated": user is not None, "user": {}}
        if user is not None:
            status["user"] = {"username": user.name, "uid": user.uid, "groups": list(user.groups)}
            status["audiences"] = list(spec.get("audiences") or [ISSUER])
        spec.pop("token", None)
        return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": spec, "status": status}  # fmt: skip

    # -- escalation prevention ---------------------------------------------------------------------
    def check_write(self, rt: ResourceType, ns: str, obj: Obj) -> None:
        """Refuse a Role/ClusterRole or binding that grants more than its writer holds (403)."""
        current = CURRENT.get()
        if current is None or rt.group != rbac.RBAC_GROUP:
            return
        user, a = current
        if rbac.MASTERS in user.groups:
            return
        policy = self.policy()
        name = str((obj.get("metadata") or {}).get("name", ""))
        if rt.plural in ("roles", "clusterroles"):
            escalate = Attributes(
                user, "escalate", True, rbac.RBAC_GROUP, "*", a.namespace, a.resource, "", a.name
            )
            if rbac.authorize(policy, escalate)[0]:
                return
            owner, errors = rbac.rules_for(policy, user, ns)
            if missing := rbac.uncovered(owner, obj.get("rules") or []):
                raise _forbidden_error(rt, name, rbac.escalation_message(user, missing, errors))
            if obj.get("aggregationRule") and rbac.uncovered(owner, rbac.FULL_AUTHORITY):
                raise _forbidden_error(
                    rt, name, "must have cluster-admin privileges to use the aggregationRule"
                )
            return
        ref = obj.get("roleRef") or {}
        role_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        bind = Attributes(
            user,
            "bind",
            True,
            str(ref.get("apiGroup", "")),
            "",
            ns,
            role_resource,
            "",
            str(ref.get("name", "")),
        )
        if rbac.authorize(policy, bind)[0]:
            return
        rules, err = policy.role_ref_rules(ref, ns)
        if err:
            details = {"name": str(ref.get("name", "")), "group": rbac.RBAC_GROUP, "kind": role_resource[:-1]}
            raise ApiError(404, "NotFound", err, details)
        owner, errors = rbac.rules_for(policy, user, ns)
        if missing := rbac.uncovered(owner, rules):
            raise _forbidden_error(rt, name, rbac.escalation_message(user, missing, errors))


class GuardedStore:
    """The store as the HTTP layer sees it under enforcement: RBAC writes are checked for escalation."""

    def __init__(self, store: Store, enforcer: Enforcer) -> None:
        self._store, self._enforcer = store, enforcer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def create(self, rt: ResourceType, ns: str, obj: Obj, *args: Any, **kw: Any) -> Obj:
        self._enforcer.check_write(rt, ns, obj)
        return self._store.create(rt, ns, obj, *args, **kw)

    def update(self, rt: ResourceType, ns: str, name: str, new: Obj, *args: Any, **kw: Any) -> Obj:
        self._enforcer.check_write(rt, ns, new)
        return self._store.update(rt, ns, name, new, *args, **kw)
