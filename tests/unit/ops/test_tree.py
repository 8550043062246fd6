"""`tree`'s pure parts: the objects of a manifest and each one's readiness."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.ops.tree import manifest_refs, readiness

MANIFEST = """
---
# Source: webapp/templates/app.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: other}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: example.com/v1alpha1
kind: Widget
metadata: {name: w}
---
kind: Broken
"""


def test_manifest_refs() -> None:
    refs = manifest_refs(MANIFEST, "apps")
    assert [r.label for r in refs] == [
        "ConfigMap apps/web-config",
        "Deployment other/web",
        "ClusterRole reader",
        "Widget apps/w",
    ]
    assert refs[1].resource.path("other", "web") == "/apis/apps/v1/namespaces/other/deployments/web"
    assert refs[3].resource.path("apps", "w") == "/apis/example.com/v1alpha1/namespaces/apps/widgets/w"


def deployment(ready: int, replicas: int = 2, observed: int = 3) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": replicas},
            "status": {"readyReplicas": ready, "observedGeneration": observed}}  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "state"),
    [
        (None, ("Missing", "not found")),
        (deployment(2), ("True", "2/2 ready")),
        (deployment(1), ("False", "1/2 ready")),
        (deployment(2, observed=2), ("False", "2/2 ready")),  # an older generation's count
        (  # a stuck rollout: the one ready pod is the old one, the new one is not ready
            {
                "kind": "Deployment",
                "metadata": {"generation": 2},
                "spec": {"replicas": 1},
                "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1},
            },
            ("False", "0/1 ready"),
        ),
        (
            {"kind": "DaemonSet", "status": {"desiredNumberScheduled": 1, "numberReady": 1}},
            ("True", "1/1 ready"),
        ),
        (
            {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}},
            ("True", "complete"),
        ),
        ({"kind": "Job", "status": {"active": 1}}, ("False", "1 active, 0 failed")),
        ({"kind": "Pod", "status": {"phase": "Running", "conditions": []}}, ("False", "Running")),
        ({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, ("True", "Bound")),
        ({"kind": "Service"}, ("True", "exists")),
    ],
)
def test_readiness(obj: dict[str, Any] | None, state: tuple[str, str]) -> None:
    assert readiness(obj) == state
