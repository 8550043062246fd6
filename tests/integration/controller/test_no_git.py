"""Without a git executable the controller still runs: only git chart sources fail, with a clear reason.

git is run only when a git source needs it, so repository and OCI sources work and a
`spec.chart.git` HelmRelease says git is not installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from .conftest import Cluster, helmrelease


def test_git_source_without_git_is_a_clear_reason(
    cluster: Cluster, repo: ChartRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # the controller's PATH: its helm shim, .bin (helm, kubectl), this
    assert cluster.sim.kubeconfig_path is not None
    proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path).start()
    try:
        env_path = f"{proc.shim_dir}:{Path(proc.real_helm).parent}:{empty}"
        assert shutil.which("git", path=env_path) is None
        cluster.apply(helmrelease("web", repo.url))
        cluster.apply(
            {
                "apiVersion": "helmrelease.dev/v1",
                "kind": "HelmRelease",
                "metadata": {"name": "from-git", "namespace": "apps"},
                "spec": {
                    "interval": "1m",
                    "chart": {"git": {"url": "https://127.0.0.1:9/charts.git", "path": "charts/webapp"}},
                },
            }
        )
        cluster.wait_ready("web")
        cond = cluster.wait_condition("from-git", "Ready", "False", reason="ArtifactFailed")
        assert "git is not installed" in cond["message"], cond
        assert any("git not found on PATH" in str(r.get("msg")) for r in proc.log_records())
    finally:
        proc.stop()
