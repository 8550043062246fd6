"""A HelmRelease whose chart lives in an OCI registry (Debian's docker-registry on loopback)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers.chartrepo import helm_binary
from tests.helpers.controller import ControllerProcess, package_webapp
from tests.helpers.registry import Registry

from .conftest import Cluster


def test_install_from_oci_registry_pins_the_digest(cluster: Cluster, tmp_path: Path) -> None:
    with Registry(tmp_path / "registry") as reg:
        src = package_webapp(tmp_path / "src", "1.2.0")
        subprocess.run(
            [helm_binary(), "package", str(src), "-d", str(tmp_path / "pkg")], check=True, capture_output=True
        )
        digest = reg.push(tmp_path / "pkg" / "webapp-1.2.0.tgz")
        assert cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path)
        proc.start("--plain-http-registry", reg.host)
        try:
            cluster.apply(
                {
                    "apiVersion": "helmrelease.dev/v1",
                    "kind": "HelmRelease",
                    "metadata": {"name": "web", "namespace": "apps"},
                    "spec": {
                        "interval": "1m",
                        "timeout": "10s",
                        "chart": {"oci": {"url": f"{reg.url}/webapp", "version": "1.x"}},
                        "values": {"message": "from oci"},
                    },
                }
            )
            obj = cluster.wait_ready("web")
            assert obj["status"]["helmChart"] == "webapp@1.2.0"
            assert obj["status"]["lastAppliedRevision"] == f"1.2.0@{digest}"
            cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
            assert cm is not None and cm["data"]["message"] == "from oci"
        finally:
            proc.stop()
