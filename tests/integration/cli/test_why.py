"""`kubectl hr why NAME`: the recorded failure, what it changed, and what the cluster shows now."""

from __future__ import annotations

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for
from tests.integration.controller.conftest import Cluster, helmrelease

from .conftest import Plugin

ONE_TRY = {"upgrade": {"remediation": {"retries": 0}}}


def test_why_prints_the_recorded_digest_and_looks_again(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url, timeout="3s", **ONE_TRY))
    cluster.wait_ready("web")
    none = hr("why", "web", "-n", "apps")
    assert none.code == 1 and "has no failure recorded" in none.err
    cluster.apply(helmrelease("web", repo.url, timeout="3s", values={"failHook": True}, **ONE_TRY))
    wait_for(lambda: cluster.status("web").get("lastFailure"), 60, what="status.lastFailure")
    out = hr.ok("why", "web", "-n", "apps")
    assert out.startswith("HelmRelease apps/web: upgrade of revision 2 failed at ")
    recorded, now = out.split("What the cluster shows now:")
    assert "Job/web-migrate (pre-upgrade hook): Failed BackoffLimitExceeded" in recorded
    assert "Job/web-migrate (pre-upgrade hook): Failed BackoffLimitExceeded" in now
    assert 'error: relation "users" already exists' in now  # the hook pod's log, read again
