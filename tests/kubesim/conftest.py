"""Helpers for the kubesim conformance suite: reading objects through kubectl and polling.

Everything here goes through a real client (the kubectl binary); nothing reads
kubesim's store directly, so each assertion is what a user of that client sees.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubesim import KubeSim
from tests.conftest import Cli, _env, tool

T = TypeVar("T")


class Kube:
    """`kubectl get -o json` and friends, for assertions (kubectl is the `Cli` fixture)."""

    def __init__(self, kubectl: Any) -> None:
        self.kubectl = kubectl

    def get(self, *args: str) -> dict[str, Any]:
        """One object (or a List) as JSON; fails the test when kubectl fails."""
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def items(self, *args: str) -> list[dict[str, Any]]:
        return self.get(*args)["items"]

    def names(self, *args: str) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.items(*args))

    def absent(self, *args: str) -> bool:
        """True when `kubectl get` answers NotFound for the object."""
        proc = self.kubectl.run("get", *args, "-o", "name", check=False)
        if proc.returncode == 0:
            return False
        assert "NotFound" in proc.stderr or "not found" in proc.stderr, proc.stderr
        return True


def eventually(fn: Callable[[], T], timeout: float = 5.0, interval: float = 0.05, what: str = "") -> T:
    """Poll fn until it returns a truthy value (returned) or the deadline passes (test fails)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or fn}: last value {last!r}")
        time.sleep(interval)


@pytest.fixture
def kube(kubectl: Any) -> Kube:
    return Kube(kubectl)


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    """The `eventually(fn, timeout=...)` poller, for test modules (they do not import conftest)."""
    return eventually


# -- an enforcing kubesim (authentication and RBAC, see kubesim/enforce.py) ---------------------------
@pytest.fixture
def rbac_sim(tmp_path: Path) -> Iterator[KubeSim]:
    """A kubesim that authenticates and authorizes; its own kubeconfig is the admin (system:masters)."""
    sim = KubeSim(bookmark_interval=1.0, rbac=True)
    sim.start()
    sim.write_kubeconfig(tmp_path / "kubeconfig")
    yield sim
    sim.stop()


@pytest.fixture
def rbac_admin(rbac_sim: KubeSim, tmp_path: Path) -> Cli:
    """kubectl as the enforcing kubesim's admin."""
    return Cli(tool("kubectl"), _env(tmp_path, rbac_sim))


@pytest.fixture
def as_user(rbac_sim: KubeSim, tmp_path: Path) -> Callable[..., Cli]:
    """as_user(name, groups=(), binary="kubectl"): a real client with a kubeconfig of that identity."""

    def make(name: str, groups: tuple[str, ...] = (), binary: str = "kubectl") -> Cli:
        safe = name.replace(":", "_")
        cfg = rbac_sim.user_kubeconfig(tmp_path / f"kubeconfig-{safe}", name, groups)
        env = {**_env(tmp_path, rbac_sim), "KUBECONFIG": str(cfg)}
        return Cli(tool(binary), env, major=4 if binary == "helm" else 0)

    return make
