"""The decision table, row by row: Facts in, one Decision out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helmrelease_controller.reconcile.backoff import Backoff
from helmrelease_controller.reconcile.decide import Action, Facts, decide, effective
from helmrelease_controller.reconcile.helmstorage import ReleaseObservation, Revision, label_digest
from helmrelease_controller.reconcile.state import ReleaseState

OWNER = "apps/podinfo"
NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64


def rev(version: int, status: str, digest: str = OLD, owner: str = OWNER) -> Revision:
    return Revision("podinfo", "apps", version, status, label_digest(digest) if digest else "", owner)


def rel(*revs: Revision) -> ReleaseObservation:
    return ReleaseObservation(tuple(revs))


BASE = Facts(owner=OWNER, desired_digest=NEW, now=1000.0)

ROWS: list[tuple[str, Facts, Action, ReleaseState]] = [
    ("absent installs", BASE, Action.INSTALL, ReleaseState.ABSENT),
    (
        "uninstalled (keepHistory) counts as absent",
        replace(BASE, release=rel(rev(1, "uninstalled"))),
        Action.INSTALL,
        ReleaseState.ABSENT,
    ),
    (
        "in sync does nothing",
        replace(BASE, release=rel(rev(1, "deployed", NEW))),
        Action.NONE,
        ReleaseState.IN_SYNC,
    ),
    (
        "values changed upgrades",
        replace(BASE, release=rel(rev(1, "deployed"))),
        Action.UPGRADE,
        ReleaseState.OUT_OF_SYNC,
    ),
    (
        "pending-upgrade is unlocked, not uninstalled",
        replace(BASE, release=rel(rev(1, "superseded"), rev(2, "pending-upgrade", NEW))),
        Action.UNLOCK,
        ReleaseState.LOCKED,
    ),
    (
        "pending-install is unlocked, not uninstalled",
        replace(BASE, release=rel(rev(1, "pending-install", NEW))),
        Action.UNLOCK,
        ReleaseState.LOCKED,
    ),
    (
        "someone else's release is adopted by upgrade",
        replace(BASE, release=rel(rev(1, "deployed", "", owner=""))),
        Action.UPGRADE,
        ReleaseState.UNMANAGED,
    ),
    (
        "failed upgrade with retries left waits for its backoff",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_retries=3,
            upgrade_failures=1,
            last_attempted_digest=NEW,
            next_retry_at=1010.0,
        ),
        Action.WAIT,
        ReleaseState.FAILED,
    ),
    (
        "failed upgrade retried once the backoff passed",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_retries=3,
            upgrade_failures=1,
            last_attempted_digest=NEW,
            next_retry_at=900.0,
        ),
        Action.UPGRADE,
        ReleaseState.FAILED,
    ),
    (
        "retries -1 retry forever",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_retries=-1,
            upgrade_failures=50,
            last_attempted_digest=NEW,
        ),
        Action.UPGRADE,
        ReleaseState.FAILED,
    ),
    (
        "exhausted upgrade rolls back to the last deployed revision, not current-1",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed"), rev(3, "failed", NEW)),
            upgrade_retries=2,
            upgrade_failures=3,
            last_attempted_digest=NEW,
        ),
        Action.ROLLBACK,
        ReleaseState.FAILED,
    ),
    (
        "exhausted with keepFailedRelease stalls and keeps the failed release",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_retries=1,
            upgrade_failures=2,
            last_attempted_digest=NEW,
            keep_failed_release=True,
        ),
        Action.STALL,
        ReleaseState.FAILED,
    ),
    (
        "exhausted with strategy uninstall uninstalls (explicit)",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_retries=1,
            upgrade_failures=2,
            last_attempted_digest=NEW,
            strategy="uninstall",
        ),
        Action.UNINSTALL,
        ReleaseState.FAILED,
    ),
    (
        "exhausted without remediateLastFailure stalls",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_failures=1,
            last_attempted_digest=NEW,
            remediate_last_failure=False,
        ),
        Action.STALL,
        ReleaseState.FAILED,
    ),
    (
        "after the rollback: out of sync but stalled, no upgrade loop",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW), rev(3, "deployed")),
            upgrade_retries=1,
            upgrade_failures=2,
            last_attempted_digest=NEW,
            remediated_digest=NEW,
        ),
        Action.STALL,
        ReleaseState.OUT_OF_SYNC,
    ),
    (
        "a failed rollback is not remediated again",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW), rev(3, "failed")),
            upgrade_failures=2,
            upgrade_retries=1,
            last_attempted_digest=NEW,
            remediated_digest=NEW,
        ),
        Action.STALL,
        ReleaseState.FAILED,
    ),
    (
        "failed install with retries left retries via upgrade --install",
        replace(
            BASE,
            release=rel(rev(1, "failed", NEW)),
            install_retries=2,
            install_failures=1,
            last_attempted_digest=NEW,
        ),
        Action.UPGRADE,
        ReleaseState.FAILED,
    ),
    (
        "failed install exhausted stalls; never uninstalls (rule 1)",
        replace(
            BASE,
            release=rel(rev(1, "failed", NEW)),
            install_retries=1,
            install_failures=2,
            last_attempted_digest=NEW,
            strategy="uninstall",
        ),
        Action.STALL,
        ReleaseState.FAILED,
    ),
    (
        "force-at upgrades past exhausted retries",
        replace(
            BASE,
            release=rel(rev(1, "superseded"), rev(2, "failed", NEW)),
            upgrade_failures=5,
            last_attempted_digest=NEW,
            remediated_digest=NEW,
            force_requested=True,
        ),
        Action.UPGRADE,
        ReleaseState.FAILED,
    ),
    (
        "force-at upgrades an in-sync release",
        replace(BASE, release=rel(rev(1, "deployed", NEW)), force_requested=True),
        Action.UPGRADE,
        ReleaseState.IN_SYNC,
    ),
    (
        "force-at on an absent release installs",
        replace(BASE, force_requested=True),
        Action.INSTALL,
        ReleaseState.ABSENT,
    ),
    (
        "untested release is tested",
        replace(BASE, release=rel(rev(1, "deployed", NEW)), test_enabled=True),
        Action.TEST,
        ReleaseState.UNTESTED,
    ),
    (
        "tested release is in sync",
        replace(BASE, release=rel(rev(1, "deployed", NEW)), test_enabled=True, tested_revision=1),
        Action.NONE,
        ReleaseState.IN_SYNC,
    ),
]


@pytest.mark.parametrize(("name", "facts", "action", "state"), ROWS, ids=[r[0] for r in ROWS])
def test_decision_table(name: str, facts: Facts, action: Action, state: ReleaseState) -> None:
    d = decide(facts)
    assert (d.action, d.state) == (action, state), d.reason


def test_every_action_is_a_row_of_the_table() -> None:
    """No dead rows: each action `decide` can return is reached by a row of the table above."""
    assert {row[2] for row in ROWS} == set(Action)


def test_rollback_target_skips_failed_revisions() -> None:
    f = replace(
        BASE,
        release=rel(rev(1, "superseded"), rev(2, "superseded"), rev(3, "failed"), rev(4, "failed", NEW)),
        upgrade_failures=1,
        last_attempted_digest=NEW,
    )
    d = decide(f)
    assert d.action is Action.ROLLBACK and d.revision == 2


def test_new_config_resets_counters_and_upgrades() -> None:
    stalled = replace(
        BASE,
        release=rel(rev(1, "superseded"), rev(2, "failed"), rev(3, "deployed")),
        upgrade_failures=3,
        last_attempted_digest=OLD,
        remediated_digest=OLD,
    )
    f = effective(stalled)
    assert (f.upgrade_failures, f.remediated_digest) == (0, "")
    assert decide(f).action is Action.UPGRADE


def test_reset_requested_clears_counters() -> None:
    f = replace(BASE, upgrade_failures=4, last_attempted_digest=NEW, next_retry_at=5000.0)
    assert effective(f, reset_requested=True).upgrade_failures == 0
    assert effective(f).upgrade_failures == 4


@pytest.mark.parametrize(
    ("failures", "expected"), [(0, 0.0), (1, 10.0), (2, 20.0), (3, 40.0), (7, 600.0), (30, 600.0)]
)
def test_backoff_doubles_up_to_max(failures: int, expected: float) -> None:
    assert Backoff(initial=10, max=600, factor=2, jitter=0.1).delay(failures) == expected


def test_backoff_jitter_bounds() -> None:
    b = Backoff(initial=10, max=600, factor=2, jitter=0.1)
    assert b.delay(1, rand=1.0) == pytest.approx(11.0)
    assert b.delay(1, rand=-1.0) == pytest.approx(9.0)
