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
