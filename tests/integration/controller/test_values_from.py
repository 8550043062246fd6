"""valuesFrom: values from ConfigMaps and Secrets, merged in order; an edit upgrades; secrets never leak."""

from __future__ import annotations

import json

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease

SECRET_VALUE = "hunter2-do-not-leak-7f3a"


def _message(cluster: Cluster) -> str | None:
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    return None if cm is None else cm["data"]["message"]


def test_values_from_configmap_and_secret(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.kubectl(
        "create",
        "configmap",
        "web-values",
        "-n",
        "apps",
        "--from-literal=values.yaml=message: from-configmap\nreplicas: 2\n",
    )
    cluster.kubectl(
        "create", "secret", "generic", "web-secret", "-n", "apps", f"--from-literal=password={SECRET_VALUE}"
    )
    spec = {
        "valuesFrom": [
            {"kind": "ConfigMap", "name": "web-values"},
            {"kind": "Secret", "name": "web-secret", "valuesKey": "password", "targetPath": "image"},
        ]
    }
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    assert _message(cluster) == "from-configmap"
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None and dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == SECRET_VALUE

    # spec.values wins over valuesFrom.
    cluster.apply(helmrelease("web", repo.url, values={"message": "inline"}, **spec))
    wait_for(lambda: _message(cluster) == "inline", 20, what="inline values applied")

    # Editing the referenced Secret upgrades the release, without touching the HelmRelease.
    new_secret = SECRET_VALUE + "-rotated"
    cluster.kubectl(
        "patch",
        "secret",
        "web-secret",
        "-n",
        "apps",
        "--type",
        "merge",
        "-p",
        json.dumps({"stringData": {"password": new_secret}}),
    )
    wait_for(
        lambda: (
            (cluster.get("apps/v1", "Deployment", "apps", "web") or {})
            .get("spec", {})
            .get("template", {})
            .get("spec", {})
            .get("containers", [{}])[0]
            .get("image")
            == new_secret
        ),
        20,
        what="secret edit applied",
    )

    # The values never leave: not in status, the controller's events or its logs. (The cluster's own
    # events may name the image, as a kubelet's "Pulling image" does: they are not ours to redact.)
    hr = json.dumps(cluster.hr("web"))
    ours = [e for e in cluster.events() if e.get("reportingController") == "helmrelease-controller"]
    assert ours, "the controller's events were looked at"
    events = json.dumps(ours)
    logs = controller.logs()
    for secret in (SECRET_VALUE, new_secret):
        assert secret not in hr and secret not in events and secret not in logs


def test_missing_values_reference_is_reported_and_runs_no_helm(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    cluster.apply(helmrelease("web", repo.url, valuesFrom=[{"kind": "ConfigMap", "name": "nope"}]))
    c = cluster.wait_condition("web", "Ready", "False", "ValuesError")
    assert c["message"] == "valuesFrom: ConfigMap apps/nope not found"
    assert controller.helm_calls("upgrade") == []
    # optional: true makes it fine.
    cluster.apply(
        helmrelease("web", repo.url, valuesFrom=[{"kind": "ConfigMap", "name": "nope", "optional": True}])
    )
    cluster.wait_ready("web")
    # Broken YAML in a referenced ConfigMap: one line naming the object and key, not the content.
    cluster.kubectl("create", "configmap", "bad", "-n", "apps", "--from-literal=values.yaml=a: [unclosed")
    cluster.apply(helmrelease("web", repo.url, valuesFrom=[{"kind": "ConfigMap", "name": "bad"}]))
    c = cluster.wait_condition("web", "Ready", "False", "ValuesError")
    assert "ConfigMap apps/bad" in c["message"] and "not valid YAML" in c["message"]
    assert "unclosed" not in c["message"]


def test_values_files_inside_the_chart(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    hr = helmrelease("web", repo.url, values={"replicas": 2})
    hr["spec"]["chart"]["repository"]["valuesFiles"] = ["values-prod.yaml"]
    cluster.apply(hr)
    cluster.wait_ready("web")
    assert _message(cluster) == "from values-prod"  # the chart file over values.yaml
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None and dep["spec"]["replicas"] == 2  # spec.values over the chart file
    hr["spec"]["chart"]["repository"]["valuesFiles"] = ["values-nope.yaml"]
    cluster.apply(hr)
    c = cluster.wait_condition("web", "Ready", "False", "ValuesError")
    assert c["message"] == "valuesFiles: values-nope.yaml not found in chart webapp@1.1.0"


def test_values_are_read_as_helm_reads_them(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """YAML 1.1 as Helm's sigs.k8s.io/yaml reads it: a date stays a string, `y` is a bool, 0x10 is 16."""
    cluster.kubectl(
        "create",
        "configmap",
        "dated",
        "-n",
        "apps",
        "--from-literal=values.yaml=message: 2024-01-01\nreplicas: 0x2\n",
    )
    cluster.apply(helmrelease("web", repo.url, valuesFrom=[{"kind": "ConfigMap", "name": "dated"}]))
    cluster.wait_ready("web")
    assert _message(cluster) == "2024-01-01"
    dep = cluster.get("apps/v1", "Deployment", "apps", "web")
    assert dep is not None and dep["spec"]["replicas"] == 2
    # `y` is true for Helm (`helm -f` renders "true"), so it is for us.
    cluster.kubectl(
        "patch",
        "configmap",
        "dated",
        "-n",
        "apps",
        "--type",
        "merge",
        "-p",
        json.dumps({"data": {"values.yaml": "message: y\n"}}),
    )
    wait_for(lambda: _message(cluster) == "true", 20, what="message: y rendered as Helm renders it")
