"""The Helm runner's processes, with a helm stand-in (sh) that records its argv and stdin."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from helmrelease_controller import procs
from helmrelease_controller.helm.runner import Helm, HelmError, UpgradeOptions, slot_wait
from helmrelease_controller.reconcile.actions.base import Stopwatch
from tests.helpers.processes import gone


def fake_helm(tmp_path: Path, body: str) -> str:
    helm = tmp_path / "helm"
    version = 'if [ "$1" = version ]; then printf v4.3.1; exit 0; fi'
    helm.write_text(f'#!/bin/sh\n{version}\necho "$@" >> {tmp_path}/argv\n{body}\n')
    helm.chmod(0o755)
    return str(helm)


async def test_uninstall_argv_and_kubeconfig(tmp_path: Path) -> None:
    helm = Helm(fake_helm(tmp_path, "exit 0"), kubeconfig="/k/config")
    await helm.uninstall("web", namespace="apps", keep_history=True, no_hooks=True, timeout="2m", wait=True)
    await helm.uninstall("db")
    assert (tmp_path / "argv").read_text().splitlines() == [
        "uninstall web --timeout 2m --namespace apps --keep-history --no-hooks --wait --kubeconfig /k/config",
        "uninstall db --timeout 5m --kubeconfig /k/config",
    ]


async def test_impersonating_runs_every_command_as_that_user(tmp_path: Path) -> None:
    """A HelmRelease with a ServiceAccount: helm acts as it (`--kube-as-user`); the runner it came
    from still acts as the controller, and both redact the same secrets."""
    helm = Helm(fake_helm(tmp_path, "exit 0"), kubeconfig="/k/config")
    tenant = helm.impersonating("system:serviceaccount:team-a:deployer")
    assert helm.impersonating(None) is helm
    await tenant.uninstall("web", namespace="team-a")
    await helm.uninstall("db")
    assert (tmp_path / "argv").read_text().splitlines() == [
        "uninstall web --timeout 5m --namespace team-a --kubeconfig /k/config "
        "--kube-as-user system:serviceaccount:team-a:deployer",
        "uninstall db --timeout 5m --kubeconfig /k/config",
    ]
    helm.add_secrets({"s3cret"})
    assert tenant.secrets == {"s3cret"}


async def test_limit_caps_helm_processes_at_once_across_copies(tmp_path: Path) -> None:
    """`--concurrent 2`: six uninstalls asked for at once (through the runner and its impersonating
    and other-cluster copies) run two at a time, never three, and all six run."""
    body = f"echo start >> {tmp_path}/log; sleep 0.4; echo end >> {tmp_path}/log"
    helm = Helm(fake_helm(tmp_path, body))
    helm.limit(2)
    runners = [helm, helm.impersonating("system:serviceaccount:a:b"), helm.with_kubeconfig("/k/remote")]
    await asyncio.gather(*(runners[i % 3].uninstall(f"r{i}") for i in range(6)))
    running, most = 0, 0
    for line in (tmp_path / "log").read_text().split():
        running += 1 if line == "start" else -1
        most = max(most, running)
    assert most == 2 and len((tmp_path / "argv").read_text().splitlines()) == 6


async def test_a_wait_for_a_slot_is_not_part_of_the_actions_duration(tmp_path: Path) -> None:
    """With one slot, the second uninstall waits for the first; its task is told how long
    (slot_wait), and an action's Stopwatch leaves that wait out of the duration it reports."""
    helm = Helm(fake_helm(tmp_path, "sleep 0.4"))
    helm.limit(1)

    async def one(name: str) -> tuple[float, float, float]:
        t0, watch = time.monotonic(), Stopwatch()
        await helm.uninstall(name)
        return slot_wait(), time.monotonic() - t0, watch.result(True, "").duration

    first, second = sorted(await asyncio.gather(one("a"), one("b")))
    assert first[0] < 0.05 and second[0] >= 0.35
    assert second[2] == pytest.approx(second[1] - second[0], abs=0.05)
    assert first[2] == pytest.approx(first[1], abs=0.05)


async def test_cancel_waiting_stops_reconciles_that_have_no_helm_running_yet(tmp_path: Path) -> None:
    """Shutting down: a call still waiting for a slot is cancelled and its helm never starts; the
    running one finishes."""
    helm = Helm(fake_helm(tmp_path, "sleep 0.3"))
    helm.limit(1)
    running = asyncio.create_task(helm.uninstall("running"))
    waiting = asyncio.create_task(helm.with_kubeconfig("/k/remote").uninstall("waiting"))
    while not (tmp_path / "argv").exists():
        await asyncio.sleep(0.01)
    assert helm.cancel_waiting() == 1
    await running
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (tmp_path / "argv").read_text().split()[:2] == ["uninstall", "running"]
    assert len((tmp_path / "argv").read_text().splitlines()) == 1 and helm.cancel_waiting() == 0


async def test_failure_is_one_redacted_line_with_helms_stderr_kept(tmp_path: Path) -> None:
    helm = Helm(fake_helm(tmp_path, "echo 'Error: UPGRADE FAILED: bad value s3cret-pw' >&2; exit 1"))
    helm.add_secrets(["s3cret-pw"])
    with pytest.raises(HelmError) as err:
        await helm.test("web", "apps", "1m")
    assert err.value.summary == "test failed: bad value ***"
    assert "s3cret-pw" not in err.value.stderr and err.value.returncode == 1


async def test_missing_helm_is_a_helm_error(tmp_path: Path) -> None:
    with pytest.raises(HelmError, match=r"^uninstall failed: cannot run helm \(/nonexistent/helm\)"):
        await Helm("/nonexistent/helm").uninstall("web")


async def test_cancel_stops_helm_and_its_children(tmp_path: Path) -> None:
    """Shutdown past its grace period cancels an action: helm and whatever it started are stopped."""
    pidfile = tmp_path / "child.pid"
    helm = Helm(fake_helm(tmp_path, f"sleep 1000 & echo $! > {pidfile}; wait"))
    started = procs.counts("helm").started
    task = asyncio.create_task(helm.rollback_to("web", "apps", 1, history_max=5, timeout="1m", wait=False))
    while not pidfile.is_file() or not pidfile.read_text().strip():
        await asyncio.sleep(0.01)
    assert helm.running >= 1 and helm.processes_started > started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(int(pidfile.read_text()))


@pytest.mark.parametrize(
    ("version", "force", "expected"),
    [
        ("v4.3.1", False, ["--force-conflicts"]),  # server-side apply takes the fields over
        ("v4.3.1", True, ["--force-replace", "--server-side=false"]),  # a replace: client-side
        ("v3.19.0", False, []),  # helm 3 applies client-side: there are no conflicts to force
    ],
)
async def test_force_conflicts_argv(tmp_path: Path, version: str, force: bool, expected: list[str]) -> None:
    helm_path = fake_helm(tmp_path, "echo {}")
    text = Path(helm_path).read_text().replace("printf v4.3.1", f"printf {version}")
    Path(helm_path).write_text(text)
    o = UpgradeOptions("web", "apps", tmp_path, {}, 5, "1m", force=force, force_conflicts=True, wait=False)
    await Helm(helm_path).upgrade(o)
    argv = (tmp_path / "argv").read_text().split()
    flags = [a for a in argv if a.startswith(("--force", "--server-side"))]
    assert flags == expected
