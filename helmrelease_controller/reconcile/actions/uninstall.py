"""Uninstall: the remediation strategy `uninstall` (after the last failed upgrade), and the uninstall
of a deleted HelmRelease's release (reconcile/finalize.py).

"Not found" is success: the release is already gone. The remediation is recorded like a
rollback's: Remediated with the outcome, once per failed config.
"""

from __future__ import annotations

from ...api.models import HelmReleaseSpec
from ...helm.runner import Helm, HelmError
from ...kube.client import KubeClient
from ..status import Status
from .base import ActionResult, Step, Stopwatch
from .rollback import remediated

LABEL = "uninstall"


async def run(helm: Helm, client: KubeClient, step: Step) -> ActionResult:
    return await uninstall(helm, step.target.release, step.target.namespace, step.spec, step.target.timeout)


async def uninstall(
    helm: Helm, release: str, namespace: str, spec: HelmReleaseSpec, timeout: str
) -> ActionResult:
    un, watch = spec.uninstall, Stopwatch()
    try:
        await helm.uninstall(
            release,
            namespace=namespace,
            keep_history=un.keep_history,
            no_hooks=un.disable_hooks,
            timeout=un.timeout or timeout,
            wait=not un.disable_wait,
            cascade=un.deletion_propagation,
            wait_strategy=spec.wait_strategy_name,
        )
    except HelmError as e:
        if "not found" in e.summary:
            return watch.result(True, "release already gone")
        return watch.result(False, e.summary)
    return watch.result(True, "uninstalled")


def record(status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status:
    return remediated(status, step, result, now)
