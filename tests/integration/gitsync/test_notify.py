"""GitSync notifications, end to end from GitSyncReconciler to a Slack stand-in on 127.0.0.1 (a real
HTTP server), with kubesim and a real git daemon: a rejected commit is one message naming GitSync,
file and line however often it is synced again; a sync failing three times in a row is one message;
Ready again is a recovery."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from helmrelease_controller.gitsync.apply import GITSYNCS
from helmrelease_controller.gitsync.sync import GitSyncReconciler
from helmrelease_controller.kube.client import KubeClient
from helmrelease_controller.kube.events import EventRecorder
from helmrelease_controller.notify import Dispatcher, parse_config
from helmrelease_controller.sources.git import GitSource
from kubesim import KubeSim
from tests.conftest import ROOT, Cli, tool
from tests.helpers.gitserver import GitDaemon, GitRepo


def hr(name: str, replicas: int = 1) -> str:
    return f"""\
apiVersion: helmrelease.dev/v1
kind: HelmRelease
metadata:
  name: {name}
spec:
  chart:
    repository:
      url: https://charts.example.com
      name: webapp
  values:
    replicas: {replicas}
"""


class Slack:
    """An incoming-webhook endpoint that records the JSON it is sent."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.payloads.append(json.loads(await request.read()))
        return web.Response(text="ok")

    def texts(self) -> list[str]:
        return [p["text"] for p in self.payloads]


@pytest.fixture
async def slack() -> AsyncIterator[Slack]:
    fake = Slack()
    app = web.Application()
    app.router.add_post("/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.port = runner.addresses[0][1]
    yield fake
    await runner.cleanup()


@pytest.fixture
async def notifier(slack: Slack) -> AsyncIterator[Dispatcher]:
    config = parse_config(
        "cluster: kubesim\nproxyFromEnvironment: false\nmaxAttempts: 1\n"
        "providers:\n  - {name: slack, type: slack, secretRef: {namespace: s, name: slack, key: url}}\n"
        "routes:\n  - providers: [slack]\n"
    )

    async def get_secret(namespace: str, name: str, key: str) -> str:
        return f"http://127.0.0.1:{slack.port}/services/T000/B000/XXXX"

    async with Dispatcher(config, get_secret) as d:
        yield d


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    r = GitRepo(tmp_path / "srv", "platform")
    r.write("releases/dev/web.yaml", hr("web"))
    r.write("releases/dev/api.yaml", hr("api"))
    r.commit("first releases")
    return r


@pytest.fixture
def daemon(repo: GitRepo) -> Iterator[GitDaemon]:
    with GitDaemon(repo.serve_root) as d:
        yield d


@pytest.fixture
async def reconciler(
    kubesim: KubeSim, kubectl: Cli, tmp_path: Path, notifier: Dispatcher
) -> AsyncIterator[GitSyncReconciler]:
    kubectl("apply", "-k", str(ROOT / "crds"))
    kubectl("create", "namespace", "dev")
    client = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    events = EventRecorder(client)
    async with GitSource(tmp_path / "cache", fetch_interval=0, eviction_min_age=0) as git:
        yield GitSyncReconciler(client, events, git, kubectl=tool("kubectl"), notifier=notifier)
    await events.close()
    await client.close()


async def create_gitsync(reconciler: GitSyncReconciler, url: str) -> None:
    spec = {"url": url, "ref": {"branch": "main"}, "path": "releases/dev"}
    body = {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "GitSync",
        "metadata": {"name": "releases"},
        "spec": spec,
    }
    await reconciler.client.create(GITSYNCS, "dev", body)


async def delivered(notifier: Dispatcher) -> None:
    """Everything submitted so far has been delivered (or given up on)."""
    deadline = time.monotonic() + 10
    while notifier.pending():
        assert time.monotonic() < deadline, "notifications not delivered in time"
        await asyncio.sleep(0.01)


async def sync(reconciler: GitSyncReconciler, notifier: Dispatcher, times: int = 1) -> None:
    for _ in range(times):
        await reconciler.reconcile("dev", "releases")
    await delivered(notifier)


async def test_a_rejected_commit_is_one_message_naming_gitsync_file_and_line_then_recovered(
    repo: GitRepo, daemon: GitDaemon, reconciler: GitSyncReconciler, notifier: Dispatcher, slack: Slack
) -> None:
    await create_gitsync(reconciler, daemon.url("platform"))
    await sync(reconciler, notifier)
    assert slack.payloads == []  # installed: nothing to tell (no recovery without a failure)

    two_sources = hr("api").replace("      name: webapp\n", "      name: webapp\n    oci: {url: oci://r/x}\n")
    repo.write("releases/dev/api.yaml", two_sources)
    bad = repo.commit("api: two chart sources")
    await sync(reconciler, notifier, times=3)  # synced again and again: still one message
    assert slack.texts() == [":x: sync failed: GitSync dev/releases in cluster kubesim"]
    attachment = slack.payloads[0]["attachments"][0]
    assert attachment["title"] == "sync failed: GitSync dev/releases"
    assert attachment["text"].startswith(
        "commit rejected, nothing applied: releases/dev/api.yaml:6: spec.chart: "
    )
    assert {"title": "Revision", "value": f"main@sha1:{bad}", "short": True} in attachment["fields"]

    repo.write("releases/dev/api.yaml", hr("api", 2))
    fixed = repo.commit("fix api")
    await sync(reconciler, notifier, times=2)
    assert slack.texts()[1:] == [":white_check_mark: recovered: GitSync dev/releases in cluster kubesim"]
    assert slack.payloads[1]["attachments"][0]["text"] == f"applied revision main@sha1:{fixed}: 2 objects"


async def test_a_failing_sync_is_told_on_its_third_failure_in_a_row(
    repo: GitRepo,
    daemon: GitDaemon,
    reconciler: GitSyncReconciler,
    notifier: Dispatcher,
    slack: Slack,
    kubesim: KubeSim,
) -> None:
    await create_gitsync(reconciler, daemon.url("platform"))
    await sync(reconciler, notifier)
    repo.write("releases/dev/web.yaml", hr("web", 2))
    repo.commit("web: 2 replicas")
    kubesim.add_fault(status=500, verb="patch", resource="helmreleases", name="web", times=4)
    await sync(reconciler, notifier, times=2)
    assert slack.payloads == []  # a blip pages nobody
    await sync(reconciler, notifier, times=2)  # the third and fourth failures: one message
    assert slack.texts() == [":x: sync failed: GitSync dev/releases in cluster kubesim"]
    text = slack.payloads[0]["attachments"][0]["text"]
    assert text.startswith("ApplyFailed: releases/dev/web.yaml:1: HelmRelease dev/web: apply failed: 500"), (
        text
    )
    await sync(reconciler, notifier)
    assert slack.texts()[1:] == [":white_check_mark: recovered: GitSync dev/releases in cluster kubesim"]
