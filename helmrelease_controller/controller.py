"""Wiring: informer -> work queue -> N workers -> Reconciler, under optional leader election.

- One informer on HelmReleases (one namespace or all). Its events enqueue keys, except
  status-only changes (our own writes), so a status patch never triggers a reconcile.
- A change to a HelmRelease's readiness enqueues the HelmReleases that depend on it.
- At most `concurrent` helm processes at once (Helm.limit) and twice as many workers
  (RECONCILES_PER_HELM), so a reconcile's API round trips (finalizer, storage look, status writes)
  overlap another's helm instead of leaving a helm slot idle; the queue never hands one key to
  two workers (one reconcile per object at a time); a reconcile's result schedules the next look
  (`interval`, a retry time); an exception requeues with per-key exponential backoff (0.75 s ..
  15 min), unless the API server was unreachable: then the key waits for it and runs the moment
  it answers (kube/apihealth.py). The worker loop is kube/workers.py, shared with GitSyncs.
- GitSyncs (gitsync/runtime.py) are served by the same process when their CRD is installed, with
  the push webhook on the metrics port.
- Graceful shutdown (SIGTERM): stop taking work, cancel the reconciles still waiting for a helm
  slot, let running reconciles (and their helm processes) finish within `shutdown_grace`, then
  cancel what remains.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import logctx
from .api.models import CRD_NAME, HelmRelease, SpecError
from .charts import ChartResolver
from .gitsync.runtime import GitSyncRuntime
from .helm.runner import Helm
from .kube.apihealth import ApiHealth
from .kube.client import CONFIGMAPS, CRDS, HELMRELEASES, SECRETS, KubeClient
from .kube.events import EventRecorder
from .kube.informer import Informer, compact, skeleton
from .kube.leader import LeaderElector
from .kube.sharding import lease_name, selector
from .kube.triggers import Triggers, needs_reconcile, trigger_fields
from .kube.workers import work
from .kube.workqueue import WorkQueue
from .metrics import Metrics, reconcile_result
from .notify import Dispatcher, load_config
from .reconcile.pipeline import Reconciler
from .reconcile.storagecache import StorageCache
from .reconcile.tenancy import Tenancy
from .refindex import RefIndex
from .sources.base import ResolvedChart
from .sources.git import GitSource
from .sources.oci import OCISource
from .sources.repository import RepositorySource
from .sourcewatch import Group, SourceWatch

log = logging.getLogger("helmrelease_controller")

# Workers per helm slot: one runs helm while the other does its API round trips. Measured with
# hack/bench.py (N = 100, 4 slots): a worker spent ~35 ms per install outside helm, each time
# leaving its helm slot idle.
RECONCILES_PER_HELM = 2

Key = tuple[str, str]


@dataclass
class Options:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # None: all namespaces
    concurrent: int = 4  # helm processes at once; RECONCILES_PER_HELM x as many reconciles
    helm: str = "helm"
    leader_elect: bool = False
    leader_namespace: str = "helmrelease-system"
    lease_name: str = "helmrelease-controller"
    identity: str = field(default_factory=lambda: f"{socket.gethostname()}_{os.getpid()}")
    cache_dir: str = field(
        default_factory=lambda: os.environ.get("HELMRELEASE_CACHE_DIR", "/tmp/helmrelease-cache")
    )
    shutdown_grace: float = 60.0
    resync_period: float | None = 600.0
    dependency_requeue: float = 5.0
    plain_http_registries: list[str] = field(default_factory=list)  # OCI registries spoken to over HTTP
    metrics_addr: str = ":8080"  # "" disables the metrics/health server
    notifications_config: str | None = None  # YAML file (docs/notifications.md); None: no notifications
    gitsync: bool = True  # serve GitSync objects (when their CRD is installed)
    gitsync_concurrent: int = 2  # GitSync syncs at once
    gitsync_cross_namespace: bool = False  # may a GitSync apply objects outside its own namespace?
    default_service_account: str | None = None  # helm's identity when spec.serviceAccountName is unset
    no_cross_namespace_refs: bool = False  # refuse targetNamespace/dependsOn in other namespaces
    source_interval: float = 60.0  # chart sources are looked at for news this often (sourcewatch.py)
    shard_key: str | None = None  # own objects labelled helmrelease.dev/shard=KEY; None: the unlabelled


def _ready(obj: dict[str, Any]) -> tuple[Any, ...]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return (c.get("status"), (obj.get("status") or {}).get("observedGeneration"))
    return (None, None)


def _values_refs(key: Key, obj: dict[str, Any] | None) -> Iterator[tuple[str, str, str]]:
    """(kind, namespace, name) of each Secret/ConfigMap named in spec.valuesFrom, the keyring
    Secret of spec.chart.verify (a change is verified again at once) and the kubeconfig Secret of
    spec.kubeConfig (a created or fixed kubeconfig is used at once)."""
    spec = (obj or {}).get("spec") or {}
    for ref in spec.get("valuesFrom") or []:
        if isinstance(ref, dict) and ref.get("name"):
            yield (str(ref.get("kind", "")), key[0], str(ref["name"]))
    keyring = (((spec.get("chart") or {}).get("verify") or {}).get("secretRef") or {}).get("name")
    kubeconfig = ((spec.get("kubeConfig") or {}).get("secretRef") or {}).get("name")
    for secret in (keyring, kubeconfig):
        if secret:
            yield ("Secret", key[0], str(secret))


def _depends_on(key: Key, obj: dict[str, Any] | None) -> Iterator[Key]:
    """(namespace, name) of each HelmRelease named in spec.dependsOn."""
    for dep in ((obj or {}).get("spec") or {}).get("dependsOn") or []:
        if isinstance(dep, dict) and dep.get("name"):
            yield (str(dep.get("namespace") or key[0]), str(dep["name"]))


async def _first_set(wanted: asyncio.Event, stop: asyncio.Event) -> bool:
    """Wait until `wanted` or `stop` is set: True when `wanted` is (startup waits honour SIGTERM)."""
    if not wanted.is_set():
        waits = [asyncio.create_task(e.wait()) for e in (wanted, stop)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waits:
                t.cancel()
    return wanted.is_set()


def chart_sources(opts: Options, metrics: Metrics) -> ChartResolver:
    """The chart sources (repository, git, OCI), caching under `opts.cache_dir`."""
    return ChartResolver(
        metrics=metrics,
        repository=RepositorySource(
            cache_dir=Path(opts.cache_dir) / "repository", index_ttl=opts.source_interval, helm=opts.helm
        ),
        git=GitSource(cache_dir=Path(opts.cache_dir), helm=opts.helm, fetch_interval=opts.source_interval),
        oci=OCISource(
            cache_dir=Path(opts.cache_dir) / "oci",
            helm=opts.helm,
            tag_ttl=opts.source_interval,
            plain_http_hosts=opts.plain_http_registries,
        ),
    )


class Controller:
    def __init__(self, opts: Options, client: KubeClient, helm: Helm | None = None) -> None:
        self.opts, self.client = opts, client
        self.helm = helm or Helm(executable=opts.helm, kubeconfig=opts.kubeconfig)
        self.helm.limit(opts.concurrent)
        self.queue: WorkQueue[Key] = WorkQueue(name="helmreleases")
        self.informer = Informer(
            client,
            HELMRELEASES,
            namespace=opts.namespace,
            label_selector=selector(opts.shard_key),  # this replica's shard (kube/sharding.py)
            resync_period=opts.resync_period,
            transform=compact,
        )
        self.events = EventRecorder(client)
        self.metrics = Metrics()
        self.metrics.set_shard(opts.shard_key)
        self.notifier: Dispatcher | None = None
        if opts.notifications_config:
            self.notifier = Dispatcher(load_config(opts.notifications_config), self._get_secret, self.metrics)
        self.sources = chart_sources(opts, self.metrics)
        self.reconciler = Reconciler(
            client,
            self.helm,
            self.sources,
            self.events,
            self.informer,
            dependency_requeue=opts.dependency_requeue,
            metrics=self.metrics,
            notifier=self.notifier,
            tenancy=Tenancy(opts.default_service_account, opts.no_cross_namespace_refs),
            storage=StorageCache(client, opts.namespace),
        )
        logctx.install()
        self.reconciler.fetches.on_done = self.queue.add  # a slow chart fetch ended: look again
        # New chart versions/commits requeue their HelmReleases within one source interval.
        self.source_watch = SourceWatch(self._source_digest, self.queue.add, opts.source_interval)
        self.reconciler.on_resolved = self._on_resolved
        # Reconciles that failed because the API server was unreachable wait for it, then all run at once.
        self.api_health = ApiHealth(self._probe_api, self._api_recovered)
        self.gitsync = self._gitsync_runtime() if opts.gitsync else None
        self._seen: dict[Key, Triggers] = {}
        self._ready_seen: dict[Key, tuple[Any, ...]] = {}
        self.informer.add_handler(self._on_event)
        self.informer.add_handler(self.reconciler.objects.seen)  # our writes, once the cache has them
        # The other watches: valuesFrom Secrets/ConfigMaps, and Helm's storage (labels only).
        self.side_informers = [*self._values_informers(), self.reconciler.storage.informer]
        # (kind, namespace, name) of a Secret/ConfigMap -> the HelmReleases whose valuesFrom use it.
        self._values_users: RefIndex[Key, tuple[str, str, str]] = RefIndex()
        # HelmRelease -> the HelmReleases whose dependsOn name it.
        self._dependents: RefIndex[Key, Key] = RefIndex()
        self.reconciles = 0
        self.started = asyncio.Event()
        self._elector: LeaderElector | None = None
        self.metrics.on_scrape(lambda: self.metrics.queue(len(self.queue), self.queue.oldest_age()))
        self.metrics.on_scrape(
            lambda: self.metrics.helm_processes(
                self.helm.running, self.helm.processes_started, len(self.helm.waiting)
            )
        )

    def _gitsync_runtime(self) -> GitSyncRuntime:
        """GitSyncs (gitsync/runtime.py): the same runtime pieces, served when their CRD is installed."""
        opts = self.opts
        return GitSyncRuntime(
            self.client,
            self.events,
            self.sources.git,
            self.metrics,
            namespace=opts.namespace,
            concurrent=opts.gitsync_concurrent,
            allow_cross_namespace=opts.gitsync_cross_namespace,
            resync_period=opts.resync_period,
            parked=self.api_health.failed,
            notifier=self.notifier,
            default_service_account=opts.default_service_account,
            label_selector=selector(opts.shard_key),
        )

    def _values_informers(self) -> list[Informer]:
        """valuesFrom: metadata-only watches of Secrets and ConfigMaps (no contents held in memory);
        a change to a referenced one reconciles the HelmReleases using it. Helm's own release
        Secrets are excluded by label."""
        client, namespace = self.client, self.opts.namespace
        informers = [
            Informer(
                client,
                SECRETS,
                namespace=namespace,
                label_selector="owner!=helm",
                metadata_only=True,
                transform=skeleton,
            ),
            Informer(client, CONFIGMAPS, namespace=namespace, metadata_only=True, transform=skeleton),
        ]
        for inf, res_kind in zip(informers, ("Secret", "ConfigMap"), strict=True):
            inf.add_handler(functools.partial(self._on_values_event, res_kind))
        return informers

    async def _get_secret(self, ns: str, name: str, key: str) -> str:
        """A notification provider's URL (or signing key) from its Secret; never logged."""
        data = (await self.client.get(SECRETS, ns, name)).get("data") or {}
        return base64.b64decode(data[key]).decode()

    def _is_ready(self) -> bool:
        """/readyz: the cache is synced, or this replica is a standby waiting for the lease."""
        waiting = self.opts.leader_elect and not (self._elector is not None and self._elector.is_leader)
        return self.informer.synced.is_set() or waiting

    # -- events -> queue ------------------------------------------------------------------------
    def _on_event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        current = None if kind == "delete" else obj
        self._values_users.set(key, _values_refs(key, current))
        self._dependents.set(key, _depends_on(key, current))
        if kind == "delete":
            self.metrics.forget(*key)
            self.source_watch.forget(key)
            self.reconciler.drift.forget(key)
            self.reconciler.fetches.forget(key)
            if self.notifier is not None:
                self.notifier.forget(*key)
            self._seen.pop(key, None)
            self._ready_seen.pop(key, None)
            self._enqueue_dependents(key)
            return
        self.metrics.observe_object(obj)
        trig, rdy = trigger_fields(obj), _ready(obj)
        if kind in ("add", "resync") or needs_reconcile(self._seen.get(key), trig):
            self.queue.add(key)
        self._seen[key] = trig
        if self._ready_seen.get(key) != rdy:
            self._ready_seen[key] = rdy
            self._enqueue_dependents(key)

    def _on_values_event(self, res_kind: str, kind: str, obj: dict[str, Any]) -> None:
        if kind == "resync":
            return
        meta = obj.get("metadata") or {}
        source = (res_kind, meta.get("namespace", ""), meta.get("name", ""))
        for hr_key in self._values_users.referrers(source):
            self.queue.add_after(hr_key, 0.5)  # debounce: a burst of edits is one reconcile

    def _on_resolved(self, hr: HelmRelease, chart: ResolvedChart) -> None:
        group = Group(sys.intern(hr.namespace), sys.intern(repr(hr.spec.chart)))  # one copy per group
        self.source_watch.resolved((hr.namespace, hr.name), group, chart.digest)

    async def _source_digest(self, key: Key) -> str | None:
        """The chart digest HelmRelease `key`'s source offers now (sourcewatch.py), from the sources'
        shared caches: None when the object is gone or invalid."""
        obj = self.informer.get(*key)
        try:
            hr = self.reconciler.objects.parse(obj) if obj is not None else None
        except SpecError:
            return None
        return None if hr is None else (await self.sources.resolve(hr, self.client)).digest

    def _enqueue_dependents(self, key: Key) -> None:
        # An index, not a scan of every HelmRelease: the scan was 10% of the CPU at N = 1,000.
        for dependent in self._dependents.referrers(key):
            self.queue.add(dependent)

    # -- workers -------------------------------------------------------------------------------------
    async def _reconcile(self, key: Key) -> float | None:
        """One reconcile of one HelmRelease, for the shared worker loop (kube/workers.py), timed."""
        t0 = time.monotonic()
        try:
            result = await self.reconciler.reconcile(*key)
        except Exception:
            self.metrics.reconcile_finished("error", time.monotonic() - t0)
            raise
        self.metrics.reconcile_finished(reconcile_result(result.action, result.ok), time.monotonic() - t0)
        self.reconciles += 1
        return result.requeue_after

    async def _worker(self) -> None:
        # An exception is parked while the API is away (kube/apihealth.py), else backed off per key.
        await work(self.queue, self._reconcile, lambda key, e: self.api_health.failed((self.queue, key), e))

    async def _probe_api(self) -> None:
        await self.client.get(CRDS, None, CRD_NAME)  # cheap, and in the controller's RBAC already

    def _api_recovered(self, parked: set[tuple[WorkQueue[Any], Any]]) -> None:
        """The API answers again: every parked key (of either kind: each names its own queue) runs
        now, its backoff reset; the informers re-list/re-watch now, so changes made during the
        outage are seen at once."""
        for inf in (self.informer, *self.side_informers):
            inf.nudge()
        if self.gitsync is not None:
            self.gitsync.nudge()
        for queue, key in parked:
            queue.forget(key)
            queue.add(key)

    async def _run_leading(self, stop: asyncio.Event) -> None:
        informer_task = asyncio.create_task(self.informer.run(), name="informer")
        side_tasks = [
            asyncio.create_task(i.run(), name=f"informer-{i.res.plural}-{n}")
            for n, i in enumerate(self.side_informers)
        ]
        side_tasks.append(asyncio.create_task(self.source_watch.run(stop), name="source-watch"))
        workers: list[asyncio.Task[None]] = []
        try:
            if not await _first_set(self.informer.synced, stop):
                log.info("shutting down before the HelmRelease cache synced")
                return
            log.info("informer synced: %d HelmRelease(s)", len(self.informer))
            workers = [
                asyncio.create_task(self._worker(), name=f"worker-{i}")
                for i in range(RECONCILES_PER_HELM * self.opts.concurrent)
            ]
            if self.gitsync is not None:
                await self.gitsync.start()
            self.started.set()
            self.metrics.set_leader(True)
            await stop.wait()
        finally:
            self.metrics.set_leader(False)
            self.queue.shutdown(immediate=True)
            self.helm.cancel_waiting()  # reconciles not yet running helm stop here: nothing starts
            pending: set[asyncio.Task[None]] = set()
            if workers:
                grace = self.opts.shutdown_grace
                log.info("shutting down: waiting up to %.0fs for running reconciles", grace)
                _done, pending = await asyncio.wait(workers, timeout=self.opts.shutdown_grace)
            for t in pending:
                t.cancel()
            if self.gitsync is not None:
                await self.gitsync.stop(self.opts.shutdown_grace)
            self.informer.stop()
            for inf in self.side_informers:
                inf.stop()
            for t in (informer_task, *side_tasks, *pending):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.events.close()
            await self.api_health.close()
            await self.reconciler.fetches.close()
            await self.sources.repository.close()
            await self.sources.oci.close()
            await self.sources.git.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set (or, with leader election, until leadership is lost)."""
        server = None
        if self.opts.metrics_addr:
            server = await self.metrics.serve(
                self.opts.metrics_addr,
                ready=self._is_ready,
                routes=self.gitsync.routes if self.gitsync is not None else None,
            )
            log.info("metrics and health on %s", server.url)
        if self.notifier is not None:
            await self.notifier.start()
        try:
            await self._run(stop)
        finally:
            if self.notifier is not None:
                await self.notifier.close(timeout=5)
            if server is not None:
                await server.stop()

    async def _run(self, stop: asyncio.Event) -> None:
        if not self.opts.leader_elect:
            await self._run_leading(stop)
            return
        elector = self._elector = LeaderElector(
            self.client,
            self.opts.leader_namespace,
            lease_name(self.opts.lease_name, self.opts.shard_key),  # one Lease per shard
            self.opts.identity,
        )
        stop_leading = asyncio.Event()

        async def lead() -> None:
            log.info("became leader (%s)", self.opts.identity)
            await self._run_leading(stop_leading)

        run_task = asyncio.create_task(elector.run(lead), name="leader-election")
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait([run_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if not stop.is_set():
            log.error("leadership lost; exiting so a fresh process can campaign again")
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run_task
            return
        if elector.is_leader:
            stop_leading.set()  # graceful: running reconciles finish, then the work returns
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run_task
        with contextlib.suppress(Exception):
            await elector.release()  # a successor takes over at once
        if not run_task.done():
            run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run_task
