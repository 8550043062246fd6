"""Drift: someone changes a release's objects behind GitOps' back (kubectl edit/scale/delete).

`warn` reports it on the Drifted condition (objects and field paths, never a Secret's values) and
in an event; `enabled` puts it back within one interval without a helm process or a new revision;
ignore rules, fields the chart does not set and opted-out objects are left alone. Real helm 3
and 4 made the release (their field managers differ: helm 3 updates, helm 4 applies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease

ROOT = Path(__file__).resolve().parents[3]


def drifting(repo: ChartRepo, mode: str, **spec: Any) -> dict[str, Any]:
    return helmrelease("web", repo.url, interval="1s", driftDetection={"mode": mode, **spec})


def drifted(cluster: Cluster, reason: str) -> dict[str, Any]:
    status = "True" if reason == "DriftDetected" else "False"
    return cluster.wait_condition("web", "Drifted", status, reason=reason, timeout=30)


def image(cluster: Cluster) -> str:
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def make_drift(cluster: Cluster) -> None:
    """Four kinds of drift: an image, a ConfigMap value, a scale, a deleted Service."""
    cluster.kubectl("set", "image", "deployment/web", "app=nginx:9.9", "-n", "apps")
    cluster.kubectl(
        "patch", "configmap", "web-config", "-n", "apps", "-p", json.dumps({"data": {"message": "hacked"}})
    )
    cluster.kubectl("scale", "deployment/web", "--replicas=3", "-n", "apps")
    cluster.kubectl("delete", "service", "web", "-n", "apps")


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_warn_reports_each_drift_and_changes_nothing(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(drifting(repo, "warn"))
    cluster.wait_ready("web")
    clean = drifted(cluster, "NoDrift")
    assert clean["status"] == "False" and "no drift in 3 objects" in clean["message"]
    calls = len(controller.helm_calls())
    make_drift(cluster)
    cond = wait_for(
        lambda: (
            (c := cluster.condition("web", "Drifted")).get("reason") == "DriftDetected"
            and "Service/web: deleted" in c.get("message", "")
            and "/spec/replicas" in c.get("message", "")
            and c
        ),
        30,
        what="the drift reported",
    )
    assert cond["status"] == "True"
    msg = cond["message"]
    assert "Deployment/web: /spec/replicas, /spec/template/spec/containers/0/image" in msg
    assert "ConfigMap/web-config: /data/message" in msg
    wait_for(lambda: "DriftDetected" in cluster.event_reasons(), 10, what="the DriftDetected event")
    assert image(cluster) == "nginx:9.9" and cluster.get("v1", "Service", "apps", "web") is None  # warn only
    assert len(controller.helm_calls()) == calls  # no helm process to look
    assert cluster.condition("web")["status"] == "True"  # still Ready: drift is reported, not a failure


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_enabled_puts_back_each_drift_without_a_new_revision(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(drifting(repo, "enabled"))
    cluster.wait_ready("web")
    drifted(cluster, "NoDrift")
    calls = len(controller.helm_calls())
    make_drift(cluster)

    def restored() -> bool:
        dep = cluster.get("apps/v1", "Deployment", "apps", "web")
        cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
        svc = cluster.get("v1", "Service", "apps", "web")
        return bool(
            dep
            and dep["spec"]["replicas"] == 1
            and image(cluster) == "nginx:1.27"
            and cm
            and cm["data"]["message"] == "hello"
            and svc
        )

    wait_for(restored, 30, what="the drift put back")
    wait_for(lambda: "DriftCorrected" in cluster.event_reasons(), 10, what="the DriftCorrected event")
    assert len(controller.helm_calls()) == calls  # no helm process
    assert [h["revision"] for h in cluster.status("web")["history"]] == [1]  # no new revision
    drifted(cluster, "NoDrift")  # the next interval finds nothing


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_ignored_paths_unset_fields_and_opted_out_objects_are_left_alone(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    ignore = [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}]
    cluster.apply(drifting(repo, "enabled", ignore=ignore))
    cluster.wait_ready("web")
    drifted(cluster, "NoDrift")
    cluster.kubectl("scale", "deployment/web", "--replicas=4", "-n", "apps")  # an HPA, say
    cluster.kubectl(
        "label", "deployment/web", "team=payments", "-n", "apps"
    )  # a field the chart does not set
    cluster.kubectl(
        "annotate", "configmap", "web-config", "helmrelease.dev/drift-detection=disabled", "-n", "apps"
    )
    cluster.kubectl(
        "patch", "configmap", "web-config", "-n", "apps", "-p", json.dumps({"data": {"message": "mine"}})
    )
    # A drift that is corrected, so we know a check ran after the edits above.
    cluster.kubectl("set", "image", "deployment/web", "app=nginx:9.9", "-n", "apps")
    wait_for(lambda: image(cluster) == "nginx:1.27", 30, what="the image put back")
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert (
        dep is not None and dep["spec"]["replicas"] == 4 and dep["metadata"]["labels"]["team"] == "payments"
    )
    assert cm is not None and cm["data"]["message"] == "mine"
    corrected = wait_for(
        lambda: [e for e in cluster.events() if e.get("reason") == "DriftCorrected"], 10, what="the event"
    )
    text = " ".join(str(e.get("note") or e.get("message")) for e in corrected)
    assert "/spec/template/spec/containers/0/image" in text and "/spec/replicas" not in text
    assert "ConfigMap" not in text


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_a_secret_drift_is_reported_without_its_data(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    repo.add_charts([ROOT / "tests" / "charts" / "secretapp"])
    hr = helmrelease("web", repo.url, interval="1s", driftDetection={"mode": "warn"})
    hr["spec"]["chart"] = {"repository": {"url": repo.url, "name": "secretapp", "version": "1.0.0"}}
    cluster.apply(hr)
    cluster.wait_ready("web")
    drifted(cluster, "NoDrift")  # stringData is compared as the data it becomes
    secret_value = "bGVha2VkLXBhc3N3b3Jk"  # base64 of "leaked-password"
    cluster.kubectl(
        "patch",
        "secret",
        "web-credentials",
        "-n",
        "apps",
        "-p",
        json.dumps({"data": {"password": secret_value}}),
    )
    cond = drifted(cluster, "DriftDetected")
    assert cond["message"] == "Secret/web-credentials: /data/password"
    everything = json.dumps(cluster.hr("web")) + json.dumps(cluster.events()) + controller.logs()
    assert secret_value not in everything and "leaked-password" not in everything
    assert "changeme" not in everything and "Y2hhbmdlbWU" not in everything
