"""Why an action failed and what it changed: gathered once, right after a failed install, upgrade
or test, for the event, the notification and `status.lastFailure`.

- `details`: the forensics digest (forensics/: workloads not ready, their pods, failed hook Jobs,
  `helm test` pods, Warning events since the action began), a few lines;
- `changes`: what this attempt changed against the last deployed revision (reconcile/changes.py:
  the chart version and the values as dotted paths `old -> new`, Secret-derived values masked).

Gathering never fails the reconcile: a read that fails leaves its part empty (logged at debug).
Every line is redacted with the release's secret values before it leaves (the notification and
the event redact again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass

from ..api.models import HelmReleaseStatus, LastFailure
from ..forensics.digest import digest, findings
from ..forensics.gather import Target, gather
from ..kube.client import ApiError, KubeClient
from ..redact import redact
from .actions import ActionResult, Step
from .changes import what_changed
from .status import rfc3339

log = logging.getLogger(__name__)

EXPLAINED = ("install", "upgrade", "test")  # the actions whose failures are explained


@dataclass(frozen=True)
class Explanation:
    details: tuple[str, ...] = ()  # why: the forensics digest
    changes: tuple[str, ...] = ()  # what the attempt changed
    revision: int = 0  # the revision explained (made by the action, or tested)

    def redacted(self, secrets: set[str]) -> Explanation:
        return Explanation(
            tuple(redact(line, secrets) for line in self.details),
            tuple(redact(line, secrets) for line in self.changes),
            self.revision,
        )


class Explainer:
    """Gathers an `Explanation` of one failed action (see the module docstring)."""

    async def explain(
        self, label: str, step: Step, done: ActionResult, context: ExplainContext
    ) -> Explanation:
        if done.ok or label not in EXPLAINED:
            return Explanation()
        return Explanation(
            await self._guarded("forensics", self._details(label, step, done, context)),
            await self._guarded("changes", self._changes(label, step, done, context)),
            revision_of(label, step, done),
        ).redacted(context.secrets)

    @staticmethod
    async def _guarded(what: str, gather: Awaitable[tuple[str, ...]]) -> tuple[str, ...]:
        try:
            return await gather
        except (ApiError, OSError, TimeoutError, ValueError, KeyError) as e:
            log.debug("explaining a failure: %s could not be gathered: %s", what, e)
            return ()

    async def _details(
        self, label: str, step: Step, done: ActionResult, context: ExplainContext
    ) -> tuple[str, ...]:
        """The forensics digest of the revision the action made (a test: the revision tested)."""
        revision = revision_of(label, step, done)
        if not revision:
            return ()  # nothing was released (e.g. the chart did not render): helm's error says it
        t = step.target
        target = Target(t.storage_namespace, t.release, revision, label, context.started_at)
        return tuple(digest(findings(await gather(context.client, context.storage, target))))

    async def _changes(
        self, label: str, step: Step, done: ActionResult, context: ExplainContext
    ) -> tuple[str, ...]:
        return await what_changed(context.storage, step, label, context.secrets)


def revision_of(label: str, step: Step, done: ActionResult) -> int:
    """The revision a failure is about: the one the action made, or (a test) the one tested."""
    latest = step.facts.release.latest
    return done.revision or (latest.version if label == "test" and latest else 0)


@dataclass(frozen=True)
class ExplainContext:
    """What gathering may use besides the step (whose `target` has the attempt's values and
    release, `attempt` its chart, `facts.release` Helm's storage before the action)."""

    storage: KubeClient  # reads Helm's storage (the controller's identity, or the remote cluster's)
    client: KubeClient  # reads the release's objects (helm's identity)
    started_at: float  # when the action began (events since then)
    secrets: set[str]  # the secret strings among the values (redaction)


def record_failure(
    status: HelmReleaseStatus, label: str, done: ActionResult, why: Explanation, now: float
) -> HelmReleaseStatus:
    """status.lastFailure after an action: set by an explained failure, cleared by a success. Pure."""
    if done.ok and label in EXPLAINED:
        return status.model_copy(update={"last_failure": None})
    if done.ok or not (why.details or why.changes):
        return status
    failure = LastFailure(
        action=label,
        revision=why.revision or None,
        time=rfc3339(now),
        summary=list(why.details),
        changes=list(why.changes),
    )
    return status.model_copy(update={"last_failure": failure})
