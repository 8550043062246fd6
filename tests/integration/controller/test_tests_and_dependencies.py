"""`spec.test.enable` runs helm test after a release; `dependsOn` waits for the dependency to be Ready."""

from __future__ import annotations

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease


def test_helm_test_runs_once_per_revision(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url, test={"enable": True}, interval="1s"))
    cluster.wait_condition("web", "TestSuccess", "True", "TestSucceeded")
    cluster.wait_ready("web")
    # Two more reconciles finished (so one at least after the tested one): each interval looked
    # at the same revision and did not test it again.
    controller.wait_reconciles(controller.reconciles() + 2)
    assert len(controller.helm_calls("test")) == 1
    assert cluster.status("web")["lastTestedRevision"] == 1


def test_failing_helm_test_makes_release_not_ready(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url, test={"enable": True}, values={"failTests": True}))
    c = cluster.wait_condition("web", "TestSuccess", "False", "TestFailed")
    assert "test" in c["message"]
    assert cluster.condition("web")["status"] == "False"
    # ignoreFailures: the same failure leaves the release Ready.
    cluster.apply(
        helmrelease(
            "web2", repo.url, test={"enable": True, "ignoreFailures": True}, values={"failTests": True}
        )
    )
    cluster.wait_condition("web2", "TestSuccess", "False", "TestFailed")
    cluster.wait_ready("web2")


def test_depends_on_waits_for_dependency(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("frontend", repo.url, dependsOn=[{"name": "backend"}]))
    c = cluster.wait_condition("frontend", "Ready", "False", "DependencyNotReady")
    assert "apps/backend" in c["message"]
    assert controller.helm_calls("upgrade") == []
    cluster.apply(helmrelease("backend", repo.url))
    cluster.wait_ready("backend")
    cluster.wait_ready("frontend", timeout=20)
    calls = controller.helm_calls("upgrade")
    assert [c.split()[1] for c in calls] == ["backend", "frontend"]


def test_dependency_cycle_is_reported(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("a", repo.url, dependsOn=[{"name": "b"}]))
    cluster.apply(helmrelease("b", repo.url, dependsOn=[{"name": "a"}]))
    c = cluster.wait_condition("a", "Ready", "False", "DependencyNotReady")
    wait_for(lambda: "cycle" in cluster.condition("a")["message"], 10, what="cycle reported")
    assert "apps/a -> apps/b -> apps/a" in cluster.condition("a")["message"], c
