"""The review APIs, pure: what SubjectAccessReview, SelfSubjectAccessReview,
LocalSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview answer.

Each takes the request body, the identity asking and a `Policy` snapshot, and returns
the object the apiserver writes back (201): the spec echoed, the status computed by
the same authorizer that guards every request.
"""

from __future__ import annotations

from typing import Any

from . import rbac
from .rbac import Attributes, Policy, UserInfo
from .store import ApiError

Obj = dict[str, Any]
AUTHZ = "authorization.k8s.io"
AUTHN = "authentication.k8s.io"
KINDS = {
    "subjectaccessreviews": "SubjectAccessReview",
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "localsubjectaccessreviews": "LocalSubjectAccessReview",
    "selfsubjectrulesreviews": "SelfSubjectRulesReview",
    "selfsubjectreviews": "SelfSubjectReview",
}


def _invalid(kind: str, group: str, field: str, detail: str) -> ApiError:
    return ApiError(422, "Invalid", f'{kind}.{group} "" is invalid: {field}: {detail}')


def _attributes(kind: str, spec: Obj, user: UserInfo) -> Attributes:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(ra) == bool(nra):
        raise _invalid(
            kind, AUTHZ, "spec.resourceAttributes",
            'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
            "must be specified",
        )  # fmt: skip
    if ra:
        return Attributes(
            user, ra.get("verb", ""), True, ra.get("group", ""), ra.get("version", ""),
            ra.get("namespace", ""), ra.get("resource", ""), ra.get("subresource", ""), ra.get("name", ""),
        )  # fmt: skip
    nra = nra or {}
    return Attributes(user, nra.get("verb", ""), resource_request=False, path=nra.get("path", ""))


def _review_user(kind: str, spec: Obj, requester: UserInfo) -> UserInfo:
    if kind in ("SelfSubjectAccessReview",):
        return requester
    if not spec.get("user") and not spec.get("groups"):
        raise _invalid(
            kind, AUTHZ, "spec.user", 'Invalid value: "": at least one of user or group must be specified'
        )
    extra = {k: tuple(v) for k, v in (spec.get("extra") or {}).items()}
    return UserInfo(spec.get("user", ""), tuple(spec.get("groups") or ()), spec.get("uid", ""), extra)


def access_review(resource: str, body: Obj, requester: UserInfo, path_namespace: str, policy: Policy) -> Obj:
    kind = KINDS[resource]
    spec = dict(body.get("spec") or {})
    attrs = _attributes(kind, spec, _review_user(kind, spec, requester))
    if kind == "LocalSubjectAccessReview" and (
        not attrs.resource_request or attrs.namespace != path_namespace
    ):
        raise _invalid(
            kind, AUTHZ, "spec.resourceAttributes.namespace",
            f'Invalid value: "{attrs.namespace}": must match metadata.namespace',
        )  # fmt: skip
    allowed, reason = rbac.authorize(policy, attrs)
    status: Obj = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    meta: Obj = {"creationTimestamp": None}
    if path_namespace:
        meta["namespace"] = path_namespace
    return {"kind": kind, "apiVersion": f"{AUTHZ}/v1", "metadata": meta, "spec": spec, "status": status}


def rules_review(body: Obj, requester: UserInfo, policy: Policy) -> Obj:
    spec = dict(body.get("spec") or {})
    namespace = spec.get("namespace", "")
    rules, errors = rbac.rules_for(policy, requester, namespace)
    resource_rules, nonresource_rules = [], []
    for r in rules:
        if r.get("resources"):
            rr = {"verbs": list(r.get("verbs") or []), "apiGroups": list(r.get("apiGroups") or []),
                  "resources": list(r["resources"])}  # fmt: skip
            if r.get("resourceNames"):
                rr["resourceNames"] = list(r["resourceNames"])
            resource_rules.append(rr)
        if r.get("nonResourceURLs"):
            nonresource_rules.append(
                {"verbs": list(r.get("verbs") or []), "nonResourceURLs": list(r["nonResourceURLs"])}
            )
    status: Obj = {
        "resourceRules": resource_rules,
        "nonResourceRules": nonresource_rules,
        "incomplete": bool(errors),
    }
    if errors:
        status["evaluationError"] = rbac.aggregate_errors(errors)
    return {
        "kind": "SelfSubjectRulesReview", "apiVersion": f"{AUTHZ}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec, "status": status,
    }  # fmt: skip


def self_subject_review(user: UserInfo) -> Obj:
    info: Obj = {"username": user.name, "groups": list(user.groups)}
    if user.uid:
        info["uid"] = user.uid
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return {
        "kind": "SelfSubjectReview", "apiVersion": f"{AUTHN}/v1", "metadata": {"creationTimestamp": None},
        "status": {"userInfo": info},
    }  # fmt: skip
