"""Upgrade: `helm upgrade` of a release that was deployed once, and the whole story of its failure.

Success resets the failure counters and forgets any remediation. A failure counts
`upgradeFailures` for the current config (reset when the config changes or on `reset-at`),
schedules the retry with the spec's backoff (`nextRetryAt`), records the failed revision that
helm left in storage in history (release.py finds it), and says UpgradeFailed with helm's
reason on Released and Ready. What happens next is the decision table's (decide.py): retry
while retries are left, then remediate once (rollback.py or uninstall.py) or stall.
`upgrade.force` and the `force-at` annotation replace objects (helm 3 `--force`, helm 4
`--force-replace`; docs/helm-versions.md).
"""

from __future__ import annotations

from ...helm.runner import Helm
from ...kube.client import KubeClient
from ..status import Status
from .base import ActionResult, Step
from .release import record_attempt, record_failure, record_success, upgrade_install

LABEL = "upgrade"


async def run(helm: Helm, client: KubeClient, step: Step) -> ActionResult:
    return await upgrade_install(helm, client, step, installing=False)


def record(status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status:
    status = record_attempt(status, step, result, installing=False, now=now)
    if result.ok:
        return record_success(status, step, result, False, now)
    failures = step.facts.upgrade_failures + 1
    status = status.model_copy(update={"upgrade_failures": failures})
    return record_failure(status, step, result, "UpgradeFailed", failures, now, rand)
