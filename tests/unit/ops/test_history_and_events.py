"""Pure parts of `history` (storage joined with status.history) and `events` (both Event APIs in one
shape, oldest first)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from helmrelease_controller.ops import events, history

NOW = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.UTC)


def release(version: int, status: str, chart_version: str) -> dict[str, Any]:
    return {
        "version": version,
        "info": {"status": status, "description": f"r{version}", "last_deployed": "2026-12-04T11:50:00Z"},
        "chart": {"metadata": {"name": "webapp", "version": chart_version, "appVersion": chart_version}},
    }


def test_revisions_join_storage_with_the_recorded_history_oldest_first() -> None:
    recorded = [
        {"revision": 2, "configDigest": "sha256:" + "ab" * 32, "testHooks": {"t": {"phase": "Succeeded"}}}
    ]
    got = history.revisions([release(2, "deployed", "1.1.0"), release(1, "superseded", "1.0.0")], recorded)
    assert [(e["revision"], e["status"], e["chart"]) for e in got] == [
        (1, "superseded", "webapp-1.0.0"),
        (2, "deployed", "webapp-1.1.0"),
    ]
    assert got[0]["configDigest"] == "" and got[1]["tests"] == "t: Succeeded"
    assert history.cells(got[1], NOW) == [
        "2", "10m ago", "deployed", "webapp-1.1.0", "1.1.0", "abababababab", "t: Succeeded", "r2",
    ]  # fmt: skip
    assert history.cells(got[0], NOW)[5:7] == ["-", "-"]


@pytest.mark.parametrize(
    ("spec", "status", "where"),
    [
        ({}, {}, ("apps", "web")),
        ({"targetNamespace": "prod"}, {}, ("prod", "prod-web")),
        ({"releaseName": "w"}, {"storageNamespace": "elsewhere"}, ("elsewhere", "w")),
        ({"chart": "not a chart"}, {}, ("apps", "web")),  # invalid spec: the defaults
    ],
)
def test_where_the_release_is_stored(
    spec: dict[str, Any], status: dict[str, Any], where: tuple[str, str]
) -> None:
    chart = {"repository": {"url": "https://c.example", "name": "webapp"}}
    obj = {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"chart": chart, **spec},
        "status": status,
    }
    assert history.where(obj) == where


NEW = {
    "metadata": {"name": "e1", "creationTimestamp": "2026-12-04T11:00:00Z"},
    "regarding": {"kind": "HelmRelease", "name": "web", "uid": "u1"},
    "eventTime": "2026-12-04T11:59:00.000000Z",
    "series": {"count": 3, "lastObservedTime": "2026-12-04T11:59:50.000000Z"},
    "type": "Warning",
    "reason": "UpgradeFailed",
    "note": "upgrade\nfailed",
}
CORE = {
    "metadata": {"name": "e2"},
    "involvedObject": {"kind": "HelmRelease", "name": "web"},
    "lastTimestamp": "2026-12-04T11:58:00Z",
    "count": 2,
    "type": "Normal",
    "reason": "InstallSucceeded",
    "message": "ok",
}


@pytest.mark.parametrize(
    ("event", "kind", "name", "uid", "about"),
    [
        (NEW, "HelmRelease", "web", "u1", True),
        (NEW, "HelmRelease", "web", "u2", False),  # an older object of the same name
        (NEW, "GitSync", "web", "", False),
        (CORE, "HelmRelease", "web", "u1", True),  # no uid on the event: kind and name
        (CORE, "HelmRelease", "api", "", False),
    ],
)
def test_about(event: dict[str, Any], kind: str, name: str, uid: str, about: bool) -> None:
    assert events.about(event, kind, name, uid) is about


def test_rows_put_both_apis_in_one_shape_newest_last() -> None:
    assert events.rows([NEW, CORE], NOW) == [
        ["2m", "Normal", "InstallSucceeded", "HelmRelease/web", "2", "ok"],
        ["10s", "Warning", "UpgradeFailed", "HelmRelease/web", "3", "upgrade failed"],
    ]


@pytest.mark.parametrize(
    ("event", "about"),
    [
        ({"regarding": {"kind": "Deployment", "namespace": "apps", "name": "web"}}, True),
        ({"metadata": {"namespace": "apps"}, "involvedObject": {"kind": "Deployment", "name": "web"}}, True),
        ({"regarding": {"kind": "Deployment", "namespace": "other", "name": "web"}}, False),
        ({"regarding": {"kind": "Service", "namespace": "apps", "name": "web"}}, False),
    ],
)
def test_about_the_release_objects(event: dict[str, Any], about: bool) -> None:
    assert events.about_any(event, {("Deployment", "apps", "web")}) is about
