"""A git chart whose dependency is committed under `charts/` installs offline (air-gapped): no
`helm dependency build`, as with bare helm and Flux. One that is missing names the unreachable
repository."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.chartrepo import helm_binary
from tests.helpers.controller import ControllerProcess
from tests.helpers.gitserver import GitDaemon, GitRepo, free_port

from .conftest import Cluster


def _parent_chart(repo: GitRepo, tmp_path: Path, unreachable: str) -> None:
    """charts/parent depends on child 1.x from `unreachable`; child-1.2.3.tgz is committed in charts/."""
    child = tmp_path / "child"
    (child / "templates").mkdir(parents=True)
    (child / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "child", "version": "1.2.3"})
    )
    (child / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: child-{{ .Release.Name }}\n"
        "data:\n  from: vendored\n"
    )
    vendored = repo.work / "charts" / "parent" / "charts"
    vendored.mkdir(parents=True)
    subprocess.run(
        [helm_binary(), "package", str(child), "-d", str(vendored)], check=True, capture_output=True
    )
    meta = {
        "apiVersion": "v2",
        "name": "parent",
        "version": "0.1.0",
        "dependencies": [{"name": "child", "version": "1.x", "repository": unreachable}],
    }
    repo.write("charts/parent/Chart.yaml", yaml.safe_dump(meta))
    repo.write(
        "charts/parent/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: parent-{{ .Release.Name }}\ndata: {}\n",
    )


def _hr(url: str, path: str) -> dict[str, Any]:
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {
            "interval": "1m",
            "timeout": "10s",
            "chart": {"git": {"url": url, "ref": {"branch": "main"}, "path": path}},
        },
    }


def test_vendored_dependencies_install_offline_and_a_missing_one_names_its_repository(
    cluster: Cluster, tmp_path: Path
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/charts"  # a closed port: no chart repository
    repo = GitRepo(tmp_path / "srv", "charts")
    _parent_chart(repo, tmp_path, unreachable)
    repo.commit("parent with child vendored")
    with GitDaemon(repo.serve_root) as daemon:
        assert cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path).start()
        try:
            cluster.apply(_hr(daemon.url("charts"), "charts/parent"))
            cluster.wait_ready("web")
            child = cluster.get("v1", "ConfigMap", "apps", "child-web")
            assert child is not None and child["data"] == {"from": "vendored"}
            assert proc.helm_calls("dependency") == []

            # Without the committed archive, the dependency must be fetched: the failure names
            # the repository that could not be reached, and suggests no `helm repo update`.
            for archive in (repo.work / "charts" / "parent" / "charts").iterdir():
                archive.unlink()
            repo.write("charts/parent/charts/.keep", "")
            repo.commit("child no longer vendored")
            cluster.kubectl(
                "annotate", "hr", "web", "-n", "apps", "helmrelease.dev/reconcile-requested-at=missing"
            )
            cond = cluster.wait_condition("web", "Ready", "False")
            msg = cond["message"]
            assert f"chart repository {unreachable} could not be reached" in msg, msg
            assert "needed for child 1.x missing from charts/" in msg, msg
            assert "helm repo update" not in msg and "helm-manager" not in msg, msg
            assert len(proc.helm_calls("dependency")) == 1
        finally:
            proc.stop()


def test_only_the_missing_dependency_is_built(cluster: Cluster, tmp_path: Path) -> None:
    # child is committed (its repository unreachable); other, a file:// dependency, is not: the
    # build packages other alone and never reaches child's repository (helm alone would).
    unreachable = f"http://127.0.0.1:{free_port()}/charts"
    repo = GitRepo(tmp_path / "srv", "charts")
    _parent_chart(repo, tmp_path, unreachable)
    repo.write(
        "charts/other/Chart.yaml", yaml.safe_dump({"apiVersion": "v2", "name": "other", "version": "0.2.0"})
    )
    repo.write(
        "charts/other/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other-{{ .Release.Name }}\ndata: {}\n",
    )
    meta = yaml.safe_load((repo.work / "charts/parent/Chart.yaml").read_text())
    meta["dependencies"].append({"name": "other", "version": "0.2.0", "repository": "file://../other"})
    repo.write("charts/parent/Chart.yaml", yaml.safe_dump(meta))
    repo.commit("parent: child committed, other from the repository")
    with GitDaemon(repo.serve_root) as daemon:
        assert cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path).start()
        try:
            cluster.apply(_hr(daemon.url("charts"), "charts/parent"))
            cluster.wait_ready("web")
            assert cluster.get("v1", "ConfigMap", "apps", "child-web") is not None
            assert cluster.get("v1", "ConfigMap", "apps", "other-web") is not None
            assert len(proc.helm_calls("dependency")) == 1
        finally:
            proc.stop()
