"""kubesim authentication and RBAC, driven by the real kubectl and helm (issue 13, step 1).

An enforcing kubesim (`KubeSim(rbac=True)`) answers `kubectl auth can-i` as the RBAC
rules of the Kubernetes documentation say (verbs, wildcards, resourceNames,
subresources, namespaced and cluster bindings, a RoleBinding to a ClusterRole, groups,
ServiceAccounts, aggregated ClusterRoles, nonResourceURLs); refuses with the API
server's own 401 and 403; mints ServiceAccount tokens through the TokenRequest API;
checks impersonation; and refuses RBAC escalation unless the writer holds
`escalate`/`bind`. helm installs what a namespace Role allows and shows the 403 for
what it does not.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from tests.conftest import Cli, _env, tool

WEBAPP = str(Path(__file__).resolve().parent.parent / "charts" / "webapp")

# The RBAC examples of the Kubernetes documentation (Using RBAC Authorization), bound to test users.
POLICY = """
apiVersion: v1
kind: Namespace
metadata: {name: development}
---
apiVersion: v1
kind: Namespace
metadata: {name: qa}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {namespace: default, name: pod-reader}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods, namespace: default}
subjects:
- {kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "watch", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-secrets, namespace: development}
subjects:
- {kind: User, name: dave, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: ClusterRole, name: secret-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: read-secrets-global}
subjects:
- {kind: Group, name: manager, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: ClusterRole, name: secret-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {namespace: default, name: configmap-updater}
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  resourceNames: ["my-configmap"]
  verbs: ["update", "get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: carol-configmap, namespace: default}
subjects: [{kind: User, name: carol}]
roleRef: {kind: Role, name: configmap-updater, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-and-pod-logs-reader}
rules:
- apiGroups: [""]
  resources: ["pods", "pods/log"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scaler}
rules:
- apiGroups: ["*"]
  resources: ["*/scale"]
  verbs: ["update", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: healthz-reader}
rules:
- nonResourceURLs: ["/healthz", "/healthz/*"]
  verbs: ["get", "post"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring-endpoints
  labels: {rbac.example.com/aggregate-to-monitoring: "true"}
rules:
- apiGroups: [""]
  resources: ["services", "endpoints", "pods"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader-everything}
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: qa-serviceaccounts, namespace: qa}
subjects: [{kind: Group, name: "system:serviceaccounts:qa", apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: pod-and-pod-logs-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: kim-view, namespace: default}
subjects: [{kind: User, name: kim}]
roleRef: {kind: ClusterRole, name: view, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lee-edit, namespace: default}
subjects: [{kind: User, name: lee}]
roleRef: {kind: ClusterRole, name: edit, apiGroup: rbac.authorization.k8s.io}
"""


def _crb(name: str, role: str, subject: str) -> str:
    kind, _, who = subject.partition(":")
    return yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "subjects": [{"kind": kind, "name": who, "apiGroup": "rbac.authorization.k8s.io"}],
        "roleRef": {"kind": "ClusterRole", "name": role, "apiGroup": "rbac.authorization.k8s.io"},
    })  # fmt: skip


CLUSTER_BINDINGS = [
    _crb("erin-logs", "pod-and-pod-logs-reader", "User:erin"),
    _crb("frank-scale", "scaler", "User:frank"),
    _crb("gina-healthz", "healthz-reader", "User:gina"),
    _crb("monitors", "monitoring", "Group:monitors"),
    _crb("ivy-reads", "reader-everything", "User:ivy"),
]


@pytest.fixture(scope="module")
def policy_kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """kubectl as admin of one enforcing kubesim holding POLICY, shared by the can-i table."""
    tmp = tmp_path_factory.mktemp("rbac-policy")
    sim = KubeSim(bookmark_interval=1.0, rbac=True)
    sim.start()
    sim.write_kubeconfig(tmp / "kubeconfig")
    kubectl = Cli(tool("kubectl"), _env(tmp, sim))
    kubectl("apply", "-f", "-", input=POLICY + "---\n" + "---\n".join(CLUSTER_BINDINGS))
    yield kubectl
    sim.stop()


# (who: --as and --as-group flags, the can-i arguments, the answer); each row checked against the docs' rules.
CAN_I: list[tuple[list[str], list[str], str]] = [
    (["--as=jane"], ["get", "pods", "-n", "default"], "yes"),  # Role pod-reader via RoleBinding
    (["--as=jane"], ["list", "pods", "-n", "default"], "yes"),
    (["--as=jane"], ["watch", "pods", "-n", "default"], "yes"),
    (["--as=jane"], ["delete", "pods", "-n", "default"], "no"),  # verb not in the Role
    (["--as=jane"], ["get", "pods", "-n", "development"], "no"),  # a Role grants only in its namespace
    (["--as=jane"], ["get", "secrets", "-n", "default"], "no"),
    (["--as=dave"], ["get", "secrets", "-n", "development"], "yes"),  # RoleBinding to a ClusterRole
    (["--as=dave"], ["get", "secrets", "-n", "default"], "no"),  # ... only in the RoleBinding's namespace
    (["--as=dave"], ["list", "secrets", "--all-namespaces"], "no"),
    (
        ["--as=bob", "--as-group=manager"],
        ["list", "secrets", "--all-namespaces"],
        "yes",
    ),  # ClusterRoleBinding
    (["--as=bob", "--as-group=manager"], ["get", "secrets", "-n", "qa"], "yes"),  # to a group
    (["--as=bob"], ["get", "secrets", "-n", "qa"], "no"),  # not in the group
    (["--as=carol"], ["update", "configmaps/my-configmap", "-n", "default"], "yes"),  # resourceNames
    (["--as=carol"], ["update", "configmaps/other", "-n", "default"], "no"),
    (["--as=carol"], ["list", "configmaps", "-n", "default"], "no"),  # no list with resourceNames
    (["--as=erin"], ["get", "pods", "--subresource=log", "-n", "qa"], "yes"),  # pods/log
    (["--as=erin"], ["get", "pods", "--subresource=exec", "-n", "qa"], "no"),
    (["--as=frank"], ["update", "deployments.apps", "--subresource=scale", "-n", "qa"], "yes"),  # */scale
    (["--as=frank"], ["patch", "statefulsets.apps", "--subresource=scale", "-n", "qa"], "yes"),
    (["--as=frank"], ["update", "deployments.apps", "-n", "qa"], "no"),
    (["--as=gina"], ["get", "/healthz"], "yes"),  # nonResourceURLs
    (["--as=gina"], ["post", "/healthz/ping"], "yes"),  # trailing *
    (["--as=gina"], ["get", "/metrics"], "no"),
    (["--as=nobody"], ["get", "/version"], "yes"),  # system:discovery for system:authenticated
    (["--as=nobody"], ["get", "/apis/apps/v1"], "yes"),
    (["--as=nobody"], ["create", "selfsubjectaccessreviews.authorization.k8s.io"], "yes"),  # basic-user
    (["--as=hank", "--as-group=monitors"], ["list", "services", "-n", "qa"], "yes"),  # aggregated
    (["--as=hank", "--as-group=monitors"], ["delete", "services", "-n", "qa"], "no"),
    (["--as=ivy"], ["get", "deployments.apps", "-n", "qa"], "yes"),  # apiGroups/resources *
    (["--as=ivy"], ["get", "nodes"], "yes"),
    (["--as=ivy"], ["delete", "nodes"], "no"),
    (["--as=system:serviceaccount:qa:ci"], ["get", "pods", "-n", "qa"], "yes"),  # system:serviceaccounts:qa
    (["--as=system:serviceaccount:prod:ci"], ["get", "pods", "-n", "qa"], "no"),
    (["--as=kim"], ["get", "deployments.apps", "-n", "default"], "yes"),  # view
    (["--as=kim"], ["get", "secrets", "-n", "default"], "no"),  # view excludes secrets
    (["--as=kim"], ["create", "deployments.apps", "-n", "default"], "no"),
    (["--as=lee"], ["create", "deployments.apps", "-n", "default"], "yes"),  # edit (aggregates view)
    (["--as=lee"], ["get", "pods", "-n", "default"], "yes"),
    (["--as=lee"], ["create", "rolebindings.rbac.authorization.k8s.io", "-n", "default"], "no"),  # admin only
    ([], ["*", "*", "--all-namespaces"], "yes"),  # the admin kubeconfig: system:masters
]


@pytest.mark.parametrize(
    ("who", "question", "answer"), CAN_I, ids=lambda v: " ".join(v) if isinstance(v, list) else v
)
def test_can_i(policy_kubectl: Cli, who: list[str], question: list[str], answer: str) -> None:
    proc = policy_kubectl.run("auth", "can-i", *question, *who, check=False)
    assert proc.stdout.strip() == answer, proc.stderr
    assert proc.returncode == (0 if answer == "yes" else 1)


def test_aggregated_cluster_role_is_filled_and_follows_new_roles(policy_kubectl: Cli) -> None:
    kubectl = policy_kubectl
    role = json.loads(kubectl("get", "clusterrole", "monitoring", "-o", "json"))
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["services", "endpoints", "pods"], "verbs": ["get", "list", "watch"]}
    ]
    kubectl(
        "apply",
        "-f",
        "-",
        input=textwrap.dedent("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: monitoring-jobs
          labels: {rbac.example.com/aggregate-to-monitoring: "true"}
        rules:
        - apiGroups: ["batch"]
          resources: ["jobs"]
          verbs: ["get"]
    """),
    )
    assert (
        kubectl.run("auth", "can-i", "get", "jobs.batch", "--as=hank", "--as-group=monitors").stdout
        == "yes\n"
    )
    # The bootstrap admin role gathers edit, which gathers view: the controller fills them all.
    admin_rules = json.loads(kubectl("get", "clusterrole", "admin", "-o", "json"))["rules"]
    assert any("secrets" in r["resources"] and "create" in r["verbs"] for r in admin_rules)  # from edit
    assert any("pods/log" in r["resources"] for r in admin_rules)  # from view, through edit


def test_can_i_list_and_whoami(as_user: Callable[..., Cli], rbac_admin: Cli) -> None:
    rbac_admin("create", "namespace", "team-a")
    rbac_admin(
        "create", "rolebinding", "alice-pods", "--clusterrole=pod-reader-x", "--user=alice", "-n", "team-a"
    )
    rbac_admin("create", "clusterrole", "pod-reader-x", "--verb=get,list", "--resource=pods")
    alice = as_user("alice", ("developers",))
    who = json.loads(alice("auth", "whoami", "-o", "json"))
    assert who["status"]["userInfo"] == {
        "username": "alice",
        "groups": ["developers", "system:authenticated"],
    }
    listing = alice("auth", "can-i", "--list", "-n", "team-a")
    rows = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert "[get list]" in rows["pods"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    assert any(line.split()[0] == "[/version]" for line in listing.splitlines()[1:] if line.split())


# -- the API server's refusals -----------------------------------------------------------------------------
def _raw(sim: KubeSim, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
    ctx = ssl.create_default_context(cadata=base64.b64decode(sim._ca_data()).decode())
    req = urllib.request.Request(
        sim.url + path, headers={"Authorization": f"Bearer {token}"} if token else {}
    )
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _post(sim: KubeSim, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ctx = ssl.create_default_context(cadata=base64.b64decode(sim._ca_data()).decode())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    req = urllib.request.Request(sim.url + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_subject_access_reviews(rbac_sim: KubeSim, rbac_admin: Cli) -> None:
    rbac_admin("create", "namespace", "team-a")
    rbac_admin("create", "rolebinding", "qa-view", "--clusterrole=view", "--group=qa", "-n", "team-a")
    admin = rbac_sim.authn.add_user("root", ["system:masters"])
    spec = {
        "user": "jo",
        "groups": ["qa"],
        "resourceAttributes": {
            "namespace": "team-a",
            "verb": "list",
            "group": "apps",
            "resource": "deployments",
        },
    }
    code, review = _post(
        rbac_sim,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        admin,
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
    )
    assert code == 201
    assert review["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "qa-view/team-a" of ClusterRole "view" to Group "qa"',
    }
    local = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "LocalSubjectAccessReview",
        "metadata": {"namespace": "team-a"},
        "spec": {**spec, "groups": []},
    }
    code, review = _post(
        rbac_sim, "/apis/authorization.k8s.io/v1/namespaces/team-a/localsubjectaccessreviews", admin, local
    )
    assert (code, review["status"]) == (201, {"allowed": False})
    # Asking about others needs create on subjectaccessreviews, which a tenant does not hold.
    jo = rbac_sim.authn.add_user("jo", ["qa"])
    code, refused = _post(
        rbac_sim,
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        jo,
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
    )
    assert (code, refused["message"]) == (
        403,
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "jo" cannot create resource '
        '"subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
    )  # fmt: skip


def test_forbidden_messages_through_kubectl_and_on_the_wire(
    rbac_sim: KubeSim, as_user: Callable[..., Cli]
) -> None:
    alice = as_user("alice")
    cases = [
        (("get", "pod", "web", "-n", "team-a"),
         'pods "web" is forbidden: User "alice" cannot get resource "pods" in API group "" '
         'in the namespace "team-a"'),
        (("get", "pods", "-n", "team-a"),
         'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
         'in the namespace "team-a"'),
        (("get", "nodes"),
         'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" '
         "at the cluster scope"),
        (("get", "deployments.apps", "-n", "team-a", "--field-selector=metadata.name=web"),
         'deployments.apps "web" is forbidden: User "alice" cannot list resource "deployments" in API group '
         '"apps" in the namespace "team-a"'),
        (("get", "--raw", "/metrics"), 'forbidden: User "alice" cannot get path "/metrics"'),
    ]  # fmt: skip
    for args, message in cases:
        proc = alice.run(*args, check=False)
        assert proc.returncode == 1
        assert f"Error from server (Forbidden): {message}" in proc.stderr, proc.stderr

    token = rbac_sim.authn.add_user("alice")
    code, body = _raw(rbac_sim, "/api/v1/namespaces/team-a/pods/web", token)
    assert code == 403
    assert body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": cases[0][1], "reason": "Forbidden", "details": {"name": "web", "kind": "pods"},
        "code": 403,
    }  # fmt: skip
    code, body = _raw(rbac_sim, "/apis/apps/v1/deployments", token)
    assert body["details"] == {"group": "apps", "kind": "deployments"}
    code, body = _raw(rbac_sim, "/metrics", token)
    assert (code, body["details"]) == (403, {})


def test_missing_role_is_named_in_the_refusal(rbac_admin: Cli, as_user: Callable[..., Cli]) -> None:
    rbac_admin(
        "create", "rolebinding", "dangling", "--clusterrole=not-there", "--user=alice", "-n", "default"
    )
    proc = as_user("alice").run("get", "configmaps", "-n", "default", check=False)
    assert (
        'configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" '
        "in the namespace "
        '"default": RBAC: clusterrole.rbac.authorization.k8s.io "not-there" not found'
    ) in proc.stderr


def test_unauthorized_without_or_with_a_bad_token(rbac_sim: KubeSim, rbac_admin: Cli, tmp_path: Path) -> None:
    proc = rbac_admin.run("get", "pods", "--token=not-a-token", check=False)
    assert proc.returncode == 1
    assert "error: You must be logged in to the server" in proc.stderr, proc.stderr
    for token in (None, "not-a-token"):
        code, body = _raw(rbac_sim, "/api/v1/namespaces", token)
        assert (code, body) == (
            401,
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": "Unauthorized", "reason": "Unauthorized", "code": 401},
        )  # fmt: skip


def test_the_default_kubesim_still_lets_everything_through(kubectl: Cli) -> None:
    assert kubectl("get", "pods", "--token=anything", "-o", "name") == ""
    assert kubectl.run("auth", "can-i", "get", "pods", check=False).stdout.strip() != "no"


# -- ServiceAccount tokens ------------------------------------------------------------------------------
def _kubeconfig_with_token(sim: KubeSim, path: Path, token: str) -> Path:
    cfg = yaml.safe_load(Path(str(sim.kubeconfig_path)).read_text())
    cfg["users"][0]["user"]["token"] = token
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_token_request_mints_a_service_account_identity(
    rbac_sim: KubeSim, rbac_admin: Cli, tmp_path: Path
) -> None:
    rbac_admin("create", "namespace", "team-a")
    rbac_admin("create", "serviceaccount", "deployer", "-n", "team-a")
    rbac_admin("create", "rolebinding", "deployer-edit", "--clusterrole=edit",
               "--serviceaccount=team-a:deployer", "-n", "team-a")  # fmt: skip
    token = rbac_admin("create", "token", "deployer", "-n", "team-a", "--duration=20m").strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == "system:serviceaccount:team-a:deployer"
    assert claims["exp"] - claims["iat"] == 1200
    sa = Cli(
        rbac_admin.binary,
        {**rbac_admin.env, "KUBECONFIG": str(_kubeconfig_with_token(rbac_sim, tmp_path / "sa", token))},
    )
    who = json.loads(sa("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert who["username"] == "system:serviceaccount:team-a:deployer"
    assert who["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:team-a",
        "system:authenticated",
    ]
    sa("create", "configmap", "made-by-sa", "-n", "team-a")
    proc = sa.run("get", "configmaps", "-n", "default", check=False)
    assert (
        'configmaps is forbidden: User "system:serviceaccount:team-a:deployer" cannot list resource '
        '"configmaps" '
        'in API group "" in the namespace "default"'
    ) in proc.stderr
    short = rbac_admin.run("create", "token", "deployer", "-n", "team-a", "--duration=1m", check=False)
    assert "may not specify a duration less than 10 minutes" in short.stderr
    # The token dies with its ServiceAccount.
    rbac_admin("delete", "serviceaccount", "deployer", "-n", "team-a")
    assert "Unauthorized" in sa.run("get", "configmaps", "-n", "team-a", check=False).stderr
    missing = rbac_admin.run("create", "token", "deployer", "-n", "team-a", check=False)
    assert 'serviceaccounts "deployer" not found' in missing.stderr


# -- impersonation ------------------------------------------------------------------------------------------
IMPERSONATOR = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-bob}
rules:
- apiGroups: [""]
  resources: ["users"]
  resourceNames: ["bob"]
  verbs: ["impersonate"]
- apiGroups: [""]
  resources: ["groups"]
  resourceNames: ["readers"]
  verbs: ["impersonate"]
"""


def test_impersonation_needs_the_impersonate_verb(rbac_admin: Cli, as_user: Callable[..., Cli]) -> None:
    rbac_admin(
        "apply",
        "-f",
        "-",
        input=IMPERSONATOR + "---\n" + _crb("alice-impersonates", "impersonate-bob", "User:alice"),
    )
    rbac_admin("create", "clusterrolebinding", "readers-view", "--clusterrole=view", "--group=readers")
    alice = as_user("alice")
    # Allowed: alice acts as bob, who may do nothing but discovery, and is refused in his own name.
    proc = alice.run("get", "pods", "-n", "default", "--as=bob", check=False)
    assert 'pods is forbidden: User "bob" cannot list resource "pods"' in proc.stderr
    assert alice("auth", "whoami", "--as=bob", "-o", "jsonpath={.status.userInfo.username}") == "bob"
    assert alice("get", "pods", "-n", "default", "--as=bob", "--as-group=readers", "-o", "name") == ""
    # Refused: another user, another group, a ServiceAccount.
    refusals = [
        (["--as=carol"],
         'users "carol" is forbidden: User "alice" cannot impersonate resource "users" in API group "" '
         "at the cluster scope"),
        (["--as=bob", "--as-group=system:masters"],
         'groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups" '
         'in API group "" at the cluster scope'),
        (["--as=system:serviceaccount:kube-system:default"],
         'serviceaccounts "default" is forbidden: User "alice" cannot impersonate resource '
         '"serviceaccounts" in API group "" in the namespace "kube-system"'),
    ]  # fmt: skip
    for flags, message in refusals:
        proc = alice.run("get", "pods", "-n", "default", *flags, check=False)
        assert f"Error from server (Forbidden): {message}" in proc.stderr, proc.stderr


# -- escalation prevention ----------------------------------------------------------------------------------
PV_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pv-reader, namespace: team-a}
rules:
- apiGroups: [""]
  resources: ["persistentvolumes", "configmaps"]
  verbs: ["get", "list"]
"""
ADMIN_BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-cluster-admin, namespace: team-a}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}
"""


def test_escalation_needs_escalate_or_bind(rbac_admin: Cli, as_user: Callable[..., Cli]) -> None:
    rbac_admin("create", "namespace", "team-a")
    rbac_admin("create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice", "-n", "team-a")
    alice = as_user("alice")
    # Within what she holds: allowed.
    alice("create", "role", "cm-reader", "--verb=get", "--resource=configmaps", "-n", "team-a")
    alice("create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob", "-n", "team-a")
    # More than she holds: refused, naming what is missing.
    proc = alice.run("apply", "-f", "-", input=PV_ROLE, check=False)
    assert (
        'roles.rbac.authorization.k8s.io "pv-reader" is forbidden: user "alice" '
        '(groups=["system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["persistentvolumes"], Verbs:["get" "list"]}'
    ) in proc.stderr, proc.stderr
    proc = alice.run("apply", "-f", "-", input=ADMIN_BINDING, check=False)
    assert (
        'rolebindings.rbac.authorization.k8s.io "alice-cluster-admin" is forbidden: user "alice" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
    ) in proc.stderr, proc.stderr
    # escalate on roles and bind on the one ClusterRole lift each refusal.
    rbac_admin("create", "role", "escalator", "--verb=escalate", "--resource=roles.rbac.authorization.k8s.io",
               "-n", "team-a")  # fmt: skip
    rbac_admin("create", "rolebinding", "alice-escalates", "--role=escalator", "--user=alice", "-n", "team-a")
    alice("apply", "-f", "-", input=PV_ROLE)
    rbac_admin("create", "clusterrole", "bind-cluster-admin", "--verb=bind",
               "--resource=clusterroles.rbac.authorization.k8s.io",
               "--resource-name=cluster-admin")  # fmt: skip
    rbac_admin(
        "create",
        "rolebinding",
        "alice-binds",
        "--clusterrole=bind-cluster-admin",
        "--user=alice",
        "-n",
        "team-a",
    )
    alice("apply", "-f", "-", input=ADMIN_BINDING)
    assert alice("auth", "can-i", "delete", "secrets", "-n", "team-a").strip() == "yes"
    assert (
        alice.run("auth", "can-i", "delete", "secrets", "-n", "default", check=False).stdout.strip() == "no"
    )


# -- helm ---------------------------------------------------------------------------------------------------
def _cluster_scoped_chart(tmp_path: Path) -> Path:
    chart = tmp_path / "grabby"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: grabby\nversion: 0.1.0\n")
    (chart / "templates" / "crb.yaml").write_text(_crb("grab-cluster-admin", "cluster-admin", "User:alice"))
    return chart


def _team(rbac_admin: Cli) -> None:
    for ns in ("team-a", "team-b"):
        rbac_admin("create", "namespace", ns)
    rbac_admin("create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", "team-a")


def test_helm_installs_what_a_namespace_role_allows(
    rbac_admin: Cli, as_user: Callable[..., Cli], tmp_path: Path
) -> None:
    _team(rbac_admin)
    helm = as_user("alice", binary="helm")
    out = helm("install", "web", WEBAPP, "-n", "team-a")
    assert "STATUS: deployed" in out
    assert rbac_admin("get", "deployment", "web", "-n", "team-a", "-o", "name") == "deployment.apps/web\n"

    other = helm.run("install", "web", WEBAPP, "-n", "team-b", check=False)
    assert other.returncode != 0
    assert 'is forbidden: User "alice" cannot' in other.stderr and 'in the namespace "team-b"' in other.stderr
    assert rbac_admin("get", "all", "-n", "team-b", "-o", "name") == ""

    grab = helm.run("install", "grabby", str(_cluster_scoped_chart(tmp_path)), "-n", "team-a", check=False)
    assert grab.returncode != 0
    assert "clusterrolebindings.rbac.authorization.k8s.io" in grab.stderr
    assert 'is forbidden: User "alice" cannot' in grab.stderr and "at the cluster scope" in grab.stderr
    assert rbac_admin.run("get", "clusterrolebinding", "grab-cluster-admin", check=False).returncode == 1


def test_helm_kube_as_user(
    rbac_sim: KubeSim, rbac_admin: Cli, as_user: Callable[..., Cli], tmp_path: Path
) -> None:
    _team(rbac_admin)
    admin_helm = Cli(tool("helm"), _env(tmp_path, rbac_sim), major=4)
    assert "STATUS: deployed" in admin_helm(
        "install", "web", WEBAPP, "-n", "team-a", "--kube-as-user", "alice"
    )
    refused = admin_helm.run("install", "web", WEBAPP, "-n", "team-b", "--kube-as-user", "alice", check=False)
    assert (
        'is forbidden: User "alice" cannot' in refused.stderr
        and 'in the namespace "team-b"' in refused.stderr
    )
    # Without the impersonate verb, --kube-as-user is itself refused: helm's first call (GET /version)
    # gets the 403, which client-go's discovery reports as "unknown", as against a real API server.
    bob = as_user("bob", binary="helm")
    proc = bob.run("list", "-n", "team-a", "--kube-as-user", "alice", check=False)
    assert proc.returncode == 1 and "kubernetes cluster unreachable" in proc.stderr, proc.stderr
    refusals = [e for e in rbac_sim.requests.entries() if e.path == "/version" and e.status == 403]
    assert refusals and all(e.user_agent.startswith("Helm/") for e in refusals)


def test_python_m_kubesim_rbac(tmp_path: Path) -> None:
    """`python -m kubesim --rbac`: an HTTPS server whose kubeconfig is the admin."""
    cfg = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "--rbac", "--kubeconfig-out", str(cfg)],
        stdout=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parents[2]),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("https://127.0.0.1:")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(cfg)}
        kubectl = Cli(tool("kubectl"), env)
        assert kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == "kubesim-admin"
    finally:
        proc.terminate()
        proc.wait(10)
