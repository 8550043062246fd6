"""A stand-in for `helm.runner.Helm` that keeps Helm's release storage as helm does, in a real API server.

For direct tests of the reconcile pipeline (tests/unit/reconcile/test_pipeline.py): the
reconciler observes a release only through Helm's storage (release Secrets
`sh.helm.release.v1.<name>.v<N>`, listed by label), so this fake writes exactly those Secrets
through the `KubeClient` it is given: labels `owner=helm`, `name`, `status`, `version` plus
the upgrade's `--labels`, `data.release` the double-base64 gzip JSON helm stores. An upgrade
supersedes the deployed revision, a failed one leaves a `failed` revision beside it (the
deployed one stays deployed), a rollback copies the target revision's labels into a new
deployed revision, an uninstall deletes the release's Secrets (or marks the last one
uninstalled with keepHistory), and `--history-max` prunes the oldest revisions.

Failures are scripted per command as helm's stderr (`fail("upgrade", "Error: UPGRADE FAILED:
...")`), one each call, in order, and raised as the real runner raises them: a `HelmError`
whose summary is the redacted one line (`summarize_error`, the `add_secrets` strings hidden).
Every call is recorded in `calls` (command, release and the options that matter), so a test
asserts which helm processes would have run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from helmrelease_controller.helm.runner import Helm, HelmError, UpgradeOptions, summarize_error
from helmrelease_controller.kube.client import SECRETS, KubeClient, NotFound
from helmrelease_controller.reconcile.helmstorage import encode_release


@dataclass(frozen=True)
class Call:
    """One helm command the reconciler ran: `upgrade`, `rollback`, `uninstall` or `test`."""

    command: str
    release: str
    namespace: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    stderr: str
    leaves_revision: bool  # helm got as far as storing the new revision (then marked it failed)


def secret_name(release: str, version: int) -> str:
    return f"sh.helm.release.v1.{release}.v{version}"


class FakeHelm(Helm):
    """`Helm`'s interface (upgrade, rollback_to, uninstall, test, add_secrets) over real storage.

    A subclass, so mypy checks every override against the real signature; `run` (a helm
    process) fails the test, so nothing the fake does not cover reaches a real helm."""

    def __init__(self, client: KubeClient) -> None:
        super().__init__(executable="fake-helm")
        self.client = client
        self.calls: list[Call] = []
        self._failures: dict[str, list[Failure]] = {}

    async def run(self, command: list[Any], input: bytes | None = None, action: str = "") -> bytes:
        raise AssertionError(f"FakeHelm does not run helm processes: {command[:2]}")

    # -- scripting --------------------------------------------------------------------------------
    def fail(self, command: str, stderr: str, *, leaves_revision: bool = True, times: int = 1) -> None:
        """The next `times` runs of `command` fail, helm printing `stderr`; an upgrade that fails
        `leaves_revision` (a `failed` one, as a --wait timeout does) unless told otherwise."""
        self._failures.setdefault(command, []).extend([Failure(stderr, leaves_revision)] * times)

    def commands(self, command: str | None = None) -> list[Call]:
        return [c for c in self.calls if command is None or c.command == command]

    async def store(
        self, release: str, namespace: str, version: int, status: str, labels: dict[str, str] | None = None
    ) -> None:
        """Write one revision directly, as a helm process that was killed (or another tool) left it."""
        await self._write(release, namespace, version, status, labels or {})

    async def revisions(self, release: str, namespace: str) -> dict[int, str]:
        """{version: status} of the release as helm's storage holds it."""
        return {
            v: s["metadata"]["labels"]["status"] for v, s in (await self._stored(release, namespace)).items()
        }

    # -- Helm's interface -------------------------------------------------------------------------
    async def major_version(self) -> int:
        return 4

    async def upgrade(self, o: UpgradeOptions) -> dict[str, Any]:
        opts = {
            "action": o.action,
            "force": o.force,
            "history_max": o.history_max,
            "labels": dict(o.labels),
            "values": o.values,
            "install": o.install,
        }
        self.calls.append(Call("upgrade", o.release, o.namespace, opts))
        stored = await self._stored(o.release, o.namespace)
        version = max(stored, default=0) + 1
        failure = self._next_failure("upgrade")
        if failure is not None:
            if failure.leaves_revision:
                await self._write(o.release, o.namespace, version, "failed", o.labels)
                await self._prune(o.release, o.namespace, o.history_max)
            raise self._error(failure, o.action, o.timeout)
        await self._supersede(stored)
        await self._write(o.release, o.namespace, version, "deployed", o.labels)
        await self._prune(o.release, o.namespace, o.history_max)
        return {
            "name": o.release,
            "namespace": o.namespace,
            "version": version,
            "info": {"status": "deployed"},
        }

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
        self.calls.append(Call("rollback", release, namespace, {"revision": revision, "force": force}))
        failure = self._next_failure("rollback")
        if failure is not None:
            raise self._error(failure, "rollback", timeout)
        stored = await self._stored(release, namespace)
        if revision not in stored:
            raise self._error(Failure(f"Error: release: revision {revision} not found", False), "rollback")
        labels = {
            k: v
            for k, v in (stored[revision]["metadata"].get("labels") or {}).items()
            if k not in ("owner", "name", "status", "version")
        }
        await self._supersede(stored)
        await self._write(release, namespace, max(stored) + 1, "deployed", labels)
        await self._prune(release, namespace, history_max)

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
        ns = namespace or "default"
        self.calls.append(Call("uninstall", release_name, ns, {"keep_history": keep_history}))
        failure = self._next_failure("uninstall")
        if failure is not None:
            raise self._error(failure, "uninstall", timeout)
        stored = await self._stored(release_name, ns)
        if not stored or stored[max(stored)]["metadata"]["labels"]["status"] == "uninstalled":
            missing = f"Error: uninstall: Release not loaded: {release_name}: release: not found"
            raise self._error(Failure(missing, False), "uninstall")
        if keep_history:
            latest = stored[max(stored)]
            await self._relabel(latest, "uninstalled")
            return
        for secret in stored.values():
            await self.client.delete(SECRETS, ns, secret["metadata"]["name"])

    async def test(
        self, release: str, namespace: str, timeout: str, filters: Sequence[tuple[str, bool]] = ()
    ) -> str:
        self.calls.append(Call("test", release, namespace))
        failure = self._next_failure("test")
        if failure is not None:
            raise self._error(failure, "test", timeout)
        return f"NAME: {release}\nPhase: Succeeded\n"

    # -- storage, as helm keeps it ----------------------------------------------------------------
    def _next_failure(self, command: str) -> Failure | None:
        queued = self._failures.get(command)
        return queued.pop(0) if queued else None

    def _error(self, failure: Failure, verb: str, timeout: str | None = None) -> HelmError:
        """What `Helm.run` raises for a failed helm process: stderr redacted, then summarised."""
        stderr = self._redact(failure.stderr)
        return HelmError(summarize_error(stderr, verb, timeout), stderr)

    async def _stored(self, release: str, namespace: str) -> dict[int, dict[str, Any]]:
        items, _ = await self.client.list(SECRETS, namespace, label_selector=f"owner=helm,name={release}")
        return {int(s["metadata"]["labels"]["version"]): s for s in items}

    async def _write(
        self, release: str, namespace: str, version: int, status: str, labels: dict[str, str]
    ) -> None:
        body = {
            "name": release,
            "namespace": namespace,
            "version": version,
            "info": {"status": status, "last_deployed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "labels": dict(labels),
        }
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "helm.sh/release.v1",
            "metadata": {
                "name": secret_name(release, version),
                "namespace": namespace,
                "labels": {
                    **labels,
                    "owner": "helm",
                    "name": release,
                    "status": status,
                    "version": str(version),
                },
            },
            "data": {"release": encode_release(body)},
        }
        await self.client.create(SECRETS, namespace, secret)

    async def _relabel(self, secret: dict[str, Any], status: str) -> None:
        meta = secret["metadata"]
        await self.client.patch(
            SECRETS, meta["namespace"], meta["name"], {"metadata": {"labels": {"status": status}}}
        )

    async def _supersede(self, stored: dict[int, dict[str, Any]]) -> None:
        for secret in stored.values():
            if secret["metadata"]["labels"]["status"] == "deployed":
                await self._relabel(secret, "superseded")

    async def _prune(self, release: str, namespace: str, history_max: int) -> None:
        if history_max <= 0:
            return
        stored = await self._stored(release, namespace)
        for version in sorted(stored)[: max(0, len(stored) - history_max)]:
            try:
                await self.client.delete(SECRETS, namespace, stored[version]["metadata"]["name"])
            except NotFound:
                pass


__all__ = ["Call", "FakeHelm", "secret_name"]
