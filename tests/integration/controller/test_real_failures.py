"""The failures a real cluster produces, as a user meets them through the controller (issue 14):
a field someone changed with kubectl (a server-side apply conflict on helm 4), an immutable
selector, and an invalid HelmRelease refused by the CRD at `kubectl apply` time."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from helmrelease_controller.api.models import HelmRelease, SpecError
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for

from .conftest import Cluster, helmrelease


def _message(cluster: Cluster, name: str = "web") -> str:
    return str(cluster.condition(name).get("message", ""))


def _replicas(cluster: Cluster) -> int:
    deployment = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert deployment is not None
    return int(deployment["spec"]["replicas"])


@pytest.mark.parametrize("helm_name", ["helm"], indirect=True)  # helm 4: server-side apply
def test_a_field_changed_with_kubectl_is_a_conflict_until_taken_over(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str
) -> None:
    cluster.apply(helmrelease("web", repo.url, values={"replicas": 1}, timeout="10s"))
    cluster.wait_ready("web")
    cluster.kubectl("patch", "deployment", "web", "-n", "apps", "-p", '{"spec":{"replicas":3}}')

    cluster.apply(helmrelease("web", repo.url, values={"replicas": 2}, timeout="10s"))
    wait_for(lambda: "server-side apply conflict" in _message(cluster), 30, what="the conflict reported")
    message = _message(cluster)
    # Stalled (no retries configured), naming the object, the field, its owner and the way out.
    assert "last error: Deployment/apps/web .spec.replicas is owned by kubectl-patch" in message, message
    assert message.endswith(
        "set spec.upgrade.forceConflicts: true or annotate helmrelease.dev/force-at to take it over"
    )
    assert _replicas(cluster) == 3  # nothing was taken from its owner

    taken = helmrelease(
        "web", repo.url, values={"replicas": 2}, timeout="10s", upgrade={"forceConflicts": True}
    )
    cluster.apply(taken)
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert "--force-conflicts" in controller.helm_calls("upgrade")[-1]
    assert _replicas(cluster) == 2


def _new_selector(repo: ChartRepo, src: Path) -> str:
    """webapp 3.0.0 whose Deployment selects one more label: an immutable change."""
    chart = package_webapp(src, "3.0.0")
    app = chart / "templates" / "app.yaml"
    text = app.read_text()
    for old in ("matchLabels: {app: {{ .Release.Name }}}", "      labels: {app: {{ .Release.Name }}}"):
        text = text.replace(old, old[:-1] + ", tier: web}")
    app.write_text(text)
    assert text.count("tier: web") == 2
    repo.add_charts([chart])
    return "3.0.0"


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_an_immutable_selector_is_reported_then_replaced_by_force_at(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str, tmp_path: Path
) -> None:
    version = _new_selector(repo, tmp_path / "src")
    cluster.apply(helmrelease("web", repo.url, "1.0.0", timeout="10s"))
    cluster.wait_ready("web")
    uid = cluster.get("apps/v1", "Deployment", "apps", "web")["metadata"]["uid"]  # type: ignore[index]

    cluster.apply(helmrelease("web", repo.url, version, timeout="10s"))
    wait_for(lambda: "is immutable" in _message(cluster), 30, what="the immutable field reported")
    message = _message(cluster)
    assert "Deployment/apps/web spec.selector is immutable: the object must be replaced" in message, message
    assert message.endswith("annotate helmrelease.dev/force-at to replace it")
    assert cluster.get("apps/v1", "Deployment", "apps", "web")["metadata"]["uid"] == uid  # type: ignore[index]

    # force-at: helm's own replace (a PUT) is refused too; the controller deletes the Deployment
    # (it belongs to the release) and upgrades again, which creates it with the new selector.

    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/force-at=now")
    cluster.wait_ready("web", reason="UpgradeSucceeded", timeout=40)
    deployment = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert deployment is not None and deployment["spec"]["selector"]["matchLabels"]["tier"] == "web"
    assert deployment["metadata"]["uid"] != uid  # replaced: a new object


REPO = {"repository": {"url": "https://charts.example", "name": "web"}}
GIT = {"git": {"url": "https://git.example/charts.git", "ref": {"branch": "main"}, "path": "../x"}}


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (
            {"chart": {**REPO, "oci": {"url": "oci://r/web"}}},
            "exactly one of git, repository or oci must be set",
        ),
        ({"chart": REPO, "interval": "0s"}, "must be greater than 0s"),
        ({"chart": GIT}, "must be a path relative to the repository root, without '..'"),
        ({"chart": REPO, "interval": "5 minutes"}, ""),  # a pattern: the server's words, the same field
    ],
    ids=["two-chart-sources", "zero-interval", "path-outside-the-repository", "bad-duration"],
)
def test_an_invalid_helmrelease_is_refused_at_apply_time_in_the_controllers_words(
    cluster: Cluster, spec: dict[str, object], rule: str
) -> None:
    obj = {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "bad", "namespace": "apps"},
        "spec": spec,
    }
    with pytest.raises(SpecError) as controller_says:
        HelmRelease.from_obj(obj)
    out = cluster.kubectl.run("apply", "-f", "-", input=yaml.safe_dump(obj), check=False)
    assert out.returncode == 1 and cluster.get("helmrelease.dev/v1", "HelmRelease", "apps", "bad") is None
    # kubectl: The HelmRelease "bad" is invalid: spec.chart: Invalid value: "object": exactly one of ...
    field, _, reason = str(controller_says.value).partition(": ")
    assert f"{field}: Invalid value: " in out.stderr, out.stderr
    assert rule in reason and rule in out.stderr, (reason, out.stderr)


def test_a_release_too_large_for_helms_storage_says_so(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, tmp_path: Path
) -> None:
    # Incompressible data just under a ConfigMap's 1 MiB: helm's record of the revision (chart plus
    # rendered manifest, gzipped, in one Secret) goes over the 1 MiB a Secret may hold.
    chart = tmp_path / "src" / "big"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: big\nversion: 1.0.0\n")
    blob = base64.b64encode(os.urandom(700 * 1024)).decode()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "blob"}, "data": {"b": blob}}
    (chart / "templates" / "cm.yaml").write_text(yaml.safe_dump(cm))
    repo.add_charts([chart])
    source = {"repository": {"url": repo.url, "name": "big", "version": "1.0.0"}}
    cluster.apply(helmrelease("big", repo.url, chart=source, timeout="10s"))
    wait_for(lambda: "too large" in _message(cluster, "big"), 60, what="the reason")
    message = _message(cluster, "big")
    assert "release apps/big revision 1 is too large for Helm's storage" in message, message
    assert "make the chart or its values smaller" in message
