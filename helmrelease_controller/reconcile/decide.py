"""The decision table: from `Facts` to the one next `Decision`. Pure.

Read top to bottom, first match wins. Deletion (finalize) and suspension are handled by the
reconciler before it gathers facts, so they are not rows here: `decide` is only ever asked about
a live, unsuspended HelmRelease.

| situation                                   | action                                    |
|---------------------------------------------|-------------------------------------------|
| release pending-* (controller died mid-way) | UNLOCK (mark failed; never uninstall)     |
| force-at set and not handled                | INSTALL or UPGRADE now, past backoff/stall |
| failed attempt, retry due later             | WAIT until nextRetryAt                    |
| absent                                      | INSTALL (or STALL when retries exhausted) |
| made by someone else (unmanaged)            | UPGRADE (adopt it)                        |
| failed, our attempt, retries left           | UPGRADE (retry; `upgrade --install`)      |
| failed upgrade, retries exhausted           | ROLLBACK to the last deployed revision,   |
|                                             | or UNINSTALL (explicit strategy), or STALL |
|                                             | (keepFailedRelease / nothing to roll back) |
| out of sync, retries left                   | UPGRADE                                   |
| out of sync, retries exhausted (rolled back)| STALL until something changes             |
| untested                                    | TEST                                      |
| in sync                                     | NONE (no helm process)                    |

"Retries left" counts failures of the *current* desired config: the counters reset
when the config digest (chart + values) or the spec (generation) changes, or on
`reset-at`. This follows Flux's shape with one deliberate difference: retries happen
on top of the failed release, and remediation (rollback/uninstall) runs once, after
the last retry, instead of before every retry: fewer helm runs, and the failed state
stays inspectable while retries go on.

No row looks at *why* helm failed. A server-side apply conflict or an immutable field fails
the same way on every retry until somebody acts, and it still follows the rows above: retried
while retries are left (the user may have resolved it meanwhile), then remediated once, then
stalled. The ways out the Ready message names (helm/failures.py) are a spec change
(`upgrade.forceConflicts`, `upgrade.force`: any new generation resets the counters, as a new
digest does) or the force-at row, which runs past backoff and stall.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from .helmstorage import ReleaseObservation
from .state import ReleaseState, classify


class Action(StrEnum):
    NONE = "None"
    INSTALL = "Install"
    UPGRADE = "Upgrade"
    TEST = "Test"
    ROLLBACK = "Rollback"
    UNINSTALL = "Uninstall"
    UNLOCK = "Unlock"
    WAIT = "Wait"
    STALL = "Stall"


@dataclass(frozen=True)
class Facts:
    """Everything a decision may depend on. The controller fills it; tests write it by hand."""

    owner: str  # "<namespace>/<name>" of the HelmRelease
    desired_digest: str
    release: ReleaseObservation = field(default_factory=lambda: ReleaseObservation(()))
    now: float = 0.0
    install_retries: int = 0
    upgrade_retries: int = 0
    strategy: str = "rollback"  # rollback | uninstall
    remediate_last_failure: bool = True
    keep_failed_release: bool = False
    test_enabled: bool = False
    force_requested: bool = False
    # status memory (already reset by `effective` when the config changed)
    last_attempted_digest: str = ""
    install_failures: int = 0
    upgrade_failures: int = 0
    next_retry_at: float = 0.0
    tested_revision: int = 0
    remediated_digest: str = ""  # the desired digest we last remediated (rolled back / uninstalled) for

    def state(self) -> ReleaseState:
        return classify(
            self.release, self.owner, self.desired_digest, self.test_enabled, self.tested_revision
        )


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    state: ReleaseState
    revision: int = 0  # ROLLBACK target
    retry_at: float = 0.0  # WAIT until


def effective(f: Facts, reset_requested: bool = False) -> Facts:
    """Facts with the failure counters reset when the desired config changed or a reset was asked."""
    if reset_requested or (f.last_attempted_digest and f.last_attempted_digest != f.desired_digest):
        return replace(f, install_failures=0, upgrade_failures=0, next_retry_at=0.0, remediated_digest="")
    return f


def installs(d: Decision, f: Facts) -> bool:
    """Whether carrying out `d` is an install (for helm flags, counters and metrics): INSTALL, or an
    UPGRADE of a release that was never deployed (a retried failed first install)."""
    return d.action is Action.INSTALL or (d.action is Action.UPGRADE and not f.release.ever_deployed)


def _exhausted(failures: int, retries: int) -> bool:
    """True when `failures` used up the first attempt plus `retries` retries (-1: never)."""
    return retries >= 0 and failures > retries


def decide(f: Facts) -> Decision:
    st = f.state()
    latest = f.release.latest
    if st is ReleaseState.LOCKED:
        assert latest is not None
        return Decision(
            Action.UNLOCK,
            f"release revision {latest.version} is stuck in {latest.status}; marking it failed",
            st,
            revision=latest.version,
        )
    if f.force_requested:
        if st is ReleaseState.ABSENT:
            return Decision(Action.INSTALL, "install forced by force-at annotation", st)
        return Decision(Action.UPGRADE, "upgrade forced by force-at annotation", st)

    installing = st is ReleaseState.ABSENT or (st is ReleaseState.FAILED and not f.release.ever_deployed)
    failures = f.install_failures if installing else f.upgrade_failures
    retries = f.install_retries if installing else f.upgrade_retries
    if (
        failures
        and f.last_attempted_digest == f.desired_digest
        and st
        not in (
            ReleaseState.IN_SYNC,
            ReleaseState.UNTESTED,
        )
    ):
        if _exhausted(failures, retries):
            return _exhausted_decision(f, st, installing, failures)
        if f.now < f.next_retry_at:
            return Decision(
                Action.WAIT,
                f"retry {failures}/{retries if retries >= 0 else 'inf'} scheduled",
                st,
                retry_at=f.next_retry_at,
            )

    if st is ReleaseState.ABSENT:
        return Decision(Action.INSTALL, "release not installed", st)
    if st is ReleaseState.UNMANAGED:
        assert latest is not None
        owner = f"HelmRelease {latest.owner}" if latest.owner else "another tool"
        return Decision(Action.UPGRADE, f"release exists but was made by {owner}; adopting it", st)
    if st is ReleaseState.FAILED:
        assert latest is not None
        verb = "install" if installing else "upgrade"
        return Decision(Action.UPGRADE, f"revision {latest.version} failed; retrying the {verb}", st)
    if st is ReleaseState.OUT_OF_SYNC:
        return Decision(Action.UPGRADE, "desired chart or values differ from the deployed release", st)
    if st is ReleaseState.UNTESTED:
        assert latest is not None
        return Decision(Action.TEST, f"revision {latest.version} not tested yet", st)
    return Decision(Action.NONE, "release is in sync", st)


def _exhausted_decision(f: Facts, st: ReleaseState, installing: bool, failures: int) -> Decision:
    latest = f.release.latest
    what = "install" if installing else "upgrade"
    stalled = f"{what} failed {failures} time(s); retries exhausted"
    if installing or st is not ReleaseState.FAILED or latest is None:
        # Install failures are never remediated by uninstall (rule 1); an already remediated
        # upgrade (rolled back, now out of sync) waits for a change, force-at or reset-at.
        return Decision(Action.STALL, stalled, st)
    if f.keep_failed_release:
        return Decision(
            Action.STALL, f"{stalled}; keepFailedRelease: failed revision {latest.version} left in place", st
        )
    if not f.remediate_last_failure or f.remediated_digest == f.desired_digest:
        return Decision(Action.STALL, stalled, st)
    if f.strategy == "uninstall":
        return Decision(
            Action.UNINSTALL, f"{stalled}; remediating by uninstall (upgrade.remediation.strategy)", st
        )
    target = f.release.last_deployed_before(latest.version)
    if target is None:
        return Decision(Action.STALL, f"{stalled}; no earlier deployed revision to roll back to", st)
    return Decision(
        Action.ROLLBACK, f"{stalled}; rolling back to revision {target.version}", st, revision=target.version
    )
