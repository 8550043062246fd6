"""GitSyncReconciler against kubesim and a real git daemon: a push applies the committed YAML whole,
an unchanged file costs no write, prune deletes or lists orphans, a bad commit applies nothing and
names file and line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from helmrelease_controller.gitsync.apply import GITSYNCS
from helmrelease_controller.gitsync.sync import GitSyncReconciler
from helmrelease_controller.kube.client import (
    CONFIGMAPS,
    EVENTS,
    HELMRELEASES,
    SECRETS,
    ApiError,
    KubeClient,
    NotFound,
)
from helmrelease_controller.kube.events import EventRecorder
from helmrelease_controller.sources.git import GitSource
from kubesim import KubeSim
from tests.conftest import ROOT, Cli, tool
from tests.helpers.gitserver import GitDaemon, GitRepo, HTTPGitServer, SSHServer

WRITES = ("create", "update", "patch", "delete")


def hr(name: str, replicas: int = 1, ns: str | None = None) -> str:
    namespace = f"\n  namespace: {ns}" if ns else ""
    return f"""\
apiVersion: helmrelease.dev/v1
kind: HelmRelease
metadata:
  name: {name}{namespace}
spec:
  chart:
    repository:
      url: https://charts.example.com
      name: webapp
  values:
    replicas: {replicas}
"""


VALUES_CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-values
data:
  values.yaml: "replicas: 2"
"""


TWO_SOURCES = hr("bad").replace("      name: webapp\n", "      name: webapp\n    oci: {url: oci://r/x}\n")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "srv", "platform")
    r.write("releases/dev/web.yaml", hr("web"))
    r.write("releases/dev/api.yaml", hr("api"))
    r.write("releases/prod/web.yaml", hr("web", 3))
    r.write("releases/prod/values/web-values.yaml", VALUES_CM)
    r.write("README.md", "releases per environment\n")
    r.commit("first releases")
    return r


@pytest.fixture
def daemon(repo: GitRepo) -> Iterator[GitDaemon]:
    with GitDaemon(repo.serve_root) as d:
        yield d


@pytest.fixture
async def client(kubesim: KubeSim, kubectl: Cli) -> AsyncIterator[KubeClient]:
    kubectl("apply", "-k", str(ROOT / "crds"))
    for ns in ("dev", "prod"):
        kubectl("create", "namespace", ns)
    c = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    yield c
    await c.close()


@pytest.fixture
async def reconciler(client: KubeClient, tmp_path: Path) -> AsyncIterator[GitSyncReconciler]:
    events = EventRecorder(client)
    async with GitSource(tmp_path / "cache", fetch_interval=0, eviction_min_age=0) as git:
        yield GitSyncReconciler(client, events, git, kubectl=tool("kubectl"))
    await events.close()


async def gitsync(client: KubeClient, ns: str, url: str, path: str, **spec: Any) -> None:
    body = {"apiVersion": "helmrelease.dev/v1", "kind": "GitSync", "metadata": {"name": "releases"},
            "spec": {"url": url, "ref": {"branch": "main"}, "path": path, **spec}}  # fmt: skip
    await client.create(GITSYNCS, ns, body)


async def status(client: KubeClient, ns: str) -> dict[str, Any]:
    return (await client.get(GITSYNCS, ns, "releases")).get("status") or {}


def ready(st: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in st["conditions"] if c["type"] == "Ready")


def writes(sim: KubeSim, ns: str, resource: str) -> list[str]:
    return [
        f"{e.verb} {e.name}"
        for e in sim.requests.entries()
        if e.verb in WRITES and e.namespace == ns and e.resource == resource and not e.subresource
    ]


async def test_a_push_applies_both_environments_and_an_unchanged_file_costs_no_write(
    repo: GitRepo,
    daemon: GitDaemon,
    client: KubeClient,
    reconciler: GitSyncReconciler,
    kubesim: KubeSim,
    kubectl: Cli,
) -> None:
    url = daemon.url("platform")
    await gitsync(client, "dev", url, "releases/dev")
    await gitsync(client, "prod", url, "releases/prod")
    assert await reconciler.reconcile("dev", "releases") == 60.0
    assert await reconciler.reconcile("prod", "releases") == 60.0
    first = repo.head()
    for ns, names in (("dev", ["api", "web"]), ("prod", ["web"])):
        items, _ = await client.list(HELMRELEASES, ns)
        assert sorted(i["metadata"]["name"] for i in items) == names
        for item in items:
            assert item["metadata"]["labels"]["helmrelease.dev/gitsync"] == f"{ns}.releases"
        st = await status(client, ns)
        assert st["lastAppliedRevision"] == st["lastAttemptedRevision"] == f"main@sha1:{first}"
        assert st["lastAppliedSubject"] == "first releases"
        assert ready(st)["status"] == "True", ready(st)
    cm = await client.get(CONFIGMAPS, "prod", "web-values")
    assert cm["metadata"]["labels"] == {"helmrelease.dev/gitsync": "prod.releases"}
    assert (await status(client, "prod"))["inventory"] == [
        {"kind": "ConfigMap", "namespace": "prod", "name": "web-values"},
        {"kind": "HelmRelease", "namespace": "prod", "name": "web"},
    ]
    web = await client.get(HELMRELEASES, "prod", "web")
    assert web["spec"]["values"] == {"replicas": 3}
    header, row = kubectl("get", "gs", "-n", "prod").splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "REVISION", "AGE"]
    assert row.split()[:3] == ["releases", "True", "applied"] and f"main@sha1:{first}" in row

    # a second commit changes one file: only that object is written
    repo.write("releases/dev/web.yaml", hr("web", 2))
    second = repo.commit("web: 2 replicas in dev")
    kubesim.requests.clear()
    await reconciler.reconcile("dev", "releases")
    await reconciler.reconcile("prod", "releases")
    assert writes(kubesim, "dev", "helmreleases.helmrelease.dev") == ["patch web"]
    assert writes(kubesim, "prod", "helmreleases.helmrelease.dev") == []
    assert writes(kubesim, "prod", "configmaps") == []
    assert (await client.get(HELMRELEASES, "dev", "web"))["spec"]["values"] == {"replicas": 2}
    assert (await status(client, "dev"))["lastAppliedRevision"] == f"main@sha1:{second}"
    assert reconciler.reports[("dev", "releases")] == ("succeeded", 1, 0)
    assert reconciler.reports[("prod", "releases")] == ("succeeded", 0, 0)  # prod: nothing written

    # nothing changed: a sync writes nothing at all (not even status)
    kubesim.requests.clear()
    await reconciler.reconcile("dev", "releases")
    assert [e for e in kubesim.requests.entries() if e.verb in WRITES] == []


@pytest.mark.parametrize("prune", [True, False])
async def test_a_deleted_file_is_pruned_or_listed_as_orphan(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler, prune: bool
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev", prune=prune)
    await reconciler.reconcile("dev", "releases")
    (repo.work / "releases/dev/api.yaml").unlink()
    repo.commit("remove api")
    await reconciler.reconcile("dev", "releases")
    st = await status(client, "dev")
    assert st["inventory"] == [{"kind": "HelmRelease", "namespace": "dev", "name": "web"}]
    if prune:
        with pytest.raises(NotFound):
            await client.get(HELMRELEASES, "dev", "api")
        assert "orphans" not in st
    else:
        assert (await client.get(HELMRELEASES, "dev", "api"))["metadata"]["name"] == "api"
        assert st["orphans"] == [{"kind": "HelmRelease", "namespace": "dev", "name": "api"}]
        assert "1 gone from git left in place" in ready(st)["message"]


async def test_prune_spares_a_protected_object(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev", prune=True)
    await reconciler.reconcile("dev", "releases")
    await client.patch(
        HELMRELEASES, "dev", "api", {"metadata": {"annotations": {"helmrelease.dev/prune": "disabled"}}}
    )
    (repo.work / "releases/dev/api.yaml").unlink()
    repo.commit("remove api")
    await reconciler.reconcile("dev", "releases")
    assert (await client.get(HELMRELEASES, "dev", "api"))["metadata"]["name"] == "api"
    assert (await status(client, "dev"))["orphans"] == [
        {"kind": "HelmRelease", "namespace": "dev", "name": "api"}
    ]


@pytest.mark.parametrize(
    ("rel", "text", "message"),
    [
        ("releases/dev/new.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: [x\n",
         "releases/dev/new.yaml:5: invalid YAML"),
        ("releases/dev/db.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {p: x}\n",
         "releases/dev/db.yaml:1: Secret db: Secrets are not applied from git"),
        ("releases/dev/copy/web.yaml", hr("web", 5),
         "releases/dev/web.yaml:1: HelmRelease dev/web is already defined at releases/dev/copy/web.yaml:1"),
        ("releases/dev/bad.yaml", TWO_SOURCES,
         "releases/dev/bad.yaml:6: spec.chart: exactly one of git, repository or oci must be set (got"),
    ],
)  # fmt: skip
async def test_a_bad_commit_applies_nothing_and_names_file_and_line(
    repo: GitRepo,
    daemon: GitDaemon,
    client: KubeClient,
    reconciler: GitSyncReconciler,
    kubesim: KubeSim,
    rel: str,
    text: str,
    message: str,
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev", prune=True)
    await reconciler.reconcile("dev", "releases")
    good = repo.head()
    repo.write("releases/dev/api.yaml", hr("api", 4))  # a change that must not be applied either
    repo.write(rel, text)
    bad = repo.commit("a bad commit")
    kubesim.requests.clear()
    await reconciler.reconcile("dev", "releases")
    assert writes(kubesim, "dev", "helmreleases.helmrelease.dev") == []
    assert writes(kubesim, "dev", "configmaps") == []
    st = await status(client, "dev")
    assert st["lastAppliedRevision"] == f"main@sha1:{good}"
    assert st["lastAttemptedRevision"] == f"main@sha1:{bad}"
    assert ready(st)["status"] == "False" and ready(st)["reason"] == "ValidationFailed"
    assert message in ready(st)["message"], ready(st)["message"]
    assert next(c for c in st["conditions"] if c["type"] == "Stalled")["status"] == "True"
    await reconciler.events.flush()
    notes = [e["note"] for e in (await client.list(EVENTS, "dev"))[0] if e["reason"] == "ValidationFailed"]
    assert len(notes) == 1 and notes[0].startswith(
        f"main@sha1:{bad}: commit rejected, nothing applied: {message}"
    )
    assert (await client.get(HELMRELEASES, "dev", "api"))["spec"]["values"] == {"replicas": 1}

    # the next push that fixes it is applied
    (repo.work / rel).unlink()
    fixed = repo.commit("fix")
    await reconciler.reconcile("dev", "releases")
    st = await status(client, "dev")
    assert st["lastAppliedRevision"] == f"main@sha1:{fixed}" and ready(st)["status"] == "True"
    assert [c["type"] for c in st["conditions"]] == ["Ready"]
    assert (await client.get(HELMRELEASES, "dev", "api"))["spec"]["values"] == {"replicas": 4}


async def test_a_failed_write_leaves_the_commit_to_be_applied_whole_by_the_next_sync(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler, kubesim: KubeSim
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev")
    await reconciler.reconcile("dev", "releases")
    good = repo.head()
    repo.write("releases/dev/api.yaml", hr("api", 2))
    repo.write("releases/dev/web.yaml", hr("web", 2))
    new = repo.commit("both to 2")
    # the write of web fails (as if the controller died after writing api)
    kubesim.add_fault(status=500, verb="patch", resource="helmreleases", name="web", times=1)
    assert await reconciler.reconcile("dev", "releases") == 30.0  # retried sooner than the interval
    st = await status(client, "dev")
    assert (ready(st)["status"], ready(st)["reason"]) == ("False", "ApplyFailed")
    assert ready(st)["message"].startswith("releases/dev/web.yaml:1: HelmRelease dev/web: apply failed: 500")
    assert (
        st["lastAppliedRevision"] == f"main@sha1:{good}" and st["lastAttemptedRevision"] == f"main@sha1:{new}"
    )
    kubesim.requests.clear()
    await reconciler.reconcile("dev", "releases")
    assert writes(kubesim, "dev", "helmreleases.helmrelease.dev") == ["patch web"]  # api was already applied
    st = await status(client, "dev")
    assert st["lastAppliedRevision"] == f"main@sha1:{new}" and ready(st)["status"] == "True"
    for name in ("api", "web"):
        assert (await client.get(HELMRELEASES, "dev", name))["spec"]["values"] == {"replicas": 2}


async def test_a_field_removed_from_git_is_removed_and_fields_of_others_stay(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler
) -> None:
    repo.write("releases/dev/web.yaml", hr("web").replace("spec:\n", "spec:\n  maxHistory: 3\n"))
    repo.commit("maxHistory")
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev")
    await reconciler.reconcile("dev", "releases")
    assert (await client.get(HELMRELEASES, "dev", "web"))["spec"]["maxHistory"] == 3
    # another manager (the HelmRelease controller) adds its finalizer; a hand-made label too
    await client.patch(HELMRELEASES, "dev", "web", {"metadata": {"finalizers": ["helmrelease.dev/finalizer"],
                                                                 "labels": {"team": "a"}}})  # fmt: skip
    repo.write("releases/dev/web.yaml", hr("web"))
    repo.commit("default maxHistory")
    await reconciler.reconcile("dev", "releases")
    web = await client.get(HELMRELEASES, "dev", "web")
    assert "maxHistory" not in web["spec"]
    assert web["metadata"]["finalizers"] == ["helmrelease.dev/finalizer"]
    assert web["metadata"]["labels"] == {"team": "a", "helmrelease.dev/gitsync": "dev.releases"}


async def test_a_kustomize_overlay(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler
) -> None:
    repo.write("base/web.yaml", hr("web"))
    repo.write("base/kustomization.yaml", "resources: [web.yaml]\n")
    repo.write("overlays/prod/kustomization.yaml", "resources: [../../base]\nnameSuffix: -prod\n")
    repo.commit("kustomize")
    await gitsync(client, "prod", daemon.url("platform"), "overlays/prod")
    await reconciler.reconcile("prod", "releases")
    web = await client.get(HELMRELEASES, "prod", "web-prod")
    assert web["metadata"]["labels"]["helmrelease.dev/gitsync"] == "prod.releases"
    assert ready(await status(client, "prod"))["status"] == "True"


async def test_suspended_and_invalid_gitsyncs(
    repo: GitRepo,
    daemon: GitDaemon,
    client: KubeClient,
    reconciler: GitSyncReconciler,
    kubesim: KubeSim,
    kubectl: Cli,
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev", suspend=True)
    assert await reconciler.reconcile("dev", "releases") is None
    assert (await status(client, "dev"))["suspended"] is True
    assert (await client.list(HELMRELEASES, "dev"))[0] == []
    outside = "must be a path relative to the repository root, without '..'"
    body = {"apiVersion": "helmrelease.dev/v1", "kind": "GitSync", "metadata": {"name": "releases"},
            "spec": {"url": daemon.url("platform"), "path": "../outside"}}  # fmt: skip
    with pytest.raises(ApiError, match=f"spec.path: Invalid value: .*: {outside}"):
        await client.create(GITSYNCS, "prod", body)  # the CRD refuses it, in the controller's words
    body["spec"]["path"] = "..\\outside"
    with pytest.raises(ApiError, match=f"spec.path: Invalid value: .*: {outside}"):
        await client.create(GITSYNCS, "prod", body)  # '\\' separates too, for the CRD as for the controller
    # A GitSync written under an older CRD without the rule (the API server keeps it): the
    # controller's own check refuses it.
    rule = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/path/x-kubernetes-validations"
    kubectl(
        "patch",
        "crd",
        "gitsyncs.helmrelease.dev",
        "--type=json",
        "-p",
        f'[{{"op":"remove","path":"{rule}"}}]',
    )
    await _create_when_accepted(client, "prod", body)
    kubectl("apply", "-k", str(ROOT / "crds"))
    assert await reconciler.reconcile("prod", "releases") is None
    st = await status(client, "prod")
    assert ready(st)["reason"] == "InvalidSpec"
    assert ready(st)["message"].startswith("spec.path: ") and ready(st)["message"].endswith(outside)
    assert await reconciler.reconcile("prod", "missing") is None


async def _create_when_accepted(client: KubeClient, namespace: str, body: dict[str, Any]) -> None:
    """Create `body` once the API server serves the changed CRD schema (it takes effect shortly)."""
    for _ in range(100):
        try:
            await client.create(GITSYNCS, namespace, body)
            return
        except ApiError:
            await asyncio.sleep(0.05)
    await client.create(GITSYNCS, namespace, body)


async def test_unreachable_repository_and_missing_branch(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev", ref={"branch": "nope"})
    assert await reconciler.reconcile("dev", "releases") == 60.0
    st = await status(client, "dev")
    assert (ready(st)["reason"], ready(st)["message"]) == (
        "GitOperationFailed",
        f"branch 'nope' not found in {daemon.url('platform')}",
    )
    assert "lastAppliedRevision" not in st


@pytest.mark.parametrize("prune", [True, False])
async def test_deleting_the_gitsync_prunes_only_with_prune(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, reconciler: GitSyncReconciler, prune: bool
) -> None:
    await gitsync(client, "dev", daemon.url("platform"), "releases/dev", prune=prune)
    await reconciler.reconcile("dev", "releases")
    gs = await client.get(GITSYNCS, "dev", "releases")
    assert gs["metadata"].get("finalizers", []) == (["helmrelease.dev/finalizer"] if prune else [])
    await client.patch(
        HELMRELEASES, "dev", "api", {"metadata": {"annotations": {"helmrelease.dev/prune": "disabled"}}}
    )
    await client.delete(GITSYNCS, "dev", "releases")
    assert await reconciler.reconcile("dev", "releases") is None
    with pytest.raises(NotFound):
        await client.get(GITSYNCS, "dev", "releases")
    left = sorted(i["metadata"]["name"] for i in (await client.list(HELMRELEASES, "dev"))[0])
    assert left == (["api"] if prune else ["api", "web"])  # api is protected


async def test_credentials_from_the_secret_ref_never_reach_status(
    repo: GitRepo, client: KubeClient, reconciler: GitSyncReconciler
) -> None:
    with HTTPGitServer(repo.serve_root, auth=("deploy", "s3cret-token")) as http:
        url = http.url("platform")
        secret = {
            "metadata": {"name": "git-creds"},
            "stringData": {"username": "deploy", "password": "wrong-pw"},
        }
        await client.create(SECRETS, "dev", secret)
        await gitsync(client, "dev", url, "releases/dev", secretRef={"name": "git-creds"})
        await reconciler.reconcile("dev", "releases")
        st = await status(client, "dev")
        assert (ready(st)["reason"], ready(st)["message"]) == (
            "GitOperationFailed",
            f"authentication failed for {url}",
        )
        await client.patch(SECRETS, "dev", "git-creds", {"stringData": {"password": "s3cret-token"}})
        await reconciler.reconcile("dev", "releases")
        st = await status(client, "dev")
        assert ready(st)["status"] == "True" and st["lastAppliedRevision"] == f"main@sha1:{repo.head()}"
        assert http.auth_headers  # git really authenticated
        gs = await client.get(GITSYNCS, "dev", "releases")
        assert "s3cret" not in str(gs) and "wrong-pw" not in str(gs)


async def test_a_push_is_seen_within_the_fetch_interval_only_when_asked(
    repo: GitRepo, daemon: GitDaemon, client: KubeClient, tmp_path: Path
) -> None:
    events = EventRecorder(client)
    async with GitSource(tmp_path / "slow-cache", fetch_interval=3600) as git:
        reconciler = GitSyncReconciler(client, events, git, kubectl=tool("kubectl"))
        await gitsync(client, "dev", daemon.url("platform"), "releases/dev")
        await reconciler.reconcile("dev", "releases")
        repo.write("releases/dev/web.yaml", hr("web", 7))
        pushed = repo.commit("web: 7")
        await reconciler.reconcile("dev", "releases")  # the mirror is fresh: no fetch, nothing new
        assert (await status(client, "dev"))["lastAppliedRevision"] != f"main@sha1:{pushed}"
        reconciler.request_refresh("dev", "releases")  # what the push webhook does
        await reconciler.reconcile("dev", "releases")
        assert (await status(client, "dev"))["lastAppliedRevision"] == f"main@sha1:{pushed}"
        repo.write("releases/dev/web.yaml", hr("web", 8))
        pushed = repo.commit("web: 8")
        annotation = {"metadata": {"annotations": {"helmrelease.dev/reconcile-requested-at": "now-1"}}}
        await client.patch(GITSYNCS, "dev", "releases", annotation)
        await reconciler.reconcile("dev", "releases")
        st = await status(client, "dev")
        assert st["lastAppliedRevision"] == f"main@sha1:{pushed}" and st["lastHandledReconcileAt"] == "now-1"
        assert git.fetches == 3
    await events.close()


async def test_ssh_deploy_key_from_the_secret_ref(
    repo: GitRepo, client: KubeClient, reconciler: GitSyncReconciler, tmp_path: Path
) -> None:
    with SSHServer(repo.serve_root, tmp_path / "ssh") as ssh:
        key, hosts = ssh.client_key.decode(), ssh.known_hosts.decode()
        secret = {"metadata": {"name": "deploy-key"}, "stringData": {"identity": key, "known_hosts": hosts}}
        await client.create(SECRETS, "prod", secret)
        await gitsync(client, "prod", ssh.url("platform"), "releases/prod", secretRef={"name": "deploy-key"})
        await reconciler.reconcile("prod", "releases")
        st = await status(client, "prod")
        assert ready(st)["status"] == "True" and st["lastAppliedRevision"] == f"main@sha1:{repo.head()}"
        assert (await client.get(HELMRELEASES, "prod", "web"))["spec"]["values"] == {"replicas": 3}
