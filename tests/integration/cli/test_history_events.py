"""`kubectl hr history` (Helm's storage joined with status.history) and `kubectl hr events` (newest
last); with the real controller, helm, kubectl and kubesim."""

from __future__ import annotations

import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from ..controller.conftest import Cluster, helmrelease
from .conftest import Plugin


def test_history_lists_every_revision_with_what_status_recorded(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url, version="1.0.0"))
    cluster.wait_ready("web")
    cluster.apply(helmrelease("web", repo.url, version="1.1.0"))
    cluster.wait_ready("web", reason="UpgradeSucceeded")

    out = hr.ok("history", "web", "-n", "apps")
    header, *rows = out.splitlines()
    assert header.split("   ")[0] == "REVISION" and "DESCRIPTION" in header
    assert [r.split()[0] for r in rows] == ["1", "2"]  # newest last
    assert (
        "superseded" in rows[0]
        and "webapp-1.0.0" in rows[0]
        and "install by helmrelease-controller" in rows[0]
    )
    assert (
        "deployed" in rows[1] and "webapp-1.1.0" in rows[1] and "upgrade by helmrelease-controller" in rows[1]
    )
    digest = cluster.status("web")["history"][0]["configDigest"].removeprefix("sha256:")[:12]
    assert digest in rows[1]

    data = yaml.safe_load(hr.ok("history", "web", "-n", "apps", "-o", "yaml"))
    assert [(e["revision"], e["status"], e["chart"], e["appVersion"]) for e in data] == [
        (1, "superseded", "webapp-1.0.0", "1.0.0"),
        (2, "deployed", "webapp-1.1.0", "1.1.0"),
    ]
    assert data[1]["configDigest"].startswith("sha256:")

    missing = hr("history", "nope", "-n", "apps")
    assert missing.code == 1 and 'helmreleases.helmrelease.dev "nope" not found' in missing.err


def test_events_of_a_helmrelease_newest_last(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url, version="1.0.0"))
    cluster.wait_ready("web")
    cluster.apply(helmrelease("api", repo.url))
    cluster.apply(helmrelease("web", repo.url, version="1.1.0"))
    cluster.wait_ready("web", reason="UpgradeSucceeded")

    # An Event about an object of the release (a real cluster's controllers write these).
    cluster.apply({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-scaled", "namespace": "apps"},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "apps", "name": "web"},
        "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-1 to 1", "type": "Normal",
        "lastTimestamp": "2000-01-01T00:00:00Z",
    })  # fmt: skip

    def listed() -> list[str] | None:
        lines = hr.ok("events", "web", "-n", "apps").splitlines()
        return lines if any("UpgradeSucceeded" in line for line in lines) else None

    header, *rows = wait_for(listed, what="the upgrade's event")
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]
    assert rows[0].split()[2:5] == ["ScalingReplicaSet", "Deployment/web", "1"]  # the oldest first
    reasons = [r.split()[2] for r in rows]
    assert "HelmRelease/web" in rows[-1]
    assert reasons.index("InstallSucceeded") < reasons.index("UpgradeSucceeded")
    assert reasons.count("UpgradeSucceeded") == 1  # events.k8s.io and core/v1 are one list
    assert all("apps/api" not in r for r in rows)  # only web's events
    assert rows[-1].split()[1:3] == ["Normal", "UpgradeSucceeded"]

    none = hr("events", "web", "-n", "default")
    assert none.code == 1 and 'helmreleases.helmrelease.dev "web" not found in namespace default' in none.err
    assert "examples:" in hr.ok("events", "--help") and "examples:" in hr.ok("history", "--help")
