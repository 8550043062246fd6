"""kubesim's pure pod and rollout rules: failure annotations, image names, pull policies,
durations, the pod-template-hash's shape, rolling-update fenceposts, pods/log refusals."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim import deployments, podlogs, pods
from kubesim.store import ApiError


def _pod(**ann: str) -> dict[str, Any]:
    return {"metadata": {"annotations": ann}}


@pytest.mark.parametrize(
    ("ann", "mode", "code"),
    [
        ({}, pods.HEALTHY, 1),
        ({"kubesim.dev/fail": "false"}, pods.HEALTHY, 1),
        ({"kubesim.dev/fail": "ImagePullBackOff"}, pods.PULL_BACKOFF, 1),
        ({"kubesim.dev/fail": "errimagepull"}, pods.PULL_ERROR, 1),
        ({"kubesim.dev/fail": "true"}, pods.CRASH, 1),
        ({"kubesim.dev/fail": "CrashLoopBackOff", "kubesim.dev/exit-code": "137"}, pods.CRASH, 137),
        ({"kubesim.dev/fail": "Unready"}, pods.UNREADY, 1),
        ({"kubesim.dev/never-ready": "true"}, pods.UNREADY, 1),
        ({"kubesim.dev/fail": "anything else"}, pods.CRASH, 1),  # a typo fails loudly, not silently healthy
        ({"kubesim.dev/fail": "true", "kubesim.dev/exit-code": "x"}, pods.CRASH, 1),
    ],
)
def test_failure(ann: dict[str, str], mode: str, code: int) -> None:
    assert pods.failure(_pod(**ann)) == pods.Failure(mode, code)


@pytest.mark.parametrize(
    ("image", "full", "policy"),
    [
        ("nginx", "docker.io/library/nginx:latest", "Always"),
        ("nginx:1.27", "docker.io/library/nginx:1.27", "IfNotPresent"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7", "IfNotPresent"),
        ("ghcr.io/org/app:latest", "ghcr.io/org/app:latest", "Always"),
        ("localhost:5000/app", "localhost:5000/app:latest", "Always"),
        ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc", "IfNotPresent"),
    ],
)
def test_image_names_and_pull_policy(image: str, full: str, policy: str) -> None:
    assert pods.full_image(image) == full
    pod = {"spec": {"containers": [{"name": "c", "image": image}]}}
    pods.default_pod(pod)
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


@pytest.mark.parametrize(("seconds", "text"), [(10, "10s"), (80, "1m20s"), (300, "5m0s")])
def test_go_duration(seconds: int, text: str) -> None:
    assert pods.go_duration(seconds) == text


def test_template_hash_is_stable_semantic_and_in_the_name_alphabet() -> None:
    t = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    h = pods.template_hash(t)
    assert set(h) <= set(pods.ALPHANUMS) and 6 <= len(h) <= 10
    assert pods.template_hash({**t, "spec": {**t["spec"], "volumes": []}}) == h  # [] is unset
    assert pods.template_hash({**t, "spec": {"containers": [{"name": "a", "image": "y"}]}}) != h
    labelled = {"metadata": {"labels": {"app": "web", "pod-template-hash": h}}, "spec": t["spec"]}
    assert pods.without_hash(labelled) == pods.semantic(t)


@pytest.mark.parametrize(
    ("replicas", "rolling", "expected"),
    [
        (1, {}, (1, 0)),  # 25% of 1: surge rounds up, unavailable down
        (4, {}, (1, 1)),
        (10, {"maxSurge": 0, "maxUnavailable": 0}, (0, 1)),  # both 0: one may be unavailable
        (10, {"maxSurge": "50%", "maxUnavailable": 3}, (5, 3)),
    ],
)
def test_rolling_update_fenceposts(replicas: int, rolling: dict[str, Any], expected: tuple[int, int]) -> None:
    dep = {"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}
    assert deployments.surge_and_unavailable(dep) == expected


def _log_pod(
    state: dict[str, Any], last: dict[str, Any] | None = None, node: str = "kubesim"
) -> dict[str, Any]:
    status = {"name": "app", "state": state, "lastState": last or {}}
    return {
        "metadata": {"name": "p", "annotations": {"kubesim.dev/log": "a\\nb"}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "x"}]},
        "status": {"containerStatuses": [status]},
    }


@pytest.mark.parametrize(
    ("pod", "query", "answer"),
    [
        (_log_pod({"running": {}}), {}, "a\nb\n"),
        (_log_pod({"running": {}}), {"tailLines": "1"}, "b\n"),
        (
            _log_pod({"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {}}),
            {"previous": "true"},
            "a\nb\n",
        ),
        (
            _log_pod({"running": {}}),
            {"previous": "true"},
            'previous terminated container "app" in pod "p" not found',
        ),
        (
            _log_pod({"waiting": {"reason": "ImagePullBackOff"}}),
            {},
            'container "app" in pod "p" is waiting to start: trying and failing to pull image',
        ),
        (_log_pod({"waiting": {"reason": "ErrImagePull"}}), {}, "is waiting to start: image can't be pulled"),
        (_log_pod({}), {}, 'container "app" in pod "p" is waiting to start: ContainerCreating'),
        (_log_pod({"running": {}}, node=""), {}, "pod p does not have a host assigned"),
        (_log_pod({"running": {}}), {"container": "nope"}, "container nope is not valid for pod p"),
    ],
)
def test_pod_log(pod: dict[str, Any], query: dict[str, str], answer: str) -> None:
    try:
        assert podlogs.text(pod, query) == answer
    except ApiError as e:
        assert e.code == 400 and answer in e.message
