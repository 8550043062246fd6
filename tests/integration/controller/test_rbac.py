"""The RBAC in deploy/ grants every API call the controller itself makes, and no wildcard.

Enforced, not inferred: kubesim authorizes like a real API server, and the controller runs as its
own ServiceAccount (a TokenRequest token) with only deploy/base/rbac.yaml and the multi-tenant
variant's impersonation rule. helm and GitSync's writes act as a ServiceAccount of the
namespace (--default-service-account), bound here to cluster-admin, so the controller's own
requests are the only ones checked against deploy/base/rbac.yaml. They are told apart from
helm's by User-Agent in kubesim's request log, which also shows that no rule is granted "just in
case".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ROOT, ControllerProcess, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

from .conftest import Cluster, controller_kubeconfig, helmrelease


def _rules() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "base" / "rbac.yaml").read_text()))
    cluster = [r for d in docs if d and d["kind"] == "ClusterRole" for r in d["rules"]]
    namespaced = [r for d in docs if d and d["kind"] == "Role" for r in d["rules"]]
    return cluster, namespaced


def _allowed(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def _gitsync_scenario(cluster: Cluster, repo: ChartRepo, tmp_path: Path, daemon: GitDaemon) -> None:
    """A GitSync (prune: true) applies a Namespace, a ConfigMap and a HelmRelease, prunes two of
    them after a commit removes them, and is deleted (pruning what is left)."""
    git = GitRepo(tmp_path / "srv", "platform")
    git.write(
        "releases/ns.yaml",
        yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
    )
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gs-vals"},
        "data": {"values.yaml": "a: 1"},
    }
    git.write("releases/cm.yaml", yaml.safe_dump(cm))
    git.write("releases/hr.yaml", yaml.safe_dump(helmrelease("synced", repo.url)))
    git.commit("releases")
    gs = {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "GitSync",
        "metadata": {"name": "releases", "namespace": "apps"},
        "spec": {"url": daemon.url("platform"), "path": "releases", "interval": "1h", "prune": True},
    }
    cluster.apply(gs)
    wait_for(
        lambda: cluster.get("helmrelease.dev/v1", "HelmRelease", "apps", "synced"),
        30,
        what="the GitSync's HelmRelease applied",
    )
    cluster.wait_ready("synced", timeout=60)
    (git.work / "releases/cm.yaml").unlink()
    (git.work / "releases/hr.yaml").unlink()
    git.commit("remove web")
    cluster.kubectl(
        "annotate", "gitsync", "releases", "-n", "apps", "helmrelease.dev/reconcile-requested-at=1"
    )
    wait_for(
        lambda: cluster.get("helmrelease.dev/v1", "HelmRelease", "apps", "synced") is None, 60, what="pruned"
    )
    cluster.kubectl("delete", "gitsync", "releases", "-n", "apps", "--timeout", "30s")


DEPLOYER = [
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "apps"}},
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "apps-deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "apps"}],
    },
]


def test_rbac_covers_every_call_of_the_controller(
    enforcing: Cluster, repo: ChartRepo, tmp_path: Path
) -> None:
    cluster = enforcing
    cluster.kubectl("create", "namespace", "apps")
    for obj in DEPLOYER:
        cluster.apply(obj)
    (tmp_path / "srv").mkdir()
    daemon = GitDaemon(tmp_path / "srv")
    daemon.start()
    config = controller_kubeconfig(cluster, tmp_path / "controller-kubeconfig")
    cluster.sim.requests.clear()
    args = ["--leader-elect", "--default-service-account=deployer"]
    proc = ControllerProcess(tmp_path / "ctl", config, args=args).start()
    try:
        cluster.kubectl("create", "configmap", "vals", "-n", "apps", "--from-literal=values.yaml=message: hi")
        cluster.apply(
            helmrelease(
                "web",
                repo.url,
                valuesFrom=[{"kind": "ConfigMap", "name": "vals"}],
                values={"neverReady": False},
            )
        )
        cluster.wait_ready("web")
        cluster.apply(
            helmrelease(
                "web", repo.url, valuesFrom=[{"kind": "ConfigMap", "name": "vals"}], values={"message": "two"}
            )
        )
        cluster.wait_ready("web", reason="UpgradeSucceeded")
        cluster.kubectl("delete", "hr", "web", "-n", "apps", "--timeout", "30s")
        _gitsync_scenario(cluster, repo, tmp_path, daemon)
    finally:
        proc.stop()
        daemon.stop()
    cluster_rules, ns_rules = _rules()
    for r in cluster_rules + ns_rules:
        assert "*" not in r["verbs"] and "*" not in r["resources"] and "*" not in r["apiGroups"], r
    ours = [
        e
        for e in cluster.sim.requests.entries()
        if e.resource and e.user_agent.startswith("helmrelease-controller/")
    ]
    assert ours, "no controller requests recorded"
    refused = sorted({(e.verb, e.resource, e.subresource, e.namespace) for e in ours if e.status == 403})
    assert not refused, f"requests of the controller the API server refused: {refused}"
    seen = set()
    for e in ours:
        plural, _, group = e.resource.partition(".")
        resource = f"{plural}/{e.subresource}" if e.subresource else plural
        seen.add((group, resource, e.verb, e.namespace))
    missing = []
    for group, resource, verb, ns in sorted(seen):
        ok = _allowed(cluster_rules, group, resource, verb)
        if not ok and ns == "helmrelease-system":
            ok = _allowed(ns_rules, group, resource, verb)
        if not ok:
            missing.append((group, resource, verb, ns))
    assert not missing, f"calls the RBAC in deploy/base/rbac.yaml does not grant: {missing}"
    # Every rule of the controller's own role is used by it (nothing granted "just in case"),
    # except paths this scenario does not reach: reading a Secret (valuesFrom, credentials,
    # notification URLs), unlocking a stuck release, and aggregating a repeated event; and the
    # create that a real API server also checks when a server-side apply creates an object
    # (kubesim logs such a request as the patch it is); and pruning a Namespace; and reading a
    # dependsOn HelmRelease of another shard (docs/sharding.md).
    used = {(g, r, v) for g, r, v, _ in seen}
    unused = [
        (g, res, v)
        for rule in cluster_rules
        for g in rule["apiGroups"]
        for res in rule["resources"]
        for v in rule["verbs"]
        if (g, res, v) not in used
    ]
    assert set(unused) <= {
        ("", "secrets", "get"),
        ("", "secrets", "update"),
        ("events.k8s.io", "events", "patch"),
        ("helmrelease.dev", "helmreleases", "create"),
        ("", "configmaps", "create"),
        ("", "namespaces", "create"),
        ("", "namespaces", "delete"),  # pruning a Namespace (never the GitSync's own, as here)
        ("helmrelease.dev", "helmreleases", "get"),  # dependsOn of another shard (tests: test_sharding)
    }, unused
