"""Shared fixtures: a running kubesim, its kubeconfig, and the real helm and kubectl binaries; and a
guard that fails any async test leaving asyncio tasks running once it and its fixtures are done."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import subprocess
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from kubesim import KubeSim

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".bin"
CHARTS = Path(__file__).resolve().parent / "charts"

# One Hypothesis profile for the whole suite: property tests must not depend on how busy the
# machine is. No deadline, no "input generation too slow" health check (both are wall-clock
# measurements: a 2-core machine running helm in parallel tripped them), and a fixed sequence of
# examples (derandomize), so a run is reproducible and a failure is the same failure everywhere.
# HYPOTHESIS_PROFILE=explore searches with random seeds and more examples, for a deliberate hunt.
settings.register_profile(
    "suite",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.register_profile(
    "explore",
    parent=settings.get_profile("suite"),
    derandomize=False,
    max_examples=1000,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, object]:
    report = yield
    if call.when == "call":
        item.stash[_CALL_FAILED] = bool(getattr(report, "failed", False))
    return report


@pytest.fixture(autouse=True)
def _no_leftover_asyncio_tasks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail an async test that leaves asyncio tasks running after it and its fixtures ended (as Kopf's
    suite does). pytest-asyncio (asyncio_mode=auto, one loop per test) would cancel them silently when
    it closes the loop, hiding a task that nobody awaits or cancels: in the product that is a leak
    (a watch, a retry, a delivery outliving what started it). The check runs in the test's own loop,
    after every fixture the test requested has been torn down, and not for a test that already failed.
    """
    if not inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        yield
        return
    # Requested here, the loop outlives this fixture: our teardown runs while it is still open.
    loop = request.getfixturevalue("_function_scoped_runner").get_loop()
    before = asyncio.all_tasks(loop)
    yield
    left = asyncio.all_tasks(loop) - before
    _cancel_within(loop, asyncio.all_tasks(loop), request.node.nodeid)
    if left and not request.node.stash.get(_CALL_FAILED, False):
        names = sorted(repr(t) for t in left)
        pytest.fail(
            f"{len(left)} asyncio task(s) left running by this test: " + "; ".join(names), pytrace=False
        )


LEFTOVER_CANCEL_WAIT = 30.0


def _cancel_within(loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task[object]], test: str) -> None:
    """Cancel what is left, as pytest-asyncio would when it closes the loop, but bounded: a task that
    will not end (it swallowed its cancel and awaits something nobody completes) would otherwise hang
    the worker, silently, until CI's own limit. Such a task ends the worker now, with its stack: xdist
    reports the crash against the test."""
    pending = [t for t in tasks if not t.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.wait(pending, timeout=LEFTOVER_CANCEL_WAIT))
    stuck = [t for t in pending if not t.done()]
    if stuck:
        out = sys.__stderr__ or sys.stderr
        print(f"\n{test}: {len(stuck)} task(s) ignored cancellation for {LEFTOVER_CANCEL_WAIT:g}s:", file=out)
        for task in stuck:
            task.print_stack(file=out)
        out.flush()
        os._exit(70)


def tool(name: str) -> str:
    """Path of a project-installed binary (make tools); a missing one is an error, never a skip."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise RuntimeError(f"{name} not found: run `make tools` first")
        return found
    return str(path)


@dataclass
class Cli:
    """Runs a real binary against one kubesim, with its own kubeconfig and caches."""

    binary: str
    env: dict[str, str]
    major: int = 0  # helm's major version (3 or 4); 0 for kubectl

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, *args], env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{Path(self.binary).name} {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]


@pytest.fixture
def kubesim(tmp_path: Path) -> Iterator[KubeSim]:
    sim = KubeSim(bookmark_interval=1.0)
    sim.start()
    sim.write_kubeconfig(tmp_path / "kubeconfig")
    yield sim
    sim.stop()


def _env(tmp_path: Path, sim: KubeSim) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "KUBECONFIG": str(sim.kubeconfig_path),
        "HELM_CACHE_HOME": str(home / ".cache" / "helm"),
        "HELM_CONFIG_HOME": str(home / ".config" / "helm"),
        "HELM_DATA_HOME": str(home / ".local" / "share" / "helm"),
        "KUBECACHEDIR": str(home / ".kube" / "cache"),
    }
    return env


@pytest.fixture
def kubectl(kubesim: KubeSim, tmp_path: Path) -> Cli:
    return Cli(tool("kubectl"), _env(tmp_path, kubesim))


@pytest.fixture(params=["helm4", "helm3"])
def helm(request: pytest.FixtureRequest, kubesim: KubeSim, tmp_path: Path) -> Cli:
    """The real helm CLI: each test using it runs once with helm v4.3.1 and once with v3.17.3."""
    name = "helm" if request.param == "helm4" else "helm3"
    return Cli(tool(name), _env(tmp_path, kubesim), major=4 if request.param == "helm4" else 3)
