"""What `get` shows of an object and what `reconcile` says while it waits: pure, over dicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from helmrelease_controller.ops import progress, rows
from helmrelease_controller.ops.reconcile import request_annotations

NOW = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.UTC)


def cond(type_: str, status: str, reason: str = "", message: str = "", when: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": when}


def hr(
    status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    meta = {"name": "web", "namespace": "apps", "generation": 2, "creationTimestamp": "2026-12-03T12:00:00Z"}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec, **({"status": status} if status is not None else {})}


READY = {
    "observedGeneration": 2,
    "helmChart": "webapp@1.1.0",
    "lastAppliedRevision": "1.1.0@sha256:abc",
    "history": [{"revision": 3, "chartName": "webapp", "chartVersion": "1.1.0", "status": "deployed"}],
    "conditions": [
        cond("Ready", "True", "UpgradeSucceeded", "Helm upgrade succeeded", "2026-12-04T11:58:00Z")
    ],
}


@pytest.mark.parametrize(
    ("obj", "row"),
    [
        (
            hr(READY),
            ["web", "True", "Helm upgrade succeeded", "webapp@1.1.0", "3", "false", "2m", "24h"],
        ),
        (hr(), ["web", "Unknown", "waiting for the controller", "-", "-", "false", "-", "24h"]),
        (
            hr(READY, suspend=True),
            ["web", "True", "Helm upgrade succeeded", "webapp@1.1.0", "3", "true", "2m", "24h"],
        ),
        (
            hr({}, {"helmrelease.dev/suspend": " TRUE "}),
            ["web", "Unknown", "waiting for the controller", "-", "-", "true", "-", "24h"],
        ),
        (
            hr({"conditions": [cond("Ready", "False", "UpgradeFailed", "x\n" + "y" * 100)]}),
            ["web", "False", "x " + "y" * 55 + "...", "-", "-", "false", "<unknown>", "24h"],
        ),
    ],
)
def test_hr_row(obj: dict[str, Any], row: list[str]) -> None:
    assert rows.hr_row(obj, NOW) == row


def test_wide_row_and_all_namespaces() -> None:
    obj = hr({**READY, "upgradeFailures": 1, "nextRetryAt": "2026-12-04T12:01:00Z"}, targetNamespace="web")
    assert rows.columns(False, True, True) == ["NAMESPACE", *rows.HR_COLUMNS, *rows.HR_WIDE]
    assert rows.row(obj, NOW, False, True, True)[-4:] == [
        "web/web",
        "1.1.0@sha256:abc",
        "install 0, upgrade 1",
        "2026-12-04T12:01:00Z",
    ]
    assert rows.row(obj, NOW, False, True, True)[0] == "apps"


def test_gitsync_row() -> None:
    st = {"lastAppliedRevision": "main@sha1:1a2b", "inventory": [{"kind": "HelmRelease", "name": "a"}]}
    obj = hr(st, url="git://h/p", path="releases/dev")
    waiting = "waiting for the controller"
    assert rows.gs_row(obj, NOW) == ["web", "Unknown", waiting, "main@sha1:1a2b", "false", "-", "24h"]
    assert rows.gs_row(obj, NOW, wide=True)[-4:] == ["git://h/p", "releases/dev", "-", "1"]


PROGRESSING = {
    **READY,
    "lastHandledReconcileAt": "t1",
    "conditions": [
        cond("Ready", "Unknown", "Progressing", "upgrade: chart changed"),
        cond("Reconciling", "True", "Progressing", "chart changed"),
    ],
}
FAILED_UPGRADE = {
    **PROGRESSING,
    "upgradeFailures": 1,
    "nextRetryAt": "2026-12-04T12:00:01Z",
    "history": [{"revision": 4, "chartName": "webapp", "chartVersion": "1.2.0", "status": "failed"}],
    "conditions": [
        cond("Ready", "False", "UpgradeFailed", "Helm upgrade failed: timed out"),
        cond("Released", "False", "UpgradeFailed", "Helm upgrade failed: timed out"),
    ],
}
ROLLED_BACK = {
    **FAILED_UPGRADE,
    "nextRetryAt": None,
    "history": [{"revision": 5, "chartName": "webapp", "chartVersion": "1.1.0", "status": "deployed"}],
    "conditions": [
        cond("Ready", "False", "RetriesExhausted", "upgrade failed 1 time(s); retries exhausted"),
        cond("Released", "False", "UpgradeFailed", "Helm upgrade failed: timed out"),
        cond("Remediated", "True", "RollbackSucceeded", "rolled back to revision 3"),
        cond("Stalled", "True", "RetriesExhausted", "upgrade failed 1 time(s); retries exhausted"),
    ],
}


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        (READY, READY, []),
        (READY, PROGRESSING, ["progressing: upgrade: chart changed"]),
        (
            PROGRESSING,
            FAILED_UPGRADE,
            [
                "Released=False UpgradeFailed: Helm upgrade failed: timed out",
                "Ready=False UpgradeFailed: Helm upgrade failed: timed out",
                "revision 4: webapp@1.2.0 failed",
                "retrying at 2026-12-04T12:00:01Z",
            ],
        ),
        (
            FAILED_UPGRADE,
            ROLLED_BACK,
            [
                "Remediated=True RollbackSucceeded: rolled back to revision 3",
                "Stalled=True RetriesExhausted: upgrade failed 1 time(s); retries exhausted",
                "revision 5: webapp@1.1.0 deployed",
            ],
        ),
    ],
)
def test_progress_lines(before: dict[str, Any], after: dict[str, Any], said: list[str]) -> None:
    assert progress.lines(hr(before), hr(after)) == said


INVALID = {
    "observedGeneration": 2,
    "conditions": [
        cond("Ready", "False", "InvalidSpec", "invalid spec: spec.storageNamespace: must equal ..."),
        cond("Stalled", "True", "InvalidSpec", "invalid spec: spec.storageNamespace: must equal ..."),
    ],
}


@pytest.mark.parametrize(
    ("status", "token", "done", "ok"),
    [
        ({**READY, "lastHandledReconcileAt": "t0"}, "t1", False, True),  # not picked up yet
        ({**READY, "lastHandledReconcileAt": "t1"}, "t1", True, True),
        (PROGRESSING, "t1", False, False),
        (FAILED_UPGRADE, "t1", False, False),  # a retry is pending: the same request's work
        (ROLLED_BACK, "t1", True, False),  # stalled
        ({**READY, "lastHandledReconcileAt": "t1", "observedGeneration": 1}, "t1", False, True),
        ({**FAILED_UPGRADE, "nextRetryAt": None}, "t1", True, False),
        (INVALID, "t1", True, False),  # the token is never recorded for an invalid spec
        ({**INVALID, "observedGeneration": 1}, "t1", False, False),  # an older generation's
    ],
)
def test_handled_and_outcome(status: dict[str, Any], token: str, done: bool, ok: bool) -> None:
    obj = hr(status)
    assert progress.handled(obj, token) is done
    assert progress.outcome(obj)[0] is ok


def test_outcome_names_the_reason() -> None:
    assert progress.outcome(hr(ROLLED_BACK)) == (
        False,
        "RetriesExhausted: upgrade failed 1 time(s); retries exhausted",
    )
    assert progress.outcome(hr()) == (False, "no Ready condition")


@pytest.mark.parametrize(
    ("force", "reset", "keys"),
    [
        (False, False, ["helmrelease.dev/reconcile-requested-at"]),
        (True, False, ["helmrelease.dev/reconcile-requested-at", "helmrelease.dev/force-at"]),
        (False, True, ["helmrelease.dev/reconcile-requested-at", "helmrelease.dev/reset-at"]),
    ],
)
def test_request_annotations_share_one_token(force: bool, reset: bool, keys: list[str]) -> None:
    got = request_annotations("tok", force, reset)
    assert list(got) == keys and set(got.values()) == {"tok"}


def test_a_new_applied_revision_is_said() -> None:
    before = hr({"lastAppliedRevision": "main@sha1:aaa"})
    after = hr({"lastAppliedRevision": "main@sha1:bbb", "lastAppliedSubject": "add api\n\nbody"})
    assert progress.lines(before, after) == ["applied main@sha1:bbb: add api body"]
    assert progress.lines(after, after) == []
