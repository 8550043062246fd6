"""RBAC, pure: who may do what, decided as kube-apiserver's RBAC authorizer decides it.

Owns the request attributes (`Attributes`, and `request_info`, which derives them from a
request as the apiserver's RequestInfoFactory does: list/watch/deletecollection, a name
from a `metadata.name` field selector, namespace and subresource), rule matching
(verbs, API groups, `*/subresource`, resourceNames, nonResourceURLs with a trailing `*`),
subject matching (User, Group, ServiceAccount), the authorizer's decision and reason
(`RBAC: allowed by ...`, missing roles), the 403 message the apiserver writes, the
escalation check (`covers` and the "attempting to grant RBAC permissions not currently
held" message) and ClusterRole aggregation. Nothing here touches the store: callers hand
in a `Policy` snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Rule = Mapping[str, Any]

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
RBAC_GROUP = "rbac.authorization.k8s.io"
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def service_account_user(namespace: str, name: str, uid: str = "") -> UserInfo:
    """The identity of a ServiceAccount token: its username and fixed groups."""
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED)
    return UserInfo(f"{SA_PREFIX}{namespace}:{name}", groups, uid)


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) of a `system:serviceaccount:NS:NAME` username, else None."""
    if not username.startswith(SA_PREFIX):
        return None
    ns, sep, name = username[len(SA_PREFIX) :].partition(":")
    return (ns, name) if sep and ns and name and ":" not in name else None


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do (authorizer.Attributes)."""

    user: UserInfo
    verb: str
    resource_request: bool = True
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""


_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


def request_info(user: UserInfo, method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """The attributes of an HTTP request, as the apiserver's RequestInfoFactory resolves them."""
    parts = [p for p in path.strip("/").split("/") if p]
    nonresource = Attributes(user, method.lower(), resource_request=False, path=path)
    if not parts or parts[0] not in ("api", "apis"):
        return nonresource
    rest = parts[1:]
    group = ""
    if parts[0] == "apis":
        if len(rest) < 3:
            return nonresource
        group, rest = rest[0], rest[1:]
    elif len(rest) < 2:
        return nonresource
    version, rest = rest[0], rest[1:]
    verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if not name and verb == "get":
        watch = query.get("watch")
        verb = "watch" if watch is not None and watch.lower() not in ("false", "0") else "list"
        name = _name_from_field_selector(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, True, group, version, namespace, resource, subresource, name, path)


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and key.strip() == "metadata.name" and "!" not in key:
                return value.strip()
    return ""


# -- rule matching (rbac/v1 helpers) -------------------------------------------------------------
def _list(rule: Rule, key: str) -> list[str]:
    return [str(x) for x in rule.get(key) or ()]


def rule_allows(a: Attributes, rule: Rule) -> bool:
    verbs = _list(rule, "verbs")
    if "*" not in verbs and a.verb not in verbs:
        return False
    if not a.resource_request:
        return any(
            u == "*" or u == a.path or (u.endswith("*") and a.path.startswith(u.rstrip("*")))
            for u in _list(rule, "nonResourceURLs")
        )
    groups = _list(rule, "apiGroups")
    if "*" not in groups and a.api_group not in groups:
        return False
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    if not any(
        r in ("*", combined) or (a.subresource and r == f"*/{a.subresource}")
        for r in _list(rule, "resources")
    ):
        return False
    names = _list(rule, "resourceNames")
    return not names or a.name in names


def subject_matches(subject: Rule, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return bool(ns) and user.name == f"{SA_PREFIX}{ns}:{name}"
    return False


def _describe_subject(subject: Rule, binding_namespace: str) -> str:
    name = subject.get("name", "")
    if subject.get("kind") == "ServiceAccount":
        name = f"{name}/{subject.get('namespace') or binding_namespace}"
    return f"{subject.get('kind')} {go_quote(name)}"


def go_quote(s: str) -> str:
    """Go's %q of a string (ASCII)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def go_quote_list(items: Iterable[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(go_quote(s) for s in items) + "]"


# -- the policy and the rule resolver ----------------------------------------------------------------
@dataclass
class Policy:
    """A snapshot of the four RBAC kinds (objects as stored)."""

    roles: dict[tuple[str, str], Obj] = field(default_factory=dict)  # (namespace, name)
    cluster_roles: dict[str, Obj] = field(default_factory=dict)
    role_bindings: list[Obj] = field(default_factory=list)
    cluster_role_bindings: list[Obj] = field(default_factory=list)

    def role_ref_rules(self, role_ref: Rule, namespace: str) -> tuple[list[Rule], str]:
        """The rules a roleRef names, or an error text (the role does not exist)."""
        name = str(role_ref.get("name", ""))
        if role_ref.get("kind") == "ClusterRole":
            cr = self.cluster_roles.get(name)
            if cr is None:
                return [], f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
            return list(cr.get("rules") or []), ""
        role = self.roles.get((namespace, name))
        if role is None:
            return [], f'role.rbac.authorization.k8s.io "{name}" not found'
        return list(role.get("rules") or []), ""


def visit_rules(policy: Policy, user: UserInfo, namespace: str) -> Iterator[tuple[str, Rule | None, str]]:
    """(source, rule, error) for every rule granted to the user in the namespace ("" = cluster):
    ClusterRoleBindings first, then the namespace's RoleBindings, each by name."""
    for crb in sorted(policy.cluster_role_bindings, key=lambda b: b["metadata"]["name"]):
        yield from _binding_rules(policy, user, crb, "")
    if not namespace:
        return
    bindings = [b for b in policy.role_bindings if b["metadata"].get("namespace") == namespace]
    for rb in sorted(bindings, key=lambda b: b["metadata"]["name"]):
        yield from _binding_rules(policy, user, rb, namespace)


def _binding_rules(
    policy: Policy, user: UserInfo, binding: Rule, namespace: str
) -> Iterator[tuple[str, Rule | None, str]]:
    """The rules one binding grants the user (its first matching subject), with the source the
    authorizer names; `namespace` is the RoleBinding's, "" for a ClusterRoleBinding."""
    for subject in binding.get("subjects") or ():
        if not subject_matches(subject, user, namespace):
            continue
        ref = binding.get("roleRef") or {}
        rules, err = policy.role_ref_rules(ref, namespace)
        if err:
            yield "", None, err
        kind, name = (
            ("RoleBinding", f"{binding['metadata']['name']}/{namespace}")
            if namespace
            else ("ClusterRoleBinding", binding["metadata"]["name"])
        )
        source = (
            f"{kind} {go_quote(name)} of {ref.get('kind')} "
            f"{go_quote(str(ref.get('name')))} to {_describe_subject(subject, namespace)}"
        )
        for rule in rules:
            yield source, rule, ""
        break


def rules_for(policy: Policy, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
    rules: list[Rule] = []
    errors: list[str] = []
    for _source, rule, err in visit_rules(policy, user, namespace):
        if rule is not None:
            rules.append(rule)
        if err:
            errors.append(err)
    return rules, errors


def aggregate_errors(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def authorize(policy: Policy, a: Attributes) -> tuple[bool, str]:
    """(allowed, reason): system:masters first (the privileged-group authorizer), then RBAC."""
    if MASTERS in a.user.groups:
        return True, ""
    errors: list[str] = []
    for source, rule, err in visit_rules(policy, a.user, a.namespace if a.resource_request else ""):
        if rule is not None and rule_allows(a, rule):
            return True, f"RBAC: allowed by {source}"
        if err:
            errors.append(err)
    return False, f"RBAC: {aggregate_errors(errors)}" if errors else ""


# -- the 403 ---------------------------------------------------------------------------------------
def forbidden_message(a: Attributes, reason: str = "") -> str:
    """The apiserver's message (responsewriters.Forbidden and apierrors.NewForbidden)."""
    user = go_quote(a.user.name)
    if not a.resource_request:
        msg = f"User {user} cannot {a.verb} path {go_quote(a.path)}"
    else:
        resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        msg = (
            f"User {user} cannot {a.verb} resource {go_quote(resource)} in API group {go_quote(a.api_group)}"
        )
        msg += f" in the namespace {go_quote(a.namespace)}" if a.namespace else " at the cluster scope"
    if reason:
        msg = f"{msg}: {reason}"
    return forbidden_prefix(a.api_group, a.resource if a.resource_request else "", a.name) + msg


def forbidden_prefix(group: str, resource: str, name: str) -> str:
    if not resource:
        return "forbidden: "
    gr = f"{resource}.{group}" if group else resource
    return f"{gr} {go_quote(name)} is forbidden: " if name else f"{gr} is forbidden: "


def forbidden_status(group: str, resource: str, name: str, message: str) -> Obj:
    """The Status body of a 403; `details` as Go's omitempty writes it."""
    details = {k: v for k, v in (("name", name), ("group", group), ("kind", resource)) if v}
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
        "reason": "Forbidden", "details": details, "code": 403,
    }  # fmt: skip


# -- escalation (policy_comparator.go, rule.go) -----------------------------------------------------------
def breakdown(rule: Rule) -> list[Obj]:
    out: list[Obj] = []
    names = _list(rule, "resourceNames")
    for g in _list(rule, "apiGroups"):
        for r in _list(rule, "resources"):
            for v in _list(rule, "verbs"):
                base = {"apiGroups": [g], "resources": [r], "verbs": [v]}
                out.extend([{**base, "resourceNames": [n]} for n in names] if names else [base])
    for u in _list(rule, "nonResourceURLs"):
        for v in _list(rule, "verbs"):
            out.append({"nonResourceURLs": [u], "verbs": [v]})
    return out


def _resources_cover(owner: list[str], servant: list[str]) -> bool:
    if "*" in owner or all(s in owner for s in servant):
        return True
    return all(s in owner or ("/" in s and f"*/{s.split('/', 1)[1]}" in owner) for s in servant)


def _urls_cover(owner: list[str], servant: list[str]) -> bool:
    return all(
        any(o == s or (o.endswith("*") and s.startswith(o.rstrip("*"))) for o in owner) for s in servant
    )


def rule_covers(owner: Rule, sub: Rule) -> bool:
    ov, og, on = _list(owner, "verbs"), _list(owner, "apiGroups"), _list(owner, "resourceNames")
    sn = _list(sub, "resourceNames")
    return (
        ("*" in ov or all(v in ov for v in _list(sub, "verbs")))
        and ("*" in og or all(g in og for g in _list(sub, "apiGroups")))
        and _resources_cover(_list(owner, "resources"), _list(sub, "resources"))
        and _urls_cover(_list(owner, "nonResourceURLs"), _list(sub, "nonResourceURLs"))
        and (not on or (bool(sn) and all(n in on for n in sn)))
    )


def uncovered(owner: list[Rule], wanted: Iterable[Rule]) -> list[Obj]:
    """The broken-down rules of `wanted` that no rule of `owner` covers."""
    return [sub for rule in wanted for sub in breakdown(rule) if not any(rule_covers(o, sub) for o in owner)]


def compact_string(rule: Rule) -> str:
    keys = ("apiGroups", "resources", "nonResourceURLs", "resourceNames", "verbs")
    labels = ("APIGroups", "Resources", "NonResourceURLs", "ResourceNames", "Verbs")
    parts = [
        f"{label}:{go_quote_list(_list(rule, k))}"
        for k, label in zip(keys, labels, strict=True)
        if rule.get(k)
    ]
    return "{" + ", ".join(parts) + "}"


def compact(rules: list[Obj]) -> list[Obj]:
    """CompactRules: simple rules (one group, one resource, at most one name) merge their verbs."""
    simple: dict[tuple[str, str, tuple[str, ...]], Obj] = {}
    out: list[Obj] = []
    for r in rules:
        g, res, names = _list(r, "apiGroups"), _list(r, "resources"), _list(r, "resourceNames")
        if len(g) == 1 and len(res) == 1 and len(names) <= 1 and not r.get("nonResourceURLs"):
            key = (g[0], res[0], tuple(names))
            if key in simple:
                simple[key]["verbs"] = _list(simple[key], "verbs") + _list(r, "verbs")
            else:
                simple[key] = dict(r)
        else:
            out.append(r)
    return out + list(simple.values())


def escalation_message(user: UserInfo, missing: list[Obj], errors: list[str]) -> str:
    lines = sorted({compact_string(r) for r in compact(missing)})
    msg = (
        f"user {go_quote(user.name)} (groups={go_quote_list(user.groups)}) is attempting to grant RBAC "
        "permissions not currently held:\n" + "\n".join(lines)
    )
    if errors:
        msg += f"; resolution errors: [{' '.join(errors)}]"
    return msg


FULL_AUTHORITY: tuple[Rule, ...] = (
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
)


# -- aggregation (the clusterrole-aggregation controller) ----------------------------------------------------
def selector_matches(selector: Rule, labels: Mapping[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or ())
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def aggregated_rules(role: Obj, cluster_roles: Mapping[str, Obj]) -> list[Rule] | None:
    """The rules an aggregated ClusterRole should hold (None: it has no aggregationRule)."""
    agg = role.get("aggregationRule")
    if not isinstance(agg, dict):
        return None
    me = role["metadata"]["name"]
    rules: list[Rule] = []
    for selector in agg.get("clusterRoleSelectors") or ():
        for name in sorted(cluster_roles):
            other = cluster_roles[name]
            if name == me or not selector_matches(selector, other["metadata"].get("labels") or {}):
                continue
            for rule in other.get("rules") or ():
                if rule not in rules:
                    rules.append(rule)
    return rules
