"""`kubectl apply -k deploy/` installs the controller's objects; the CRD keeps workloads safe."""

from __future__ import annotations

from typing import Any

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


def test_apply_k_deploy_sharded_runs_each_shard_on_its_own_deployment_and_lease(kubectl: Cli) -> None:
    """The sharded variant (docs/sharding.md): deploy/'s install with the unsharded Deployment, plus
    one Deployment per shard with --shard-key; no two Deployments select each other's pods, and
    the one metrics Service selects every replica."""
    rendered = [d for d in yaml.safe_load_all(kubectl("kustomize", str(ROOT / "deploy" / "sharded"))) if d]
    unsharded = [d for d in yaml.safe_load_all(kubectl("kustomize", str(ROOT / "deploy"))) if d]
    deployments = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Deployment"}
    assert set(deployments) == {
        "helmrelease-controller",
        "helmrelease-controller-shard-a",
        "helmrelease-controller-shard-b",
    }

    # Everything else is deploy/'s install, unchanged.
    def others(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return sorted((d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] != "Deployment")

    assert others(rendered) == others(unsharded)
    base_args = next(d for d in unsharded if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    shard_args = {
        name: d["spec"]["template"]["spec"]["containers"][0]["args"] for name, d in deployments.items()
    }
    want = base_args["containers"][0]["args"]
    assert shard_args == {
        "helmrelease-controller": want,
        "helmrelease-controller-shard-a": [*want, "--shard-key=a"],
        "helmrelease-controller-shard-b": [*want, "--shard-key=b"],
    }
    service = next(d for d in rendered if d["kind"] == "Service")
    for name, dep in deployments.items():
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "helmrelease-controller"
        assert service["spec"]["selector"].items() <= pod_labels.items(), name  # scraped
        for other, other_dep in deployments.items():
            selects = other_dep["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
            assert selects is (other == name), (other, name)  # no overlapping selectors

    out = kubectl("apply", "-k", str(ROOT / "deploy" / "sharded"))
    for name in deployments:
        assert f"deployment.apps/{name} created" in out, out
    again = kubectl("apply", "-k", str(ROOT / "deploy" / "sharded"))
    assert "created" not in again
