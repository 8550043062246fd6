"""helm for a release in another cluster (spec.kubeConfig): `Helm.with_kubeconfig` gives helm
`--kubeconfig <file>` and none of the controller's own cluster settings, on every action, with
impersonation (serviceAccountName) on top. A helm stand-in (sh) records its argv and environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from helmrelease_controller.helm.runner import Helm, UpgradeOptions, own_cluster_env

OWN_CLUSTER = {
    "KUBECONFIG": "/controller/kubeconfig",
    "HELM_KUBEAPISERVER": "https://local:6443",
    "HELM_KUBETOKEN": "controller-token",
    "HELM_KUBECONTEXT": "local",
    "HELM_KUBEASUSER": "system:admin",
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
}
SA = "system:serviceaccount:apps:deployer"


def stand_in(tmp_path: Path) -> Helm:
    helm = tmp_path / "helm"
    helm.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = version ]; then printf v4.3.1; exit 0; fi\n'
        f'echo "$@" >> {tmp_path}/argv\nenv >> {tmp_path}/env\necho {{}}\n'
    )
    helm.chmod(0o755)
    return Helm(str(helm), kubeconfig="/controller/kubeconfig", env=OWN_CLUSTER)


async def run_all(helm: Helm, tmp_path: Path) -> None:
    await helm.upgrade(UpgradeOptions("web", "apps", tmp_path, {}, 5, "5m"))
    await helm.rollback_to("web", "apps", 1, 5, "5m")
    await helm.test("web", "apps", "5m")
    await helm.uninstall("web", namespace="apps")


@pytest.mark.parametrize(
    ("user", "tail"),
    [
        (None, ["--kubeconfig", "/run/k/kubeconfig"]),
        (SA, ["--kubeconfig", "/run/k/kubeconfig", "--kube-as-user", SA]),
    ],
    ids=["kubeconfig's-user", "impersonating"],
)
async def test_every_action_runs_against_the_remote_kubeconfig_only(
    tmp_path: Path, user: str | None, tail: list[str]
) -> None:
    local = stand_in(tmp_path)
    await run_all(local.with_kubeconfig("/run/k/kubeconfig").impersonating(user), tmp_path)
    lines = (tmp_path / "argv").read_text().splitlines()
    assert len(lines) == 4
    for line in lines:
        argv = line.split()
        assert argv[-len(tail) :] == tail, line
        assert "/controller/kubeconfig" not in argv
    env = (tmp_path / "env").read_text()
    for name in OWN_CLUSTER:
        assert f"{name}=" not in env


async def test_the_controllers_own_runner_is_unchanged(tmp_path: Path) -> None:
    local = stand_in(tmp_path)
    local.with_kubeconfig("/run/k/kubeconfig")
    await local.test("web", "apps", "5m")
    assert (tmp_path / "argv").read_text().split()[-2:] == ["--kubeconfig", "/controller/kubeconfig"]
    assert "HELM_KUBEAPISERVER=https://local:6443" in (tmp_path / "env").read_text()


@pytest.mark.parametrize(
    ("name", "own"),
    [
        ("KUBECONFIG", True),
        ("HELM_KUBEAPISERVER", True),
        ("HELM_KUBETOKEN", True),
        ("KUBERNETES_SERVICE_HOST", True),
        ("KUBERNETES_SERVICE_PORT_HTTPS", True),
        ("HELM_CACHE_HOME", False),
        ("HOME", False),
        ("PATH", False),
    ],
)
def test_own_cluster_env(name: str, own: bool) -> None:
    assert own_cluster_env(name) is own
