"""Sharding (docs/sharding.md): two shards and the unsharded replica on one kubesim.

Each replica is a real controller process with leader election: `--shard-key a`, `--shard-key b`
and none. Who reconciled what is proven from each replica's own records, never from timing: the
helm processes it ran (its helm shim's log), the per-HelmRelease series of its /metrics (present
only for the objects its informer holds), its Lease, and kubesim's request log (every list and
watch of HelmReleases carries a shard's selector).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ROOT, ControllerProcess, wait_for

from .conftest import Cluster, helmrelease

SHARD = "helmrelease.dev/shard"
LEASE_NS = "helmrelease-system"


def sharded(name: str, repo_url: str, shard: str | None, **spec: Any) -> dict[str, Any]:
    obj = helmrelease(name, repo_url, **spec)
    if shard is not None:
        obj["metadata"]["labels"] = {SHARD: shard}
    return obj


def released(proc: ControllerProcess, verb: str = "upgrade") -> list[str]:
    """The release of each `helm <verb>` this replica ran, in order ("upgrade web ..." -> "web")."""
    return [call.split()[1] for call in proc.helm_calls(verb)]


def served(proc: ControllerProcess) -> set[str]:
    """The HelmReleases this replica's informer holds: its per-HelmRelease series."""
    names = set()
    for key in proc.metrics():
        if key.startswith("helmrelease_ready{"):
            labels = dict(p.split("=", 1) for p in key[len("helmrelease_ready{") : -1].split(","))
            names.add(labels["name"].strip('"'))
    return names


def lease(cluster: Cluster, name: str) -> dict[str, Any] | None:
    return cluster.get("coordination.k8s.io/v1", "Lease", LEASE_NS, name)


def holder_pid(cluster: Cluster, name: str) -> int | None:
    """The pid in the Lease's holderIdentity (hostname_pid), None when nobody holds it."""
    obj = lease(cluster, name)
    holder = ((obj or {}).get("spec") or {}).get("holderIdentity") or ""
    return int(holder.rsplit("_", 1)[1]) if holder else None


class Replicas:
    """The unsharded replica and the replicas of shards a and b, all with --leader-elect."""

    def __init__(self, cluster: Cluster, tmp_path: Path) -> None:
        assert cluster.sim.kubeconfig_path is not None
        self.cluster, self.tmp_path = cluster, tmp_path
        self.procs: list[ControllerProcess] = []
        self.unsharded = self.start("unsharded", None)
        self.a = self.start("a", "a")
        self.b = self.start("b", "b")

    def start(self, name: str, shard: str | None) -> ControllerProcess:
        args = ["--leader-elect", *(["--shard-key", shard] if shard else [])]
        assert self.cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(self.tmp_path / name, self.cluster.sim.kubeconfig_path, args=args)
        self.procs.append(proc.start())
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            rc = proc.stop()
            if rc not in (0, -9):
                print(proc.logs()[-3000:])


@pytest.fixture
def replicas(cluster: Cluster, tmp_path: Path) -> Iterator[Replicas]:
    cluster.kubectl("create", "namespace", LEASE_NS)
    cluster.kubectl("apply", "-k", str(ROOT / "crds"))  # GitSyncs too: they are sharded alike
    r = Replicas(cluster, tmp_path)
    yield r
    r.stop()


def _informer_selectors(cluster: Cluster, plural: str = "helmreleases") -> list[str]:
    """The labelSelector of every list and watch of `plural` kubesim has served, but preflight's
    permission check at start (a list with limit=1)."""
    out = []
    for e in cluster.sim.requests.entries():
        query = urllib.parse.parse_qs(e.query)
        if e.resource.startswith(plural) and e.verb in ("list", "watch") and query.get("limit") != ["1"]:
            out += query.get("labelSelector") or [""]
    return out


def test_each_helmrelease_has_one_replica_and_a_killed_shard_waits_for_its_own_leader(
    cluster: Cluster, repo: ChartRepo, replicas: Replicas
) -> None:
    placement = {"web-0": None, "web-a1": "a", "web-a2": "a", "web-b1": "b"}
    for name, shard in placement.items():
        cluster.apply(sharded(name, repo.url, shard))
    for name in placement:
        cluster.wait_ready(name)
    u, a, b = replicas.unsharded, replicas.a, replicas.b

    # Each object was installed by its own replica, and only by it.
    assert released(u) == ["web-0"]
    assert sorted(released(a)) == ["web-a1", "web-a2"]
    assert released(b) == ["web-b1"]
    # Each replica holds only its own objects, and says which shard it is.
    assert served(u) == {"web-0"} and served(a) == {"web-a1", "web-a2"} and served(b) == {"web-b1"}
    assert u.metrics()['helmrelease_shard_info{shard=""}'] == 1
    assert a.metrics()['helmrelease_shard_info{shard="a"}'] == 1
    assert b.metrics()['helmrelease_shard_info{shard="b"}'] == 1
    # The API server did the filtering: no list or watch of HelmReleases (or GitSyncs) went
    # without a shard's selector.
    selectors = {f"!{SHARD}", f"{SHARD}=a", f"{SHARD}=b"}
    assert set(_informer_selectors(cluster)) == selectors
    wait_for(lambda: set(_informer_selectors(cluster, "gitsyncs")) == selectors, what="GitSync watches")
    # One Lease per shard; the unsharded keeps the name it had before sharding existed.
    assert holder_pid(cluster, "helmrelease-controller") == u.proc.pid  # type: ignore[union-attr]
    assert holder_pid(cluster, "helmrelease-controller-shard-a") == a.proc.pid  # type: ignore[union-attr]
    assert holder_pid(cluster, "helmrelease-controller-shard-b") == b.proc.pid  # type: ignore[union-attr]

    # Shard a's leader dies (with its helm children, as in a pod kill).
    a.kill9()
    for name, shard in placement.items():
        cluster.apply(sharded(name, repo.url, shard, values={"message": "v2"}))
    # The other shards go on: their objects are upgraded and their status served.
    for name in ("web-0", "web-b1"):
        cluster.wait_ready(name, reason="UpgradeSucceeded")
    assert released(u) == ["web-0", "web-0"] and released(b) == ["web-b1", "web-b1"]
    # Shard a's objects wait: nobody else touched them (observed generation still the first).
    for name in ("web-a1", "web-a2"):
        obj = cluster.hr(name)
        assert obj["metadata"]["generation"] == 2 and obj["status"]["observedGeneration"] == 1
    assert holder_pid(cluster, "helmrelease-controller-shard-a") == a.proc.pid  # type: ignore[union-attr]

    # A replacement replica of shard a takes shard a's Lease once it expires, and catches up.
    a2 = replicas.start("a2", "a")
    for name in ("web-a1", "web-a2"):
        cluster.wait_ready(name, timeout=60, reason="UpgradeSucceeded")
    assert sorted(released(a2)) == ["web-a1", "web-a2"]
    assert holder_pid(cluster, "helmrelease-controller-shard-a") == a2.proc.pid  # type: ignore[union-attr]
    assert released(u) == ["web-0", "web-0"] and released(b) == ["web-b1", "web-b1"]
    for proc in (u, a, b, a2):
        assert proc.helm_calls("uninstall") == []


def _deployment_uid(cluster: Cluster, name: str) -> str:
    dep = cluster.get("apps/v1", "Deployment", "apps", name)
    assert dep is not None
    return str(dep["metadata"]["uid"])


def test_relabelling_moves_a_helmrelease_to_another_replica_without_uninstalling(
    cluster: Cluster, repo: ChartRepo, replicas: Replicas
) -> None:
    u, a, b = replicas.unsharded, replicas.a, replicas.b
    cluster.apply(sharded("web", repo.url, "a"))
    cluster.wait_ready("web")
    uid = _deployment_uid(cluster, "web")
    assert released(a) == ["web"]

    # a -> b: a forgets it (no uninstall, the finalizer stays), b takes it over without helm.
    looked = b.reconciles()
    cluster.kubectl("label", "hr", "web", "-n", "apps", f"{SHARD}=b", "--overwrite")
    wait_for(lambda: served(b) == {"web"} and "web" not in served(a), what="web served by shard b only")
    b.wait_reconciles(looked + 1)
    assert released(b) == []  # in sync: the release a made is recognised as this HelmRelease's
    cluster.apply(sharded("web", repo.url, "b", values={"message": "moved"}))
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert released(b) == ["web"] and released(a) == ["web"]

    # b -> unsharded (the label removed).
    cluster.kubectl("label", "hr", "web", "-n", "apps", f"{SHARD}-")
    wait_for(lambda: served(u) == {"web"} and "web" not in served(b), what="web served by the unsharded")
    cluster.apply(sharded("web", repo.url, None, values={"message": "unsharded"}))
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert released(u) == ["web"] and released(b) == ["web"] and released(a) == ["web"]

    # Never uninstalled: the same Deployment throughout, and Helm's history kept.
    assert _deployment_uid(cluster, "web") == uid
    for proc in (u, a, b):
        assert proc.helm_calls("uninstall") == []
    obj = cluster.hr("web")
    assert "helmrelease.dev/finalizer" in obj["metadata"]["finalizers"]
    assert [h["revision"] for h in obj["status"]["history"]][:3] == [3, 2, 1]
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "unsharded"


def test_depends_on_a_helmrelease_of_another_shard(
    cluster: Cluster, repo: ChartRepo, replicas: Replicas
) -> None:
    """dependsOn across shards works (as in Flux): shard b reads shard a's HelmRelease with a GET,
    since its own informer does not hold it."""
    a, b = replicas.a, replicas.b
    cluster.apply(sharded("app", repo.url, "b", dependsOn=[{"name": "db"}]))
    cluster.wait_condition("app", "Ready", "False", reason="DependencyNotReady")
    assert "dependency apps/db not found" in cluster.condition("app")["message"]
    assert released(b) == []

    cluster.apply(sharded("db", repo.url, "a"))
    cluster.wait_ready("db")
    cluster.wait_ready("app", timeout=45)
    assert released(a) == ["db"] and released(b) == ["app"]
