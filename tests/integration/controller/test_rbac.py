"""The RBAC in deploy/ grants every API call the controller itself makes, and no wildcard.

The controller's own requests are told apart from helm's by User-Agent in kubesim's request
log (helm's calls run under the separate, documented cluster-admin binding for chart contents).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ROOT, ControllerProcess

from .conftest import Cluster, helmrelease


def _rules() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "rbac.yaml").read_text()))
    cluster = [r for d in docs if d and d["kind"] == "ClusterRole" for r in d["rules"]]
    namespaced = [r for d in docs if d and d["kind"] == "Role" for r in d["rules"]]
    return cluster, namespaced


def _allowed(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_rbac_covers_every_call_of_the_controller(cluster: Cluster, repo: ChartRepo, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", "helmrelease-system")
    assert cluster.sim.kubeconfig_path is not None
    cluster.sim.requests.clear()
    proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path, args=["--leader-elect"]).start()
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
    finally:
        proc.stop()
    cluster_rules, ns_rules = _rules()
    for r in cluster_rules + ns_rules:
        assert "*" not in r["verbs"] and "*" not in r["resources"] and "*" not in r["apiGroups"], r
    ours = [
        e
        for e in cluster.sim.requests.entries()
        if e.resource and e.user_agent.startswith("helmrelease-controller/")
    ]
    assert ours, "no controller requests recorded"
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
    assert not missing, f"calls the RBAC in deploy/rbac.yaml does not grant: {missing}"
    # Every rule of the controller's own role is used by it (nothing granted "just in case"),
    # except paths this scenario does not reach: reading a Secret (valuesFrom, credentials,
    # notification URLs), unlocking a stuck release, and aggregating a repeated event.
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
    }, unused
