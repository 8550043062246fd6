"""Prometheus metrics of the controller, and the HTTP endpoint serving them (plus health probes).

The metric names, types, labels and label values are a stable contract, documented in
docs/metrics.md: renaming one, changing its labels or the meaning of a value is a breaking change.
Everything is prefixed `helmrelease_`. Label values are closed sets (below); an unexpected value is
recorded as "other" rather than growing the series count. Per-HelmRelease series (`namespace`,
`name`) exist while the HelmRelease does and are removed by `forget()`.

`Metrics` owns its own `CollectorRegistry`, so tests (and a process running two controllers) can
hold several. Methods are named after what the controller does; none of them blocks or raises on
bad input. `serve(addr)` starts an aiohttp server with `/metrics`, `/healthz` and `/readyz`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import choose_encoder

from . import __version__
from .releasegauges import DRIFTED, READY, STALLED, SUSPENDED, ReleaseGauges

log = logging.getLogger("helmrelease_controller.metrics")

# No `*_created` series: they double the output and are not part of the contract. (This is a
# process-wide prometheus_client setting; the controller owns its process.)
disable_created_metrics()

#: `result` of helmrelease_reconcile_duration_seconds.
RECONCILE_RESULTS = ("success", "failure", "requeue", "stalled", "suspended", "error")
#: `action` of the helm action series.
HELM_ACTIONS = ("install", "upgrade", "rollback", "uninstall", "test", "unlock")
#: `action` of helmrelease_failures_total: a helm action, or what failed before any helm ran.
FAILURE_ACTIONS = (*HELM_ACTIONS, "source", "values", "spec")
ACTION_RESULTS = ("success", "failure")
SOURCE_KINDS = ("repository", "git", "oci")
NOTIFICATION_OUTCOMES = ("sent", "failed", "dropped")
#: `result` of helmrelease_gitsync_sync_duration_seconds (gitsync/sync.py's outcomes, and "error").
GITSYNC_RESULTS = ("succeeded", "rejected", "failed", "suspended", "invalid", "deleted", "error")
OTHER = "other"

RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
HELM_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
SOURCE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

ANNOTATION_SUSPEND = "helmrelease.dev/suspend"
#: The labels of per-HelmRelease series.
_RELEASE = ("namespace", "name")


def _one_of(value: str, allowed: Iterable[str]) -> str:
    v = str(value).lower()
    return v if v in allowed else OTHER


def reconcile_result(action: str, ok: bool) -> str:
    """The `result` label for a reconcile that returned `Reconciler.Result(action=..., ok=...)`.

    "stall" -> stalled, "wait"/"dependency" -> requeue, "suspended" -> suspended, otherwise success
    when ok and failure when not. A reconcile that raised is "error" (the caller knows that one).
    """
    a = action.lower()
    if a == "stall":
        return "stalled"
    if a in ("wait", "dependency"):
        return "requeue"
    if a == "suspended":
        return "suspended"
    return "success" if ok else "failure"


def release_state_of(obj: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """(ready, stalled, suspended) of a HelmRelease object, read from its conditions and spec.

    Ready and Stalled are their conditions' status == "True"; suspended is `spec.suspend` or the
    `helmrelease.dev/suspend: "true"` annotation (so it shows before the next reconcile writes status).
    """
    status = obj.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or [] if isinstance(c, dict)}
    meta = obj.get("metadata") or {}
    ann = (meta.get("annotations") or {}).get(ANNOTATION_SUSPEND)
    spec = obj.get("spec") or {}
    suspended = spec.get("suspend") is True or (isinstance(ann, str) and ann.strip().lower() == "true")
    return conds.get("Ready") == "True", conds.get("Stalled") == "True", suspended


class Metrics:
    """Every metric of the controller, in one registry of its own. See docs/metrics.md."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._define_metrics()
        self._create_label_sets()
        self._failure_actions: dict[tuple[str, str], set[str]] = {}
        self._helm_started_seen = 0
        self._scrape_hooks: list[Callable[[], None]] = []

    def _gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def _counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _histogram(self, name: str, doc: str, labels: Sequence[str], buckets: Sequence[float]) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def _define_metrics(self) -> None:
        """Every metric, in the order of the exposition (the contract of docs/metrics.md)."""
        self._define_release_metrics()
        self._define_process_metrics()

    def _define_release_metrics(self) -> None:
        """The build, the leader, reconciles, helm actions and per-HelmRelease state."""
        self.build_info = self._gauge(
            "helmrelease_build_info", "Always 1; the controller version.", ["version"]
        )
        self.build_info.labels(__version__).set(1)
        self.leader = self._gauge(
            "helmrelease_leader", "1 while this replica holds the leader Lease (or runs without one)."
        )
        self.shard_info = self._gauge(
            "helmrelease_shard_info",
            'Always 1; `shard` is the replica\'s --shard-key ("" for the unsharded replica).',
            ["shard"],
        )
        self.shard_info.labels("").set(1)
        self.reconcile_duration = self._histogram(
            "helmrelease_reconcile_duration_seconds",
            "Duration of one reconcile of one HelmRelease, by result.",
            ["result"],
            RECONCILE_BUCKETS,
        )
        self.helm_actions = self._counter(
            "helmrelease_helm_actions_total", "Helm actions run, by action and result.", ["action", "result"]
        )
        self.helm_action_duration = self._histogram(
            "helmrelease_helm_action_duration_seconds",
            "Duration of one helm action (the helm process or storage write), by action and result.",
            ["action", "result"],
            HELM_BUCKETS,
        )
        # helmrelease_ready, _stalled, _suspended, _drifted: one collector (releasegauges.py).
        self.release_gauges = ReleaseGauges()
        self.registry.register(self.release_gauges)
        self.failures = self._counter(
            "helmrelease_failures", "Failures of a HelmRelease, by what failed.", [*_RELEASE, "action"]
        )

    def _define_process_metrics(self) -> None:
        """The work queue, chart sources, helm processes, notifications and GitSyncs."""
        self.queue_depth = self._gauge(
            "helmrelease_workqueue_depth", "HelmRelease keys waiting for a worker."
        )
        self.queue_oldest = self._gauge(
            "helmrelease_workqueue_longest_waiting_seconds",
            "How long the longest-waiting key in the work queue has waited.",
        )
        self.source_duration = self._histogram(
            "helmrelease_source_fetch_duration_seconds",
            "Duration of resolving a chart from its source, by source kind and result.",
            ["kind", "result"],
            SOURCE_BUCKETS,
        )
        self.source_cache_hits = self._counter(
            "helmrelease_source_cache_hits", "Chart resolutions served from the local cache.", ["kind"]
        )
        self.helm_running = self._gauge("helmrelease_helm_processes_running", "Helm processes running now.")
        self.helm_started = self._counter("helmrelease_helm_processes_started", "Helm processes started.")
        self.helm_waiting = self._gauge(
            "helmrelease_helm_slot_waiting", "Reconciles waiting for a free helm slot (--concurrent)."
        )
        self.notifications = {
            outcome: self._counter(
                f"helmrelease_notifications_{outcome}", f"Notifications {outcome}, by provider.", ["provider"]
            )
            for outcome in NOTIFICATION_OUTCOMES
        }
        self.gitsync_duration = self._histogram(
            "helmrelease_gitsync_sync_duration_seconds",
            "Duration of one GitSync sync, by result (succeeded, rejected, failed, suspended, invalid).",
            ["result"],
            RECONCILE_BUCKETS,
        )
        self.gitsync_objects = self._counter(
            "helmrelease_gitsync_objects_applied",
            "Objects written (created or changed) or pruned by GitSyncs.",
            ["operation"],
        )

    def _create_label_sets(self) -> None:
        """Series of the closed label sets exist (at 0) from the start, so a scrape shows them all."""
        for res in GITSYNC_RESULTS:
            self.gitsync_duration.labels(res)
        for op in ("applied", "pruned"):
            self.gitsync_objects.labels(op)
        for res in RECONCILE_RESULTS:
            self.reconcile_duration.labels(res)
        for action in HELM_ACTIONS:
            for res in ACTION_RESULTS:
                self.helm_actions.labels(action, res)
                self.helm_action_duration.labels(action, res)
        for kind in SOURCE_KINDS:
            self.source_cache_hits.labels(kind)
            for res in ACTION_RESULTS:
                self.source_duration.labels(kind, res)

    # -- what the controller does ------------------------------------------------------------------
    def gitsync_synced(self, result: str, seconds: float, applied: int, pruned: int) -> None:
        """One GitSync sync ended (gitsync/runtime.py)."""
        self.gitsync_duration.labels(_one_of(result, GITSYNC_RESULTS)).observe(seconds)
        if applied:
            self.gitsync_objects.labels("applied").inc(applied)
        if pruned:
            self.gitsync_objects.labels("pruned").inc(pruned)

    def reconcile_finished(self, result: str, seconds: float) -> None:
        """One reconcile ended; `result` is one of RECONCILE_RESULTS (see `reconcile_result`)."""
        self.reconcile_duration.labels(_one_of(result, RECONCILE_RESULTS)).observe(max(0.0, seconds))

    def helm_action(self, action: str, ok: bool, seconds: float) -> None:
        """A helm action (install, upgrade, rollback, uninstall, test, unlock) finished."""
        labels = (_one_of(action, HELM_ACTIONS), "success" if ok else "failure")
        self.helm_actions.labels(*labels).inc()
        self.helm_action_duration.labels(*labels).observe(max(0.0, seconds))

    def release_failure(self, namespace: str, name: str, action: str) -> None:
        """Count one failure of a HelmRelease: a helm action, or its source/values/spec."""
        a = _one_of(action, FAILURE_ACTIONS)
        self._failure_actions.setdefault((namespace, name), set()).add(a)
        self.failures.labels(namespace, name, a).inc()

    def release_state(
        self, namespace: str, name: str, *, ready: bool, stalled: bool, suspended: bool
    ) -> None:
        """The current Ready / Stalled / Suspended state of one HelmRelease."""
        key, gauges = (namespace, name), self.release_gauges
        gauges.set(key, READY, ready)
        gauges.set(key, STALLED, stalled)
        gauges.set(key, SUSPENDED, suspended)

    def observe_object(self, obj: Mapping[str, Any]) -> None:
        """`release_state` from a HelmRelease object (an informer add/update)."""
        meta = obj.get("metadata") or {}
        ready, stalled, suspended = release_state_of(obj)
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        self.release_state(ns, name, ready=ready, stalled=stalled, suspended=suspended)
        conds = (obj.get("status") or {}).get("conditions") or []
        drifted = any(
            isinstance(c, dict) and (c.get("type"), c.get("status")) == ("Drifted", "True") for c in conds
        )
        self.release_gauges.set((ns, name), DRIFTED, drifted)

    def forget(self, namespace: str, name: str) -> None:
        """The HelmRelease is gone: remove every series labelled with it."""
        key = (namespace, name)
        self.release_gauges.forget(key)
        for action in self._failure_actions.pop(key, set()):
            with contextlib.suppress(KeyError):
                self.failures.remove(namespace, name, action)

    def queue(self, depth: int, oldest_age: float) -> None:
        """Work queue depth and the age in seconds of its longest-waiting key."""
        self.queue_depth.set(depth)
        self.queue_oldest.set(max(0.0, oldest_age))

    def source_fetch(self, kind: str, ok: bool, seconds: float, cache_hit: bool = False) -> None:
        """A chart was resolved from its source (`kind`: repository, git, oci)."""
        k = _one_of(kind, SOURCE_KINDS)
        self.source_duration.labels(k, "success" if ok else "failure").observe(max(0.0, seconds))
        if cache_hit:
            self.source_cache_hits.labels(k).inc()

    def helm_processes(self, running: int, started_total: int, waiting: int = 0) -> None:
        """Helm processes running now, the runner's cumulative count of processes started, and the
        reconciles waiting for a helm slot now."""
        self.helm_running.set(running)
        self.helm_waiting.set(waiting)
        delta = started_total - self._helm_started_seen
        if delta < 0:  # a new runner counting from zero
            delta = started_total
        if delta > 0:
            self.helm_started.inc(delta)
        self._helm_started_seen = started_total

    def notification(self, provider: str, outcome: str) -> None:
        """One notification for `provider` was sent, failed (gave up) or dropped (queue full)."""
        counter = self.notifications.get(outcome)
        if counter is None:
            log.warning("unknown notification outcome %r", outcome)
            return
        counter.labels(provider).inc()

    def notification_providers(self, providers: Iterable[str]) -> None:
        """Create the notification series of configured providers at 0 (so rate() works at once)."""
        for p in providers:
            for counter in self.notifications.values():
                counter.labels(p)

    def set_leader(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def set_shard(self, shard_key: str | None) -> None:
        """The shard this replica serves (kube/sharding.py): one `helmrelease_shard_info` series."""
        self.shard_info.clear()
        self.shard_info.labels(shard_key or "").set(1)

    # -- exposition --------------------------------------------------------------------------------
    def on_scrape(self, hook: Callable[[], None]) -> None:
        """Run `hook` before each exposition, e.g. to sample the work queue and helm process counts."""
        self._scrape_hooks.append(hook)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """(body, content type) of a scrape, negotiated from an Accept header."""
        for hook in self._scrape_hooks:
            try:
                hook()
            except Exception:
                log.warning("metrics scrape hook failed", exc_info=True)
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    async def serve(
        self,
        addr: str = ":8080",
        ready: Callable[[], bool] | None = None,
        routes: Callable[[web.Application], None] | None = None,
    ) -> MetricsServer:
        """Serve /metrics, /healthz and /readyz on `addr` ("host:port", ":port", "[::1]:port").

        /healthz answers 200 while the process lives; /readyz 200 once `ready()` is true (the
        informer synced, or a non-leader waiting for the Lease), 503 otherwise. Port 0 picks a free
        port (see `MetricsServer.port`). `routes` adds more handlers on the same port (the GitSync
        push webhook receiver).
        """
        host, port = parse_addr(addr)
        app = web.Application()
        app.router.add_get("/metrics", self._handle_metrics)
        app.router.add_get("/healthz", _handle_healthz)
        app.router.add_get("/readyz", _readyz_handler(ready))
        if routes is not None:
            routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound = runner.addresses[0] if runner.addresses else (host or "0.0.0.0", port)
        log.info("serving metrics and probes on %s", addr)
        return MetricsServer(runner, str(bound[0]), int(bound[1]))

    async def _handle_metrics(self, request: web.Request) -> web.Response:
        body, content_type = self.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})


async def _handle_healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def _readyz_handler(ready: Callable[[], bool] | None) -> Callable[[web.Request], Any]:
    async def handle(_request: web.Request) -> web.Response:
        try:
            ok = True if ready is None else bool(ready())
        except Exception:
            log.warning("readiness check failed", exc_info=True)
            ok = False
        return web.Response(text="ok\n") if ok else web.Response(status=503, text="not ready\n")

    return handle


@dataclass
class MetricsServer:
    """A running metrics server: where it listens, and `stop()`."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


def parse_addr(addr: str) -> tuple[str | None, int]:
    """`--metrics-addr` to (host, port): ":8080" -> (None, 8080) (all interfaces), "127.0.0.1:9000",
    "[::1]:8080" -> ("::1", 8080), "8080" -> (None, 8080). ValueError on anything else."""
    text = addr.strip()
    if text.startswith("["):
        host, sep, port_s = text[1:].partition("]:")
        if not sep or not host:
            raise ValueError(f"invalid metrics address {addr!r}: use [host]:port for IPv6")
    elif ":" in text:
        host, _, port_s = text.rpartition(":")
        if ":" in host:
            raise ValueError(f"invalid metrics address {addr!r}: put an IPv6 host in brackets")
    else:
        host, port_s = "", text
    if not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
        raise ValueError(f"invalid metrics address {addr!r}: want host:port or :port, port 0-65535")
    return (host or None), int(port_s)


__all__ = [
    "FAILURE_ACTIONS",
    "HELM_ACTIONS",
    "NOTIFICATION_OUTCOMES",
    "RECONCILE_RESULTS",
    "SOURCE_KINDS",
    "Metrics",
    "MetricsServer",
    "parse_addr",
    "reconcile_result",
    "release_state_of",
]
