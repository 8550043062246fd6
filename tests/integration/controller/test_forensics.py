"""A failed upgrade or test explains itself: status.lastFailure and the Slack message name the
objects and the reasons (a Deployment that never gets ready, a failing hook Job, a failing
`helm test` pod), as the cluster showed them, with no Secret value anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease
from .test_observability import PLANTED, _controller_notifying, _Slack
from .test_observability import slack as slack  # the fixture

ONE_TRY = {"upgrade": {"remediation": {"retries": 0}}, "install": {"remediation": {"retries": 0}}}


def failure(cluster: Cluster) -> dict[str, Any]:
    return wait_for(lambda: cluster.status("web").get("lastFailure"), 60, what="status.lastFailure")  # type: ignore[no-any-return]


def with_secret(cluster: Cluster, repo: ChartRepo, **spec: Any) -> dict[str, Any]:
    return helmrelease(
        "web",
        repo.url,
        timeout="3s",
        valuesFrom=[{"kind": "Secret", "name": "web-secret"}],
        **ONE_TRY,
        **spec,
    )


def secret_values(cluster: Cluster) -> None:
    """The valuesFrom Secret: a value that must never appear anywhere."""
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        "web-secret",
        "-n",
        "apps",
        f"--from-literal=values.yaml=token: {PLANTED}",
    )


def install(cluster: Cluster, repo: ChartRepo, **spec: Any) -> None:
    secret_values(cluster)
    cluster.apply(with_secret(cluster, repo, **spec))
    cluster.wait_ready("web")


def no_secret_anywhere(cluster: Cluster, proc: ControllerProcess, hook: _Slack) -> None:
    everything = json.dumps([cluster.hr("web"), cluster.events(), hook.payloads]) + proc.logs()
    assert PLANTED not in everything


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_a_never_ready_upgrade_names_the_deployment_and_its_pod(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    install(cluster, repo)
    cluster.apply(with_secret(cluster, repo, values={"neverReady": True, "image": "nginx:1.28"}))
    last = failure(cluster)
    assert last["action"] == "upgrade" and last["revision"] == 2
    text = "\n".join(last["summary"])
    assert "Deployment/web: rollout incomplete: 1/1 updated, 1/1 available, 1 old still running" in text, text
    assert "container app running, not ready" in text or "Readiness probe failed" in text, text
    assert len(last["summary"]) <= 10
    assert PLANTED not in json.dumps(cluster.hr("web"))


def test_a_failing_hook_job_is_named_with_its_log(
    cluster: Cluster,
    repo: ChartRepo,
    slack: _Slack,
    tmp_path: Path,
) -> None:
    proc = _controller_notifying(cluster, slack, tmp_path)
    try:
        install(cluster, repo)
        cluster.apply(with_secret(cluster, repo, values={"failHook": True}))
        text = "\n".join(failure(cluster)["summary"])
        assert "Job/web-migrate (pre-upgrade hook): Failed BackoffLimitExceeded" in text, text
        assert 'error: relation "users" already exists' in text, text  # the hook pod's last log line
        payload = wait_for(lambda: slack.payloads, 15, what="the failure message")[-1]
        why = {f["title"]: f["value"] for f in payload["attachments"][0]["fields"]}["Why"]
        assert "Job/web-migrate (pre-upgrade hook)" in why
        no_secret_anywhere(cluster, proc, slack)
    finally:
        proc.stop()


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_a_failing_helm_test_names_the_test_pod(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    secret_values(cluster)
    cluster.apply(with_secret(cluster, repo, values={"failTests": True}, test={"enable": True}))
    last = failure(cluster)
    assert last["action"] == "test" and last["revision"] == 1
    text = "\n".join(last["summary"])
    assert "Pod/web-test (test): Failed" in text, text


def test_a_successful_upgrade_clears_the_last_failure(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    install(cluster, repo)
    cluster.apply(with_secret(cluster, repo, values={"neverReady": True}))
    failure(cluster)
    cluster.apply(with_secret(cluster, repo, values={"message": "fixed"}))
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    wait_for(lambda: "lastFailure" not in cluster.status("web"), 15, what="lastFailure cleared")


@pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)
def test_a_failing_hook_job_is_named_on_both_helms(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    install(cluster, repo)
    cluster.apply(with_secret(cluster, repo, values={"failHook": True}))
    last = failure(cluster)
    text = "\n".join(last["summary"])
    assert last["action"] == "upgrade" and last["revision"] == 2
    assert "Job/web-migrate (pre-upgrade hook): Failed BackoffLimitExceeded" in text, text
    assert 'error: relation "users" already exists' in text, text
