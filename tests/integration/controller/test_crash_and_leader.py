"""kill -9 in the middle of an upgrade, then a restart; two controllers with leader election."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease


def _release_statuses(cluster: Cluster, release: str = "web", ns: str = "apps") -> dict[int, str]:
    rt = cluster.sim.registry.get("", "v1", "secrets")
    assert rt is not None
    items = cluster.sim.call(lambda: cluster.sim.store.list(rt, ns))
    return {
        int(s["metadata"]["labels"]["version"]): s["metadata"]["labels"]["status"]
        for s in items
        if (s["metadata"].get("labels") or {}).get("name") == release
    }


def test_kill9_mid_upgrade_then_restart_unlocks_and_converges(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    spec = {"upgrade": {"remediation": {"retries": 3}}, "timeout": "20s"}
    cluster.apply(helmrelease("web", repo.url, values={"message": "v1"}, **spec))
    cluster.wait_ready("web")
    dep_uid = cluster.get("apps/v1", "Deployment", "apps", "web")["metadata"]["uid"]  # type: ignore[index]
    # Make the upgrade slow: every write to the Deployment waits 3 s, so helm is caught mid-way.
    slow = cluster.sim.add_fault(status=0, latency=3.0, resource="deployments", verb="patch")
    cluster.apply(helmrelease("web", repo.url, values={"message": "v2"}, **spec))
    wait_for(lambda: _release_statuses(cluster).get(2) == "pending-upgrade", 20, what="pending-upgrade")
    before = cluster.status("web")
    controller.kill9()  # the controller and its helm child die together, as in a pod kill
    assert _release_statuses(cluster)[2] == "pending-upgrade"
    cluster.sim.faults.remove(slow.id)

    controller.start()
    obj = cluster.wait_ready("web", timeout=40, reason="UpgradeSucceeded")
    statuses = _release_statuses(cluster)
    assert statuses[2] == "failed"  # unlocked: marked failed, not uninstalled
    assert statuses[max(statuses)] == "deployed"
    assert 1 in statuses  # history kept
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "v2"
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None and dep["metadata"]["uid"] == dep_uid  # never uninstalled
    assert controller.helm_calls("uninstall") == []
    # Counters live in status: the restart neither lost nor invented any.
    assert obj["status"].get("failures", 0) == before.get("failures", 0)
    assert "Unlock" in " ".join(cluster.event_reasons()) or any(
        "unlock" in (e.get("note") or e.get("message") or "") for e in cluster.events()
    )


def test_failure_counters_survive_a_restart(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    spec = {
        "upgrade": {"remediation": {"retries": 5}},
        "timeout": "1s",
        "backoff": {"initial": "30s", "max": "1m", "jitter": 0},
    }
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    cluster.apply(helmrelease("web", repo.url, values={"neverReady": True}, **spec))
    wait_for(lambda: cluster.status("web").get("upgradeFailures") == 1, 20, what="first failure")
    retry_at = cluster.status("web")["nextRetryAt"]
    controller.kill9()
    controller.start()
    # The restarted controller looked at "web" and decided to wait for the retry time it had.
    controller.wait_reconciles(1, result="requeue")
    st = cluster.status("web")
    assert st["upgradeFailures"] == 1 and st["nextRetryAt"] == retry_at  # the backoff is not restarted
    assert len(controller.helm_calls("upgrade")) == 2  # install + the one failed upgrade; no early retry


def test_leader_election_only_one_acts_and_the_other_takes_over(
    cluster: Cluster, repo: ChartRepo, tmp_path: Path
) -> None:
    cluster.kubectl("create", "namespace", "helmrelease-system")
    assert cluster.sim.kubeconfig_path is not None
    a = ControllerProcess(tmp_path / "a", cluster.sim.kubeconfig_path, args=["--leader-elect"]).start()
    wait_for(
        lambda: cluster.get(
            "coordination.k8s.io/v1", "Lease", "helmrelease-system", "helmrelease-controller"
        ),
        15,
        what="lease",
    )
    b = ControllerProcess(tmp_path / "b", cluster.sim.kubeconfig_path, args=["--leader-elect"]).start()
    try:
        for i in range(3):
            cluster.apply(helmrelease(f"web{i}", repo.url))
        for i in range(3):
            cluster.wait_ready(f"web{i}")
        assert len(a.helm_calls("upgrade")) == 3 and b.helm_calls() == []
        a.kill9()
        cluster.apply(helmrelease("web0", repo.url, values={"message": "after failover"}))
        cluster.wait_ready("web0", timeout=45, reason="UpgradeSucceeded")
        assert len(b.helm_calls("upgrade")) == 1
        lease = cluster.get("coordination.k8s.io/v1", "Lease", "helmrelease-system", "helmrelease-controller")
        assert lease is not None and lease["spec"]["holderIdentity"] != ""
    finally:
        a.stop()
        b.stop()


def test_sigterm_lets_a_running_upgrade_finish(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url, values={"message": "v1"}))
    cluster.wait_ready("web")
    cluster.sim.add_fault(status=0, latency=2.0, resource="deployments", verb="patch", times=1)
    cluster.apply(helmrelease("web", repo.url, values={"message": "v2"}))
    wait_for(lambda: _release_statuses(cluster).get(2) == "pending-upgrade", 20, what="pending-upgrade")
    assert controller.stop(timeout=30) == 0  # SIGTERM: graceful
    statuses = _release_statuses(cluster)
    assert statuses[2] == "deployed", statuses  # helm was allowed to finish, nothing left pending
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "v2"


def test_history_is_bounded_by_max_history(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    for i in range(5):
        cluster.apply(helmrelease("web", repo.url, maxHistory=2, values={"message": f"m{i}"}))
        cluster.wait_ready("web", reason="UpgradeSucceeded" if i else None)
        wait_for(
            lambda i=i: (
                (cluster.get("v1", "ConfigMap", "apps", "web-config") or {}).get("data", {}).get("message")
                == f"m{i}"
            ),
            10,
        )
    statuses = _release_statuses(cluster)
    assert sorted(statuses) == [4, 5], statuses  # helm --history-max 2
    assert [h["revision"] for h in cluster.status("web")["history"]] == [5, 4]
