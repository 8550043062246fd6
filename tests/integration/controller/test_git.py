"""A HelmRelease whose chart lives in a git repository served by `git daemon` on loopback."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.controller import ControllerProcess, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

from .conftest import Cluster


def test_git_chart_upgrades_only_when_its_path_changes(cluster: Cluster, tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "srv", "charts")
    repo.copy_chart()
    first = repo.commit("add webapp")
    with GitDaemon(repo.serve_root) as daemon:
        assert cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path).start()
        try:
            hr = {
                "apiVersion": "helmrelease.dev/v1",
                "kind": "HelmRelease",
                "metadata": {"name": "web", "namespace": "apps"},
                "spec": {
                    "interval": "1m",
                    "timeout": "10s",
                    "chart": {
                        "git": {
                            "url": daemon.url("charts"),
                            "ref": {"branch": "main"},
                            "path": "charts/webapp",
                        }
                    },
                },
            }
            cluster.apply(hr)
            obj = cluster.wait_ready("web")
            assert obj["status"]["lastAppliedRevision"] == f"main@sha1:{first}"

            # A commit elsewhere in the repository: no helm process.
            repo.write("docs/README.md", "unrelated\n")
            repo.commit("docs only")
            calls = len(proc.helm_calls())
            cluster.kubectl(
                "annotate", "hr", "web", "-n", "apps", "helmrelease.dev/reconcile-requested-at=docs"
            )
            wait_for(lambda: cluster.status("web").get("lastHandledReconcileAt") == "docs", 15)
            assert len(proc.helm_calls()) == calls

            # A commit under the chart path: upgraded, revision recorded.
            repo.write(
                "charts/webapp/values.yaml",
                "replicas: 1\nimage: nginx:1.27\nmessage: from git\nneverReady: false\nfailTests: false\n",
            )
            third = repo.commit("new default message")
            cluster.kubectl(
                "annotate",
                "hr",
                "web",
                "-n",
                "apps",
                "--overwrite",
                "helmrelease.dev/reconcile-requested-at=chart",
            )
            obj = cluster.wait_ready("web", reason="UpgradeSucceeded")
            assert obj["status"]["lastAppliedRevision"] == f"main@sha1:{third}"
            cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
            assert cm is not None and cm["data"]["message"] == "from git"
            assert len(proc.helm_calls("upgrade")) == 2
        finally:
            proc.stop()
