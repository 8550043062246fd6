"""GitSync objects in the controller process: informer -> work queue -> workers -> GitSyncReconciler.

The same machinery as HelmReleases (kube/informer.py, kube/workqueue.py, kube/workers.py), one
instance per kind: a spec, annotation or label change of a GitSync queues it (never our status
writes), its sync's result schedules the next one (`interval`), an API outage parks it with the
HelmReleases (kube/apihealth.py), and the push webhook (gitsync/webhook.py) queues it at once with
a fetch of the repository.

Served only when the GitSync CRD is installed (checked at start: without it the controller serves
HelmReleases alone and says so once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from ..kube.client import CRDS, ApiError, KubeClient
from ..kube.events import EventRecorder
from ..kube.informer import Informer, compact
from ..kube.triggers import Triggers, needs_reconcile, trigger_fields
from ..kube.workers import work
from ..kube.workqueue import WorkQueue
from ..metrics import Metrics
from ..notify import Dispatcher
from ..sources.git import GitSource
from . import handoff, webhook
from .apply import GITSYNCS
from .sync import GitSyncReconciler

log = logging.getLogger(__name__)

GITSYNC_CRD = "gitsyncs.helmrelease.dev"
Key = tuple[str, str]


class GitSyncRuntime:
    def __init__(
        self,
        client: KubeClient,
        events: EventRecorder,
        git: GitSource,
        metrics: Metrics,
        *,
        namespace: str | None = None,
        concurrent: int = 2,
        allow_cross_namespace: bool = False,
        resync_period: float | None = 600.0,
        work_dir: Path | None = None,
        parked: Callable[[tuple[WorkQueue[Key], Key], Exception], bool] = lambda _k, _e: False,
        notifier: Dispatcher | None = None,
        default_service_account: str | None = None,
        label_selector: str | None = None,  # the replica's shard (kube/sharding.py)
    ) -> None:
        self.client, self.metrics, self.concurrent, self.parked = client, metrics, concurrent, parked
        self.informer = Informer(
            client,
            GITSYNCS,
            namespace=namespace,
            label_selector=label_selector,
            resync_period=resync_period,
            transform=compact,
        )
        self.queue: WorkQueue[Key] = WorkQueue(name="gitsyncs")
        self.reconciler = GitSyncReconciler(
            client,
            events,
            git,
            work_dir=work_dir,
            allow_cross_namespace=allow_cross_namespace,
            notifier=notifier,
            default_service_account=default_service_account,
        )
        self.informer.add_handler(self._on_event)
        self.handoff = handoff.Handoff(client)  # pushes for GitSyncs served elsewhere
        self._seen: dict[Key, Triggers] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.enabled = False

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> bool:
        """Start serving GitSyncs if their CRD is installed; False (and one log line) if not."""
        try:
            await self.client.get(CRDS, None, GITSYNC_CRD)
        except ApiError as e:
            if e.status != 404:  # unsure (the API is away): serve them; the informer retries
                log.warning("could not check the GitSync CRD (%s); serving GitSyncs", e.status)
                return await self._serve()
            log.warning(
                "the GitSync CRD (%s) is not installed: GitSyncs are not served "
                "(install it with `kubectl apply -k crds/`, then restart)",
                GITSYNC_CRD,
            )
            return False
        return await self._serve()

    async def _serve(self) -> bool:
        self.enabled = True
        self._tasks.append(asyncio.create_task(self.informer.run(), name="informer-gitsyncs"))
        self._tasks += [
            asyncio.create_task(
                work(self.queue, self._sync, lambda key, e: self.parked((self.queue, key), e), "sync"),
                name=f"gitsync-{i}",
            )
            for i in range(self.concurrent)
        ]
        return True

    async def stop(self, grace: float) -> None:
        self.queue.shutdown(immediate=True)
        workers = [t for t in self._tasks if t.get_name().startswith("gitsync-")]
        if workers:
            _done, pending = await asyncio.wait(workers, timeout=grace)
            for t in pending:
                t.cancel()
        self.informer.stop()
        for t in self._tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        await self.handoff.close()

    def nudge(self) -> None:
        self.informer.nudge()

    # -- events -> queue ----------------------------------------------------------------------------
    def _on_event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if kind == "delete":
            self._seen.pop(key, None)
            self.reconciler.reports.pop(key, None)
            return
        trig = trigger_fields(obj)
        if kind in ("add", "resync") or needs_reconcile(self._seen.get(key), trig):
            self.queue.add(key)
        self._seen[key] = trig

    async def _sync(self, key: Key) -> float | None:
        t0 = time.monotonic()
        try:
            after = await self.reconciler.reconcile(*key)
        except Exception:
            self.metrics.gitsync_synced("error", time.monotonic() - t0, 0, 0)
            raise
        outcome, applied, pruned = self.reconciler.reports.pop(key, ("succeeded", 0, 0))
        self.metrics.gitsync_synced(outcome, time.monotonic() - t0, applied, pruned)
        return after

    # -- the push webhook -----------------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        webhook.add_routes(app, self._webhook_token, self._webhook_push)

    def _serves(self, ns: str, name: str) -> bool:
        return self.enabled and self.informer.get(ns, name) is not None

    async def _webhook_token(self, ns: str, name: str) -> bytes | None:
        obj = self.informer.get(ns, name) if self.enabled else None
        if obj is None:  # another shard's GitSync, or this replica is a standby (gitsync/handoff.py)
            return await handoff.foreign_token(self.client, ns, name)
        return await handoff.webhook_token(self.client, obj)

    def _webhook_push(self, ns: str, name: str) -> None:
        if not self._serves(ns, name):
            self.handoff.push(ns, name)  # through the API, to the replica serving it
            return
        self.reconciler.request_refresh(ns, name)
        self.queue.add((ns, name))


__all__ = ["GITSYNC_CRD", "GitSyncRuntime"]
