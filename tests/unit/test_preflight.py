"""Startup checks: 403 reasons, git's "no ssh" as a SourceError reason (pure), and the wait for an
API server that fails (against kubesim, on a fake clock)."""

from __future__ import annotations

import asyncio

import pytest

from helmrelease_controller.kube.client import ApiError, KubeClient
from helmrelease_controller.preflight import check_api, forbidden_reason, storage_forbidden_reason
from helmrelease_controller.sources.gitauth import git_error, parse_git_url
from kubesim import KubeSim
from tests.conftest import Cli
from tests.helpers.clock import FakeClock
from tests.helpers.controller import ROOT

SA = "system:serviceaccount:helmrelease-system:helmrelease-controller"
K8S_403 = f'secrets is forbidden: User "{SA}" cannot list resource "secrets" ' + (
    'in API group "" in the namespace "apps"'
)


@pytest.mark.parametrize(
    ("err", "namespace", "expected"),
    [
        (
            ApiError(403, "Forbidden", K8S_403),
            "apps",
            f"forbidden: {SA} cannot list secrets in namespace apps (Helm's release storage); "
            "grant list on secrets: the ClusterRole in deploy/base/rbac.yaml",
        ),
        (
            ApiError(403, "Forbidden", "no user named here"),
            "team-a",
            "forbidden: the controller's service account cannot list secrets in namespace team-a "
            "(Helm's release storage); grant list on secrets: the ClusterRole in deploy/base/rbac.yaml",
        ),
        (ApiError(404, "NotFound", "nope"), "apps", None),
        (ApiError(500, "InternalError", K8S_403), "apps", None),
    ],
)
def test_storage_forbidden_reason(err: ApiError, namespace: str, expected: str | None) -> None:
    assert storage_forbidden_reason(err, namespace) == expected


def test_forbidden_reason_cluster_wide_is_one_line() -> None:
    err = ApiError(403, "Forbidden", f'User "{SA}"\ncannot list')
    reason = forbidden_reason(
        err, "list", "helmreleases.helmrelease.dev", None, "HelmReleases", "kubectl apply -k deploy/"
    )
    assert reason == (
        f"forbidden: {SA} cannot list helmreleases.helmrelease.dev cluster-wide (HelmReleases); "
        "grant list on helmreleases.helmrelease.dev: kubectl apply -k deploy/"
    )
    assert "\n" not in reason


@pytest.mark.parametrize(
    ("url", "stderr", "reason"),
    [
        (
            "ssh://git@127.0.0.1:2222/r.git",
            "error: cannot run ssh: No such file or directory\nfatal: unable to fork",
            "ssh is not installed (no ssh on the controller's PATH): ssh://127.0.0.1:2222/r.git needs it",
        ),
        (
            "git@example.com:org/r.git",
            "error: cannot run ssh: No such file or directory",
            "ssh is not installed (no ssh on the controller's PATH): example.com:org/r.git needs it",
        ),
    ],
)
def test_no_ssh_client_is_named(url: str, stderr: str, reason: str) -> None:
    err = git_error(stderr, parse_git_url(url), None)
    assert str(err) == reason
    assert not err.transient


async def test_check_api_waits_for_a_failing_api_server(kubesim: KubeSim, kubectl: Cli) -> None:
    """0.5 s doubling to 30 s between lists, until the API server answers."""
    kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
    kubesim.add_fault(status=503, verb="list", resource="helmreleases.helmrelease.dev", times=8)
    clock, stop = FakeClock(), asyncio.Event()
    client = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    try:
        task = asyncio.create_task(check_api(client, None, stop, clock=clock))
        for n in range(1, 9):
            await clock.until_timeouts(n)
            await clock.advance(clock.timeouts[-1] or 0.0)
        assert await task is True
    finally:
        await client.close()
    assert clock.timeouts == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_check_api_stops_waiting_when_told(kubesim: KubeSim, kubectl: Cli) -> None:
    kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
    kubesim.add_fault(status=503, verb="list", resource="helmreleases.helmrelease.dev")
    clock, stop = FakeClock(), asyncio.Event()
    client = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    try:
        task = asyncio.create_task(check_api(client, "apps", stop, clock=clock))
        await clock.until_timeouts(1)
        stop.set()
        assert await task is False
    finally:
        await client.close()
    assert clock.timeouts == [0.5]
