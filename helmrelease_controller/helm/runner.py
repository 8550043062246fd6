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

from ..reconcile.status import one_line
from ..redact import redact


class HelmError(Exception):
    """A helm process failed. `summary` is one redacted line, fit for status and events."""

    def __init__(self, summary: str, stderr: str = "", returncode: int = 1) -> None:
        super().__init__(summary)
        self.summary, self.stderr, self.returncode = summary, stderr, returncode


_ERROR_LINE = re.compile(r"^Error: ", re.MULTILINE)
# helm 3's --debug log lines ("ready.go:303: 2026-01-02 03:04:05.06 +0000 UTC m=+0.1 [debug] ...")
_DEBUG_LINE = re.compile(r"^[\w.-]+\.go:\d+: ")
SUMMARY_LIMIT = 1024  # events carry this much; conditions shorten it further (reconcile.status.one_line)


def error_text(stderr: str) -> str:
    """helm's error as one line: its last `Error:` line and the lines continuing it.

    Schema violations, `--wait` timeouts (helm 4) and others put the details on the lines after
    `Error:`; helm 3's `--debug` log and Go stack trace that may follow are left out.
    """
    starts = [m.start() for m in _ERROR_LINE.finditer(stderr)]
    if not starts:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not _DEBUG_LINE.match(ln)]
        return lines[-1] if lines else "helm failed"
    parts: list[str] = []
    bullets = False
    for raw in stderr[starts[-1] + len("Error: ") :].splitlines():
        if _DEBUG_LINE.match(raw):  # helm 3 --debug: its log, then a Go stack trace
            break
        ln = raw.strip()
        if not ln:
            continue
        if ln.startswith("- ") and parts:
            parts.append(("; " if bullets else " ") + ln[2:].strip())
            bullets = True
        else:
            parts.append((" " if parts else "") + ln)
            bullets = False
    return "".join(parts) or "helm failed"


def summarize_error(stderr: str, action: str, timeout: str | None = None) -> str:
    """One line out of helm's stderr, with the vaguest messages explained."""
    msg = error_text(stderr)
    msg = re.sub(r"^(INSTALLATION|UPGRADE|ROLLBACK|UNINSTALL(ATION)?) FAILED: ", "", msg)
    if "context deadline exceeded" in msg or "timed out waiting for the condition" in msg:
        within = f" within {timeout}" if timeout else ""
        detail = not_ready_detail(stderr)
        if detail:
            msg = msg.replace(detail, "").strip(" .:;") or msg
        msg = f"resources not ready{within}" + (f": {detail}" if detail else "") + f" ({msg})"
    if "another operation (install/upgrade/rollback) is in progress" in msg:
        msg = "release locked by another operation (pending-*); it will be unlocked"
    return one_line(f"{action} failed: {msg}", SUMMARY_LIMIT)


# helm 4: "resource Deployment/apps/web not ready. status: InProgress, message: Available: 0/1";
# helm 3 (with --debug): "Deployment is not ready: apps/web. 0 out of 1 expected pods are ready".
_NOT_READY = re.compile(
    r"(resource \S+ not ready[^\n]*|\b[A-Z]\w+ (?:is not ready|is not bound|does not have)[^\n]*)"
)


def not_ready_detail(stderr: str) -> str:
    """The resource helm was still waiting for when its --wait timed out ("" when helm did not say)."""
    found = _NOT_READY.findall(stderr)
    return one_line(found[-1].strip().rstrip("."), 200) if found else ""


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
    action: str = "upgrade"  # what a failure is called: "install" for a release's first install


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
    async def run(self, command: list[Any], input: bytes | None = None, action: str = "") -> bytes:
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
            verb = action or (str(command[0]) if command else "helm")
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
        if major >= 4:
            return ["--wait=watcher", "--wait-for-jobs"]
        # helm 3 names the resource it still waits for only in its --debug log (on stderr; stdout
        # stays the JSON we read): `summarize_error` picks it out when the wait times out.
        return ["--wait", "--wait-for-jobs", "--debug"]

    @staticmethod
    def _force_args(major: int, force: bool) -> list[str]:
        """helm 3: `--force` (each changed object is replaced, a PUT, instead of patched). helm 4:
        `--force-replace` (the same), which helm 4 refuses with server-side apply, its default for
        a release it installed: so a forced upgrade or rollback applies client-side
        (`--server-side=false`), as helm 3 always does. docs/helm-versions.md has the details."""
        if not force:
            return []
        return ["--force-replace", "--server-side=false"] if major >= 4 else ["--force"]

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
        cmd += self._force_args(major, o.force)
        if o.cleanup_on_fail:
            cmd.append("--cleanup-on-fail")
        if o.description:
            cmd += ["--description", o.description]
        if o.labels:
            cmd += ["--labels", ",".join(f"{k}={v}" for k, v in sorted(o.labels.items()))]
        cmd += self._wait_args(major, o.wait)
        out = await self.run(cmd, json.dumps(o.values).encode(), action=o.action)
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
        cmd += self._force_args(major, force)
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
