"""Flux HelmReleases converted by `helmrelease-controller convert` are deployed by the running
controller: a Flux v2 HelmRelease with its HelmRepository (a real chart repository), and a Flux v1
HelmRelease with its chart in git (a real git daemon)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ROOT, ControllerProcess
from tests.helpers.gitserver import GitDaemon, GitRepo

from .conftest import Cluster


def convert(text: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "helmrelease_controller", "convert", "-"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=text,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_flux_v2_helmrelease_and_its_helmrepository_deploy(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    flux = f"""
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: apps}}
spec: {{interval: 1h, url: "{repo.url}"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  interval: 1m
  timeout: 30s
  chart:
    spec:
      chart: webapp
      version: 1.x
      sourceRef: {{kind: HelmRepository, name: charts}}
  values: {{message: converted from flux}}
"""
    cluster.kubectl("apply", "-f", "-", input=convert(flux))
    obj = cluster.wait_ready("web", timeout=60)
    assert obj["status"]["helmChart"] == "webapp@1.1.0"
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "converted from flux"


def test_a_flux_v1_helmrelease_from_git_deploys_under_helm_operators_release_name(
    cluster: Cluster, tmp_path: Path, controller: ControllerProcess
) -> None:
    source = GitRepo(tmp_path / "srv", "charts")
    source.copy_chart()
    source.commit("add webapp")
    with GitDaemon(source.serve_root) as daemon:
        flux = f"""
apiVersion: helm.fluxcd.io/v1
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  chart: {{git: "{daemon.url("charts")}", ref: main, path: charts/webapp}}
  timeout: 30
  values: {{message: from helm-operator}}
"""
        cluster.kubectl("apply", "-f", "-", input=convert(flux))
        obj = cluster.wait_ready("web", timeout=60)
    assert obj["spec"]["releaseName"] == "apps-web"  # the name helm-operator gave the release
    cm = cluster.get("v1", "ConfigMap", "apps", "apps-web-config")  # the chart names it after the release
    assert cm is not None and cm["data"]["message"] == "from helm-operator"
