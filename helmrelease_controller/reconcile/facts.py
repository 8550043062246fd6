"""Facts for the decision table, gathered from the spec, our status and Helm's storage (pure).

`facts_for` is the one place that turns a HelmRelease's spec and status into the `Facts` that
`decide` reads. Spec defaults live in the spec model, once (remediateLastFailure:
`UpgradeRemediation.must_remediate_last_failure`).
"""

from __future__ import annotations

from ..api.models import HelmRelease, HelmReleaseStatus
from . import status as st
from .decide import Facts
from .helmstorage import ReleaseObservation


def facts_for(
    hr: HelmRelease,
    status: HelmReleaseStatus,
    release: ReleaseObservation,
    digest: str,
    now: float,
    force: bool,
) -> Facts:
    """`status` is the status as it stands in this reconcile (not `hr.status`, the stored one)."""
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
        last_attempted_digest=status.last_attempted_config_digest or "",
        install_failures=status.install_failures,
        upgrade_failures=status.upgrade_failures,
        next_retry_at=st.parse_rfc3339(status.next_retry_at),
        tested_revision=status.last_tested_revision or 0,
        remediated_digest=status.remediated_config_digest or "",
    )
