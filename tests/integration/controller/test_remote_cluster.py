"""spec.kubeConfig.secretRef (issue 16): a HelmRelease in this cluster, its release in another one.

Two kubesims: the controller's own ("local": the HelmRelease, the kubeconfig Secret, status and
events) and a second one ("remote") whose kubeconfig is in the Secret. The real helm 3 and helm 4
install, upgrade and uninstall there; Helm's storage is there; nothing of the release is here.
A Secret that is missing, a kubeconfig that is refused and a remote API server that does not
answer are each one line on the HelmRelease (reason RESTClientError) and an event, and the
controller keeps serving the others.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from kubesim.sim import kubeconfig
from tests.conftest import Cli, _env, tool
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ROOT, ControllerProcess, wait_for

from .conftest import Cluster, helmrelease

STORAGE = "sh.helm.release.v1.web.v{}"
KUBECONFIG_REF = {"secretRef": {"name": "remote-kubeconfig"}}


@pytest.fixture(params=["helm", "helm3"])
def helm_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Cluster]:
    """The second cluster, with the namespace `apps` the release goes to."""
    sim = KubeSim(bookmark_interval=1.0)
    sim.start()
    home = tmp_path / "remote"
    home.mkdir()
    sim.write_kubeconfig(home / "kubeconfig")
    kubectl = Cli(tool("kubectl"), _env(home, sim))
    kubectl("create", "namespace", "apps")
    yield Cluster(sim, kubectl)
    sim.stop()


@pytest.fixture
def hostile_env(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The controller's environment points helm at this cluster: helm for a remote release must
    not listen to it (runner.own_cluster_env), or the release would land here."""
    monkeypatch.setenv("HELM_KUBEAPISERVER", cluster.sim.url)
    monkeypatch.setenv("KUBECONFIG", str(cluster.sim.kubeconfig_path))


def kubeconfig_secret(cluster: Cluster, doc: dict[str, Any], name: str = "remote-kubeconfig") -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "apps"},
        "stringData": {"value": yaml.safe_dump(doc)},
    }
    cluster.apply(body)


def storage(cluster: Cluster, version: int) -> dict[str, Any] | None:
    return cluster.get("v1", "Secret", "apps", STORAGE.format(version))


def message(cluster: Cluster, name: str = "web") -> str:
    return str(cluster.condition(name).get("message", ""))


def test_a_release_lives_in_the_remote_cluster_from_install_to_uninstall(
    cluster: Cluster,
    remote: Cluster,
    repo: ChartRepo,
    hostile_env: None,
    controller: ControllerProcess,
) -> None:
    kubeconfig_secret(cluster, kubeconfig(remote.sim.url))
    cluster.apply(helmrelease("web", repo.url, "1.0.0", kubeConfig=KUBECONFIG_REF))
    cluster.wait_ready("web", reason="InstallSucceeded")
    # The objects and Helm's storage are in the remote cluster, nothing of them here.
    assert remote.get("apps/v1", "Deployment", "apps", "web") is not None
    assert storage(remote, 1) is not None
    assert cluster.get("apps/v1", "Deployment", "apps", "web") is None
    assert storage(cluster, 1) is None
    # Status and events stay here.
    assert cluster.status("web")["history"][0]["chartVersion"] == "1.0.0"
    assert "InstallSucceeded" in cluster.event_reasons()

    cluster.apply(helmrelease("web", repo.url, "1.1.0", kubeConfig=KUBECONFIG_REF))
    cluster.wait_ready("web", reason="UpgradeSucceeded")
    assert storage(remote, 2) is not None and storage(cluster, 2) is None
    deployment = remote.get("apps/v1", "Deployment", "apps", "web")
    assert deployment is not None and deployment["metadata"]["labels"]["chart"] == "webapp-1.1.0"

    # helm was given a kubeconfig file of the controller's, removed after use; never the Secret's
    # contents or the controller's own kubeconfig in its argv.
    calls = controller.helm_calls("upgrade")
    assert len(calls) == 2
    for call in calls:
        path = call.split("--kubeconfig ", 1)[1].split(" ", 1)[0]
        assert path != str(controller.kubeconfig) and not Path(path).exists(), call
        assert "kubesim" not in call.replace("helmrelease-kubeconfigs", "")  # the token

    cluster.kubectl("delete", "helmrelease", "web", "-n", "apps", "--wait=false")
    wait_for(
        lambda: cluster.get("helmrelease.dev/v1", "HelmRelease", "apps", "web") is None, 30, what="HR gone"
    )
    assert remote.get("apps/v1", "Deployment", "apps", "web") is None
    assert storage(remote, 2) is None
    assert len(controller.helm_calls("uninstall")) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


UNUSABLE = [
    ("missing-secret", None, "spec.kubeConfig: Secret apps/remote-kubeconfig not found"),
    (
        "exec-kubeconfig",
        {
            **kubeconfig("https://remote.example"),
            "users": [{"name": "kubesim", "user": {"exec": {"command": "id"}}}],
        },
        "spec.kubeConfig: the kubeconfig in Secret apps/remote-kubeconfig: "
        "the current context's user has exec, which runs a program in the controller: refused",
    ),
    ("unreachable", "closed", "is unreachable: "),
]


@pytest.mark.parametrize(
    ("secret", "reason"), [(s, r) for _, s, r in UNUSABLE], ids=[i for i, _, _ in UNUSABLE]
)
def test_an_unusable_remote_cluster_is_one_line_and_the_others_go_on(
    cluster: Cluster,
    repo: ChartRepo,
    controller: ControllerProcess,
    secret: dict[str, Any] | str | None,
    reason: str,
) -> None:
    if secret == "closed":
        url = f"http://127.0.0.1:{closed_port()}"
        kubeconfig_secret(cluster, kubeconfig(url))
        reason = f"remote cluster {url} {reason}"
    elif isinstance(secret, dict):
        kubeconfig_secret(cluster, secret)
    cluster.apply(helmrelease("web", repo.url, "1.0.0", kubeConfig=KUBECONFIG_REF))
    cluster.apply(helmrelease("local", repo.url, "1.0.0"))
    cluster.wait_condition("web", "Ready", "False", "RESTClientError")
    assert reason in message(cluster), message(cluster)
    assert "\n" not in message(cluster)
    # The controller serves the others meanwhile, and tells of the failure once.
    cluster.wait_ready("local")
    # (each event is listed twice: as events.k8s.io/v1 and as v1)
    events = {e["metadata"]["name"]: e for e in cluster.events() if e.get("reason") == "RESTClientError"}
    assert len(events) == 1, events
    assert all(reason in (e.get("note") or e.get("message") or "") for e in events.values())
    assert [c for c in controller.helm_calls() if "web" in c.split()[:2]] == []
    # Retried with the spec's backoff (not a this-cluster outage, not a stall).
    assert cluster.condition("web", "Stalled").get("status") != "True"


def test_a_secret_created_later_is_used_and_its_deletion_keeps_the_release(
    cluster: Cluster, remote: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    hour = {"initial": "1h", "max": "1h", "jitter": 0}  # no retry within the test: only the watch
    cluster.apply(helmrelease("web", repo.url, "1.0.0", kubeConfig=KUBECONFIG_REF, backoff=hour))
    cluster.wait_condition("web", "Ready", "False", "RESTClientError")
    kubeconfig_secret(cluster, kubeconfig(remote.sim.url))
    cluster.wait_ready("web", reason="InstallSucceeded")  # the Secret's creation is watched
    assert remote.get("apps/v1", "Deployment", "apps", "web") is not None

    # Without its kubeconfig the release cannot be reached: the HelmRelease goes, the release stays
    # (as Flux), and an event says so.
    cluster.kubectl("delete", "secret", "remote-kubeconfig", "-n", "apps")
    cluster.kubectl("delete", "helmrelease", "web", "-n", "apps", "--wait=false")
    wait_for(
        lambda: cluster.get("helmrelease.dev/v1", "HelmRelease", "apps", "web") is None, 30, what="HR gone"
    )
    assert remote.get("apps/v1", "Deployment", "apps", "web") is not None
    assert "ReleaseKept" in cluster.event_reasons()
    assert controller.helm_calls("uninstall") == []


# -- serviceAccountName on a remote cluster that authenticates and authorizes --------------------
FLEET_IMPERSONATES = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "fleet-impersonate"},
        "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "fleet-impersonate"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "fleet-impersonate",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "fleet-manager"}],
    },
]


@pytest.fixture
def enforcing_remote(tmp_path: Path) -> Iterator[tuple[Cluster, dict[str, Any]]]:
    """A remote kubesim enforcing RBAC (TLS, tokens) with tenant team-a (a ServiceAccount bound to
    `admin` in team-a), and the kubeconfig of a user that may only impersonate ServiceAccounts."""
    sim = KubeSim(bookmark_interval=1.0, rbac=True)
    sim.start()
    home = tmp_path / "remote"
    home.mkdir()
    sim.write_kubeconfig(home / "kubeconfig")
    admin = Cli(tool("kubectl"), _env(home, sim))
    admin("apply", "-f", str(ROOT / "deploy/multi-tenant/tenant-example/tenant.yaml"))
    admin("apply", "-f", "-", input="---\n".join(yaml.safe_dump(d) for d in FLEET_IMPERSONATES))
    fleet = yaml.safe_load(sim.user_kubeconfig(home / "fleet", "fleet-manager").read_text())
    yield Cluster(sim, admin), fleet
    sim.stop()


def test_service_account_name_is_impersonated_in_the_remote_cluster(
    cluster: Cluster,
    enforcing_remote: tuple[Cluster, dict[str, Any]],
    repo: ChartRepo,
    controller: ControllerProcess,
) -> None:
    remote, fleet = enforcing_remote
    cluster.kubectl("create", "namespace", "team-a")
    cluster.apply({**_secret(fleet), "metadata": {"name": "remote-kubeconfig", "namespace": "team-a"}})
    spec = {"kubeConfig": KUBECONFIG_REF, "serviceAccountName": "helmrelease-deployer"}
    cluster.apply(helmrelease("web", repo.url, "1.0.0", ns="team-a", **spec))
    cluster.wait_ready("web", ns="team-a", reason="InstallSucceeded")
    # fleet-manager may not create a Deployment or read Helm's storage: the ServiceAccount did both.
    assert remote.get("apps/v1", "Deployment", "team-a", "web") is not None
    assert remote.get("v1", "Secret", "team-a", STORAGE.format(1)) is not None
    calls = controller.helm_calls("upgrade")
    assert calls and all(
        "--kube-as-user system:serviceaccount:team-a:helmrelease-deployer" in c for c in calls
    )

    # A ServiceAccount without rights there is named, in one line, and nothing is installed.
    cluster.apply(
        helmrelease("other", repo.url, "1.0.0", ns="team-a", **{**spec, "serviceAccountName": "nobody"})
    )
    cluster.wait_condition("other", "Ready", "False", "RESTClientError", ns="team-a")
    msg = str(cluster.condition("other", ns="team-a").get("message", ""))
    assert (
        f"remote cluster {remote.sim.url}: 403 Forbidden" in msg
        and "system:serviceaccount:team-a:nobody" in msg
    )
    assert remote.get("apps/v1", "Deployment", "team-a", "other") is None


def _secret(doc: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "stringData": {"value": yaml.safe_dump(doc)}}
