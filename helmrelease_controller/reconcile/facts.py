"""Facts for the decision table, gathered from the spec, our status and Helm's storage (pure).

`facts_for` is the one place that turns a HelmRelease's spec and status into the `Facts` that
`decide` reads, including the defaults Flux users expect (remediateLastFailure defaults to true
exactly when retries are configured).
"""

from __future__ import annotations

from typing import Any

from ..helm.storage import ReleaseObservation
from . import status as st
from .decide import Facts


def remediates_last_failure(retries: int, remediate_last_failure: bool | None) -> bool:
    """Flux's default: remediate after the last failed retry iff any retries are configured."""
    if remediate_last_failure is not None:
        return remediate_last_failure
    return retries > 0 or retries == -1


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
        remediate_last_failure=remediates_last_failure(up.retries, up.remediate_last_failure),
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
