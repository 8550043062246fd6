"""A GitSync of one shard (docs/sharding.md), its push webhook received by a replica of another
shard: checked there against the GitSync's Secret, then handed over through the API
(gitsync/handoff.py), and the GitSync's own shard syncs the pushed commit at once."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import yaml

from kubesim import KubeSim
from tests.conftest import ROOT, Cli
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

from .test_gitops import TOKEN, charts, get, platform, post, release  # noqa: F401 (fixtures)

REQUESTED = "helmrelease.dev/reconcile-requested-at"


def gitsync(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "GitSync",
        "metadata": {"name": "releases", "namespace": "dev", "labels": {"helmrelease.dev/shard": "a"}},
        "spec": {
            "url": url,
            "ref": {"branch": "main"},
            "path": "releases/dev",
            "interval": "1h",  # only a webhook makes it look again within the test
            "webhook": {"secretRef": {"name": "push"}},
        },
    }


def syncs(proc: ControllerProcess) -> int:
    prefix = "helmrelease_gitsync_sync_duration_seconds_count{"
    return int(sum(v for k, v in proc.metrics().items() if k.startswith(prefix)))


def test_a_push_to_another_shards_replica_is_handed_to_the_gitsyncs_shard(
    kubesim: KubeSim,
    kubectl: Cli,
    tmp_path: Path,
    platform: GitRepo,  # noqa: F811
    charts: ChartRepo,  # noqa: F811
) -> None:
    kubectl("apply", "-k", str(ROOT / "crds"))
    kubectl("create", "namespace", "dev")
    kubectl("create", "secret", "generic", "push", "-n", "dev", f"--from-literal=token={TOKEN}")
    assert kubesim.kubeconfig_path is not None
    with GitDaemon(platform.serve_root) as daemon:
        a = ControllerProcess(tmp_path / "a", kubesim.kubeconfig_path, args=["--shard-key", "a"]).start()
        b = ControllerProcess(tmp_path / "b", kubesim.kubeconfig_path, args=["--shard-key", "b"]).start()
        try:
            kubectl("apply", "-f", "-", input=yaml.safe_dump(gitsync(daemon.url("platform"))))

            def applied() -> dict[str, Any] | None:
                gs = get(kubesim, "helmrelease.dev/v1", "GitSync", "dev", "releases")
                return gs if ((gs or {}).get("status") or {}).get("lastAppliedRevision") else None

            first = wait_for(applied, 60, what="the GitSync synced")["status"]
            assert syncs(a) >= 1 and syncs(b) == 0  # shard a serves it, shard b never sees it

            platform.write("releases/dev/web.yaml", release("web", charts.url, "dev v2"))
            platform.commit("dev: web v2")
            url = f"{b.metrics_url()}/hooks/gitsync/dev/releases"
            body = json.dumps({"ref": "refs/heads/main"}).encode()
            # Checked at shard b as at the serving replica: wrong or no signature, unknown GitSync.
            assert post(url, body, {"X-Hub-Signature-256": "sha256=" + "0" * 64}) == 401
            assert post(url.replace("/releases", "/nope"), body, {"X-Gitlab-Token": TOKEN}) == 404
            gs = get(kubesim, "helmrelease.dev/v1", "GitSync", "dev", "releases")
            assert REQUESTED not in ((gs or {})["metadata"].get("annotations") or {})  # nothing handed on
            signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
            assert post(url, body, {"X-Hub-Signature-256": signature}) == 202

            def pushed() -> dict[str, Any] | None:
                gs = get(kubesim, "helmrelease.dev/v1", "GitSync", "dev", "releases")
                st = (gs or {}).get("status") or {}
                return st if st.get("lastAppliedSubject") == "dev: web v2" else None

            st = wait_for(pushed, 30, what="the pushed commit synced by shard a")
            assert st["lastAppliedRevision"] != first["lastAppliedRevision"]
            assert syncs(b) == 0
            # The HelmReleases it applied keep the shard of their YAML (none: the unsharded one's).
            hr = get(kubesim, "helmrelease.dev/v1", "HelmRelease", "dev", "web")
            assert hr is not None and "helmrelease.dev/shard" not in (hr["metadata"].get("labels") or {})
        finally:
            a.stop()
            b.stop()
