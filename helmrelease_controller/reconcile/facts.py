"""Facts for the decision table, gathered from the spec, our status and Helm's storage (pure).

`facts_for` is the one place that turns a HelmRelease's spec and status into the `Facts` that
`decide` reads. Spec defaults live in the spec model, once (remediateLastFailure:
`UpgradeRemediation.must_remediate_last_failure`).
"""

from __future__ import annotations

from typing import Any

from ..helm.storage import ReleaseObservation
from . import status as st
from .decide import Facts


def facts_for(
    hr: Any,
    status: st.Status,
    release: ReleaseObservation,
    digest: str,
    now: float,
    force: bool,
) -> Facts:
    """`hr` is an `api.models.HelmRelease`; `status` the status as it stands in this reconcile."""
    spec = hr.spec
    up = spec.upgrade.remediation
    return Facts(
        owner=f"{hr.namespace}/{hr.name}",
        desired_digest=digest,
        release=release,
        now=now,
        install_retries=spec.install.remediation.retries,
        upgrade_retries=up.retries,
        strategy=up.strategy,
        remediate_last_failure=up.must_remediate_last_failure(),
        keep_failed_release=spec.keep_failed_release,
        test_enabled=spec.test.enable,
        force_requested=force,
        last_attempted_digest=status.get("lastAttemptedConfigDigest") or "",
        install_failures=int(status.get("installFailures") or 0),
        upgrade_failures=int(status.get("upgradeFailures") or 0),
        next_retry_at=st.parse_rfc3339(status.get("nextRetryAt")),
        tested_revision=int(status.get("lastTestedRevision") or 0),
        remediated_digest=status.get("remediatedConfigDigest") or "",
    )
