"""kubesim.rbac and kubesim.authn, pure: request attributes, rule matching, the authorizer's decision
and reason, the 403 and escalation messages, aggregation and impersonation, as kube-apiserver has them."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim import rbac
from kubesim.authn import Authenticator, ImpersonationError, impersonation
from kubesim.rbac import Attributes, Policy, UserInfo

ALICE = UserInfo("alice", ("devs", "system:authenticated"))


@pytest.mark.parametrize(
    ("method", "path", "query", "want"),
    [
        ("GET", "/api/v1/namespaces/a/pods/web", {}, ("get", "", "a", "pods", "", "web")),
        ("GET", "/api/v1/namespaces/a/pods", {}, ("list", "", "a", "pods", "", "")),
        ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "pods", "", "")),
        ("GET", "/api/v1/namespaces/a/pods", {"fieldSelector": "metadata.name=web"},
         ("list", "", "a", "pods", "", "web")),
        ("GET", "/api/v1/namespaces/a/pods/web/log", {}, ("get", "", "a", "pods", "log", "web")),
        ("POST", "/apis/apps/v1/namespaces/a/deployments", {},
         ("create", "apps", "a", "deployments", "", "")),
        ("PUT", "/apis/apps/v1/namespaces/a/deployments/d/scale", {},
         ("update", "apps", "a", "deployments", "scale", "d")),
        ("PATCH", "/api/v1/nodes/n1", {}, ("patch", "", "", "nodes", "", "n1")),
        ("DELETE", "/api/v1/namespaces/a/secrets", {}, ("deletecollection", "", "a", "secrets", "", "")),
        ("DELETE", "/api/v1/namespaces/a", {}, ("delete", "", "a", "namespaces", "", "a")),
        ("PUT", "/api/v1/namespaces/a/finalize", {}, ("update", "", "a", "namespaces", "finalize", "a")),
        ("POST", "/api/v1/namespaces/a/serviceaccounts/sa/token", {},
         ("create", "", "a", "serviceaccounts", "token", "sa")),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {},
         ("create", "authorization.k8s.io", "", "selfsubjectaccessreviews", "", "")),
    ],
)  # fmt: skip
def test_request_info(method: str, path: str, query: dict[str, str], want: tuple[str, ...]) -> None:
    a = rbac.request_info(ALICE, method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.namespace, a.resource, a.subresource, a.name) == want


@pytest.mark.parametrize(
    "path",
    ["/", "/version", "/healthz", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/openapi/v3"],
)
def test_request_info_non_resource(path: str) -> None:
    a = rbac.request_info(ALICE, "GET", path, {})
    assert (a.resource_request, a.verb, a.path) == (False, "get", path)


def _res(
    verb: str, resource: str, group: str = "", ns: str = "a", sub: str = "", name: str = ""
) -> Attributes:
    return Attributes(ALICE, verb, True, group, "v1", ns, resource, sub, name)


def _url(verb: str, path: str) -> Attributes:
    return Attributes(ALICE, verb, resource_request=False, path=path)


PODS_READ = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
SECRETS_GET = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


@pytest.mark.parametrize(
    ("rule", "attrs", "allowed"),
    [
        (PODS_READ, _res("get", "pods"), True),
        (PODS_READ, _res("delete", "pods"), False),
        (PODS_READ, _res("get", "pods", group="apps"), False),
        (PODS_READ, _res("get", "pods", sub="log"), False),  # a subresource is its own resource
        ({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
         _res("get", "pods", sub="log"), True),
        ({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["update"]},
         _res("update", "deployments", "apps", sub="scale"), True),
        ({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["update"]},
         _res("update", "deployments", "apps"), False),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
         _res("escalate", "roles", rbac.RBAC_GROUP), True),
        ({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"], "verbs": ["get"]},
         _res("get", "configmaps", name="c"), True),
        ({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"], "verbs": ["get"]},
         _res("get", "configmaps", name="d"), False),
        ({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"], "verbs": ["list"]},
         _res("list", "configmaps"), False),
        ({"nonResourceURLs": ["/healthz", "/healthz/*"], "verbs": ["get"]}, _url("get", "/healthz"), True),
        ({"nonResourceURLs": ["/healthz", "/healthz/*"], "verbs": ["get"]},
         _url("get", "/healthz/etcd"), True),
        ({"nonResourceURLs": ["/healthz", "/healthz/*"], "verbs": ["get"]}, _url("get", "/healthzz"), False),
        ({"nonResourceURLs": ["/healthz"], "verbs": ["get"]}, _url("post", "/healthz"), False),
        ({"nonResourceURLs": ["*"], "verbs": ["*"]}, _url("delete", "/anything"), True),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
         _url("get", "/version"), False),  # resources only
    ],
)  # fmt: skip
def test_rule_allows(rule: dict[str, Any], attrs: Attributes, allowed: bool) -> None:
    assert rbac.rule_allows(attrs, rule) is allowed


def _policy() -> Policy:
    return Policy(
        roles={("a", "reader"): {"metadata": {"name": "reader", "namespace": "a"}, "rules": [PODS_READ]}},
        cluster_roles={"secrets": {"metadata": {"name": "secrets"}, "rules": [SECRETS_GET]}},
        role_bindings=[
            {"metadata": {"name": "rb", "namespace": "a"}, "roleRef": {"kind": "Role", "name": "reader"},
             "subjects": [{"kind": "ServiceAccount", "name": "ci"}]},
            {"metadata": {"name": "gone", "namespace": "a"},
             "roleRef": {"kind": "ClusterRole", "name": "missing"},
             "subjects": [{"kind": "User", "name": "alice"}]},
        ],
        cluster_role_bindings=[
            {"metadata": {"name": "devs-secrets"}, "roleRef": {"kind": "ClusterRole", "name": "secrets"},
             "subjects": [{"kind": "Group", "name": "devs"}]},
        ],
    )  # fmt: skip


def test_authorize_reasons() -> None:
    policy = _policy()
    ci = rbac.service_account_user("a", "ci")
    assert rbac.authorize(policy, Attributes(ci, "list", True, "", "v1", "a", "pods")) == (
        True, 'RBAC: allowed by RoleBinding "rb/a" of Role "reader" to ServiceAccount "ci/a"',
    )  # fmt: skip
    assert rbac.authorize(policy, _res("get", "secrets", ns="b")) == (
        True, 'RBAC: allowed by ClusterRoleBinding "devs-secrets" of ClusterRole "secrets" to Group "devs"',
    )  # fmt: skip
    assert rbac.authorize(policy, _res("list", "pods")) == (
        False, 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found',
    )  # fmt: skip
    assert rbac.authorize(policy, Attributes(ci, "list", True, "", "v1", "b", "pods")) == (False, "")
    admin = UserInfo("root", ("system:masters",))
    assert rbac.authorize(Policy(), Attributes(admin, "delete", True, "", "v1", "", "nodes")) == (True, "")


@pytest.mark.parametrize(
    ("attrs", "reason", "message"),
    [
        (_res("get", "pods", name="web"), "",
         'pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" '
         'in the namespace "a"'),
        (_res("list", "deployments", "apps", ns=""), "",
         'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" '
         "at the cluster scope"),
        (_res("get", "pods", sub="log", name="web"), "",
         'pods "web" is forbidden: User "alice" cannot get resource "pods/log" in API group "" '
         'in the namespace "a"'),
        (_url("get", "/metrics"), "", 'forbidden: User "alice" cannot get path "/metrics"'),
        (_res("list", "pods"), 'RBAC: role.rbac.authorization.k8s.io "x" not found',
         'pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "a": '
         'RBAC: role.rbac.authorization.k8s.io "x" not found'),
    ],
)  # fmt: skip
def test_forbidden_message(attrs: Attributes, reason: str, message: str) -> None:
    assert rbac.forbidden_message(attrs, reason) == message


def test_escalation_covers_and_message() -> None:
    owner = [PODS_READ, {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["*"]},
             {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"], "verbs": ["get"]},
             {"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}]  # fmt: skip
    assert rbac.uncovered(owner, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]) == []
    assert (
        rbac.uncovered(
            owner, [{"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]}]
        )
        == []
    )
    assert rbac.uncovered(owner, [{"nonResourceURLs": ["/healthz/etcd"], "verbs": ["get"]}]) == []
    assert rbac.uncovered(owner, [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["c"],
                                   "verbs": ["get"]}]) == []  # fmt: skip
    missing = rbac.uncovered(
        owner,
        [{"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "delete"]},
         {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],  # names were not granted
    )  # fmt: skip
    message = rbac.escalation_message(ALICE, missing, [])
    assert message == (
        'user "alice" (groups=["devs" "system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:[""], Resources:["configmaps"], Verbs:["get"]}\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}'
    )


def test_aggregation_gathers_matching_roles_in_name_order_without_duplicates() -> None:
    label = {"agg": "true"}
    roles = {
        "b": {"metadata": {"name": "b", "labels": label}, "rules": [PODS_READ]},
        "a": {"metadata": {"name": "a", "labels": label},
         "rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]},
        "c": {"metadata": {"name": "c", "labels": label}, "rules": [PODS_READ]},
        "other": {"metadata": {"name": "other"},
         "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]},
        "agg": {"metadata": {"name": "agg", "labels": label},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": label}]}},
    }  # fmt: skip
    assert rbac.aggregated_rules(roles["agg"], roles) == [
        {"verbs": ["get"], "nonResourceURLs": ["/x"]},
        PODS_READ,
    ]
    assert rbac.aggregated_rules(roles["a"], roles) is None


def test_impersonation_checks_and_identity() -> None:
    imp = impersonation(ALICE, {"impersonate-user": ["system:serviceaccount:ns:sa"]})
    assert imp is not None
    assert [(c.resource, c.namespace, c.name) for c in imp.checks] == [("serviceaccounts", "ns", "sa")]
    assert imp.user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated")
    imp = impersonation(
        ALICE, {"impersonate-user": ["bob"], "impersonate-group": ["g1", "g2"], "impersonate-uid": ["u"]}
    )
    assert imp is not None
    assert [(c.api_group, c.resource, c.name) for c in imp.checks] == [
        ("", "users", "bob"), ("", "groups", "g1"),
         ("", "groups", "g2"), ("authentication.k8s.io", "uids", "u"),
    ]  # fmt: skip
    assert imp.user == UserInfo("bob", ("g1", "g2", "system:authenticated"), "u")
    assert impersonation(ALICE, {}) is None
    with pytest.raises(ImpersonationError):
        impersonation(ALICE, {"impersonate-group": ["g"]})


def test_tokens() -> None:
    authn = Authenticator()
    token = authn.add_user("carol", ["qa"])
    assert authn.authenticate(f"Bearer {token}", lambda ns, n: None) == UserInfo(
        "carol", ("qa", "system:authenticated")
    )
    assert authn.authenticate("Bearer nope", lambda ns, n: None) is None
    assert authn.authenticate(None, lambda ns, n: None) is None
    jwt, exp = authn.mint_service_account_token("ns", "sa", "uid-1", 600, ["api"], now=1000.0)
    assert exp == 1600
    assert authn.authenticate(
        f"Bearer {jwt}", lambda ns, n: "uid-1", now=1599.0
    ) == rbac.service_account_user("ns", "sa", "uid-1")
    assert authn.authenticate(f"Bearer {jwt}", lambda ns, n: "uid-1", now=1600.0) is None  # expired
    assert authn.authenticate(f"Bearer {jwt}", lambda ns, n: "uid-2", now=1100.0) is None  # recreated SA
    assert (
        Authenticator().authenticate(f"Bearer {jwt}", lambda ns, n: "uid-1", now=1100.0) is None
    )  # other server
