"""Bad input gets one clear line on the object and an event; every other HelmRelease keeps reconciling."""

from __future__ import annotations

import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from .conftest import Cluster, helmrelease


def test_invalid_spec_and_unreachable_repo_do_not_stop_others(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    # The CRD's schema refuses a malformed duration at apply time, in the controller's words ...
    proc = cluster.kubectl.run(
        "apply", "-f", "-", input=yaml.safe_dump(helmrelease("bad-spec", repo.url, interval="5 minutes")),
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert (
        'spec.interval: Invalid value: "string": invalid duration: use a Go duration such as' in proc.stderr
    )
    # ... and the controller's own check explains what the schema cannot say (helm keeps a release's
    # storage in the release's own namespace: the schema cannot see metadata.namespace).
    cluster.apply(helmrelease("bad-spec", repo.url, storageNamespace="elsewhere"))
    cluster.apply(helmrelease("no-repo", "http://127.0.0.1:9"))  # nothing listens on port 9
    cluster.apply(helmrelease("missing-chart", repo.url, version="9.x"))
    cluster.apply(helmrelease("good", repo.url))
    cluster.wait_ready("good")

    c = cluster.wait_condition("bad-spec", "Ready", "False", "InvalidSpec")
    assert c["message"].startswith("invalid spec: spec.storageNamespace")
    assert "\n" not in c["message"]
    assert cluster.condition("bad-spec", "Stalled")["status"] == "True"

    c = cluster.wait_condition("no-repo", "Ready", "False", "ArtifactFailed")
    assert "unreachable" in c["message"] and "127.0.0.1:9" in c["message"]
    c = cluster.wait_condition("missing-chart", "Ready", "False", "ArtifactFailed")
    assert "9.x" in c["message"] and "not found" in c["message"]

    reasons = cluster.event_reasons()
    assert "InvalidSpec" in reasons and "ArtifactFailed" in reasons
    # Nothing was installed for the broken ones, and no helm process ran for them.
    assert all(" bad-spec " not in c and " no-repo " not in c for c in controller.helm_calls())
    # The good one keeps being served: a change to it is applied.
    cluster.apply(helmrelease("good", repo.url, values={"message": "still served"}))
    cluster.wait_ready("good", reason="UpgradeSucceeded")


def test_repo_outage_keeps_release_and_recovers(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url, values={"message": "v1"}))
    cluster.wait_ready("web")
    repo.down()
    cluster.apply(helmrelease("web", repo.url, values={"message": "v2"}, version="2.x"))
    c = cluster.wait_condition("web", "Ready", "False", "ArtifactFailed", timeout=30)
    assert "unreachable" in c["message"]
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "v1"  # the running release is untouched
    repo.up()
    obj = cluster.wait_ready("web", timeout=30)
    assert obj["status"]["helmChart"] == "webapp@2.0.0"


def test_forbidden_release_storage_is_named_on_the_object(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """A 403 on Helm's storage Secrets (RBAC that misses them) says who cannot do what, and where."""
    message = (
        'secrets is forbidden: User "system:serviceaccount:helmrelease-system:helmrelease-controller" '
        'cannot list resource "secrets" in API group "" in the namespace "apps"'
    )
    fault = cluster.sim.add_fault(
        status=403,
        verb="list",
        resource="secrets",
        namespace="apps",
        user_agent="helmrelease-controller",
        message=message,
    )
    cluster.apply(helmrelease("web", repo.url))
    c = cluster.wait_condition("web", "Ready", "False", "StorageForbidden")
    assert c["message"].startswith(
        "forbidden: system:serviceaccount:helmrelease-system:helmrelease-controller cannot list secrets "
        "in namespace apps (Helm's release storage)"
    ), c
    assert "StorageForbidden" in cluster.event_reasons()
    assert not controller.helm_calls("upgrade")  # nothing installed blind
    cluster.sim.call(lambda: cluster.sim.faults.remove(fault.id))
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/reconcile-requested-at=1")
    cluster.wait_ready("web")
