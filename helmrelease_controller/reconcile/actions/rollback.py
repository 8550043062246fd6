"""Rollback: the remediation of an upgrade whose retries ran out, to the revision decide.py chose
(the last deployed one, DESIGN rule 3).

It runs once per failed config (`remediatedConfigDigest`), never before each retry. Success is
recorded in history as the revision the rollback created (a copy of the target's snapshot), so
`history[0]` (the Revision printer column) is the deployed revision; Ready stays as the failed
upgrade left it and the decision table stalls next, naming the rollback.
"""

from __future__ import annotations

from typing import Any

from ...helm.runner import Helm, HelmError
from ...kube.client import KubeClient
from .. import status as st
from ..status import Status
from .base import ActionResult, Step, Stopwatch
from .release import latest_revision

LABEL = "rollback"


def options(step: Step) -> dict[str, Any]:
    """The `Helm.rollback_to` arguments of this step, from spec.rollback. Pure."""
    t, rb = step.target, step.spec.rollback
    return {
        "release": t.release,
        "namespace": t.namespace,
        "revision": step.decision.revision,
        "history_max": t.history_max,
        "timeout": rb.timeout or t.timeout,
        "wait": not rb.disable_wait,
        "force": rb.force,
        "cleanup_on_fail": rb.cleanup_on_fail,
        "wait_for_jobs": not rb.disable_wait_for_jobs,
        "wait_strategy": step.spec.wait_strategy_name,
        "no_hooks": rb.disable_hooks,
        "recreate": rb.recreate,
    }


async def run(helm: Helm, client: KubeClient, step: Step) -> ActionResult:
    revision, watch = step.decision.revision, Stopwatch()
    try:
        await helm.rollback_to(**options(step))
    except HelmError as e:
        return watch.result(False, e.summary)
    made = await latest_revision(client, step)
    message = f"rolled back to revision {revision}" + (f" (as revision {made})" if made else "")
    return watch.result(True, message, revision=made)


def record(status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status:
    status = remediated(status, step, result, now)
    target = next((h for h in status.history if h.revision == step.decision.revision), None)
    if not result.ok or not result.revision or target is None:
        return status
    entry = target.model_copy(
        update={"revision": result.revision, "status": "deployed", "last_deployed": st.rfc3339(now)}
    )
    return st.record_history(status, entry, step.attempt.max_history)


def remediated(status: Status, step: Step, result: ActionResult, now: float) -> Status:
    """Remediated=True with the outcome, and the config it was done for (so it is not repeated)."""
    d = step.decision
    status = status.model_copy(update={"remediated_config_digest": step.facts.desired_digest})
    reason = d.action.value + ("Succeeded" if result.ok else "Failed")
    return st.set_condition(status, st.REMEDIATED, True, reason, result.message, step.attempt.generation, now)
