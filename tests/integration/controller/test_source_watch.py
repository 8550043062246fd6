"""A HelmRelease with `interval: 1h` still moves within one source interval of news at its source:
a new chart version in the repository index, a new commit under its git chart path."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

from .conftest import Cluster, helmrelease

SOURCE_INTERVAL = "1"  # seconds: the controller looks at each source this often


def test_a_new_chart_version_upgrades_an_hourly_helmrelease(
    cluster: Cluster, repo: ChartRepo, tmp_path: Path
) -> None:
    assert cluster.sim.kubeconfig_path is not None
    proc = ControllerProcess(
        tmp_path / "ctl", cluster.sim.kubeconfig_path, args=["--source-interval", SOURCE_INTERVAL]
    ).start()
    try:
        cluster.apply(helmrelease("web", repo.url, version="1.x", interval="1h"))
        cluster.apply(helmrelease("pinned", repo.url, version="1.0.0", interval="1h"))
        assert cluster.wait_ready("web")["status"]["helmChart"] == "webapp@1.1.0"
        cluster.wait_ready("pinned")
        repo.add_charts([package_webapp(tmp_path / "src-new", "1.2.0")])
        wait_for(lambda: cluster.status("web").get("helmChart") == "webapp@1.2.0", 30, what="the upgrade")
        obj = cluster.wait_ready("web", reason="UpgradeSucceeded")
        assert obj["status"]["history"][0]["chartVersion"] == "1.2.0"
        cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
        assert cm is not None and cm["data"]["chartVersion"] == "1.2.0"
        # The release pinned to 1.0.0 is left alone: one helm run each, then web's upgrade.
        assert len(proc.helm_calls("upgrade")) == 3
        assert cluster.status("pinned")["helmChart"] == "webapp@1.0.0"
    finally:
        proc.stop()


def test_a_commit_under_the_chart_path_upgrades_an_hourly_helmrelease(
    cluster: Cluster, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "srv", "charts")
    repo.copy_chart()
    repo.commit("add webapp")
    with GitDaemon(repo.serve_root) as daemon:
        assert cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(
            tmp_path / "ctl", cluster.sim.kubeconfig_path, args=["--source-interval", SOURCE_INTERVAL]
        ).start()
        try:
            git = {"url": daemon.url("charts"), "ref": {"branch": "main"}, "path": "charts/webapp"}
            hr = helmrelease("web", "", interval="1h", chart={"git": git}, timeout="10s")
            cluster.apply(hr)
            cluster.wait_ready("web")
            repo.write(
                "charts/webapp/values.yaml",
                "replicas: 1\nimage: nginx:1.27\nmessage: pushed\nneverReady: false\nfailTests: false\n",
            )
            pushed = repo.commit("new default message")
            wait_for(
                lambda: cluster.status("web").get("lastAppliedRevision") == f"main@sha1:{pushed}",
                30,
                what="the upgrade to the pushed commit",
            )
            cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
            assert cm is not None and cm["data"]["message"] == "pushed"
        finally:
            proc.stop()
