"""Carrying out one decision: the helm process (or storage write) behind each action.

One method per action, each returning an `Outcome`. Install and upgrade are both
`helm upgrade --install` (it also retries a failed first install without an
uninstall, DESIGN rule 1); rollback targets the revision the decision chose (rule
3); unlock rewrites the stuck release Secret as failed with optimistic concurrency
(rule 2). Every call passes `--history-max` (rule 4) and values only on stdin.

Failure messages name what the user asked for: a first install that fails says "install
failed" (helm's own words are "UPGRADE FAILED"), with a hint at `install.createNamespace` when
the target namespace is missing. A rollback's outcome carries the revision it created.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .helm.runner import Helm, HelmError, UpgradeOptions
from .helm.storage import (
    DIGEST_LABEL,
    OWNER_NAME_LABEL,
    OWNER_NAMESPACE_LABEL,
    label_digest,
    observe,
    unlocked,
)
from .kube.client import SECRETS, KubeClient
from .kube.client import ApiError as KubeApiError
from .reconcile.status import one_line


@dataclass
class Outcome:
    ok: bool
    message: str  # one redacted line
    revision: int = 0  # the release revision the action produced, when known
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseTarget:
    """Where and what to release, resolved from the spec."""

    owner_namespace: str
    owner_name: str
    release: str
    namespace: str  # target namespace
    storage_namespace: str
    chart_path: Path
    values: dict[str, Any]
    config_digest: str
    history_max: int
    timeout: str


_MISSING_NAMESPACE = re.compile(r'namespaces "([^"]+)" not found')


def install_hint(message: str, create_namespace: bool) -> str:
    """`message` with a hint when the failure is a missing target namespace the spec could create."""
    m = _MISSING_NAMESPACE.search(message)
    if m is None or create_namespace:
        return message
    return f"{message} (set spec.install.createNamespace: true to create namespace {m.group(1)})"


class Executor:
    def __init__(self, helm: Helm, client: KubeClient) -> None:
        self.helm, self.client = helm, client

    async def upgrade(self, t: ReleaseTarget, spec: Any, installing: bool, force: bool) -> Outcome:
        opts = spec.install if installing else spec.upgrade
        crds = getattr(opts, "crds", None) or ("Create" if installing else "Skip")
        o = UpgradeOptions(
            release=t.release,
            namespace=t.namespace,
            chart=t.chart_path,
            values=t.values,
            history_max=t.history_max,
            timeout=t.timeout,
            labels={
                DIGEST_LABEL: label_digest(t.config_digest),
                OWNER_NAME_LABEL: t.owner_name,
                OWNER_NAMESPACE_LABEL: t.owner_namespace,
            },
            create_namespace=bool(getattr(spec.install, "create_namespace", False)),
            wait=not bool(getattr(opts, "disable_wait", False)),
            skip_crds=str(crds) == "Skip",
            force=force or (bool(getattr(spec.upgrade, "force", False)) and not installing),
            cleanup_on_fail=bool(getattr(spec.upgrade, "cleanup_on_fail", False)) and not installing,
            description=f"{'install' if installing else 'upgrade'} by helmrelease-controller",
            action="install" if installing else "upgrade",
        )
        start = time.monotonic()
        try:
            out = await self.helm.upgrade(o)
        except HelmError as e:
            msg = install_hint(e.summary, o.create_namespace) if installing else e.summary
            return Outcome(False, msg, duration=time.monotonic() - start)
        return Outcome(
            True,
            "",
            revision=int(out.get("version") or 0),
            duration=time.monotonic() - start,
            extra={"chart": (out.get("chart") or {}).get("metadata") or {}},
        )

    async def rollback(self, t: ReleaseTarget, spec: Any, revision: int) -> Outcome:
        rb = spec.rollback
        start = time.monotonic()
        try:
            await self.helm.rollback_to(
                t.release,
                t.namespace,
                revision,
                t.history_max,
                getattr(rb, "timeout", None) or t.timeout,
                wait=not bool(getattr(rb, "disable_wait", False)),
                force=bool(getattr(rb, "force", False)),
                cleanup_on_fail=bool(getattr(rb, "cleanup_on_fail", False)),
            )
        except HelmError as e:
            return Outcome(False, e.summary, duration=time.monotonic() - start)
        made = await self._latest_revision(t.storage_namespace, t.release)
        return Outcome(
            True,
            f"rolled back to revision {revision}" + (f" (as revision {made})" if made else ""),
            revision=made,
            duration=time.monotonic() - start,
        )

    async def _latest_revision(self, storage_namespace: str, release: str) -> int:
        """The newest revision in helm's storage (the one a rollback just made); 0 if unreadable."""
        try:
            items, _ = await self.client.list(
                SECRETS, storage_namespace, label_selector=f"owner=helm,name={release}", metadata_only=True
            )
        except (KubeApiError, OSError, TimeoutError):
            return 0
        latest = observe(items).latest
        return latest.version if latest else 0

    async def uninstall(self, release: str, namespace: str, spec: Any, timeout: str) -> Outcome:
        un = getattr(spec, "uninstall", None)
        start = time.monotonic()
        try:
            await self.helm.uninstall(
                release,
                namespace=namespace,
                keep_history=bool(getattr(un, "keep_history", False)),
                no_hooks=bool(getattr(un, "disable_hooks", False)),
                timeout=getattr(un, "timeout", None) or timeout,
                wait=True,
            )
        except HelmError as e:
            if "not found" in e.summary:
                return Outcome(True, "release already gone", duration=time.monotonic() - start)
            return Outcome(False, e.summary, duration=time.monotonic() - start)
        return Outcome(True, "uninstalled", duration=time.monotonic() - start)

    async def test(self, t: ReleaseTarget) -> Outcome:
        start = time.monotonic()
        try:
            await self.helm.test(t.release, t.namespace, t.timeout)
        except HelmError as e:
            return Outcome(
                False, e.summary.replace("test failed", "tests failed", 1), duration=time.monotonic() - start
            )
        return Outcome(True, "tests passed", duration=time.monotonic() - start)

    async def unlock(self, storage_namespace: str, secret_name: str, version: int) -> Outcome:
        try:
            secret = await self.client.get(SECRETS, storage_namespace, secret_name)
            labels = (secret.get("metadata") or {}).get("labels") or {}
            if labels.get("status") not in ("pending-install", "pending-upgrade", "pending-rollback"):
                return Outcome(True, f"revision {version} no longer pending")
            new = unlocked(
                secret, f"Release unlocked by helmrelease-controller from stale {labels.get('status')}"
            )
            await self.client.replace(SECRETS, storage_namespace, secret_name, new)
        except KubeApiError as e:
            return Outcome(False, one_line(f"unlock of revision {version} failed: {e.reason}: {e.message}"))
        return Outcome(True, f"revision {version} unlocked (marked failed)", revision=version)
