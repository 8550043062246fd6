"""The Helm CLI runner: the helm release actions (upgrade --install, rollback, uninstall, test).

Each is one helm process through `procs.run` (exec, no shell, its own process group; values only
on stdin), with per-call `--history-max`, `--labels` on the release Secret, helm 3 / helm 4 flag
names (from the one shared `helm version` probe), wait strategies, Flux's per-action options
(hooks, Jobs, validation, ownership, values reuse, cascade, test filters: docs/helm-versions.md;
what helm 3 or 4 cannot do is `unsupported_by`, refused before any run), and errors summarised to one
redacted line (`HelmError.summary`) with helm's stderr kept. Helm's storage is read elsewhere
(helm/storage.py), never through helm.

`limit(n)` caps the helm processes of a runner and every copy made from it (`impersonating`,
`with_kubeconfig`) at n at once: the controller's `--concurrent`. A call waits for a free slot
before its process starts, so reconciles beyond n do their API round trips while helm runs;
`slot_wait()` tells the calling task how long it waited (an action's duration leaves it out);
`cancel_waiting()` (shutting down) cancels the tasks still waiting, so no helm starts after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import procs
from ..postrender import PostRender
from ..reconcile.status import one_line
from ..redact import redact
from . import postrender

_slot_wait: contextvars.ContextVar[float] = contextvars.ContextVar("helm_slot_wait", default=0.0)


def slot_wait() -> float:
    """Seconds the calling task has waited so far for a free helm slot (`Helm.limit`)."""
    return _slot_wait.get()


class HelmError(Exception):
    """A helm process failed. `summary` is one redacted line, fit for status and events."""

    def __init__(self, summary: str, stderr: str = "", returncode: int = 1) -> None:
        super().__init__(summary)
        self.summary, self.stderr, self.returncode = summary, stderr, returncode


RECREATE_NEEDS_HELM3 = (
    "spec.rollback.recreate: helm 4 has no --recreate-pods (helm 3 deprecated it, helm 4 removed it); "
    "remove it, or run the controller with helm 3"
)
_POLLER_NEEDS_HELM4 = (
    "spec.waitStrategy.name: poller needs helm 4 (helm 3 has one wait, which is legacy); "
    "use legacy, or run the controller with helm 4"
)


def unsupported_by(major: int, *, recreate: bool, wait_strategy: str) -> list[str]:
    """What a spec asks that helm `major` cannot do, one line each (refused, never dropped). Pure."""
    problems = []
    if recreate and major >= 4:
        problems.append(RECREATE_NEEDS_HELM3)
    if wait_strategy == "poller" and major < 4:
        problems.append(_POLLER_NEEDS_HELM4)
    return problems


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
    force_conflicts: bool = False  # helm 4: server-side apply takes over fields others own
    cleanup_on_fail: bool = False
    description: str = ""
    action: str = "upgrade"  # what a failure is called: "install" for a release's first install
    wait_for_jobs: bool = True  # with wait: Jobs must complete too
    wait_strategy: str = ""  # spec.waitStrategy.name: "" (poller on helm 4, legacy on helm 3), poller, legacy
    no_hooks: bool = False
    disable_openapi_validation: bool = False
    skip_schema_validation: bool = False
    take_ownership: bool = False
    # helm reuses the last release's values when it is given none ({} on stdin), unless told
    # --reset-values: so the spec's values are the release's values only with --reset-values.
    reuse_values: bool = False  # upgrade.preserveValues: --reuse-values instead
    post_render: PostRender | None = None  # postRenderers + commonMetadata (helm/postrender.py)


def own_cluster_env(name: str) -> bool:
    """Is `name` an environment variable that points helm at the controller's own cluster? Pure."""
    return name == "KUBECONFIG" or name.startswith(("HELM_KUBE", "KUBERNETES_SERVICE_"))


class UnsupportedByHelm(HelmError):
    """The spec asks for something the running helm cannot do (e.g. --recreate-pods on helm 4)."""


class Helm:
    """Runs helm the way the controller needs it (see the module docstring)."""

    def __init__(
        self,
        executable: str = "helm",
        kubeconfig: str | None = None,
        env: dict[str, str] | None = None,
        default_timeout: str = "5m",
    ) -> None:
        self.executable, self.kubeconfig, self.default_timeout = executable, kubeconfig, default_timeout
        self.env = {**os.environ, **(env or {})}
        self.secrets: set[str] = set()  # strings that must never leave in an error message
        self.as_user: str | None = None  # impersonated by every command (helm --kube-as-user)
        self.slots: asyncio.Semaphore | None = None  # limit(): helm processes at once, shared by copies
        self.waiting: set[asyncio.Task[Any]] = set()  # tasks waiting for a slot, shared by copies

    def limit(self, n: int) -> None:
        """At most `n` helm processes of this runner and of the copies made from it from now on."""
        self.slots, self.waiting = asyncio.Semaphore(n), set()

    def cancel_waiting(self) -> int:
        """Cancel every task still waiting for a helm slot (shutting down: no helm process starts
        after this; those running finish). How many were cancelled."""
        waiting, self.waiting = self.waiting, set()
        for task in waiting:
            task.cancel()
        return len(waiting)

    def impersonating(self, user: str | None) -> Helm:
        """This runner with helm acting as `user` (Kubernetes impersonation: the API server checks
        that the controller may impersonate it, then authorizes every request as `user`); itself
        when `user` is None. Shares the secrets to redact and the environment."""
        if user is None or user == self.as_user:
            return self
        other = copy.copy(self)
        other.as_user = user
        return other

    def with_kubeconfig(self, path: str) -> Helm:
        """This runner against another cluster (spec.kubeConfig): helm gets `--kubeconfig path` and
        none of the controller's own cluster settings (KUBECONFIG, HELM_KUBE*, the in-cluster
        service variables), so it can never fall back to the controller's identity. Shares the
        secrets to redact; `impersonating` still applies (in that cluster)."""
        other = copy.copy(self)
        other.kubeconfig = path
        other.env = {k: v for k, v in self.env.items() if not own_cluster_env(k)}
        return other

    @property
    def processes_started(self) -> int:
        """helm processes started by this controller process (any helm command; procs.counts)."""
        return procs.counts("helm").started

    @property
    def running(self) -> int:
        return procs.counts("helm").running

    # -- process ----------------------------------------------------------------------------
    async def run(self, command: list[Any], input: bytes | None = None, action: str = "") -> bytes:
        """helm's stdout; HelmError (one redacted line, helm's stderr kept) when it fails."""
        argv = [self.executable, *(str(c) for c in command)]
        if self.kubeconfig:
            argv += ["--kubeconfig", self.kubeconfig]
        if self.as_user:
            argv += ["--kube-as-user", self.as_user]
        verb = action or (str(command[0]) if command else "helm")
        try:
            # Cancelled (shutdown past its grace period): helm gets SIGTERM and 10 s to stop; a
            # release left pending is unlocked by the next reconcile (DESIGN rule 2).
            async with self._slot():
                done = await procs.run(
                    argv, stdin=input, env=self.env, redact=self._redact, grace=10.0, tool="helm"
                )
        except procs.ProcessError as exc:
            raise HelmError(one_line(f"{verb} failed: {exc.summary}", SUMMARY_LIMIT), exc.stderr) from None
        if done.rc != 0:
            timeout = str(command[command.index("--timeout") + 1]) if "--timeout" in command else None
            raise HelmError(summarize_error(done.stderr, verb, timeout), done.stderr, done.rc)
        return done.stdout

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """A free helm slot for one process (no limit: at once); the wait is added to slot_wait()."""
        if self.slots is None:
            yield
            return
        t0, task = time.monotonic(), asyncio.current_task()
        if task is not None:
            self.waiting.add(task)
        try:
            await self.slots.acquire()
        finally:
            self.waiting.discard(task)
        try:
            _slot_wait.set(_slot_wait.get() + time.monotonic() - t0)
            yield
        finally:
            self.slots.release()

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets)

    async def major_version(self) -> int:
        """3 or 4: one `helm version` for the whole process (procs.helm_version)."""
        try:
            return await procs.helm_major(self.executable)
        except procs.ProcessError as exc:
            raise HelmError(one_line(exc.summary, SUMMARY_LIMIT), exc.stderr, exc.rc or 1) from None
        except ValueError:
            raise HelmError("`helm version` printed no version") from None

    # -- actions ------------------------------------------------------------------------------
    @staticmethod
    def _wait_args(major: int, wait: bool, jobs: bool = True, strategy: str = "") -> list[str]:
        """helm 4: `--wait=watcher` (spec.waitStrategy poller, the default) or `--wait=legacy`;
        helm 3 has only its own wait (`--wait`, which is legacy). Not waiting: no flag (helm 4's
        default, hookOnly: only hooks are waited for)."""
        if not wait:
            return []
        if major >= 4:
            return [f"--wait={'legacy' if strategy == 'legacy' else 'watcher'}"] + (
                ["--wait-for-jobs"] if jobs else []
            )
        if strategy == "poller":
            raise UnsupportedByHelm(_POLLER_NEEDS_HELM4)
        # helm 3 names the resource it still waits for only in its --debug log (on stderr; stdout
        # stays the JSON we read): `summarize_error` picks it out when the wait times out.
        return ["--wait"] + (["--wait-for-jobs"] if jobs else []) + ["--debug"]

    @staticmethod
    def _validation_args(o: UpgradeOptions) -> list[str]:
        """The install/upgrade switches Flux names disable*/preserveValues (docs/flux-compatibility.md)."""
        flags = {
            "--no-hooks": o.no_hooks,
            "--disable-openapi-validation": o.disable_openapi_validation,
            "--skip-schema-validation": o.skip_schema_validation,
            "--take-ownership": o.take_ownership,
        }
        values = "--reuse-values" if o.reuse_values else "--reset-values"
        return [flag for flag, on in flags.items() if on] + [values]

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
        if o.force_conflicts and major >= 4 and not o.force:  # a forced upgrade applies client-side
            cmd.append("--force-conflicts")
        if o.cleanup_on_fail:
            cmd.append("--cleanup-on-fail")
        if o.description:
            cmd += ["--description", o.description]
        if o.labels:
            cmd += ["--labels", ",".join(f"{k}={v}" for k, v in sorted(o.labels.items()))]
        cmd += self._validation_args(o)
        cmd += self._wait_args(major, o.wait, o.wait_for_jobs, o.wait_strategy)
        out = await self._post_rendered(cmd, json.dumps(o.values).encode(), o.action, o.post_render, major)
        start = out.find(b"{")  # helm >= 4.2.1 may print OCI "Pulled:"/"Digest:" lines first
        return json.loads(out[start:]) if start >= 0 else {}

    async def template(
        self,
        release: str,
        namespace: str,
        chart: Path,
        values: dict[str, Any],
        include_crds: bool = False,
        is_upgrade: bool = False,
        kube_version: str = "",
        api_versions: Sequence[str] = (),
        post_render: PostRender | None = None,  # drift detection (issue 15): render with it, as ops diff does
    ) -> str:
        """`helm template`: the manifests an upgrade (or, `is_upgrade` False, an install) of `chart`
        with `values` (on stdin, as upgrade passes them) would apply, hooks included; no cluster
        (`kube_version`, `api_versions`: the cluster's, for .Capabilities; empty: helm's defaults)."""
        cmd: list[Any] = ["template", release, str(chart), "--namespace", namespace, "--values", "-"]
        cmd += ["--include-crds"] if include_crds else []
        cmd += ["--is-upgrade"] if is_upgrade else []
        cmd += ["--kube-version", kube_version] if kube_version else []
        cmd += ["--api-versions", ",".join(api_versions)] if api_versions else []
        major = await self.major_version() if post_render else 0
        out = await self._post_rendered(cmd, json.dumps(values).encode(), "template", post_render, major)
        return out.decode()

    async def _post_rendered(
        self, cmd: list[Any], input: bytes, action: str, pr: PostRender | None, major: int
    ) -> bytes:
        """`run`, through our post-renderer when `pr` asks for one (helm/postrender.py); its
        failure's reason is the program's own line (helm 4 does not pass it on)."""
        if pr is None:
            return await self.run(cmd, input, action=action)
        with postrender.session(pr, major, self.env) as s:
            helm = copy.copy(self)
            helm.env = {**self.env, **s.env}
            try:
                return await helm.run([*cmd, *s.args], input, action=action)
            except HelmError as e:
                if not (why := s.failure()):
                    raise
                line = one_line(f"{action} failed: post-renderer {self._redact(why)}", SUMMARY_LIMIT)
                raise HelmError(line, e.stderr, e.returncode) from None

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
        *,
        wait_for_jobs: bool = True,
        wait_strategy: str = "",
        no_hooks: bool = False,
        recreate: bool = False,
    ) -> None:
        major = await self.major_version()
        if recreate and major >= 4:
            raise UnsupportedByHelm(RECREATE_NEEDS_HELM3)
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
        if no_hooks:
            cmd.append("--no-hooks")
        if recreate:
            cmd.append("--recreate-pods")
        cmd += self._wait_args(major, wait, wait_for_jobs, wait_strategy)
        await self.run(cmd)

    async def uninstall(
        self,
        release_name: str,
        *,
        namespace: str | None = None,
        keep_history: bool = False,
        no_hooks: bool = False,
        timeout: str | None = None,
        wait: bool = False,
        cascade: str = "background",
        wait_strategy: str = "",
    ) -> None:
        cmd: list[Any] = ["uninstall", release_name, "--timeout", timeout or self.default_timeout]
        if namespace:
            cmd += ["--namespace", namespace]
        if keep_history:
            cmd.append("--keep-history")
        if no_hooks:
            cmd.append("--no-hooks")
        if cascade != "background":  # helm's default
            cmd += ["--cascade", cascade]
        if wait:  # until the objects are gone: helm 4's `--wait` alone is watcher; helm 3 has one way
            legacy = wait_strategy == "legacy" and await self.major_version() >= 4
            cmd.append("--wait=legacy" if legacy else "--wait")
        await self.run(cmd)

    async def test(
        self, release: str, namespace: str, timeout: str, filters: Sequence[tuple[str, bool]] = ()
    ) -> str:
        """`helm test`; `filters`: (test name, exclude) pairs, as `--filter name=X` / `!name=X`."""
        cmd = ["test", release, "--namespace", namespace, "--timeout", timeout]
        for name, exclude in filters:
            cmd += ["--filter", f"{'!' if exclude else ''}name={name}"]
        return (await self.run(cmd)).decode()

    def add_secrets(self, values: Iterable[str]) -> None:
        self.secrets.update(v for v in values if len(v) >= 4)


def argv_preview(argv: Sequence[str]) -> str:
    """A loggable form of a helm command line (values are on stdin, never here)."""
    return " ".join(argv)
