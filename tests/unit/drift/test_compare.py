"""Drift of one object: the manifest's fields against the live object (the rows a user would see)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from helmrelease_controller.drift.compare import (
    Drift,
    IgnoreRule,
    ObjectRef,
    drift_of,
    ignored_paths,
    quantity,
    summary,
)


def deployment(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "env": [{"name": "MESSAGE", "value": "hi"}],
                            "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}, "requests": {"cpu": 2}},
                            "ports": [{"containerPort": 80}],
                        }
                    ]
                },
            },
        },
    }
    for path, value in changes.items():
        node = obj
        *parents, last = path.split("__")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[last] = value
    return obj


def served(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server keeps: defaults added, quantities canonical, metadata and status added."""
    live = copy.deepcopy(obj)
    live["metadata"].update({"namespace": "apps", "uid": "u1", "resourceVersion": "7", "generation": 1})
    live["metadata"]["annotations"] = {
        "meta.helm.sh/release-name": "web",
        "deployment.kubernetes.io/revision": "1",
    }
    spec = live["spec"]
    spec.update(
        {"strategy": {"type": "RollingUpdate"}, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}
    )
    c = spec["template"]["spec"]["containers"][0]
    c.update({"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"})
    c["resources"] = {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "2"}}
    c["ports"][0]["protocol"] = "TCP"
    spec["template"]["spec"]["restartPolicy"] = "Always"
    live["status"] = {"replicas": 1, "readyReplicas": 1}
    return live


def edited(path: str, value: Any, obj: dict[str, Any] | None = None) -> dict[str, Any]:
    live = served(obj or deployment())
    node: Any = live
    *parents, last = path.split("/")[1:]
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is DELETE:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return live


DELETE = object()
CONTAINER = "/spec/template/spec/containers/0"


@pytest.mark.parametrize(
    ("live", "paths"),
    [
        (served(deployment()), None),  # defaults, status, canonical quantities: no drift
        (edited("/spec/replicas", 3), ["/spec/replicas"]),  # kubectl scale
        (edited(f"{CONTAINER}/image", "nginx:1.28"), [f"{CONTAINER}/image"]),  # kubectl set image
        (edited(f"{CONTAINER}/env/0/value", "edited"), [f"{CONTAINER}/env/0/value"]),
        (edited(f"{CONTAINER}/env", DELETE), [f"{CONTAINER}/env"]),
        (edited(f"{CONTAINER}/resources/limits/memory", "2Gi"), [f"{CONTAINER}/resources/limits/memory"]),
        (edited(f"{CONTAINER}/resources/limits/memory", "1024Mi"), None),  # the same quantity
        (edited(f"{CONTAINER}/ports/0/containerPort", 81), [f"{CONTAINER}/ports/0/containerPort"]),
        (edited("/metadata/labels/app", "other"), ["/metadata/labels/app"]),
        (edited("/metadata/labels/team", "added"), None),  # a label the chart does not set
        (edited("/spec/paused", True), None),  # a field the chart does not set
    ],
    ids=[
        "served",
        "scaled",
        "image",
        "env-value",
        "env-removed",
        "memory",
        "memory-same-quantity",
        "port",
        "label-changed",
        "label-added",
        "unset-field",
    ],
)
def test_deployment_rows(live: dict[str, Any], paths: list[str] | None) -> None:
    d = drift_of(deployment(), live, namespace="apps")
    assert (list(d.paths) if d else None) == paths


def test_a_sidecar_injected_by_a_webhook_is_not_drift_but_a_renamed_container_is() -> None:
    live = served(deployment())
    live["spec"]["template"]["spec"]["containers"].insert(0, {"name": "istio-proxy", "image": "proxy"})
    assert drift_of(deployment(), live) is None  # matched by name, as server-side apply does
    live["spec"]["template"]["spec"]["containers"][1]["name"] = "renamed"
    d = drift_of(deployment(), live)
    assert d is not None and d.paths == (CONTAINER,)


def test_a_deleted_object() -> None:
    d = drift_of(deployment(), None, namespace="apps")
    assert d == Drift(ObjectRef("apps/v1", "Deployment", "apps", "web"), deleted=True)
    assert d.describe() == "Deployment/web: deleted"


def secret(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": data}


@pytest.mark.parametrize(
    ("live_data", "paths"),
    [
        ({"password": "s3cret"}, None),  # stringData is stored as data
        ({"password": "changed"}, ["/data/password"]),  # the key, never the value
        ({}, ["/data/password"]),
    ],
)
def test_secret_rows(live_data: dict[str, str], paths: list[str] | None) -> None:
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "apps"},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in live_data.items()},
    }
    d = drift_of(secret(password="s3cret"), live)
    assert (list(d.paths) if d else None) == paths
    assert d is None or ("s3cret" not in d.describe() and "changed" not in d.describe())


def test_ignore_rules_builtin_ignores_and_the_opt_out_annotation() -> None:
    scaled = edited("/spec/replicas", 5)
    ref = ObjectRef("apps/v1", "Deployment", "apps", "web")
    rules = [IgnoreRule(("/spec/replicas",), kind="Deployment")]
    assert drift_of(deployment(), scaled, ignored_paths(ref, rules)) is None
    other = [IgnoreRule(("/spec/replicas",), kind="Deployment", name="api")]  # another object
    assert drift_of(deployment(), scaled, ignored_paths(ref, other)) is not None
    scaled["metadata"]["annotations"]["helmrelease.dev/drift-detection"] = "disabled"
    assert drift_of(deployment(), scaled) is None

    hook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "inject"},
        "webhooks": [{"name": "a.example.com", "clientConfig": {"caBundle": "", "service": {"name": "x"}}}],
    }
    live = copy.deepcopy(hook)
    live["webhooks"][0]["clientConfig"]["caBundle"] = "LS0tLS1CRUdJTi=="  # written by cert-manager
    hook_ref = ObjectRef.of(hook)
    assert drift_of(hook, live, ignored_paths(hook_ref, [])) is None
    live["webhooks"][0]["clientConfig"]["service"]["name"] = "y"
    d = drift_of(hook, live, ignored_paths(hook_ref, []))
    assert d is not None and d.paths == ("/webhooks/0/clientConfig/service/name",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500m", "0.5"),
        ("1Gi", str(2**30)),
        (2, "2"),
        ("1e3", "1000"),
        ("1.5k", "1500"),
        ("web", None),
        (True, None),
    ],
)
def test_quantity(value: object, expected: str | None) -> None:
    q = quantity(value)
    assert (None if q is None else q.normalize()) == (
        None if expected is None else type(q)(expected).normalize()
    )  # type: ignore[arg-type]


def test_summary_is_one_line_naming_objects_and_paths() -> None:
    drifts = [
        Drift(ObjectRef("apps/v1", "Deployment", "apps", "web"), ("/spec/replicas", f"{CONTAINER}/image")),
        Drift(ObjectRef("v1", "Service", "apps", "web"), deleted=True),
    ]
    assert summary(drifts) == (
        "Deployment/web: /spec/replicas, /spec/template/spec/containers/0/image; Service/web: deleted"
    )
