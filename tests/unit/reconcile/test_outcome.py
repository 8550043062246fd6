"""Status after each step: counters, retry times, history and the one-line messages."""

from __future__ import annotations

from dataclasses import dataclass

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
