"""The forensics digest: which lines a failure's evidence gives, most telling first."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.forensics.digest import (
    Evidence,
    container_states,
    digest,
    findings,
    workload_state,
)


def deployment(want: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": want},
        "status": status,
    }


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (deployment(want=1, updatedReplicas=1, availableReplicas=1, replicas=1), None),
        (
            deployment(updatedReplicas=1, availableReplicas=1, replicas=2),
            "rollout incomplete: 1/1 updated, 1/1 available, 1 old still running",
        ),
        (
            deployment(
                updatedReplicas=1,
                availableReplicas=0,
                replicas=1,
                conditions=[
                    cond(
                        "Available",
                        "False",
                        "MinimumReplicasUnavailable",
                        "Deployment does not have minimum availability.",
                    ),
                    cond(
                        "Progressing",
                        "False",
                        "ProgressDeadlineExceeded",
                        'ReplicaSet "web-1" has timed out progressing.',
                    ),
                ],
            ),
            "rollout incomplete: 1/1 updated, 0/1 available; Available=False MinimumReplicasUnavailable: "
            "Deployment does not have minimum availability.; Progressing=False ProgressDeadlineExceeded: "
            'ReplicaSet "web-1" has timed out progressing.',
        ),
        (
            {
                "kind": "Job",
                "metadata": {"name": "migrate"},
                "status": {
                    "conditions": [
                        cond(
                            "Failed",
                            "True",
                            "BackoffLimitExceeded",
                            "Job has reached the specified backoff limit",
                        )
                    ]
                },
            },
            "Failed BackoffLimitExceeded: Job has reached the specified backoff limit",
        ),
        (
            {"kind": "Job", "metadata": {"name": "m"}, "status": {"conditions": [cond("Complete", "True")]}},
            None,
        ),
        (
            {
                "kind": "StatefulSet",
                "metadata": {"name": "db"},
                "spec": {"replicas": 3},
                "status": {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2},
            },
            "rollout incomplete: 3/3 updated, 2/3 ready",
        ),
        (
            {
                "kind": "DaemonSet",
                "metadata": {"name": "agent"},
                "status": {"desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberReady": 2},
            },
            None,
        ),
    ],
    ids=["ready", "old-pods", "deadline", "job-failed", "job-complete", "statefulset", "daemonset"],
)
def test_workload_state(obj: dict[str, Any], expected: str | None) -> None:
    assert workload_state(obj) == expected


def pod(*statuses: dict[str, Any], phase: str = "Running") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "web-1-abcde"},
        "status": {"phase": phase, "containerStatuses": list(statuses)},
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {
                "name": "app",
                "state": {
                    "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nginx:9.9"'}
                },
            },
            ['container app waiting ImagePullBackOff: Back-off pulling image "nginx:9.9"'],
        ),
        (
            {
                "name": "app",
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
            },
            ["container app waiting CrashLoopBackOff, 4 restarts, last exit code 1"],
        ),
        ({"name": "app", "ready": False, "state": {"running": {}}}, ["container app running, not ready"]),
        ({"name": "app", "ready": True, "state": {"running": {}}}, []),
        (
            {"name": "curl", "state": {"terminated": {"exitCode": 7, "reason": "Error"}}},
            ["container curl exited 7 (Error): connection refused"],
        ),
    ],
    ids=["image-pull", "crash-loop", "unready", "fine", "exited-with-log"],
)
def test_container_states(status: dict[str, Any], expected: list[str]) -> None:
    logs = {"web-1-abcde/curl": "trying web:80\ncurl: (7) connection refused\n".replace("curl: (7) ", "")}
    assert container_states(pod(status), logs) == expected


def test_findings_order_hooks_then_workloads_then_pods_then_new_events() -> None:
    job = {
        "kind": "Job",
        "metadata": {"name": "web-migrate"},
        "status": {
            "conditions": [
                cond("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
            ]
        },
    }
    dep = deployment(updatedReplicas=1, availableReplicas=0, replicas=1)
    unready = pod({"name": "app", "ready": False, "state": {"running": {}}})
    events = [
        {
            "involvedObject": {"kind": "Pod", "name": "web-1-abcde"},
            "reason": "Unhealthy",
            "message": "Readiness probe failed: 503",
            "count": 3,
            "lastTimestamp": "2026-12-04T10:00:02Z",
        },
        {
            "involvedObject": {"kind": "Pod", "name": "web-1-abcde"},
            "reason": "Unhealthy",
            "message": "Readiness probe failed: 503",
            "count": 2,
            "lastTimestamp": "2026-12-04T10:00:01Z",
        },
    ]
    ev = Evidence(
        workloads=[dep], pods={"Deployment/web": [unready]}, hooks=[("pre-upgrade hook", job)], events=events
    )
    assert findings(ev) == [
        "Job/web-migrate (pre-upgrade hook): Failed BackoffLimitExceeded: "
        "Job has reached the specified backoff limit",
        "Deployment/web: rollout incomplete: 1/1 updated, 0/1 available",
        "Pod/web-1-abcde: container app running, not ready",
        "Pod/web-1-abcde: Unhealthy: Readiness probe failed: 503 (x3)",  # the newest of one (object, reason)
    ]


def test_digest_keeps_ten_lines_and_says_how_many_more() -> None:
    lines = [f"line {i}" for i in range(14)]
    assert digest(lines[:10]) == lines[:10]
    out = digest(lines)
    assert len(out) == 10 and out[-1] == "and 5 more (helmrelease-controller why)"
