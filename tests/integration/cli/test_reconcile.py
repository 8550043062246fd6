"""`kubectl hr reconcile`: a success (exit 0), a failed upgrade (exit 1, the retry and the rollback
shown line by line), a timeout (exit 1 with the reason), `--force`, and usage errors; with the real
controller, helm, kubectl and kubesim."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp

from ..controller.conftest import Cluster, helmrelease
from .conftest import Plugin


def test_reconcile_succeeds_and_picks_up_a_new_chart_version(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    repo.add_charts([package_webapp(tmp_path / "new", "1.5.0")])  # the index is re-read on request only

    r = hr("reconcile", "web", "-n", "apps", "--with-source", "--timeout", "60s")
    assert r.code == 0, r.out + r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("helmrelease apps/web: reconcile requested (20")
    assert lines[1] == "waiting for the controller to reconcile helmrelease apps/web"
    assert "  progressing: Upgrade: desired chart or values differ from the deployed release" in lines
    assert "  revision 2: webapp@1.5.0 deployed" in lines
    assert lines[-1] == (
        "ready: UpgradeSucceeded: Helm upgrade succeeded for release apps/web.v2 with chart webapp@1.5.0"
    )
    token = lines[0].split("(")[1].rstrip(")")
    assert cluster.status("web")["lastHandledReconcileAt"] == token

    # Nothing to do: still a reconcile, still Ready, exit 0 without a helm run.
    upgrades = len(controller.helm_calls("upgrade"))
    again = hr("reconcile", "web", "-n", "apps", "--timeout", "60s")
    assert again.code == 0 and again.out.splitlines()[-1].startswith("ready: ")
    assert len(controller.helm_calls("upgrade")) == upgrades

    forced = hr("reconcile", "web", "-n", "apps", "--force", "--timeout", "60s")
    assert forced.code == 0, forced.err
    assert "  revision 3: webapp@1.5.0 deployed" in forced.out.splitlines()
    assert cluster.status("web")["lastHandledForceAt"] == forced.out.split("(")[1].split(")")[0]


def test_a_failed_upgrade_exits_1_and_shows_the_rollback(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    spec = {"upgrade": {"remediation": {"retries": 1}}, "timeout": "2s"}
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    broken = package_webapp(tmp_path / "new", "1.6.0")
    (broken / "values.yaml").write_text(
        (broken / "values.yaml").read_text().replace("neverReady: false", "neverReady: true")
    )
    repo.add_charts([broken])

    r = hr("reconcile", "web", "-n", "apps", "--timeout", "90s")
    assert r.code == 1, r.out + r.err
    lines = r.out.splitlines()
    # What the controller wrote, in order (how many intermediate writes a watch sees depends on timing).
    milestones = [
        "  progressing: Upgrade: desired chart or values differ from the deployed release",
        "  revision 2: webapp@1.6.0 failed",
        "  revision 3: webapp@1.6.0 failed",
        "  Remediated=True RollbackSucceeded: rolled back to revision 1 (as revision 4)",
        "  revision 4: webapp@1.1.0 deployed",
    ]
    assert [line for line in lines if line in milestones] == milestones, lines
    assert any(
        line.startswith("  Released=False UpgradeFailed: upgrade failed: resources not ready")
        for line in lines
    )
    assert any(line.startswith("  retrying at 20") for line in lines)
    assert r.err.startswith(
        "error: helmrelease apps/web is not ready: RetriesExhausted: upgrade failed 2 time(s); retries "
        "exhausted; rolled back to revision 1 (as revision 4); last error: upgrade failed: resources"
    )


def test_a_reconcile_nobody_handles_times_out(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_ready("web")
    controller.stop()
    r = hr("reconcile", "web", "-n", "apps", "--timeout", "2s")
    assert r.code == 1
    assert r.err.strip() == (
        "error: timed out after 2s waiting for helmrelease apps/web: the controller did not pick up the "
        "request (InstallSucceeded: Helm install succeeded for release apps/web.v1 with chart webapp@1.1.0)"
    )


def test_an_invalid_spec_or_an_unreachable_repository_fails_at_once(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    cluster.apply(helmrelease("bad-spec", repo.url, storageNamespace="elsewhere"))
    cluster.apply(helmrelease("no-repo", "http://127.0.0.1:9"))  # nothing listens on port 9
    cluster.wait_condition("bad-spec", "Stalled", "True", "InvalidSpec")
    cluster.wait_condition("no-repo", "Ready", "False")

    invalid = hr("reconcile", "bad-spec", "-n", "apps", "--timeout", "60s")
    assert invalid.code == 1
    assert invalid.err.startswith(
        "error: helmrelease apps/bad-spec is not ready: InvalidSpec: invalid spec: spec.storageNamespace"
    )
    unreachable = hr("reconcile", "no-repo", "-n", "apps", "--timeout", "60s")
    assert unreachable.code == 1
    assert unreachable.err.startswith("error: helmrelease apps/no-repo is not ready: "), unreachable.err
    assert "127.0.0.1:9" in unreachable.err


def test_reconcile_usage_and_missing_objects(cluster: Cluster, hr: Plugin) -> None:
    missing = hr("reconcile", "web", "-n", "apps")
    assert missing.code == 1
    assert missing.err.strip() == 'error: helmreleases.helmrelease.dev "web" not found in namespace apps'
    assert hr("reconcile").code == 2
    assert hr("reconcile", "web", "--timeout", "0s").code == 2
    gs = hr("reconcile", "gitsync", "x", "--force")
    assert (gs.code, gs.err.strip()) == (1, "error: --force and --reset are for HelmReleases")
    text = hr.ok("reconcile", "--help")
    assert "examples:" in text and "changes nothing: every reconcile re-reads the chart source" in " ".join(
        text.split()
    )
