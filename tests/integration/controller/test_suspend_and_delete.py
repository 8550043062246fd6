"""Suspend and resume by annotation; deleting a HelmRelease uninstalls its release (controller up or down)."""

from __future__ import annotations

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease


def test_suspend_annotation_holds_changes_until_removed(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    # interval 1h: the change made while suspended can only be applied by the resume itself.
    cluster.apply(helmrelease("web", repo.url, values={"message": "one"}, interval="1h"))
    cluster.wait_ready("web")
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/suspend=true")
    wait_for(lambda: cluster.status("web").get("suspended") is True, 10, what="suspended in status")
    cluster.apply(helmrelease("web", repo.url, values={"message": "two"}, interval="1h"))
    generation = cluster.hr("web")["metadata"]["generation"]
    # The controller looked at the changed spec and held it: Ready says Suspended for that generation.
    wait_for(
        lambda: (
            (c := cluster.condition("web")).get("observedGeneration") == generation
            and c.get("reason") == "Suspended"
        ),
        10,
        what="the suspended reconcile of the new generation",
    )
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "one"
    assert len(controller.helm_calls("upgrade")) == 1
    out = cluster.kubectl("get", "hr", "web", "-n", "apps")
    assert "Suspended" in out or "suspended" in out
    assert cluster.condition("web")["reason"] == "Suspended"

    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/suspend-")
    wait_for(  # at once: the next interval is an hour away
        lambda: (
            (cluster.get("v1", "ConfigMap", "apps", "web-config") or {}).get("data", {}).get("message")
            == "two"
        ),
        30,
        what="change applied after resume",
    )
    obj = cluster.wait_ready("web")
    assert obj["status"]["suspended"] is False


def test_spec_suspend_also_suspends(cluster: Cluster, repo: ChartRepo, controller: ControllerProcess) -> None:
    cluster.apply(helmrelease("web", repo.url, suspend=True))
    wait_for(lambda: cluster.status("web").get("suspended") is True, 10)
    assert controller.helm_calls("upgrade") == []


def test_delete_uninstalls_release(cluster: Cluster, repo: ChartRepo, controller: ControllerProcess) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    assert cluster.hr("web")["metadata"]["finalizers"] == ["helmrelease.dev/finalizer"]
    cluster.kubectl("delete", "hr", "web", "-n", "apps", "--timeout", "30s")
    assert cluster.get("apps/v1", "Deployment", "apps", "web") is None
    assert cluster.get("v1", "ConfigMap", "apps", "web-config") is None
    assert len(controller.helm_calls("uninstall")) == 1


def test_delete_while_controller_down_uninstalls_on_restart(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    controller.stop()
    cluster.kubectl("delete", "hr", "web", "-n", "apps", "--wait=false")  # answered once it is marked
    assert cluster.hr("web")["metadata"].get("deletionTimestamp")  # held by the finalizer
    assert cluster.get("apps/v1", "Deployment", "apps", "web") is not None
    controller.start()
    wait_for(lambda: cluster.get("apps/v1", "Deployment", "apps", "web") is None, 30, what="uninstall")
    rt = cluster.sim.registry.get("helmrelease.dev", "v1", "helmreleases")
    assert rt is not None
    wait_for(
        lambda: cluster.sim.call(lambda: cluster.sim.store.peek(rt, "apps", "web")) is None,
        10,
        what="HelmRelease gone",
    )


def test_suspended_release_is_still_uninstalled_on_delete(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/suspend=true")
    cluster.kubectl("delete", "hr", "web", "-n", "apps", "--timeout", "30s")
    assert cluster.get("apps/v1", "Deployment", "apps", "web") is None


def test_deleting_the_crd_uninstalls_nothing(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """DESIGN rule 6: the CRD going away deletes every HelmRelease, never a workload."""
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    dep_uid = cluster.get("apps/v1", "Deployment", "apps", "web")["metadata"]["uid"]  # type: ignore[index]
    cluster.kubectl("delete", "crd", "helmreleases.helmrelease.dev", "--timeout", "30s")
    assert cluster.sim.registry.get("helmrelease.dev", "v1", "helmreleases") is None
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None and dep["metadata"]["uid"] == dep_uid
    assert controller.helm_calls("uninstall") == []
    assert "ReleaseKept" in cluster.event_reasons()
