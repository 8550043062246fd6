"""`kubectl apply -k deploy/` installs the controller's objects; the CRD keeps workloads safe."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT, Cli


def test_apply_k_deploy_creates_everything(kubectl: Cli) -> None:
    out = kubectl("apply", "-k", str(ROOT / "deploy"))
    for what in (
        "namespace/helmrelease-system",
        "customresourcedefinition.apiextensions.k8s.io/helmreleases",
        "serviceaccount/helmrelease-controller",
        "clusterrole.rbac.authorization.k8s.io/helmrelease-controller",
        "clusterrolebinding.rbac.authorization.k8s.io/helmrelease-controller-helm",  # cluster-admin
        "deployment.apps/helmrelease-controller",
    ):
        assert what in out, out
    crd = yaml.safe_load(kubectl("get", "crd", "helmreleases.helmrelease.dev", "-o", "yaml"))
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    dep = yaml.safe_load(
        kubectl("get", "deploy", "helmrelease-controller", "-n", "helmrelease-system", "-o", "yaml")
    )
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-elect" in args
    assert dep["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # Applying twice is a no-op.
    again = kubectl("apply", "-k", str(ROOT / "deploy"))
    assert "created" not in again


def test_apply_k_deploy_multi_tenant_gives_helm_no_cluster_admin(kubectl: Cli) -> None:
    """The shared-cluster variant: the controller may impersonate ServiceAccounts and nothing more
    for helm; it runs with a default ServiceAccount and refuses cross-namespace references."""
    out = kubectl("apply", "-k", str(ROOT / "deploy" / "multi-tenant"))
    assert "clusterrole.rbac.authorization.k8s.io/helmrelease-controller-impersonate created" in out, out
    assert "helmrelease-controller-helm" not in out
    bindings = yaml.safe_load(kubectl("get", "clusterrolebindings", "-o", "yaml"))["items"]
    to_controller = {
        b["roleRef"]["name"]
        for b in bindings
        if any(s.get("name") == "helmrelease-controller" for s in b.get("subjects") or [])
    }
    assert to_controller == {"helmrelease-controller", "helmrelease-controller-impersonate"}
    role = yaml.safe_load(kubectl("get", "clusterrole", "helmrelease-controller-impersonate", "-o", "yaml"))
    assert role["rules"] == [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}]
    dep = yaml.safe_load(
        kubectl("get", "deploy", "helmrelease-controller", "-n", "helmrelease-system", "-o", "yaml")
    )
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--default-service-account=helmrelease-deployer", "--no-cross-namespace-refs"} <= set(args)
    tenant = kubectl("apply", "-f", str(ROOT / "deploy" / "multi-tenant" / "tenant-example" / "tenant.yaml"))
    assert "serviceaccount/helmrelease-deployer created" in tenant, tenant
    assert "rolebinding.rbac.authorization.k8s.io/helmrelease-deployer created" in tenant, tenant
