"""Install, upgrade on a values change or a version bump, and the steady state, as `kubectl get hr` shows."""

from __future__ import annotations

import time

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for

from .conftest import Cluster, helmrelease


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_install_then_upgrade_on_values_change(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url, values={"message": "first"}))
    obj = cluster.wait_ready("web")
    st = obj["status"]
    assert st["helmChart"] == "webapp@1.1.0"  # newest in 1.x
    assert st["history"][0]["revision"] == 1 and st["history"][0]["status"] == "deployed"
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "first"
    out = cluster.kubectl("get", "hr", "-n", "apps")
    assert "web" in out and "True" in out and "webapp@1.1.0" in out

    cluster.apply(helmrelease("web", repo.url, values={"message": "second"}))
    obj = cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert obj["status"]["history"][0]["revision"] == 2
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "second"
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "MESSAGE", "value": "second"}]
    assert len(controller.helm_calls("upgrade")) == 2
    assert all("--history-max" in c for c in controller.helm_calls("upgrade"))


def test_new_chart_version_inside_semver_range_upgrades(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cluster.apply(helmrelease("web", repo.url, version="~1.1.0"))
    cluster.wait_ready("web")
    repo.add_charts([package_webapp(tmp_path / "src2", "1.1.7")])
    repo.add_charts([package_webapp(tmp_path / "src3", "1.2.0")])  # outside ~1.1.0
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/reconcile-requested-at=now1")
    wait_for(lambda: cluster.status("web").get("helmChart") == "webapp@1.1.7", 30, what="upgrade to 1.1.7")
    obj = cluster.wait_ready("web")
    assert obj["status"]["lastHandledReconcileAt"] == "now1"
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["chartVersion"] == "1.1.7"


def test_steady_state_starts_no_helm_process_and_sends_no_request(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """An unchanged HelmRelease is reconciled from memory: no helm process, and not one API request
    (Helm's storage is read from the controller's metadata-only watch of it)."""
    cluster.apply(helmrelease("web", repo.url, interval="1s"))
    cluster.wait_ready("web")
    controller.wait_reconciles(1)  # the install's reconcile, counted after its last write
    calls = len(controller.helm_calls())
    done = controller.reconciles()
    # The first interval reconcile confirms the watch's view of the storage with one direct look.
    controller.wait_reconciles(done + 2)
    since, done = time.time(), controller.reconciles()
    controller.wait_reconciles(done + 3)  # three interval reconciles after `since` (and one may be before)
    assert len(controller.helm_calls()) == calls, controller.helm_calls()
    ours = [
        f"{e.verb} {e.resource}/{e.subresource} {e.query}"
        for e in cluster.sim.requests.entries()
        if e.ts >= since and e.user_agent.startswith("helmrelease-controller") and e.verb != "watch"
    ]
    assert ours == []


def test_a_new_release_costs_few_round_trips_and_one_reconcile(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """What the controller itself sends for one install (helm's own requests aside): one finalizer
    patch, two status writes (Progressing, then Ready), one metadata-only look at Helm's storage
    (the look after helm's install is answered by the watch of the storage once it shows the new
    revision deployed), one event. Its own finalizer patch must not start a second pass over the
    same object."""
    cluster.sim.requests.clear()
    cluster.apply(helmrelease("web", repo.url, interval="10m"))
    cluster.wait_ready("web")
    wait_for(cluster.events, 10, what="the install's event")
    since = time.time()
    # The positive event before asserting there was no second pass: suspending "web" makes one more
    # reconcile of it (result "suspended"), and reconciles of one object run one at a time, in order,
    # so a second pass queued by the finalizer patch would have finished (and been counted) first.
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/suspend=true")
    controller.wait_reconciles(1, result="suspended")
    assert controller.reconciles() == 2  # the install, then the suspended one
    ours = [
        e
        for e in cluster.sim.requests.entries()
        if e.ts < since and e.user_agent.startswith("helmrelease-controller")
    ]
    hr = [e for e in ours if e.resource == "helmreleases.helmrelease.dev" and e.verb == "patch"]
    assert sorted(e.subresource for e in hr) == ["", "status", "status"], [e.subresource for e in hr]
    looks = [e for e in ours if e.resource == "secrets" and e.verb == "list" and e.namespace == "apps"]
    assert len(looks) == 1, [e.query for e in looks]
    assert all("as=PartialObjectMetadataList" in e.accept for e in looks), [e.accept for e in looks]
    assert sum(1 for e in ours if e.resource.startswith("events") and e.verb == "create") == 1
    assert len(controller.helm_calls("upgrade")) == 1
