"""Test: `helm test` of the deployed revision when `spec.test.enable` (once per revision), with
`test.timeout` (else spec.timeout) and `test.filters` (helm test --filter).

A failure says TestFailed on TestSuccess and, unless `test.ignoreFailures`, on Ready, and counts
as a failure; the revision is not tested again until the release changes (reconcile/settle.py
keeps the release not Ready meanwhile).
"""

from __future__ import annotations

from ...helm.runner import Helm, HelmError
from ...kube.client import KubeClient
from .. import status as st
from ..status import Status
from .base import ActionResult, Step, Stopwatch

LABEL = "test"


async def run(helm: Helm, client: KubeClient, step: Step) -> ActionResult:
    t, spec, watch = step.target, step.spec.test, Stopwatch()
    filters = [(f.name, f.exclude) for f in spec.filters]
    try:
        await helm.test(t.release, t.namespace, spec.timeout or t.timeout, filters)
    except HelmError as e:
        return watch.result(False, e.summary.replace("test failed", "tests failed", 1))
    return watch.result(True, "tests passed")


def record(status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status:
    latest, gen = step.facts.release.latest, step.attempt.generation
    status = status.model_copy(update={"last_tested_revision": latest.version if latest else 0})
    reason = "TestSucceeded" if result.ok else "TestFailed"
    status = st.set_condition(status, st.TEST_SUCCESS, result.ok, reason, result.message, gen, now)
    if result.ok or step.attempt.test_ignore_failures:
        return status
    status = status.model_copy(update={"failures": status.failures + 1})
    return st.ready(status, False, "TestFailed", result.message, gen, now)
