"""Install: the first `helm upgrade --install` of a release, and its retries until one is deployed.

A retried first install is `helm upgrade --install` over the failed release, but for the user
it is still the install: its failures count `installFailures`, its reason is InstallFailed, and
a failure for a missing target namespace hints at `install.createNamespace`.
"""

from __future__ import annotations

from ...helm.runner import Helm
from ...kube.client import KubeClient
from ..status import Status
from .base import ActionResult, Step
from .release import record_attempt, record_failure, record_success, upgrade_install

LABEL = "install"


async def run(helm: Helm, client: KubeClient, step: Step) -> ActionResult:
    return await upgrade_install(helm, client, step, installing=True)


def record(status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status:
    status = record_attempt(status, step, result, installing=True, now=now)
    if result.ok:
        return record_success(status, step, result, True, now)
    failures = step.facts.install_failures + 1
    status = status.model_copy(update={"install_failures": failures})
    return record_failure(status, step, result, "InstallFailed", failures, now, rand)
