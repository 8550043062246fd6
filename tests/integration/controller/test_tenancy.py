"""Multi-tenancy on a kubesim that authenticates and authorizes like a real API server.

The controller runs as its own ServiceAccount (a TokenRequest token) with exactly
deploy/multi-tenant's RBAC: deploy/base/rbac.yaml plus the right to impersonate ServiceAccounts,
no cluster-admin. Team `team-a` is deploy/multi-tenant/tenant-example: a ServiceAccount bound to
the built-in `admin` role in its namespace. helm acts as that ServiceAccount for team-a's
HelmReleases, so a team can do through a HelmRelease only what its RBAC allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

from .conftest import Cluster, controller_kubeconfig, helmrelease

DEPLOYER = "system:serviceaccount:team-a:helmrelease-deployer"
LOCKDOWN = ["--default-service-account=helmrelease-deployer", "--no-cross-namespace-refs"]


@pytest.fixture
def secure(enforcing: Cluster) -> Cluster:
    """The enforcing cluster with tenant team-a (deploy/multi-tenant/tenant-example) and team-b."""
    enforcing.kubectl("create", "namespace", "team-b")
    enforcing.kubectl("apply", "-f", str(ROOT / "deploy/multi-tenant/tenant-example/tenant.yaml"))
    return enforcing


def start_controller(cluster: Cluster, tmp_path: Path, args: list[str]) -> ControllerProcess:
    config = controller_kubeconfig(cluster, tmp_path / "controller-kubeconfig")
    return ControllerProcess(tmp_path / "controller", config, args=args).start()


@pytest.fixture
def controller(secure: Cluster, tmp_path: Path) -> Iterator[ControllerProcess]:
    proc = start_controller(secure, tmp_path, LOCKDOWN)
    yield proc
    if proc.stop() not in (0, -9):
        print(proc.logs()[-5000:])


def ready_message(cluster: Cluster, name: str, ns: str = "team-a") -> str:
    return str(cluster.condition(name, ns=ns).get("message", ""))


def test_a_tenant_installs_and_upgrades_as_its_own_service_account(
    secure: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    secure.apply(helmrelease("web", repo.url, "1.0.0", ns="team-a"))
    secure.wait_ready("web", ns="team-a")
    assert secure.get("apps/v1", "Deployment", "team-a", "web") is not None
    secure.apply(helmrelease("web", repo.url, "1.1.0", ns="team-a"))
    secure.wait_ready("web", ns="team-a", reason="UpgradeSucceeded")
    # Every helm command acted as the team's ServiceAccount (--default-service-account), never as
    # the controller, which holds no right to create Deployments at all.
    calls = controller.helm_calls("upgrade")
    assert len(calls) == 2 and all(f"--kube-as-user {DEPLOYER}" in c for c in calls), calls


def rbac_escalation_chart(tmp_path: Path) -> Path:
    """webapp 9.0.0 with a ClusterRoleBinding making the team's ServiceAccount cluster-admin."""
    chart = package_webapp(tmp_path / "escalate", "9.0.0")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "team-a-takes-over"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "helmrelease-deployer", "namespace": "team-a"}],
    }
    (chart / "templates" / "takeover.yaml").write_text(yaml.safe_dump(binding))
    return chart


def test_a_chart_with_a_cluster_role_binding_is_refused_in_one_line(
    secure: Cluster, repo: ChartRepo, controller: ControllerProcess, tmp_path: Path
) -> None:
    repo.add_charts([rbac_escalation_chart(tmp_path)])
    secure.apply(helmrelease("web", repo.url, "9.0.0", ns="team-a"))
    secure.wait_condition("web", "Released", "False", "InstallFailed", ns="team-a")
    message = ready_message(secure, "web")
    # helm 4 reads the object before it applies it: the first refusal is the get.
    assert (
        "serviceaccount team-a/helmrelease-deployer cannot get "
        'clusterrolebindings.rbac.authorization.k8s.io "team-a-takes-over" at the cluster scope: '
        "forbidden by RBAC"
    ) in message, message
    assert secure.get("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "team-a-takes-over") is None
    assert "InstallFailed" in secure.event_reasons("team-a")


def test_another_namespace_is_refused_by_the_flag_and_nothing_lands_there(
    secure: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    secure.apply(helmrelease("web", repo.url, "1.0.0", ns="team-a", targetNamespace="kube-system"))
    secure.wait_condition("web", "Stalled", "True", "InvalidSpec", ns="team-a")
    assert "spec.targetNamespace: 'kube-system' is in another namespace" in ready_message(secure, "web")
    assert "--no-cross-namespace-refs" in ready_message(secure, "web")
    assert controller.helm_calls() == []
    assert secure.get("apps/v1", "Deployment", "kube-system", "team-a-web") is None


def test_without_the_flag_rbac_still_keeps_the_tenant_in_its_namespace(
    secure: Cluster, repo: ChartRepo, tmp_path: Path
) -> None:
    proc = start_controller(secure, tmp_path, ["--default-service-account=helmrelease-deployer"])
    try:
        secure.apply(helmrelease("web", repo.url, "1.0.0", ns="team-a", targetNamespace="kube-system"))
        secure.wait_condition("web", "Released", "False", "InstallFailed", ns="team-a")
    finally:
        proc.stop()
    message = ready_message(secure, "web")
    assert "serviceaccount team-a/helmrelease-deployer cannot" in message and "kube-system" in message, (
        message
    )
    assert secure.get("apps/v1", "Deployment", "kube-system", "team-a-web") is None


@pytest.mark.parametrize(
    ("ns", "spec", "who"),
    [
        ("team-a", {"serviceAccountName": "nobody"}, "serviceaccount team-a/nobody"),  # no RoleBinding
        ("team-b", {}, "serviceaccount team-b/helmrelease-deployer"),  # the default, never the controller
    ],
    ids=["named-service-account", "default-in-a-namespace-without-one"],
)
def test_an_identity_without_rights_is_named_and_changes_nothing(
    secure: Cluster, repo: ChartRepo, controller: ControllerProcess, ns: str, spec: dict[str, Any], who: str
) -> None:
    secure.apply(helmrelease("web", repo.url, "1.0.0", ns=ns, **spec))
    secure.wait_condition("web", "Released", "False", "InstallFailed", ns=ns)
    message = ready_message(secure, "web", ns)
    assert f"{who} cannot" in message and "forbidden by RBAC" in message, message
    assert secure.get("apps/v1", "Deployment", ns, "web") is None


def gitsync(ns: str, url: str, **spec: Any) -> dict[str, Any]:
    body = {"url": url, "ref": {"branch": "main"}, "path": "team", "interval": "1h", **spec}
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "GitSync",
        "metadata": {"name": "team", "namespace": ns},
        "spec": body,
    }


def gitsync_ready(cluster: Cluster, ns: str) -> dict[str, Any]:
    obj = cluster.get("helmrelease.dev/v1", "GitSync", ns, "team") or {}
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), {})


@pytest.mark.parametrize(
    ("ns", "spec", "applied"),
    [
        ("team-a", {}, True),  # the default ServiceAccount, bound to admin (which aggregates ours)
        ("team-a", {"serviceAccountName": "nobody"}, False),  # a ServiceAccount with no binding
        ("team-b", {}, False),  # no ServiceAccount bound there: never the controller's identity
    ],
    ids=["default-service-account", "unbound-service-account", "namespace-without-one"],
)
def test_a_gitsync_applies_as_its_service_account(
    secure: Cluster, repo: ChartRepo, controller: ControllerProcess, tmp_path: Path,
    ns: str, spec: dict[str, Any], applied: bool,
) -> None:  # fmt: skip
    platform = GitRepo(tmp_path / "srv", "platform")
    web = helmrelease("web", repo.url, "1.0.0", ns=ns)
    del web["metadata"]["namespace"]  # the GitSync's namespace
    platform.write("team/web.yaml", yaml.safe_dump(web))
    platform.commit("team: web")
    with GitDaemon(platform.serve_root) as daemon:
        secure.apply(gitsync(ns, daemon.url("platform"), **spec))
        if applied:
            wait_for(lambda: secure.get("helmrelease.dev/v1", "HelmRelease", ns, "web"), 30, what="applied")
            secure.wait_ready("web", ns=ns, timeout=60)
            assert gitsync_ready(secure, ns).get("status") == "True"
            return
        sa = spec.get("serviceAccountName", "helmrelease-deployer")

        def refused() -> str:
            c = gitsync_ready(secure, ns)
            return str(c.get("message", "")) if c.get("status") == "False" else ""

        message = wait_for(refused, 60, what=f"GitSync {ns}/team refused")
        assert f"serviceaccount {ns}/{sa} cannot patch helmreleases.helmrelease.dev" in message, message
        assert secure.get("helmrelease.dev/v1", "HelmRelease", ns, "web") is None
