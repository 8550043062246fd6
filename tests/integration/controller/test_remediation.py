"""Failing upgrades: retried with backoff, then rolled back to the last deployed revision, or kept."""

from __future__ import annotations

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease


def _revisions(cluster: Cluster, release: str, ns: str = "apps") -> dict[int, str]:
    rt = cluster.sim.registry.get("", "v1", "secrets")
    assert rt is not None
    items = cluster.sim.call(lambda: cluster.sim.store.list(rt, ns))
    out = {}
    for s in items:
        labels = s["metadata"].get("labels") or {}
        if labels.get("owner") == "helm" and labels.get("name") == release:
            out[int(labels["version"])] = labels["status"]
    return out


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_failing_upgrade_is_retried_then_rolled_back(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str
) -> None:
    # helm 3's legacy --wait polls every 2 s, so it needs a timeout longer than one poll.
    spec = {"upgrade": {"remediation": {"retries": 2}}, "timeout": "2s" if helm_name == "helm" else "5s"}
    cluster.apply(helmrelease("web", repo.url, values={"message": "good"}, **spec))
    cluster.wait_ready("web")
    dep_uid = cluster.get("apps/v1", "Deployment", "apps", "web")["metadata"]["uid"]  # type: ignore[index]

    cluster.apply(helmrelease("web", repo.url, values={"message": "bad", "neverReady": True}, **spec))
    stalled = cluster.wait_condition("web", "Stalled", "True", "RetriesExhausted", timeout=60)
    assert "upgrade failed 3 time(s); retries exhausted" in stalled["message"]
    revs = _revisions(cluster, "web")
    # 1 install, 3 failed upgrades (first try + 2 retries), then the rollback to revision 1.
    assert [revs[v] for v in sorted(revs)] == ["superseded", "failed", "failed", "failed", "deployed"], revs
    out = cluster.kubectl("--kubeconfig", str(cluster.sim.kubeconfig_path), "get", "hr", "web", "-n", "apps")
    assert "False" in out
    remediated = cluster.condition("web", "Remediated")
    assert remediated["status"] == "True" and "rolled back to revision 1" in remediated["message"]
    st = cluster.status("web")
    assert st["upgradeFailures"] == 3
    assert len(controller.helm_calls("rollback")) == 1
    assert controller.helm_calls("rollback")[0].startswith("rollback web 1 ")
    # Backoff: the retries were spread out, not back to back.
    ready_msg = cluster.condition("web", "Ready")["message"]
    assert "retries exhausted" in ready_msg and "not ready" in ready_msg
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None and dep["metadata"]["uid"] == dep_uid  # rolled back in place, never uninstalled
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "good"
    assert "UpgradeFailed" in cluster.event_reasons() and "RollbackSucceeded" in cluster.event_reasons()

    # Stalled stays stalled: no upgrade loop.
    calls = len(controller.helm_calls())
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/reconcile-requested-at=1")
    wait_for(lambda: cluster.status("web").get("lastHandledReconcileAt") == "1", 10)
    assert len(controller.helm_calls()) == calls

    # A fix (new values) resets the counters and upgrades.
    cluster.apply(helmrelease("web", repo.url, values={"message": "fixed"}, **spec))
    obj = cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert obj["status"]["upgradeFailures"] == 0
    assert cluster.condition("web", "Stalled") == {}


def test_keep_failed_release_is_not_rolled_back(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    spec = {"upgrade": {"remediation": {"retries": 1}}, "timeout": "2s", "keepFailedRelease": True}
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    cluster.apply(helmrelease("web", repo.url, values={"neverReady": True}, **spec))
    stalled = cluster.wait_condition("web", "Stalled", "True", timeout=60)
    assert "keepFailedRelease" in stalled["message"]
    revs = _revisions(cluster, "web")
    assert revs[max(revs)] == "failed"  # the failed release is left in place for debugging
    assert controller.helm_calls("rollback") == []
    assert cluster.condition("web", "Remediated") == {}


def test_force_at_retries_past_exhausted_retries(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    spec = {"timeout": "2s", "keepFailedRelease": True}
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    cluster.apply(helmrelease("web", repo.url, values={"neverReady": True}, **spec))
    cluster.wait_condition("web", "Stalled", "True", timeout=30)
    upgrades = len(controller.helm_calls("upgrade"))
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/force-at=try-again")
    wait_for(lambda: cluster.status("web").get("lastHandledForceAt") == "try-again", 20)
    wait_for(lambda: len(controller.helm_calls("upgrade")) == upgrades + 1, 20)
    assert (
        "--force-replace" in controller.helm_calls("upgrade")[-1]
        or "--force" in controller.helm_calls("upgrade")[-1]
    )


def test_a_failed_progressing_write_does_not_lose_the_failed_upgrade(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    # The Progressing status is written while helm runs. When that write fails, the upgrade's
    # failure must still be counted: with retries 0 there is exactly one upgrade, then the rollback.
    spec = {"upgrade": {"remediation": {"retries": 0, "remediateLastFailure": True}}, "timeout": "2s"}
    cluster.apply(helmrelease("web", repo.url, values={"message": "good"}, **spec))
    cluster.wait_ready("web")
    upgrades = len(controller.helm_calls("upgrade"))
    fault = cluster.sim.add_fault(
        verb="patch", resource="helmreleases.helmrelease.dev", subresource="status", status=500, times=1
    )
    cluster.apply(helmrelease("web", repo.url, values={"message": "bad", "neverReady": True}, **spec))
    cluster.wait_condition("web", "Stalled", "True", "RetriesExhausted", timeout=60)
    assert fault.hits == 1
    assert len(controller.helm_calls("upgrade")) == upgrades + 1, controller.helm_calls("upgrade")
    assert len(controller.helm_calls("rollback")) == 1
    assert cluster.status("web")["upgradeFailures"] == 1
    assert "status write failed while helm ran" in controller.logs()
