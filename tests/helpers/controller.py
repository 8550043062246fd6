"""Running the real controller against kubesim, as a user would: a separate process.

`ControllerProcess` starts `python -m helmrelease_controller run` with its own
kubeconfig, cache directory and a `helm` on PATH that is a tiny shim logging each
invocation (arguments only: values travel on stdin) before exec'ing the real helm,
so tests count helm processes from outside. It can be stopped politely (SIGTERM)
or killed (`kill -9`), and restarted.

`Cluster` bundles what the controller tests talk to: kubesim, kubectl, the
HelmRelease CRD, and helpers to apply HelmReleases and wait for conditions.

A test that asserts something did NOT happen (no helm run, no write, no second
pass) first waits for a positive event proving the controller looked and decided
to do nothing, never for a fixed time: `ControllerProcess.wait_reconciles` waits on
the reconcile histogram's count in the process's own /metrics (docs/metrics.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".bin"
CHARTS = ROOT / "tests" / "charts"
T = TypeVar("T")


def wait_for(fn: Callable[[], T], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll fn until it returns something truthy; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def scrape(url: str) -> dict[str, float]:
    """One scrape of `url`/metrics, as {'name{labels}': value}."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def package_webapp(dest: Path, version: str, app_version: str | None = None) -> Path:
    """A copy of tests/charts/webapp with another version, ready for `ChartRepo.add_charts`."""
    chart_dir = dest / f"webapp-{version}" / "webapp"
    if chart_dir.exists():
        shutil.rmtree(chart_dir)
    shutil.copytree(CHARTS / "webapp", chart_dir)
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    meta["version"] = version
    meta["appVersion"] = app_version or version
    (chart_dir / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return chart_dir


class ControllerProcess:
    def __init__(
        self, workdir: Path, kubeconfig: Path, helm: str = "helm", args: list[str] | None = None
    ) -> None:
        self.workdir = workdir
        self.kubeconfig = kubeconfig
        self.real_helm = str(BIN / helm)
        self.args = args or []
        self.shim_dir = workdir / "shim"
        self.call_log = workdir / "helm-calls.log"
        self.log_path = workdir / "controller.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_offset = 0  # where the current run's records start in the (appended) log
        self._metrics_url: str | None = None
        self.shim_dir.mkdir(parents=True, exist_ok=True)
        shim = self.shim_dir / "helm"
        shim.write_text(f'#!/bin/sh\necho "$*" >> "{self.call_log}"\nexec "{self.real_helm}" "$@"\n')
        shim.chmod(0o755)
        self.call_log.touch()

    def start(self, *extra: str) -> ControllerProcess:
        env = {
            **os.environ,
            "PATH": f"{self.shim_dir}:{BIN}:{os.environ.get('PATH', '')}",
            "HOME": str(self.workdir),
            "HELM_CACHE_HOME": str(self.workdir / "helm-cache"),
            "HELM_CONFIG_HOME": str(self.workdir / "helm-config"),
            "HELM_DATA_HOME": str(self.workdir / "helm-data"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(ROOT),
        }
        cmd = [
            sys.executable,
            "-m",
            "helmrelease_controller",
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.workdir / "cache"),
            "--log-format",
            "json",
            "--shutdown-grace",
            "20",
            "--metrics-addr",
            "127.0.0.1:0",
            *self.args,
            *extra,
        ]
        self.starts += 1
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._metrics_url = None
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it
        # Its own process group: kill9() takes helm children down with it, as a pod kill would.
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, start_new_session=True
        )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL the controller and every process it started, as a pod kill does (the container's
        processes all die). helm runs in its own process group (procs.py), so its group is killed
        too: an orphaned helm finishing its upgrade later would race the restarted controller."""
        assert self.proc is not None
        groups = {self.proc.pid} | {_pgid(child) for child in _children(self.proc.pid)}
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def metrics_url(self, timeout: float = 15.0) -> str:
        """Where the running controller serves /metrics (the address its current run logged)."""

        def find() -> str | None:
            for rec in self.log_records(current_run=True):
                if str(rec.get("msg", "")).startswith("metrics and health on "):
                    return str(rec["msg"]).rsplit(" ", 1)[1]
            return None

        url = self._metrics_url or str(wait_for(find, timeout, what="metrics address in the controller log"))
        self._metrics_url = url
        return url

    def metrics(self) -> dict[str, float]:
        """One scrape of the running controller's /metrics."""
        return scrape(self.metrics_url())

    def reconciles(self, result: str | None = None) -> int:
        """Reconciles the running controller has finished (`helmrelease_reconcile_duration_seconds`
        count), of one `result` (success, requeue, suspended, error, ...) or of all. Counted after
        the reconcile's last write, so every write of a counted reconcile is already visible."""
        prefix = "helmrelease_reconcile_duration_seconds_count{"
        label = f'result="{result}"'
        return int(
            sum(
                v
                for k, v in self.metrics().items()
                if k.startswith(prefix) and (result is None or label in k)
            )
        )

    def wait_reconciles(self, at_least: int, result: str | None = None, timeout: float = 30.0) -> int:
        """Wait until the running controller has finished `at_least` reconciles (of `result`, or any).

        The positive event before asserting an absence: the controller looked (that many times) and
        decided to do nothing. Returns the count reached.
        """
        what = f"{at_least} reconcile(s){f' with result {result}' if result else ''}"
        return wait_for(lambda: (n := self.reconciles(result)) >= at_least and n, timeout, what=what)

    def helm_calls(self, verb: str | None = None) -> list[str]:
        """Every helm invocation so far (`version` probes excluded), optionally only one verb."""
        lines = [ln for ln in self.call_log.read_text().splitlines() if ln and not ln.startswith("version")]
        return [ln for ln in lines if verb is None or ln.split(" ", 1)[0] == verb]

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self, current_run: bool = False) -> list[dict[str, Any]]:
        """The JSON log records of every run so far, or of the current run only."""
        if not self.log_path.exists():
            return []
        text = self.log_path.read_bytes()[self._log_offset if current_run else 0 :].decode(errors="replace")
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, and theirs (from /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                child = int(stat.parent.name)
                found.append(child)
                todo.append(child)
    return found


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return pid
