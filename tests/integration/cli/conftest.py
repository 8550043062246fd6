"""Fixtures for the operations CLI tests: the controller tests' kubesim + chart repository + real
controller (tests/integration/controller/conftest.py), both CRDs, and `kubectl hr ...` run through
the real kubectl, which finds the `kubectl-hr` plugin on PATH (.venv/bin)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubesim import KubeSim
from tests.conftest import ROOT, Cli, tool
from tests.integration.controller.conftest import Cluster, controller, helm_name, repo  # noqa: F401

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def cluster(kubesim: KubeSim, kubectl: Cli) -> Cluster:
    """The controller tests' cluster with the GitSync CRD too (the controller serves both)."""
    kubectl("apply", "-k", str(ROOT / "crds"))
    kubectl("create", "namespace", "apps")
    return Cluster(kubesim, kubectl)


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Plugin:
    """`kubectl hr ARGS`: the real kubectl running the kubectl-hr plugin against kubesim."""

    env: dict[str, str]

    def __call__(self, *args: str, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [tool("kubectl"), "hr", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, timeout: float = 120) -> str:
        r = self(*args, timeout=timeout)
        assert r.code == 0, f"kubectl hr {' '.join(args)} exited {r.code}\nstdout:\n{r.out}\nstderr:\n{r.err}"
        return r.out

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [tool("kubectl"), "hr", *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip


@pytest.fixture
def hr(cluster: Cluster) -> Plugin:
    env = {**cluster.kubectl.env, "PATH": f"{VENV_BIN}:{cluster.kubectl.env['PATH']}"}
    env.pop("NO_COLOR", None)
    return Plugin(env)
