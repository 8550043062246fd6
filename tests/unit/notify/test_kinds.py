"""A notification about a GitSync names the GitSync (not a HelmRelease) in every payload, and is
deduplicated apart from a HelmRelease of the same namespace and name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helmrelease_controller.notify import Deduplicator, Notification, slack_payload, webhook_payload
from helmrelease_controller.notify.notification import title

REASON = "commit rejected, nothing applied: releases/prod/web.yaml:7: spec.chart: exactly one of ..."
REJECTED = Notification(
    namespace="platform",
    name="prod",
    outcome="failed",
    action="sync",
    reason=REASON,
    kind="GitSync",
    git_revision="main@sha1:0123abcd",
    attempt="rejected:main@sha1:0123abcd",
    timestamp=1795168800,
    labels={"team": "platform"},
)


def test_slack_payload_names_the_gitsync_and_its_revision() -> None:
    p = slack_payload(REJECTED.prepared("prod-eu"))
    assert p["text"] == ":x: sync failed: GitSync platform/prod in cluster prod-eu"
    att = p["attachments"][0]
    assert att["title"] == "sync failed: GitSync platform/prod"
    assert att["text"] == REASON
    assert att["fallback"] == (
        f"sync failed: GitSync platform/prod in cluster prod-eu (revision main@sha1:0123abcd): {REASON}"
    )
    assert [(f["title"], f["value"]) for f in att["fields"]] == [
        ("Namespace", "platform"),
        ("Revision", "main@sha1:0123abcd"),
        ("Action", "sync"),
        ("Cluster", "prod-eu"),
    ]


def test_webhook_body_of_a_gitsync() -> None:
    n = REJECTED.prepared("prod-eu")
    assert webhook_payload(n) == {
        "schema": "helmrelease.dev/notification/v1",
        "kind": "GitSync",
        "outcome": "failed",
        "action": "sync",
        "gitSync": {
            "namespace": "platform",
            "name": "prod",
            "labels": {"team": "platform"},
            "revision": "main@sha1:0123abcd",
        },
        "reason": REASON,
        "cluster": "prod-eu",
        "timestamp": "2026-11-20T10:00:00Z",
        "fingerprint": n.fingerprint,
    }


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        ({"kind": "GitSync", "metadata": {"namespace": "a", "name": "b"}}, "GitSync"),
        ({"kind": "HelmRelease", "metadata": {"namespace": "a", "name": "b"}}, "HelmRelease"),
        ({"metadata": {"namespace": "a", "name": "b"}}, "HelmRelease"),
    ],
)
def test_for_object_takes_the_kind_of_the_object(obj: dict[str, object], kind: str) -> None:
    n = Notification.for_object(obj, "failed")
    assert n.kind == kind and title(n) == f"failed: {kind} a/b"


def test_a_gitsync_and_a_helmrelease_of_the_same_name_are_deduplicated_apart() -> None:
    hr = replace(REJECTED, kind="HelmRelease", git_revision="")
    assert hr.fingerprint != REJECTED.fingerprint
    d = Deduplicator(window=600, clock=lambda: 0.0)
    assert d.admit("slack", REJECTED) and d.admit("slack", hr)
    assert not d.admit("slack", REJECTED)  # the same commit rejected again: one message
    assert d.admit("slack", replace(REJECTED, attempt="rejected:main@sha1:ffff"))  # another commit
    recovered = replace(REJECTED, outcome="recovered", action="", reason="applied")
    d.forget("platform", "prod")  # the HelmRelease is gone; the GitSync's failure is still known
    assert d.admit("slack", recovered)
