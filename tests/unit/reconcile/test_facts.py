"""facts_for: the spec and status a user wrote, as the decision table sees them (a table)."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.api.models import HelmReleaseStatus
from helmrelease_controller.reconcile.facts import facts_for
from helmrelease_controller.reconcile.helmstorage import ReleaseObservation
from tests.helpers.specs import hr_model as hr


@pytest.mark.parametrize(
    ("remediation", "expected"),
    [
        ({}, False),  # no retries configured: the failure stays for the user to see
        ({"retries": 3}, True),  # Flux's default once retries are configured
        ({"retries": -1}, False),  # Flux's default; moot: unlimited retries never run out
        ({"retries": 3, "remediateLastFailure": False}, False),  # said explicitly
        ({"retries": 0, "remediateLastFailure": True}, True),
    ],
)
def test_remediate_last_failure_default(remediation: dict[str, Any], expected: bool) -> None:
    f = facts_for(
        hr(upgrade={"remediation": remediation}), HelmReleaseStatus(), ReleaseObservation(()), "d", 0.0, False
    )
    assert f.remediate_last_failure is expected


@pytest.mark.parametrize(
    "remediation",
    [
        {},
        {"retries": 0},
        {"retries": 1},
        {"retries": 3},
        {"retries": -1},
        {"retries": -1, "remediateLastFailure": True},
        {"retries": 2, "remediateLastFailure": False},
    ],
)
def test_remediate_last_failure_has_one_default(remediation: dict[str, Any]) -> None:
    """The decision table and the spec model agree (they once disagreed for retries: -1)."""
    release = hr(upgrade={"remediation": remediation})
    f = facts_for(release, HelmReleaseStatus(), ReleaseObservation(()), "d", 0.0, False)
    assert f.remediate_last_failure is release.spec.upgrade.remediation.must_remediate_last_failure()


def test_status_memory_and_spec_switches() -> None:
    status = {
        "lastAttemptedConfigDigest": "old",
        "installFailures": 2,
        "upgradeFailures": "1",
        "nextRetryAt": "2026-11-22T10:00:00Z",
        "lastTestedRevision": 4,
        "remediatedConfigDigest": "bad",
    }
    spec = {
        "install": {"remediation": {"retries": 2}},
        "upgrade": {"remediation": {"retries": 5, "strategy": "uninstall"}},
        "keepFailedRelease": True,
        "test": {"enable": True},
    }
    f = facts_for(
        hr(**spec), HelmReleaseStatus.model_validate(status), ReleaseObservation(()), "new", 12.5, True
    )
    assert (f.owner, f.desired_digest, f.now, f.force_requested) == ("team-a/web", "new", 12.5, True)
    assert (f.install_retries, f.upgrade_retries, f.strategy) == (2, 5, "uninstall")
    assert f.keep_failed_release and f.test_enabled
    assert (f.last_attempted_digest, f.install_failures, f.upgrade_failures) == ("old", 2, 1)
    assert f.next_retry_at == 1795341600.0  # 2026-11-22T10:00:00Z
    assert (f.tested_revision, f.remediated_digest) == (4, "bad")


def test_empty_status_means_no_memory() -> None:
    f = facts_for(hr(), HelmReleaseStatus(), ReleaseObservation(()), "d", 0.0, False)
    assert (f.install_failures, f.upgrade_failures, f.next_retry_at, f.tested_revision) == (0, 0, 0.0, 0)
    assert f.last_attempted_digest == "" and f.remediated_digest == ""
