"""`kubectl hr tree`: the objects of the release with their readiness, a failed workload and a
deleted object shown as such; with the real controller, helm, kubectl and kubesim."""

from __future__ import annotations

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from ..controller.conftest import Cluster, helmrelease
from .conftest import Plugin


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("   ") if c.strip()]


def test_tree_shows_each_object_and_whether_it_is_ready(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    lines = hr.ok("tree", "web", "-n", "apps").splitlines()
    assert _cells(lines[0]) == ["OBJECT", "READY", "DETAIL"]
    assert _cells(lines[1]) == ["HelmRelease apps/web (release apps/web v1, deployed)"]
    assert [_cells(line) for line in lines[2:]] == [
        ["├── ConfigMap apps/web-config", "True", "exists"],
        ["├── Service apps/web", "True", "exists"],
        ["└── Deployment apps/web", "True", "1/1 ready"],
    ]

    # A failed upgrade kept in place: the Deployment is not ready; a deleted object is missing.
    spec = {"timeout": "2s", "keepFailedRelease": True}
    cluster.apply(helmrelease("web", repo.url, values={"neverReady": True}, **spec))
    cluster.wait_condition("web", "Stalled", "True", timeout=60)
    cluster.kubectl("delete", "service", "web", "-n", "apps")
    lines = hr.ok("tree", "web", "-n", "apps").splitlines()
    assert _cells(lines[1]) == ["HelmRelease apps/web (release apps/web v2, failed)"]
    assert _cells(lines[3]) == ["├── Service apps/web", "Missing", "not found"]
    assert _cells(lines[4]) == ["└── Deployment apps/web", "False", "0/1 ready"]

    assert "examples:" in hr.ok("tree", "--help")
    assert hr("tree", "nope", "-n", "apps").code == 1
