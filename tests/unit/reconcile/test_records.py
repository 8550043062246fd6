"""Status after each step: what each action records (actions/), and what the loop's end says
(settle.py): counters, retry times, history and the one-line messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helmrelease_controller.api.crd import PRINTER_COLUMNS
from helmrelease_controller.api.models import HelmRelease, HelmReleaseStatus
from helmrelease_controller.reconcile import actions
from helmrelease_controller.reconcile import status as st
from helmrelease_controller.reconcile.actions import ActionResult, Attempt, ReleaseTarget, Step
from helmrelease_controller.reconcile.backoff import Backoff
from helmrelease_controller.reconcile.decide import Action, Decision, Facts
from helmrelease_controller.reconcile.helmstorage import ReleaseObservation, Revision
from helmrelease_controller.reconcile.settle import settled
from helmrelease_controller.reconcile.state import ReleaseState

A = Attempt(
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
T = ReleaseTarget("apps", "web", "web", "apps", "apps", Path("/c"), {}, A.config_digest, 2, "5m")
SPEC = HelmRelease.from_obj(
    {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"chart": {"repository": {"url": "https://charts.example", "name": "webapp"}}},
    }
).spec
F = Facts(
    owner="apps/web",
    desired_digest=A.config_digest,
    release=ReleaseObservation((Revision("web", "apps", 1, "deployed"),)),
    upgrade_failures=1,
)
NOW = 1_000_000.0
PRINTER_REVISION = next(c["jsonPath"] for c in PRINTER_COLUMNS if c["name"] == "Revision")


def status(**fields: Any) -> HelmReleaseStatus:
    return HelmReleaseStatus.model_validate(fields)


def record(s: HelmReleaseStatus, d: Decision, out: ActionResult, f: Facts = F) -> HelmReleaseStatus:
    step = Step(d, f, T, A, SPEC)
    return actions.for_step(step).record(s, step, out, NOW, 0.0)


def cond(s: HelmReleaseStatus, type_: str) -> Any:
    c = s.condition(type_)
    assert c is not None
    return c


def test_failed_upgrade_counts_and_schedules_the_retry() -> None:
    d = Decision(Action.UPGRADE, "", ReleaseState.OUT_OF_SYNC)
    s = record(status(), d, ActionResult(False, "upgrade failed: x", 2))
    assert s.upgrade_failures == 2 and s.failures == 1
    assert s.next_retry_at == st.rfc3339(NOW + 20)  # 10 s doubled once
    assert cond(s, "Ready").status == "False"
    assert (s.history[0].revision, s.history[0].status) == (2, "failed")


def test_success_resets_counters_and_bounds_history() -> None:
    h = {"chartName": "webapp", "chartVersion": "1.0.0", "configDigest": "d", "status": "superseded"}
    s = status(upgradeFailures=2, nextRetryAt="x", history=[{**h, "revision": 2}, {**h, "revision": 1}])
    s = record(s, Decision(Action.UPGRADE, "", ReleaseState.OUT_OF_SYNC), ActionResult(True, "", 3))
    assert s.upgrade_failures == 0 and s.next_retry_at is None
    assert [e.revision for e in s.history] == [3, 2]  # maxHistory 2
    assert (
        cond(s, "Ready").message == "Helm upgrade succeeded for release apps/web.v3 with chart webapp@1.1.0"
    )


def test_stall_message_names_remediation_and_last_error() -> None:
    s = st.set_condition(
        status(), st.REMEDIATED, True, "RollbackSucceeded", "rolled back to revision 1", 3, NOW
    )
    s = st.set_condition(s, st.RELEASED, False, "UpgradeFailed", "upgrade failed: not ready", 3, NOW)
    d = Decision(Action.STALL, "upgrade failed 2 time(s); retries exhausted", ReleaseState.OUT_OF_SYNC)
    s = settled(s, d, F.release, A, False, NOW)
    assert cond(s, st.STALLED).message == (
        "upgrade failed 2 time(s); retries exhausted; rolled back to revision 1; "
        "last error: upgrade failed: not ready"
    )


def test_unchanged_status_is_identical_so_nothing_is_written() -> None:
    d = Decision(Action.NONE, "in sync", ReleaseState.IN_SYNC)
    once = settled(status(), d, F.release, A, False, NOW)
    twice = settled(once, d, F.release, A, False, NOW + 60)
    assert st.diff_patch(st.to_obj(once), twice) is None


def test_a_write_leaves_fields_of_a_newer_controller_alone() -> None:
    stored = {**st.to_obj(status(failures=1)), "someNewerField": {"a": 1}}
    patch = st.diff_patch(stored, status(failures=2))
    assert patch == {"failures": 2}


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
    got = cond(st.set_condition(status(), "Ready", False, "UpgradeFailed", msg, 1, NOW), "Ready").message
    assert len(got) <= 300 and got.startswith("upgrade failed: ") and got.endswith('namespaces "x" not found')


def test_a_rollback_is_the_newest_history_entry() -> None:
    # Revision 1 deployed, 2 failed; the rollback to 1 made revision 3: the Revision printer column
    # (history[0]) shows 3, deployed, with revision 1's chart.
    h = {"chartName": "webapp"}
    s = status(
        history=[
            {**h, "revision": 2, "chartVersion": "1.1.0", "status": "failed", "configDigest": "new"},
            {**h, "revision": 1, "chartVersion": "1.0.0", "status": "superseded", "configDigest": "old"},
        ]
    )
    d = Decision(Action.ROLLBACK, "", ReleaseState.FAILED, revision=1)
    s = record(s, d, ActionResult(True, "rolled back to revision 1", 3))
    assert [(e.revision, e.status) for e in s.history] == [(3, "deployed"), (2, "failed")]
    assert s.history[0].chart_version == "1.0.0" and s.history[0].config_digest == "old"
    assert PRINTER_REVISION == ".status.history[0].revision"


def test_a_failed_rollback_adds_no_history() -> None:
    entry = {"revision": 2, "status": "failed", "chartName": "w", "chartVersion": "1", "configDigest": "d"}
    s = record(status(history=[entry]), Decision(Action.ROLLBACK, "", ReleaseState.FAILED, revision=1),
               ActionResult(False, "rollback failed: x"))  # fmt: skip
    assert [e.revision for e in s.history] == [2]
    assert cond(s, st.REMEDIATED).reason == "RollbackFailed"


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
    s = record(status(), Decision(Action.UPGRADE, "", ReleaseState.FAILED), ActionResult(False, "x"), f)
    assert cond(s, "Released").reason == reason
    assert cond(s, "Ready").reason == reason


@pytest.mark.parametrize(
    ("action", "ok", "condition", "reason"),
    [
        (Action.TEST, False, st.TEST_SUCCESS, "TestFailed"),
        (Action.TEST, True, st.TEST_SUCCESS, "TestSucceeded"),
        (Action.UNINSTALL, True, st.REMEDIATED, "UninstallSucceeded"),
        (Action.UNLOCK, True, st.RECONCILING, "Unlocked"),
    ],
)
def test_each_action_records_its_own_condition(action: Action, ok: bool, condition: str, reason: str) -> None:
    s = record(status(), Decision(action, "", ReleaseState.IN_SYNC), ActionResult(ok, "m", 1))
    assert cond(s, condition).reason == reason
