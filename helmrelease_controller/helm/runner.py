"""The Helm CLI runner: every helm process the controller starts goes through here.

Built on pyhelm3's `Command` (its `uninstall` is used as is), with what it lacks
for us: processes started with exec (no shell) and values only on stdin, per-call
`--history-max`, `--labels` on the release Secret, helm 3 / helm 4 flag names,
wait strategies, `helm test`, a count of processes started and running, and
errors summarised to one redacted line. pyhelm3's own `get_proceedable_revision`
is never used: it uninstalls pending-install releases (DESIGN rule 2).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyhelm3 import Command

from ..redact import redact


class HelmError(Exception):
    """A helm process failed. `summary` is one redacted line, fit for status and events."""

    def __init__(self, summary: str, stderr: str = "", returncode: int = 1) -> None:
        super().__init__(summary)
        self.summary, self.stderr, self.returncode = summary, stderr, returncode


_ERROR_LINE = re.compile(r"^Error: (.*)$", re.MULTILINE)


def summarize_error(stderr: str, action: str, timeout: str | None = None) -> str:
    """One line out of helm's stderr: its last `Error:` line, with the vaguest messages explained."""
    lines = _ERROR_LINE.findall(stderr)
    msg = lines[-1].strip() if lines else (stderr.strip().splitlines() or ["helm failed"])[-1].strip()
    msg = re.sub(r"^(INSTALLATION|UPGRADE|ROLLBACK|UNINSTALL(ATION)?) FAILED: ", "", msg)
    if "context deadline exceeded" in msg or "timed out waiting for the condition" in msg:
        within = f" within {timeout}" if timeout else ""
        detail = _not_ready_detail(stderr)
        msg = f"resources not ready{within}" + (f": {detail}" if detail else "") + f" ({msg})"
    if "another operation (install/upgrade/rollback) is in progress" in msg:
        msg = "release locked by another operation (pending-*); it will be unlocked"
    msg = f"{action} failed: {msg}"
    return msg if len(msg) <= 300 else msg[:297] + "..."


_NOT_READY = re.compile(
    r"(?:resource|Deployment|StatefulSet|DaemonSet|Job|Pod)[^\n]*?(?:not ready|InProgress)[^\n]*"
)


def _not_ready_detail(stderr: str) -> str:
    found = _NOT_READY.findall(stderr)
    return found[-1].strip()[:160] if found else ""


@dataclass
class UpgradeOptions:
    release: str
    namespace: str
    chart: Path
    values: dict[str, Any]
    history_max: int
    timeout: str
    labels: dict[str, str] = field(default_factory=dict)
    install: bool = True
    create_namespace: bool = False
    wait: bool = True
    skip_crds: bool = False
    force: bool = False
    cleanup_on_fail: bool = False
    description: str = ""


class Helm(Command):
    """pyhelm3's Command, running helm the way the controller needs it."""

    def __init__(
        self,
        executable: str = "helm",
        kubeconfig: str | None = None,
        env: dict[str, str] | None = None,
        default_timeout: str = "5m",
    ) -> None:
        super().__init__(
            executable=executable,
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            default_timeout=default_timeout,
        )
        self.env = {**os.environ, **(env or {})}
        self.processes_started = 0
        self.running = 0
        self.secrets: set[str] = set()  # strings that must never leave in an error message
        self._major: int | None = None
        self._version_lock = asyncio.Lock()

    # -- process ----------------------------------------------------------------------------
    async def run(self, command: list[Any], input: bytes | None = None) -> bytes:
        argv = [self._executable, *(str(c) for c in command)]
        if self._kubeconfig:
            argv += ["--kubeconfig", str(self._kubeconfig)]
        self.processes_started += 1
        self.running += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
            )
            try:
                stdout, stderr = await proc.communicate(input)
            except asyncio.CancelledError:
                # Hard cancellation (shutdown past its grace period): stop helm; a release left
                # pending is unlocked by the next reconcile (DESIGN rule 2).
                try:
                    proc.terminate()
                    async with asyncio.timeout(10):
                        await proc.communicate()
                except (TimeoutError, ProcessLookupError):
                    pass
                raise
        finally:
            self.running -= 1
        if proc.returncode != 0:
            err = redact(stderr.decode(errors="replace"), self.secrets)
            verb = str(command[0]) if command else "helm"
            timeout = None
            if "--timeout" in command:
                timeout = str(command[command.index("--timeout") + 1])
            raise HelmError(summarize_error(err, verb, timeout), err, proc.returncode or 1)
        return stdout

    async def major_version(self) -> int:
        async with self._version_lock:  # the workers all ask at start: one `helm version`
            return await self._probe_major()

    async def _probe_major(self) -> int:
        if self._major is None:
            out = (await self.run(["version", "--template", "{{ .Version }}"])).decode().strip()
            self._major = int(out.lstrip("v").split(".")[0])
        return self._major

    # -- actions ------------------------------------------------------------------------------
    def _wait_args(self, major: int, wait: bool) -> list[str]:
        if not wait:
            return []
        return ["--wait=watcher", "--wait-for-jobs"] if major >= 4 else ["--wait", "--wait-for-jobs"]

    async def upgrade(self, o: UpgradeOptions) -> dict[str, Any]:
        major = await self.major_version()
        cmd: list[Any] = [
            "upgrade",
            o.release,
            str(o.chart),
            "--namespace",
            o.namespace,
            "--history-max",
            o.history_max,
            "--timeout",
            o.timeout,
            "--values",
            "-",
            "--output",
            "json",
        ]
        if o.install:
            cmd.append("--install")
        if o.create_namespace:
            cmd.append("--create-namespace")
        if o.skip_crds:
            cmd.append("--skip-crds")
        if o.force:
            cmd.append("--force-replace" if major >= 4 else "--force")
        if o.cleanup_on_fail:
            cmd.append("--cleanup-on-fail")
        if o.description:
            cmd += ["--description", o.description]
        if o.labels:
            cmd += ["--labels", ",".join(f"{k}={v}" for k, v in sorted(o.labels.items()))]
        cmd += self._wait_args(major, o.wait)
        out = await self.run(cmd, json.dumps(o.values).encode())
        start = out.find(b"{")  # helm >= 4.2.1 may print OCI "Pulled:"/"Digest:" lines first
        return json.loads(out[start:]) if start >= 0 else {}

    async def rollback_to(
        self,
        release: str,
        namespace: str,
        revision: int,
        history_max: int,
        timeout: str,
        wait: bool = True,
        force: bool = False,
        cleanup_on_fail: bool = False,
    ) -> None:
        major = await self.major_version()
        cmd: list[Any] = [
            "rollback",
            release,
            revision,
            "--namespace",
            namespace,
            "--history-max",
            history_max,
            "--timeout",
            timeout,
        ]
        if force:
            cmd.append("--force-replace" if major >= 4 else "--force")
        if cleanup_on_fail:
            cmd.append("--cleanup-on-fail")
        cmd += self._wait_args(major, wait)
        await self.run(cmd)

    async def test(self, release: str, namespace: str, timeout: str) -> str:
        return (await self.run(["test", release, "--namespace", namespace, "--timeout", timeout])).decode()

    def add_secrets(self, values: Iterable[str]) -> None:
        self.secrets.update(v for v in values if len(v) >= 4)


def argv_preview(argv: Sequence[str]) -> str:
    """A loggable form of a helm command line (values are on stdin, never here)."""
    return " ".join(argv)
