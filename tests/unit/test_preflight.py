"""Pure startup-error logic: 403 reasons, and git's "no ssh" as a SourceError reason."""

from __future__ import annotations

import pytest

from helmrelease_controller.kube.client import ApiError
from helmrelease_controller.preflight import forbidden_reason, storage_forbidden_reason
from helmrelease_controller.sources.gitauth import git_error, parse_git_url

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
            "grant list on secrets: the ClusterRole in deploy/rbac.yaml",
        ),
        (
            ApiError(403, "Forbidden", "no user named here"),
            "team-a",
            "forbidden: the controller's service account cannot list secrets in namespace team-a "
            "(Helm's release storage); grant list on secrets: the ClusterRole in deploy/rbac.yaml",
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
