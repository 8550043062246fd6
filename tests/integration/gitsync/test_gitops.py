"""GitOps end to end: the controller process serves GitSyncs next to HelmReleases. A commit pushed
to a real git server (git daemon) deploys through the GitSync to a real helm release; a signed push
webhook syncs at once, an unsigned one is refused and triggers nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from tests.conftest import ROOT, Cli
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

TOKEN = "push-token-42"


def release(name: str, repo_url: str, message: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "helmrelease.dev/v1",
            "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": {
                "interval": "1h",
                "timeout": "20s",
                "chart": {"repository": {"url": repo_url, "name": "webapp", "version": "1.x"}},
                "values": {"message": message},
            },
        }
    )


@pytest.fixture
def charts(tmp_path: Path) -> Iterator[ChartRepo]:
    with ChartRepo(tmp_path / "charts") as r:
        r.add_charts([package_webapp(tmp_path / "charts-src", "1.0.0")])
        yield r


@pytest.fixture
def platform(tmp_path: Path, charts: ChartRepo) -> GitRepo:
    r = GitRepo(tmp_path / "srv", "platform")
    r.write("releases/dev/web.yaml", release("web", charts.url, "dev v1"))
    r.write("releases/dev/api.yaml", release("api", charts.url, "api v1"))
    r.commit("dev: web and api")
    return r


def get(sim: KubeSim, api_version: str, kind: str, ns: str, name: str) -> dict[str, Any] | None:
    rt = sim.registry.by_kind(api_version, kind)
    assert rt is not None
    return sim.call(lambda: sim.store.peek(rt, ns, name))  # type: ignore[no-any-return]


def condition(obj: dict[str, Any] | None, type_: str = "Ready") -> dict[str, Any]:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c  # type: ignore[no-any-return]
    return {}


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_a_push_deploys_and_the_signed_webhook_syncs_at_once(
    kubesim: KubeSim, kubectl: Cli, tmp_path: Path, platform: GitRepo, charts: ChartRepo
) -> None:
    kubectl("apply", "-k", str(ROOT / "crds"))
    kubectl("create", "namespace", "dev")
    kubectl("create", "secret", "generic", "push", "-n", "dev", f"--from-literal=token={TOKEN}")
    with GitDaemon(platform.serve_root) as daemon:
        assert kubesim.kubeconfig_path is not None
        controller = ControllerProcess(tmp_path / "ctl", kubesim.kubeconfig_path).start()
        try:
            gitsync = {
                "apiVersion": "helmrelease.dev/v1",
                "kind": "GitSync",
                "metadata": {"name": "releases", "namespace": "dev"},
                "spec": {
                    "url": daemon.url("platform"),
                    "ref": {"branch": "main"},
                    "path": "releases/dev",
                    "interval": "1h",  # only the webhook can make it look again within the test
                    "webhook": {"secretRef": {"name": "push"}},
                },
            }
            kubectl("apply", "-f", "-", input=yaml.safe_dump(gitsync))

            # The commit is applied and its HelmReleases installed by the same process.
            def installed() -> bool:
                return all(
                    condition(get(kubesim, "helmrelease.dev/v1", "HelmRelease", "dev", n)).get("status")
                    == "True"
                    for n in ("web", "api")
                )

            wait_for(installed, 60, what="dev/web and dev/api Ready")
            gs = get(kubesim, "helmrelease.dev/v1", "GitSync", "dev", "releases")
            assert condition(gs)["status"] == "True", gs
            assert gs is not None and gs["status"]["lastAppliedRevision"].startswith("main@sha1:")
            cm = get(kubesim, "v1", "ConfigMap", "dev", "web-config")
            assert cm is not None and cm["data"]["message"] == "dev v1"
            first = gs["status"]["lastAppliedRevision"]

            # A push changing one file; nothing happens until the webhook (interval 1h).
            platform.write("releases/dev/web.yaml", release("web", charts.url, "dev v2"))
            platform.commit("dev: web v2")
            url = f"{controller.metrics_url()}/hooks/gitsync/dev/releases"
            body = json.dumps({"ref": "refs/heads/main"}).encode()
            assert post(url, body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}) == 401
            assert post(url, body, {}) == 401
            assert post(url.replace("/releases", "/nope"), body, {"X-Gitlab-Token": TOKEN}) == 404
            signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
            assert post(url, body, {"X-Hub-Signature-256": signature}) == 202

            def upgraded() -> bool:
                cm = get(kubesim, "v1", "ConfigMap", "dev", "web-config")
                return cm is not None and cm["data"]["message"] == "dev v2"

            wait_for(upgraded, 30, what="dev/web upgraded by the pushed commit")
            gs = get(kubesim, "helmrelease.dev/v1", "GitSync", "dev", "releases")
            assert gs is not None and gs["status"]["lastAppliedRevision"] != first
            assert gs["status"]["lastAppliedSubject"] == "dev: web v2"
            # Only the changed HelmRelease was upgraded.
            upgrades = [c for c in controller.helm_calls("upgrade") if " api " in f" {c} "]
            assert len(upgrades) == 1, controller.helm_calls()
        finally:
            controller.stop()
