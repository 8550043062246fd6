"""`helm upgrade --install`: the helm call install and upgrade share, and what they record alike.

Both actions run the same command (it also retries a failed first install without an
uninstall, DESIGN rule 1), with `--history-max` (rule 4), values only on stdin and our owner
labels on the release. A failed helm upgrade prints no JSON, so the revision it left behind
is read from Helm's storage: history and the Revision column then show the failed revision.
"""

from __future__ import annotations

import re
from typing import Any

from ...api.models import HistoryEntry
from ...helm.failures import explain, immutable_object
from ...helm.runner import Helm, HelmError, UpgradeOptions
from ...kube.client import SECRETS, KubeClient
from ...kube.client import ApiError as KubeApiError
from .. import status as st
from ..helmstorage import (
    DIGEST_LABEL,
    OWNER_NAME_LABEL,
    OWNER_NAMESPACE_LABEL,
    ReleaseObservation,
    label_digest,
    observe,
)
from .base import ActionResult, Step, Stopwatch
from .replace import delete_for_replace


def options(step: Step, installing: bool) -> UpgradeOptions:
    """The helm arguments of this attempt. Pure."""
    t, spec = step.target, step.spec
    opts = spec.install if installing else spec.upgrade
    crds = opts.crds or ("Create" if installing else "Skip")
    return UpgradeOptions(
        release=t.release,
        namespace=t.namespace,
        chart=t.chart_path,
        values=t.values,
        history_max=t.history_max,
        timeout=t.timeout,
        labels={
            DIGEST_LABEL: label_digest(t.config_digest),
            OWNER_NAME_LABEL: t.owner_name,
            OWNER_NAMESPACE_LABEL: t.owner_namespace,
        },
        create_namespace=spec.install.create_namespace,
        wait=not opts.disable_wait,
        skip_crds=str(crds) == "Skip",
        force=step.force or (spec.upgrade.force and not installing),
        force_conflicts=spec.upgrade.force_conflicts and not installing,
        cleanup_on_fail=spec.upgrade.cleanup_on_fail and not installing,
        description=f"{'install' if installing else 'upgrade'} by helmrelease-controller",
        action="install" if installing else "upgrade",
        wait_for_jobs=not opts.disable_wait_for_jobs,
        wait_strategy=spec.wait_strategy_name,
        no_hooks=opts.disable_hooks,
        disable_openapi_validation=opts.disable_open_api_validation,
        skip_schema_validation=opts.disable_schema_validation,
        take_ownership=not opts.disable_take_ownership,
        reuse_values=spec.upgrade.preserve_values and not installing,
        post_render=t.post_render,
    )


async def upgrade_install(helm: Helm, client: KubeClient, step: Step, installing: bool) -> ActionResult:
    """Run `helm upgrade --install`; on failure, find the revision it left in storage."""
    o, watch = options(step, installing), Stopwatch()
    try:
        out = await _upgrade_replacing(helm, client, o)
    except HelmError as e:
        msg = explain(e.summary, o.namespace)  # conflicts and immutable fields say what to set
        msg = install_hint(msg, o.create_namespace) if installing else msg
        observed = await _look(client, step)
        before, after = step.facts.release.latest, observed.latest if observed else None
        made = after.version if after and (before is None or after.version > before.version) else 0
        return watch.result(False, msg, revision=made, observed=observed)
    return watch.result(True, "", revision=int(out.get("version") or 0))


async def _upgrade_replacing(helm: Helm, client: KubeClient, o: UpgradeOptions) -> dict[str, Any]:
    """`helm upgrade`; forced, an object that cannot change in place is replaced (replace.py) and
    the upgrade runs once more."""
    try:
        return await helm.upgrade(o)
    except HelmError as e:
        target = immutable_object(e.summary) if o.force else None
        if target is None:
            raise
        why = await delete_for_replace(client, *target, o.namespace, o.release)
        if why:
            raise HelmError(f"{e.summary}; {why}", e.stderr, e.returncode) from e
        return await helm.upgrade(o)


async def _look(client: KubeClient, step: Step) -> ReleaseObservation | None:
    t = step.target
    try:
        items, _ = await client.list(
            SECRETS, t.storage_namespace, label_selector=f"owner=helm,name={t.release}", metadata_only=True
        )
    except (KubeApiError, OSError, TimeoutError):
        return None
    return observe(items)


def install_hint(message: str, create_namespace: bool) -> str:
    """`message` with a hint when the failure is a missing target namespace the spec could create."""
    m = _MISSING_NAMESPACE.search(message)
    if m is None or create_namespace:
        return message
    return f"{message} (set spec.install.createNamespace: true to create namespace {m.group(1)})"


def record_attempt(
    status: st.Status, step: Step, result: ActionResult, installing: bool, now: float
) -> st.Status:
    """What both record of any attempt: what was tried, and the revision it made (history)."""
    a = step.attempt
    status = status.model_copy(
        update={
            "last_attempted_config_digest": a.config_digest,
            "last_attempted_revision": a.chart_revision,
            "last_attempted_generation": a.generation,
            "last_attempted_release_action": "install" if installing else "upgrade",
        }
    )
    if not result.revision:
        return status
    entry = HistoryEntry(
        revision=result.revision,
        chart_name=a.chart_name,
        chart_version=a.chart_version,
        app_version=a.app_version,
        config_digest=a.config_digest,
        status="deployed" if result.ok else "failed",
        last_deployed=st.rfc3339(now),
    )
    return st.record_history(status, entry, a.max_history)


def record_success(
    status: st.Status, step: Step, result: ActionResult, installing: bool, now: float
) -> st.Status:
    """A released revision: counters reset, Released and Ready true, remediation forgotten. A
    retried first install that succeeds is an install (InstallSucceeded), as its event says."""
    a, verb = step.attempt, "Install" if installing else "Upgrade"
    status = status.model_copy(
        update={
            "install_failures": 0,
            "upgrade_failures": 0,
            "last_applied_revision": a.chart_revision,
            "next_retry_at": None,
            "remediated_config_digest": None,
        }
    )
    status = st.drop_condition(status, st.REMEDIATED)
    reason = verb + "Succeeded"
    message = result.message or f"Helm {verb.lower()} succeeded"
    status = st.set_condition(status, st.RELEASED, True, reason, message, a.generation, now)
    ready = (
        f"Helm {verb.lower()} succeeded for release {a.namespace}/{a.release}.v{result.revision} "
        f"with chart {a.chart_name}@{a.chart_version}"
    )
    return st.ready(status, True, reason, ready, a.generation, now)


def record_failure(
    status: st.Status, step: Step, result: ActionResult, reason: str, failures: int, now: float, rand: float
) -> st.Status:
    """A failed attempt: `failures` in a row so far, the retry scheduled with the spec's backoff."""
    a = step.attempt
    delay = a.backoff.delay(failures, rand)
    status = status.model_copy(
        update={"failures": status.failures + 1, "next_retry_at": st.rfc3339(now + delay)}
    )
    status = st.set_condition(status, st.RELEASED, False, reason, result.message, a.generation, now)
    return st.ready(status, False, reason, result.message, a.generation, now)


_MISSING_NAMESPACE = re.compile(r'namespaces "([^"]+)" not found')


async def latest_revision(client: KubeClient, step: Step) -> int:
    """The newest revision in helm's storage (the one a rollback just made); 0 if unreadable."""
    observed = await _look(client, step)
    latest = observed.latest if observed else None
    return latest.version if latest else 0
