"""`upgrade.force` and the force-at annotation on helm 4 and helm 3; what failures say, and the
Revision column after a rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for

from .conftest import Cluster, helmrelease

FORCE_FLAGS = {"helm": "--force-replace --server-side=false", "helm3": "--force"}


def _without_service(repo: ChartRepo, src: Path) -> str:
    """webapp 3.0.0 without its Service: kubesim does not keep a Service's allocated clusterIP when
    helm 3's --force replaces it (a real API server does), which helm 3's --wait then waits for."""
    chart = package_webapp(src, "3.0.0")
    app = chart / "templates" / "app.yaml"
    docs = app.read_text().split("---\n")
    app.write_text("---\n".join(d for d in docs if "kind: Service" not in d))
    repo.add_charts([chart])
    return "3.0.0"


def _message(cluster: Cluster, name: str) -> str:
    return str(cluster.condition(name).get("message", ""))


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_upgrade_force_and_force_at_upgrade(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str, tmp_path: Path
) -> None:
    version = _without_service(repo, tmp_path / "src")
    spec = {"upgrade": {"force": True}, "timeout": "10s", "version": version}
    cluster.apply(helmrelease("web", repo.url, values={"message": "one"}, **spec))
    cluster.wait_ready("web")
    # install does not force; the upgrade does, and succeeds (helm 4 refuses --force-replace with
    # server-side apply, its default for a release it installed).
    cluster.apply(helmrelease("web", repo.url, values={"message": "two"}, **spec))
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    upgrade = controller.helm_calls("upgrade")[-1]
    assert FORCE_FLAGS[helm_name] in upgrade, upgrade
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["data"]["message"] == "two"
    assert cluster.status("web")["history"][0]["revision"] == 2
    assert "UpgradeFailed" not in cluster.event_reasons()

    # force-at on a release without upgrade.force: one forced upgrade, which succeeds.
    cluster.apply(helmrelease("web", repo.url, version, values={"message": "two"}, timeout="10s"))
    wait_for(lambda: cluster.status("web").get("observedGeneration") == 3, 20)
    upgrades = len(controller.helm_calls("upgrade"))
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/force-at=now")
    wait_for(lambda: cluster.status("web").get("lastHandledForceAt") == "now", 20)
    wait_for(lambda: len(controller.helm_calls("upgrade")) > upgrades, 20)
    assert FORCE_FLAGS[helm_name] in controller.helm_calls("upgrade")[-1]
    wait_for(lambda: cluster.status("web")["history"][0]["revision"] == 3, 20)
    cluster.wait_ready("web")
    assert cluster.status("web")["history"][0]["status"] == "deployed"
    assert "UpgradeFailed" not in cluster.event_reasons()
    # and later upgrades run without force (on helm 4, client-side from now on: "auto" follows
    # the previous revision's apply method).
    cluster.apply(helmrelease("web", repo.url, version, values={"message": "three"}, timeout="10s"))
    wait_for(lambda: len(controller.helm_calls("upgrade")) > upgrades + 1, 20)
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert " --force" not in controller.helm_calls("upgrade")[-1]


def test_a_first_install_into_a_missing_namespace_says_install_failed(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    spec = {"targetNamespace": "nope", "install": {"remediation": {"retries": 0}}}
    cluster.apply(helmrelease("web", repo.url, **spec))
    cond = cluster.wait_condition("web", "Released", "False")
    assert cond["reason"] == "InstallFailed"
    assert cond["message"] == (
        'install failed: create: failed to create: namespaces "nope" not found'
        " (set spec.install.createNamespace: true to create namespace nope)"
    ), cond
    assert "upgrade failed" not in _message(cluster, "web")


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_after_a_rollback_the_revision_column_shows_the_deployed_revision(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str
) -> None:
    # helm 3's legacy --wait polls every 2 s, so it needs a timeout longer than one poll.
    remediation = {"retries": 0, "remediateLastFailure": True}
    spec = {"upgrade": {"remediation": remediation}, "timeout": "2s" if helm_name == "helm" else "5s"}
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    cluster.apply(helmrelease("web", repo.url, values={"neverReady": True}, **spec))
    cluster.wait_condition("web", "Stalled", "True", "RetriesExhausted", timeout=60)
    # 1 install (superseded), 2 failed upgrade, 3 the rollback to 1 (deployed)
    hist = cluster.status("web")["history"]
    assert [(h["revision"], h["status"]) for h in hist[:2]] == [(3, "deployed"), (2, "failed")], hist
    out = cluster.kubectl(
        "get", "hr", "web", "-n", "apps", "-o", "custom-columns=REV:.status.history[0].revision"
    )
    table = cluster.kubectl("get", "hr", "web", "-n", "apps")
    header, row = table.splitlines()[:2]
    # STATUS holds spaces: count the columns from the end (REVISION, SUSPENDED, AGE)
    assert header.split()[-3] == "REVISION" and row.split()[-3] == "3", table
    assert out.split()[-1] == "3"
    # the wait timeout names the resource that was not ready, on helm 3 as on helm 4
    names = {"helm": "resource Deployment/apps/web not ready", "helm3": "Deployment is not ready: apps/web"}
    assert names[helm_name] in _message(cluster, "web"), _message(cluster, "web")


def test_a_values_schema_violation_keeps_its_details(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, tmp_path: Path
) -> None:
    chart = package_webapp(tmp_path / "src", "4.0.0")
    schema = '{"type": "object", "properties": {"replicas": {"type": "integer"}}}'
    (chart / "values.schema.json").write_text(schema)
    repo.add_charts([chart])
    spec = {"install": {"remediation": {"retries": 0}}}
    cluster.apply(helmrelease("web", repo.url, "4.0.0", values={"replicas": "two"}, **spec))
    cond = cluster.wait_condition("web", "Released", "False")
    assert cond["reason"] == "InstallFailed"
    assert cond["message"].startswith("install failed: values don't meet the specifications"), cond
    assert cond["message"].endswith("webapp: at '/replicas': got string, want integer"), cond
