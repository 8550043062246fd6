"""kill -9 of the controller in the middle of applying a commit: after a restart the commit is applied
whole, and no status ever claimed the half-applied commit as applied.

The controller process serves a GitSync over a real git daemon. A pushed commit changes 5
HelmReleases; kubesim holds the apply of 3 of them (latency on their PATCH) while the other 2 land,
so the cluster really is half way through the commit when the process group gets SIGKILL.
The HelmReleases are suspended: this is about GitSync's writes, not helm's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from kubesim import KubeSim
from tests.conftest import ROOT, Cli
from tests.helpers.controller import ControllerProcess, wait_for
from tests.helpers.gitserver import GitDaemon, GitRepo

NAMES = [f"app{i}" for i in range(1, 6)]
HELD = NAMES[2:]  # their apply is held by kubesim until the controller is killed


def release(name: str, message: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "helmrelease.dev/v1",
            "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": {
                "suspend": True,
                "chart": {"repository": {"url": "https://charts.example.com", "name": "webapp"}},
                "values": {"message": message},
            },
        }
    )


def get(sim: KubeSim, api_version: str, kind: str, ns: str, name: str) -> dict[str, Any] | None:
    rt = sim.registry.by_kind(api_version, kind)
    assert rt is not None
    return sim.call(lambda: sim.store.peek(rt, ns, name))  # type: ignore[no-any-return]


def message(sim: KubeSim, name: str) -> str | None:
    obj = get(sim, "helmrelease.dev/v1", "HelmRelease", "dev", name)
    return None if obj is None else str(obj["spec"]["values"]["message"])


def gitsync_status(sim: KubeSim) -> dict[str, Any]:
    obj = get(sim, "helmrelease.dev/v1", "GitSync", "dev", "releases")
    return dict((obj or {}).get("status") or {})


def test_kill_9_mid_apply_leaves_no_half_applied_commit_after_restart(
    kubesim: KubeSim, kubectl: Cli, tmp_path: Path
) -> None:
    kubectl("apply", "-k", str(ROOT / "crds"))
    kubectl("create", "namespace", "dev")
    repo = GitRepo(tmp_path / "srv", "platform")
    for name in NAMES:
        repo.write(f"releases/dev/{name}.yaml", release(name, "v1"))
    first = repo.commit("five apps at v1")
    assert kubesim.kubeconfig_path is not None
    with GitDaemon(repo.serve_root) as daemon:
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
                    "interval": "1h",  # only the reconcile-requested-at annotation syncs it again
                },
            }
            kubectl("apply", "-f", "-", input=yaml.safe_dump(gitsync))
            wait_for(
                lambda: gitsync_status(kubesim).get("lastAppliedRevision") == f"main@sha1:{first}",
                60,
                what="the first commit applied",
            )
            assert [message(kubesim, n) for n in NAMES] == ["v1"] * 5

            # A commit changing all 5; the apply of 3 of them hangs in kubesim.
            for name in NAMES:
                repo.write(f"releases/dev/{name}.yaml", release(name, "v2"))
            second = repo.commit("five apps at v2")
            for name in HELD:  # held 60 s, then refused: only the restarted controller can land them
                kubesim.add_fault(
                    status=500, latency=60, verb="patch", resource="helmreleases", subresource="", name=name
                )
            since = time.time()
            kubectl(
                "annotate", "gs", "releases", "-n", "dev", f"helmrelease.dev/reconcile-requested-at={since}"
            )

            def half_applied() -> bool:
                held = {
                    e.name
                    for e in kubesim.requests.entries(since)
                    if e.verb == "patch" and e.resource.startswith("helmreleases") and not e.subresource
                }
                landed = [message(kubesim, n) for n in NAMES[:2]]
                return set(HELD) <= held and landed == ["v2", "v2"]

            wait_for(half_applied, 60, what="2 HelmReleases applied, 3 applies in flight")
            controller.kill9()

            # The crash left the cluster half way through the commit, and the status does not
            # claim it: the last applied revision is still the first commit.
            assert [message(kubesim, n) for n in NAMES] == ["v2", "v2", "v1", "v1", "v1"]
            st = gitsync_status(kubesim)
            assert st["lastAppliedRevision"] == f"main@sha1:{first}", st

            kubesim.clear_faults()
            controller.start()

            def whole() -> bool:
                return gitsync_status(kubesim).get("lastAppliedRevision") == f"main@sha1:{second}"

            wait_for(whole, 60, what="the second commit applied after the restart")
            assert [message(kubesim, n) for n in NAMES] == ["v2"] * 5
            st = gitsync_status(kubesim)
            assert st["lastAppliedSubject"] == "five apps at v2"
            ready = next(c for c in st["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "True", ready
            assert sorted(e["name"] for e in st["inventory"]) == NAMES
        finally:
            controller.stop()
