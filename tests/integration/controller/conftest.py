"""Fixtures for controller tests: kubesim + the HelmRelease CRD + a real chart repository + the controller."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from kubesim.sim import kubeconfig
from tests.conftest import Cli, _env, tool
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ROOT, ControllerProcess, package_webapp, wait_for

CRD = ROOT / "crds" / "helmrelease.yaml"


class Cluster:
    """What a user sees: kubectl against kubesim, plus shortcuts for HelmReleases."""

    def __init__(self, sim: KubeSim, kubectl: Cli) -> None:
        self.sim, self.kubectl = sim, kubectl

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump(obj))

    def hr(self, name: str, ns: str = "apps") -> dict[str, Any]:
        rt = self.sim.registry.get("helmrelease.dev", "v1", "helmreleases")
        assert rt is not None
        return self.sim.call(lambda: self.sim.store.get(rt, ns, name))  # type: ignore[no-any-return]

    def status(self, name: str, ns: str = "apps") -> dict[str, Any]:
        return self.hr(name, ns).get("status") or {}

    def condition(self, name: str, type_: str = "Ready", ns: str = "apps") -> dict[str, Any]:
        for c in self.status(name, ns).get("conditions") or []:
            if c["type"] == type_:
                return c  # type: ignore[no-any-return]
        return {}

    def wait_ready(
        self, name: str, ns: str = "apps", timeout: float = 30, reason: str | None = None
    ) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            obj = self.hr(name, ns)
            st = obj.get("status") or {}
            c = next((c for c in st.get("conditions") or [] if c["type"] == "Ready"), {})
            in_sync = st.get("observedGeneration") == obj["metadata"]["generation"]
            if c.get("status") == "True" and in_sync and (reason is None or c.get("reason") == reason):
                return obj
            return None

        return wait_for(ready, timeout, what=f"HelmRelease {ns}/{name} Ready")

    def wait_condition(
        self,
        name: str,
        type_: str,
        status: str,
        reason: str | None = None,
        ns: str = "apps",
        timeout: float = 30,
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            c = self.condition(name, type_, ns)
            if c.get("status") == status and (reason is None or c.get("reason") == reason):
                return c
            return None

        return wait_for(check, timeout, what=f"{ns}/{name} {type_}={status} {reason or ''}")

    def get(self, api_version: str, kind: str, ns: str, name: str) -> dict[str, Any] | None:
        rt = self.sim.registry.by_kind(api_version, kind)
        assert rt is not None
        return self.sim.call(lambda: self.sim.store.peek(rt, ns, name))  # type: ignore[no-any-return]

    def events(self, ns: str = "apps") -> list[dict[str, Any]]:
        out = []
        for av in ("v1", "events.k8s.io/v1"):
            rt = self.sim.registry.by_kind(av, "Event")
            assert rt is not None
            out += self.sim.call(lambda rt=rt: self.sim.store.list(rt, ns))
        return out

    def event_reasons(self, ns: str = "apps") -> list[str]:
        return [e.get("reason", "") for e in self.events(ns)]


def helmrelease(
    name: str, repo_url: str, version: str = "1.x", ns: str = "apps", **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "interval": "1m",
        "timeout": "5s",
        "chart": {"repository": {"url": repo_url, "name": "webapp", "version": version}},
        "backoff": {"initial": "500ms", "max": "2s", "jitter": 0},
    }
    body.update(spec)
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": body,
    }


@pytest.fixture
def cluster(kubesim: KubeSim, kubectl: Cli) -> Cluster:
    kubectl("apply", "-f", str(CRD))
    kubectl("create", "namespace", "apps")
    return Cluster(kubesim, kubectl)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with ChartRepo(tmp_path / "repo") as r:
        src = tmp_path / "charts-src"
        r.add_charts([package_webapp(src, v) for v in ("1.0.0", "1.1.0", "2.0.0")])
        yield r


@pytest.fixture(params=["helm"])
def helm_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def controller(cluster: Cluster, tmp_path: Path, helm_name: str) -> Iterator[ControllerProcess]:
    assert cluster.sim.kubeconfig_path is not None
    proc = ControllerProcess(tmp_path / "controller", cluster.sim.kubeconfig_path, helm=helm_name)
    proc.start()
    yield proc
    rc = proc.stop()
    if rc not in (0, -9):
        print(proc.logs()[-5000:])


# -- a cluster that authenticates and authorizes (tenancy, the controller's own RBAC) -------------
CONTROLLER_RBAC = (
    "deploy/base/rbac.yaml",
    "deploy/base/aggregate-roles.yaml",
    "deploy/multi-tenant/impersonate.yaml",
)


@pytest.fixture
def enforcing(tmp_path: Path) -> Iterator[Cluster]:
    """kubesim enforcing RBAC (kubectl here is its admin) with both CRDs and the controller's RBAC
    of deploy/multi-tenant: deploy/base's own rules plus impersonating ServiceAccounts, and no
    cluster-admin for helm."""
    sim = KubeSim(bookmark_interval=1.0, rbac=True)
    sim.start()
    sim.write_kubeconfig(tmp_path / "kubeconfig")
    admin = Cli(tool("kubectl"), _env(tmp_path, sim))
    admin("apply", "-k", str(ROOT / "crds"))
    admin("create", "namespace", "helmrelease-system")
    for path in CONTROLLER_RBAC:
        admin("apply", "-f", str(ROOT / path))
    yield Cluster(sim, admin)
    sim.stop()


def controller_kubeconfig(cluster: Cluster, path: Path) -> Path:
    """A kubeconfig with a token of the controller's ServiceAccount (TokenRequest, as a pod's)."""
    token = cluster.kubectl("create", "token", "helmrelease-controller", "-n", "helmrelease-system").strip()
    ca = cluster.sim.tls.ca_data if cluster.sim.tls else ""
    path.write_text(yaml.safe_dump(kubeconfig(cluster.sim.url, token=token, ca_data=ca)))
    return path
