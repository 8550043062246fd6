"""`kubectl hr suspend` / `resume`: the annotation, `--all -l`, `resume` waiting for the reconcile it
asks for (and `--no-wait`), and GitSyncs through `get gitsync` / `suspend gitsync`; with the real
controller, kubectl, git daemon and kubesim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

from ..controller.conftest import Cluster, helmrelease
from .conftest import Plugin

SUSPEND = "helmrelease.dev/suspend"


def _annotations(cluster: Cluster, name: str) -> dict[str, str]:
    return cluster.hr(name)["metadata"].get("annotations") or {}


def test_suspend_and_resume_one(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")

    assert hr.ok("suspend", "web", "-n", "apps") == "helmrelease apps/web suspended\n"
    assert _annotations(cluster, "web")[SUSPEND] == "true"
    wait_for(lambda: cluster.status("web").get("suspended") is True, what="status.suspended")
    row = hr.ok("get", "web", "-n", "apps").splitlines()[1]
    assert " true " in row

    refused = hr("reconcile", "web", "-n", "apps")
    assert refused.code == 1
    assert refused.err.strip() == "error: helmrelease apps/web is suspended: `resume` it first"

    cluster.apply(helmrelease("web", repo.url, version="1.0.0"))  # waits while suspended
    out = hr.ok("resume", "web", "-n", "apps", "--timeout", "60s")
    lines = out.splitlines()
    assert lines[0] == "helmrelease apps/web resumed"
    assert lines[1] == "waiting for the controller to reconcile helmrelease apps/web"
    assert "  revision 2: webapp@1.0.0 deployed" in lines
    assert (
        lines[-1]
        == "ready: UpgradeSucceeded: Helm upgrade succeeded for release apps/web.v2 with chart webapp@1.0.0"
    )
    assert SUSPEND not in _annotations(cluster, "web")
    assert (
        cluster.status("web")["helmChart"] == "webapp@1.0.0"
    )  # the reconcile happened before `resume` ended


def test_suspend_all_with_a_selector_and_resume_without_waiting(
    cluster: Cluster, repo: ChartRepo, hr: Plugin
) -> None:
    for name, team in (("a", "blue"), ("b", "blue"), ("c", "red")):
        obj = helmrelease(name, repo.url)
        obj["metadata"]["labels"] = {"team": team}
        cluster.apply(obj)
    out = hr.ok("suspend", "--all", "-l", "team=blue", "-n", "apps")
    assert out.splitlines() == ["helmrelease apps/a suspended", "helmrelease apps/b suspended"]
    assert [SUSPEND in _annotations(cluster, n) for n in "abc"] == [True, True, False]

    # No controller runs here: --no-wait returns at once.
    assert hr.ok("resume", "--all", "-n", "apps", "--no-wait").splitlines() == [
        "helmrelease apps/a resumed",
        "helmrelease apps/b resumed",
        "helmrelease apps/c resumed",
    ]
    assert [SUSPEND in _annotations(cluster, n) for n in "abc"] == [False, False, False]

    both = hr("suspend", "a", "--all", "-n", "apps")
    assert both.code == 1 and both.err.strip() == "error: name one or more objects, or use --all"
    missing = hr("suspend", "nope", "-n", "apps")
    assert missing.code == 1 and 'helmreleases.helmrelease.dev "nope" not found' in missing.err
    assert hr("resume", "a", "--timeout", "soon").code == 2
    assert "examples:" in hr.ok("resume", "--help") and "examples:" in hr.ok("suspend", "--help")


@pytest.fixture
def releases(tmp_path: Path, repo: ChartRepo) -> Iterator[tuple[GitRepo, GitDaemon]]:
    git_repo = GitRepo(tmp_path / "srv", "platform")
    git_repo.write("releases/web.yaml", yaml.safe_dump(helmrelease("web", repo.url)))
    git_repo.commit("web on webapp 1.x")
    with GitDaemon(git_repo.serve_root) as daemon:
        yield git_repo, daemon


def gitsync(url: str) -> dict[str, object]:
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "GitSync",
        "metadata": {"name": "releases", "namespace": "apps"},
        "spec": {"url": url, "ref": {"branch": "main"}, "path": "releases"},
    }


def test_gitsyncs_get_suspend_and_reconcile(
    cluster: Cluster,
    releases: tuple[GitRepo, GitDaemon],
    repo: ChartRepo,
    controller: ControllerProcess,
    hr: Plugin,
) -> None:
    git_repo, daemon = releases
    cluster.apply(gitsync(daemon.url("platform")))
    wait_for(lambda: cluster.get("helmrelease.dev/v1", "HelmRelease", "apps", "web"), what="web applied")
    cluster.wait_ready("web")
    head = git_repo.head()

    def synced() -> str | None:
        out = hr.ok("get", "gitsync", "-n", "apps")
        return out if f"main@sha1:{head}" in out else None

    lines = wait_for(synced, what="GitSync applied").splitlines()
    assert lines[0].split()[:4] == ["NAME", "READY", "STATUS", "REVISION"]
    assert lines[1].split()[:2] == ["releases", "True"]
    wide = hr.ok("get", "gs", "releases", "-n", "apps", "-o", "wide").splitlines()
    assert "web on webapp 1.x" in wide[1] and daemon.url("platform") in wide[1]

    # A push, then `reconcile gitsync` applies it now rather than at the next interval (1m).
    git_repo.write("releases/api.yaml", yaml.safe_dump(helmrelease("api", repo.url)))
    second = git_repo.commit("add api")
    done = hr("reconcile", "gitsync", "releases", "-n", "apps", "--timeout", "60s")
    assert done.code == 0, done.err
    assert done.out.splitlines()[0].startswith("gitsync apps/releases: reconcile requested (")
    assert done.out.splitlines()[-1].startswith("ready: ")
    assert f"  applied main@sha1:{second}: add api" in done.out.splitlines()
    assert f"main@sha1:{second}" in hr.ok("get", "gitsync", "releases", "-n", "apps")

    # A commit the GitSync rejects: exit 1 with file and line; the last good commit stays applied.
    git_repo.write("releases/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    git_repo.commit("broken yaml")
    rejected = hr("reconcile", "gitsync", "releases", "-n", "apps", "--timeout", "60s")
    assert rejected.code == 1, rejected.out + rejected.err
    assert rejected.err.startswith("error: gitsync apps/releases is not ready: "), rejected.err
    assert "releases/broken.yaml:" in rejected.err
    assert f"main@sha1:{second}" in hr.ok("get", "gitsync", "releases", "-n", "apps")
    assert cluster.hr("api")["metadata"]["name"] == "api"

    assert hr.ok("suspend", "gitsync", "releases", "-n", "apps") == "gitsync apps/releases suspended\n"
    header, row = hr.ok("get", "gitsync", "-n", "apps").splitlines()
    assert row[header.index("SUSPENDED") :].startswith("true ")
