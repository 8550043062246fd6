"""Status after each step: counters, retry times, history and the one-line messages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from helmrelease_controller.api.crd import PRINTER_COLUMNS
from helmrelease_controller.helm.storage import ReleaseObservation, Revision
from helmrelease_controller.reconcile import outcome
from helmrelease_controller.reconcile import status as st
from helmrelease_controller.reconcile.backoff import Backoff
from helmrelease_controller.reconcile.decide import Action, Decision, Facts
from helmrelease_controller.reconcile.state import ReleaseState

A = outcome.Attempt(
    "apps",
    "web",
    "sha256:" + "b" * 64,
    "webapp",
    "1.1.0",
    "1.1.0",
    "1.1.0@sha256:x",
    max_history=2,
    backoff=Backoff(10, 600, 2, 0),
    test_ignore_failures=False,
    generation=3,
)
F = Facts(
    owner="apps/web",
    desired_digest=A.config_digest,
    release=ReleaseObservation((Revision("web", "apps", 1, "deployed"),)),
    upgrade_failures=1,
)
NOW = 1_000_000.0
PRINTER_REVISION = next(c["jsonPath"] for c in PRINTER_COLUMNS if c["name"] == "Revision")


@dataclass
class Out:
    ok: bool
    message: str = ""
    revision: int = 0


def test_failed_upgrade_counts_and_schedules_the_retry() -> None:
    s = outcome.record(
        {},
        Decision(Action.UPGRADE, "", ReleaseState.OUT_OF_SYNC),
        Out(False, "upgrade failed: x", 2),
        F,
        A,
        NOW,
    )
    assert s["upgradeFailures"] == 2 and s["failures"] == 1
    assert s["nextRetryAt"] == st.rfc3339(NOW + 20)  # 10 s doubled once
    assert st.get_condition(s, "Ready")["status"] == "False"  # type: ignore[index]
    assert s["history"][0] == {**s["history"][0], "revision": 2, "status": "failed"}


def test_success_resets_counters_and_bounds_history() -> None:
    s: st.Status = {"upgradeFailures": 2, "nextRetryAt": "x", "history": [{"revision": 2}, {"revision": 1}]}
    s = outcome.record(s, Decision(Action.UPGRADE, "", ReleaseState.OUT_OF_SYNC), Out(True, "", 3), F, A, NOW)
    assert s["upgradeFailures"] == 0 and "nextRetryAt" not in s
    assert [h["revision"] for h in s["history"]] == [3, 2]  # maxHistory 2
    ready = st.get_condition(s, "Ready")
    assert ready is not None and ready["message"] == (
        "Helm upgrade succeeded for release apps/web.v3 with chart webapp@1.1.0"
    )


def test_stall_message_names_remediation_and_last_error() -> None:
    s = st.set_condition({}, st.REMEDIATED, True, "RollbackSucceeded", "rolled back to revision 1", 3, NOW)
    s = st.set_condition(s, st.RELEASED, False, "UpgradeFailed", "upgrade failed: not ready", 3, NOW)
    s = outcome.settled(
        s,
        Decision(Action.STALL, "upgrade failed 2 time(s); retries exhausted", ReleaseState.OUT_OF_SYNC),
        F.release,
        A,
        False,
        NOW,
    )
    stalled = st.get_condition(s, st.STALLED)
    assert stalled is not None and stalled["message"] == (
        "upgrade failed 2 time(s); retries exhausted; rolled back to revision 1; "
        "last error: upgrade failed: not ready"
    )


def test_unchanged_status_is_identical_so_nothing_is_written() -> None:
    d = Decision(Action.NONE, "in sync", ReleaseState.IN_SYNC)
    once = outcome.settled({}, d, F.release, A, False, NOW)
    twice = outcome.settled(once, d, F.release, A, False, NOW + 60)
    assert st.diff_patch(once, twice) is None


@pytest.mark.parametrize(
    ("msg", "limit", "expected"),
    [
        ("short", 300, "short"),
        ("two\n  lines", 300, "two lines"),
        ("a" * 10, 10, "a" * 10),
        ("head " + "x" * 50 + " reason", 21, "head xxxxx…xxx reason"),
    ],
)
def test_one_line_cuts_the_middle_and_keeps_the_reason(msg: str, limit: int, expected: str) -> None:
    assert st.one_line(msg, limit) == expected
    assert len(st.one_line(msg, limit)) <= limit


def test_a_long_condition_message_keeps_its_end() -> None:
    msg = "upgrade failed: " + "y" * 400 + ': namespaces "x" not found'
    s = st.set_condition({}, "Ready", False, "UpgradeFailed", msg, 1, NOW)
    got = st.get_condition(s, "Ready")["message"]  # type: ignore[index]
    assert len(got) <= 300 and got.startswith("upgrade failed: ") and got.endswith('namespaces "x" not found')


def test_a_rollback_is_the_newest_history_entry() -> None:
    # Revision 1 deployed, 2 failed; the rollback to 1 made revision 3: the Revision printer column
    # (history[0]) shows 3, deployed, with revision 1's chart.
    s: st.Status = {
        "history": [
            {"revision": 2, "chartVersion": "1.1.0", "status": "failed", "configDigest": "new"},
            {"revision": 1, "chartVersion": "1.0.0", "status": "superseded", "configDigest": "old"},
        ]
    }
    d = Decision(Action.ROLLBACK, "", ReleaseState.FAILED, revision=1)
    s = outcome.record(s, d, Out(True, "rolled back to revision 1", 3), F, A, NOW)
    assert [(h["revision"], h["status"]) for h in s["history"]] == [(3, "deployed"), (2, "failed")]
    assert s["history"][0]["chartVersion"] == "1.0.0" and s["history"][0]["configDigest"] == "old"
    assert PRINTER_REVISION == ".status.history[0].revision"


def test_a_failed_rollback_adds_no_history() -> None:
    s: st.Status = {"history": [{"revision": 2, "status": "failed"}]}
    d = Decision(Action.ROLLBACK, "", ReleaseState.FAILED, revision=1)
    s = outcome.record(s, d, Out(False, "rollback failed: x"), F, A, NOW)
    assert s["history"] == [{"revision": 2, "status": "failed"}]


@pytest.mark.parametrize(
    ("revisions", "reason"),
    [
        ((Revision("web", "apps", 1, "failed"),), "InstallFailed"),  # a retried first install
        ((Revision("web", "apps", 1, "deployed"), Revision("web", "apps", 2, "failed")), "UpgradeFailed"),
    ],
)
def test_a_failed_retry_of_a_first_install_is_an_install_failure(
    revisions: tuple[Revision, ...], reason: str
) -> None:
    f = Facts(owner="apps/web", desired_digest=A.config_digest, release=ReleaseObservation(revisions))
    d = Decision(Action.UPGRADE, "", ReleaseState.FAILED)
    s = outcome.record({}, d, Out(False, "install failed: x"), f, A, NOW)
    assert st.get_condition(s, "Released")["reason"] == reason  # type: ignore[index]
    assert st.get_condition(s, "Ready")["reason"] == reason  # type: ignore[index]
