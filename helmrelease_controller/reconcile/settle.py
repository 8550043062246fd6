"""What status says when the reconcile loop ends without an action. Pure.

`settled` writes the conditions when the decision is to do nothing (in sync), to wait for a
scheduled retry, or to stall (retries exhausted, remediation done): each action's own outcome
is recorded by its module in reconcile/actions/. The pipeline writes the result only when it
changed.
"""

from __future__ import annotations

from . import status as st
from .actions.base import Attempt
from .decide import Action, Decision
from .helmstorage import ReleaseObservation


def settled(
    status: st.Status, d: Decision, release: ReleaseObservation, a: Attempt, test_gates: bool, now: float
) -> st.Status:
    """Status when the loop ends without an action: in sync (NONE), waiting (WAIT) or stalled (STALL)."""
    if d.action is Action.NONE:
        status = _in_sync(status, release, a, test_gates, now)
    elif d.action is Action.STALL:
        status = _stalled(status, d, a, now)
    elif d.action is Action.WAIT:
        prev = status.condition(st.READY)
        reason = prev.reason if prev else "RetryScheduled"
        status = st.ready(
            status, False, reason, (prev.message if prev else "") or d.reason, a.generation, now
        )
    return st.drop_condition(status, st.RECONCILING)


def _in_sync(
    status: st.Status, release: ReleaseObservation, a: Attempt, test_gates: bool, now: float
) -> st.Status:
    gen, latest = a.generation, release.latest
    prev, test = status.condition(st.READY), status.condition(st.TEST_SUCCESS)
    test_failed = test_gates and test is not None and test.status == "False"
    if test_failed:
        # A failed `helm test` of the current revision keeps the release not Ready
        # (unless spec.test.ignoreFailures); it is not re-run until the release changes.
        assert test is not None
        status = st.ready(status, False, "TestFailed", test.message or "helm test failed", gen, now)
    elif prev is None or prev.status != "True" or prev.reason in _NOT_A_RELEASE_REASON:
        rev = latest.version if latest else 0
        msg = f"release in sync: revision {rev} with chart {a.chart_name}@{a.chart_version}"
        status = st.ready(status, True, "InSync", msg, gen, now)
    else:
        status = st.ready(status, True, prev.reason, prev.message, gen, now)
    if not test_failed:
        status = st.drop_condition(status, st.STALLED)
    return status.model_copy(update={"next_retry_at": None})


_NOT_A_RELEASE_REASON = ("Suspended", "DependencyNotReady", "ArtifactFailed")


def _stalled(status: st.Status, d: Decision, a: Attempt, now: float) -> st.Status:
    """Stalled, naming the remediation done and the last error."""
    msg = d.reason
    rem, rel = status.condition(st.REMEDIATED), status.condition(st.RELEASED)
    if rem and rem.status == "True" and rem.message and "rolling back" not in msg:
        msg += f"; {rem.message}"
    if rel and rel.status == "False" and rel.message:
        msg += f"; last error: {rel.message}"
    status = st.stalled(status, "RetriesExhausted", msg, a.generation, now)
    return status.model_copy(update={"next_retry_at": None})
