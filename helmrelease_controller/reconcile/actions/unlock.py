"""Unlock: a release left `pending-*` (a controller or helm killed mid-action) is marked failed, so
the next step can upgrade it; never uninstalled (DESIGN rule 2).

The stuck release Secret is rewritten with optimistic concurrency (its resourceVersion): if
helm itself moved on meanwhile, the write fails and nothing is lost.
"""

from __future__ import annotations

from ...helm.runner import Helm
from ...kube.client import SECRETS, KubeClient
from ...kube.client import ApiError as KubeApiError
from .. import status as st
from ..helmstorage import PENDING, unlocked
from ..status import Status
from .base import ActionResult, Step, Stopwatch

LABEL = "unlock"


async def run(helm: Helm, client: KubeClient, step: Step) -> ActionResult:
    latest, ns, watch = step.facts.release.latest, step.target.storage_namespace, Stopwatch()
    assert latest is not None  # decide() unlocks only a release it saw pending
    version = latest.version
    try:
        secret = await client.get(SECRETS, ns, latest.secret_name)
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get("status") not in PENDING:
            return watch.result(True, f"revision {version} no longer pending")
        new = unlocked(
            secret, f"Release unlocked by helmrelease-controller from stale {labels.get('status')}"
        )
        await client.replace(SECRETS, ns, latest.secret_name, new)
    except KubeApiError as e:
        return watch.result(
            False, st.one_line(f"unlock of revision {version} failed: {e.reason}: {e.message}")
        )
    return watch.result(True, f"revision {version} unlocked (marked failed)", revision=version)


def record(status: Status, step: Step, result: ActionResult, now: float, rand: float) -> Status:
    gen = step.attempt.generation
    return st.set_condition(status, st.RECONCILING, True, "Unlocked", result.message, gen, now)
