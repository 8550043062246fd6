"""What the status says after each step of the reconcile loop. Pure.

`record` turns an action's outcome into counters, `nextRetryAt`, a history snapshot and
conditions; `settled` writes the conditions when the loop ends with nothing to do, a wait or
a stall. A successful rollback is recorded in history as the revision it created (a copy of the
target's snapshot), so `history[0]` (the Revision printer column) is the deployed revision.
The reconciler (I/O) calls both and writes the result only when it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..helm.storage import ReleaseObservation
from . import status as st
from .backoff import Backoff
from .decide import Action, Decision, Facts, installs


@dataclass(frozen=True)
class Attempt:
    """The release being worked on, as status needs to describe it."""

    namespace: str  # target namespace
    release: str
    config_digest: str
    chart_name: str
    chart_version: str
    app_version: str
    chart_revision: str
    max_history: int
    backoff: Backoff
    test_ignore_failures: bool
    generation: int


def record(
    status: st.Status, d: Decision, out: Any, f: Facts, a: Attempt, now: float, rand: float = 0.0
) -> st.Status:
    """Status after an action ran: counters, nextRetryAt, history and conditions.

    `out` is the action's Outcome (ok, message, revision); `rand` in [-1, 1] draws the jitter.
    """
    gen = a.generation
    status = dict(status)
    if d.action in (Action.INSTALL, Action.UPGRADE):
        installing = installs(d, f)
        status["lastAttemptedConfigDigest"] = a.config_digest
        status["lastAttemptedRevision"] = a.chart_revision
        status["lastAttemptedGeneration"] = gen
        status["lastAttemptedReleaseAction"] = "install" if installing else "upgrade"
        if out.revision:
            status = st.record_history(
                status,
                {
                    "revision": out.revision,
                    "chartName": a.chart_name,
                    "chartVersion": a.chart_version,
                    "appVersion": a.app_version,
                    "configDigest": a.config_digest,
                    "status": "deployed" if out.ok else "failed",
                    "lastDeployed": st.rfc3339(now),
                },
                a.max_history,
            )
        if out.ok:
            status.update(installFailures=0, upgradeFailures=0, lastAppliedRevision=a.chart_revision)
            status.pop("nextRetryAt", None)
            status.pop("remediatedConfigDigest", None)
            status = st.drop_condition(status, st.REMEDIATED)
            status = st.set_condition(
                status,
                st.RELEASED,
                True,
                d.action.value + "Succeeded",
                out.message or f"Helm {d.action.value.lower()} succeeded",
                gen,
                now,
            )
            status = st.ready(
                status,
                True,
                d.action.value + "Succeeded",
                f"Helm {d.action.value.lower()} succeeded for release {a.namespace}/{a.release}."
                f"v{out.revision} with chart {a.chart_name}@{a.chart_version}",
                gen,
                now,
            )
        else:
            key = "installFailures" if installing else "upgradeFailures"
            n = f.install_failures + 1 if installing else f.upgrade_failures + 1
            status[key] = n
            status["failures"] = int(status.get("failures") or 0) + 1
            delay = a.backoff.delay(n, rand)
            status["nextRetryAt"] = st.rfc3339(now + delay)
            # A retried first install is a helm upgrade, but for the user it is still the install.
            reason = ("Install" if installing else d.action.value) + "Failed"
            status = st.set_condition(status, st.RELEASED, False, reason, out.message, gen, now)
            status = st.ready(status, False, reason, out.message, gen, now)
    elif d.action is Action.ROLLBACK or d.action is Action.UNINSTALL:
        status["remediatedConfigDigest"] = f.desired_digest
        reason = ("Rollback" if d.action is Action.ROLLBACK else "Uninstall") + (
            "Succeeded" if out.ok else "Failed"
        )
        status = st.set_condition(status, st.REMEDIATED, True, reason, out.message, gen, now)
        if d.action is Action.ROLLBACK and out.ok and out.revision:
            target: dict[str, Any] = next(
                (h for h in status.get("history") or [] if int(h.get("revision") or 0) == d.revision), {}
            )
            status = st.record_history(
                status,
                {
                    **target,
                    "revision": out.revision,
                    "status": "deployed",
                    "lastDeployed": st.rfc3339(now),
                },
                a.max_history,
            )
    elif d.action is Action.TEST:
        latest = f.release.latest
        status["lastTestedRevision"] = latest.version if latest else 0
        status = st.set_condition(
            status,
            st.TEST_SUCCESS,
            out.ok,
            "TestSucceeded" if out.ok else "TestFailed",
            out.message,
            gen,
            now,
        )
        if not out.ok and not a.test_ignore_failures:
            status["failures"] = int(status.get("failures") or 0) + 1
            status = st.ready(status, False, "TestFailed", out.message, gen, now)
    elif d.action is Action.UNLOCK:
        status = st.set_condition(status, st.RECONCILING, True, "Unlocked", out.message, gen, now)
    return status


def settled(
    status: st.Status, d: Decision, release: ReleaseObservation, a: Attempt, test_gates: bool, now: float
) -> st.Status:
    """Status when the loop ends without an action: in sync (NONE), waiting (WAIT) or stalled (STALL)."""
    gen = a.generation
    if d.action is Action.NONE:
        latest = release.latest
        rev = latest.version if latest else 0
        prev = st.get_condition(status, st.READY)
        test = st.get_condition(status, st.TEST_SUCCESS)
        if test_gates and test is not None and test.get("status") == "False":
            # A failed `helm test` of the current revision keeps the release not Ready
            # (unless spec.test.ignoreFailures); it is not re-run until the release changes.
            status = st.ready(status, False, "TestFailed", test.get("message", "helm test failed"), gen, now)
        elif (
            prev is None
            or prev.get("status") != "True"
            or prev.get("reason") in ("Suspended", "DependencyNotReady", "ArtifactFailed")
        ):
            status = st.ready(
                status,
                True,
                "InSync",
                f"release in sync: revision {rev} with chart {a.chart_name}@{a.chart_version}",
                gen,
                now,
            )
        else:
            status = st.ready(status, True, prev["reason"], prev.get("message", ""), gen, now)
        if not test_gates or test is None or test.get("status") != "False":
            status = st.drop_condition(status, st.STALLED)
        status.pop("nextRetryAt", None)
    elif d.action is Action.STALL:
        msg = d.reason
        rem, rel = st.get_condition(status, st.REMEDIATED), st.get_condition(status, st.RELEASED)
        if rem and rem.get("status") == "True" and rem.get("message") and "rolling back" not in msg:
            msg += f"; {rem['message']}"
        if rel and rel.get("status") == "False" and rel.get("message"):
            msg += f"; last error: {rel['message']}"
        status = st.stalled(status, "RetriesExhausted", msg, gen, now)
        status.pop("nextRetryAt", None)
    elif d.action is Action.WAIT:
        prev = st.get_condition(status, st.READY)
        status = st.ready(
            status,
            False,
            prev["reason"] if prev else "RetryScheduled",
            (prev or {}).get("message") or d.reason,
            gen,
            now,
        )
    status = st.drop_condition(status, st.RECONCILING)
    return status
