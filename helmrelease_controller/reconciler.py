"""One reconcile of one HelmRelease: read the world, decide, act, repeat until settled.

The shape of Flux's `atomic_release.go`: observe Helm's storage, ask the pure
decision table for the next action, carry it out, record the outcome in status,
and loop (unlock -> upgrade -> rollback ...) until the decision is to do nothing,
wait or stall. Status is written before every action ("Progressing", carrying the
previous action's outcome) and once at the end; Helm's storage, not our status, is
the record of what was done, so a controller killed mid-loop loses nothing. An
unchanged status is not written at all.

Round trips are kept off the critical path (measured in hack/bench.py): the finalizer
patch, the first look at Helm's storage and the chart resolve run at once, and the
"Progressing" write runs while helm starts. A slow chart fetch does not hold the worker
(fetches.py): the reconcile says "fetching chart from <url>" and is queued again when it ends.

Returns when to look again (`interval`, a retry time, or None for "only on change").
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from . import values as valuesmod
from .api.durations import parse_duration
from .api.models import CRD_NAME, FINALIZER, HelmRelease, SpecError
from .chartfiles import read_values_files
from .executor import Executor, Outcome, ReleaseTarget
from .fetches import PENDING, Fetches
from .helm.storage import ReleaseObservation, observe
from .kube.client import CRDS, HELMRELEASES, SECRETS, KubeClient
from .kube.client import ApiError as KubeApiError
from .kube.events import EventRecorder
from .metrics import Metrics
from .notify import FAILED, RECOVERED, STALLED, Dispatcher, Notification
from .preflight import storage_forbidden_reason
from .reconcile import alerting, dependencies, outcome
from .reconcile import status as st
from .reconcile.backoff import Backoff
from .reconcile.decide import Action, Decision, Facts, decide, effective, installs
from .reconcile.facts import facts_for
from .sources.base import ResolvedChart, SourceError, redact_url
from .valuesfrom import ValuesError, resolve_values

log = logging.getLogger("helmrelease_controller.reconciler")

MAX_STEPS = 6
FETCH_RECHECK = 60.0  # a reconcile waiting on a slow fetch looks again after this at the latest
ANN_RECONCILE, ANN_FORCE, ANN_RESET = "reconcile-requested-at", "force-at", "reset-at"


@dataclass
class Result:
    requeue_after: float | None  # seconds; None: wait for a change
    action: str = "none"
    ok: bool = True


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        executor: Executor,
        sources: Any,
        events: EventRecorder,
        cache: Any,
        dependency_requeue: float = 5.0,
        metrics: Metrics | None = None,
        notifier: Dispatcher | None = None,
    ) -> None:
        self.client, self.executor, self.sources, self.events, self.cache = (
            client,
            executor,
            sources,
            events,
            cache,
        )
        self.dependency_requeue = dependency_requeue
        self.metrics = metrics or Metrics()
        self.notifier = notifier
        # Chart fetches run beside the workers (rule 9); the controller sets `fetches.on_done` to
        # queue a HelmRelease again when its fetch finishes.
        self.fetches: Fetches[ResolvedChart] = Fetches()
        self._parsed: dict[tuple[str, str], tuple[tuple[Any, Any], HelmRelease]] = {}
        self._failed_tries: dict[tuple[str, str], int] = {}  # chart/values failures in a row, per key
        # Per key: the newest object our own writes returned, and the resourceVersions the informer
        # may still show while it has not caught up with those writes (resourceVersions are opaque:
        # never compared as numbers).
        self._written: dict[tuple[str, str], tuple[dict[str, Any], set[str]]] = {}

    # -- object access ------------------------------------------------------------------------
    def _parse(self, obj: dict[str, Any]) -> HelmRelease:
        """The validated model, parsed once per resourceVersion (pydantic was 17% of a no-op reconcile)."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        version = (meta.get("uid"), meta.get("resourceVersion"))
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        hr = HelmRelease.from_obj(obj)
        self._parsed[key] = (version, hr)
        return hr

    def current(self, ns: str, name: str) -> dict[str, Any] | None:
        """The newest copy we know: the informer's, or the one our own last write returned."""
        cached = self.cache.get(ns, name)
        mine = self._written.get((ns, name))
        if cached is None:
            self._written.pop((ns, name), None)
            self._parsed.pop((ns, name), None)
            self._failed_tries.pop((ns, name), None)
            return None
        if (
            mine is not None
            and _rv(cached) in mine[1]
            and mine[0]["metadata"].get("uid") == cached["metadata"].get("uid")
        ):
            return mine[0]  # the informer has not seen our last write yet
        self._written.pop((ns, name), None)
        return cached

    def _remember(self, out: dict[str, Any]) -> None:
        """`out` came back from our write: until the informer shows it (or something newer), the
        versions it shows now are behind."""
        meta = out["metadata"]
        key = (meta["namespace"], meta["name"])
        prev = self._written.get(key)
        behind = set(prev[1]) if prev is not None else set()
        if prev is not None:
            behind.add(_rv(prev[0]))
        cached = self.cache.get(*key)
        if cached is not None:
            behind.add(_rv(cached))
        behind.discard(_rv(out))
        self._written[key] = (out, behind)

    async def write_status(self, obj: dict[str, Any], new: st.Status) -> dict[str, Any]:
        old = obj.get("status") or {}
        patch = st.diff_patch(old, new)
        if patch is None:
            return obj
        meta = obj["metadata"]
        out = await self.client.patch(
            HELMRELEASES,
            meta["namespace"],
            meta["name"],
            {"status": patch},
            patch_type="merge",
            subresource="status",
        )
        self._remember(out)
        return out

    async def _set_finalizers(self, obj: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        meta = obj["metadata"]
        body = {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta["resourceVersion"]}}
        out = await self.client.patch(HELMRELEASES, meta["namespace"], meta["name"], body, patch_type="merge")
        self._remember(out)
        return out

    def notify(
        self, obj: dict[str, Any], outcome: str, reason: str, secrets: Any = (), **fields: Any
    ) -> None:
        """A Slack/webhook notification; never blocks, never raises (notify/dispatcher.py)."""
        if self.notifier is not None:
            self.notifier.submit(
                Notification.for_object(obj, outcome, reason=reason, secrets=secrets, **fields)
            )

    def event(self, obj: dict[str, Any], ok: bool, reason: str, message: str, action: str = "") -> None:
        self.events.emit(obj, "Normal" if ok else "Warning", reason, st.one_line(message, 1024), action)

    # -- the loop --------------------------------------------------------------------------------
    async def reconcile(self, ns: str, name: str) -> Result:
        obj = self.current(ns, name)
        if obj is None:
            return Result(None)
        meta = obj["metadata"]
        gen = int(meta.get("generation") or 1)
        now = time.time()
        status: st.Status = dict(obj.get("status") or {})
        if meta.get("deletionTimestamp"):
            return await self._finalize(obj)
        try:
            hr = self._parse(obj)
        except SpecError as e:
            return await self._invalid(obj, status, e, gen, now)
        initial_ready = (st.get_condition(status, st.READY) or {}).get("status") == "True"
        spec = hr.spec
        tokens = {a: hr.annotation(a) or "" for a in (ANN_RECONCILE, ANN_FORCE, ANN_RESET)}
        # A new reconcile-requested-at (or force-at) token also refetches the chart source.
        refresh = any(
            tokens[a] and tokens[a] != status.get(k)
            for a, k in ((ANN_RECONCILE, "lastHandledReconcileAt"), (ANN_FORCE, "lastHandledForceAt"))
        )
        if tokens[ANN_RECONCILE]:
            status["lastHandledReconcileAt"] = tokens[ANN_RECONCILE]
        interval = parse_duration(spec.interval)
        status["suspended"] = hr.suspended
        if hr.suspended:
            return await self._suspended(obj, status, hr, gen, now)
        blocked = dependencies.blocking(
            self.cache.get, hr.namespace, hr.name, [(d.namespace, d.name) for d in spec.depends_on]
        )
        if blocked:
            return await self._blocked(obj, status, blocked, gen, now)

        # Three independent round trips at once: our finalizer on the object (before anything is
        # installed), Helm's storage for this release, and the chart + values.
        fin, first_look, resolved = await asyncio.gather(
            self._ensure_finalizer(obj),
            self._observe(hr.storage_namespace, hr.release_name),
            self._resolve(hr, refresh),
            return_exceptions=True,
        )
        if isinstance(first_look, KubeApiError) and (
            why := storage_forbidden_reason(first_look, hr.storage_namespace)
        ):
            # Not transient (rule 10): said once on the object, looked at again with a growing backoff.
            return await self._refused(fin if isinstance(fin, dict) else obj, status, spec, why, gen, now)
        for r in (fin, first_look):
            if isinstance(r, BaseException):
                raise r
        assert isinstance(fin, dict) and isinstance(first_look, ReleaseObservation)
        obj = fin
        if resolved is PENDING:
            return await self._fetching(obj, status, hr, gen, now)
        if isinstance(resolved, SourceError | ValuesError):
            return await self._artifact_failed(obj, status, spec, resolved, gen, now)
        if isinstance(resolved, BaseException):
            raise resolved
        self._failed_tries.pop((ns, name), None)
        chart, user_values, secret_strings = resolved
        self.executor.helm.add_secrets(secret_strings)
        digest = valuesmod.config_digest(chart.digest, user_values)
        target, attempt = _release_plan(hr, chart, user_values, digest, gen)
        status["helmChart"] = f"{chart.name}@{chart.version}"
        fields = {
            "release": target.release,
            "target_namespace": target.namespace,
            "chart": chart.name,
            "version": chart.version,
        }
        status["storageNamespace"] = hr.storage_namespace
        force = bool(tokens[ANN_FORCE]) and tokens[ANN_FORCE] != status.get("lastHandledForceAt")
        reset = bool(tokens[ANN_RESET]) and tokens[ANN_RESET] != status.get("lastHandledResetAt")
        if reset:
            status["lastHandledResetAt"] = tokens[ANN_RESET]

        result = Result(interval)
        release: ReleaseObservation | None = first_look
        for _step in range(MAX_STEPS):
            if release is None:
                release = await self._observe(target.storage_namespace, target.release)
            status = st.sync_history_statuses(status, {r.version: r.status for r in release.revisions})
            # Counters reset when the config digest changes (effective), on reset-at, and when the
            # spec changed (generation), as DESIGN.md says.
            new_generation = int(status.get("lastAttemptedGeneration") or gen) != gen
            facts = effective(
                facts_for(hr, status, release, digest, time.time(), force), reset or new_generation
            )
            reset = False
            if facts.upgrade_failures != int(
                status.get("upgradeFailures") or 0
            ) or facts.install_failures != int(status.get("installFailures") or 0):
                status.update(installFailures=facts.install_failures, upgradeFailures=facts.upgrade_failures)
                status.pop("nextRetryAt", None)
                status = st.drop_condition(status, st.REMEDIATED)
            d = decide(facts)
            log.debug("decision", extra={"key": f"{ns}/{name}", "action": d.action.value, "reason": d.reason})
            if d.action in (Action.NONE, Action.WAIT, Action.STALL):
                test_gates = spec.test.enable and not spec.test.ignore_failures
                status = outcome.settled(status, d, release, attempt, test_gates, time.time())
                if d.action is Action.STALL:
                    stall = st.get_condition(status, st.STALLED) or {}
                    self.notify(
                        obj,
                        STALLED,
                        stall.get("message", d.reason),
                        secret_strings,
                        attempt=alerting.action_attempt(digest, ""),
                        **fields,
                    )
                result = Result(
                    interval
                    if d.action is Action.NONE
                    else (max(0.0, d.retry_at - time.time()) + 0.05 if d.action is Action.WAIT else None),
                    d.action.value.lower(),
                    d.action is Action.NONE,
                )
                break
            if force and d.action in (Action.INSTALL, Action.UPGRADE):
                status["lastHandledForceAt"] = tokens[ANN_FORCE]
                force = False
            status = st.set_condition(status, st.RECONCILING, True, "Progressing", d.reason, gen, time.time())
            status = st.set_condition(
                status, st.READY, None, "Progressing", f"{d.action.value}: {d.reason}", gen, time.time()
            )
            # The "Progressing" status goes out while helm starts, not before it. If that write
            # fails, the action's outcome must still be recorded: the next write carries both.
            progress = asyncio.ensure_future(self.write_status(obj, dict(status)))
            try:
                result_of_action = await self._act(d, facts, target, hr, obj)
            finally:
                try:
                    obj = await progress
                except (KubeApiError, OSError, TimeoutError) as e:
                    log.warning(
                        "status write failed while helm ran: %s",
                        st.one_line(str(e), 200),
                        extra={"key": f"{ns}/{name}"},
                    )
            before, release = release, None  # look again at the next step
            if (
                not result_of_action.ok
                and not result_of_action.revision
                and d.action
                in (
                    Action.INSTALL,
                    Action.UPGRADE,
                )
            ):
                # A failed helm upgrade prints no JSON: find the revision it left in storage, so
                # history and the Revision column show the failed revision.
                release = await self._observe(target.storage_namespace, target.release)
                after, last = release.latest, before.latest
                if after is not None and (last is None or after.version > last.version):
                    result_of_action.revision = after.version
            if not result_of_action.ok and not (d.action is Action.TEST and spec.test.ignore_failures):
                latest = before.latest
                self.notify(
                    obj,
                    FAILED,
                    result_of_action.message,
                    secret_strings,
                    action="install" if installs(d, facts) else d.action.value.lower(),
                    attempt=alerting.action_attempt(digest, d.action.value.lower()),
                    **{**fields, "revision": result_of_action.revision or (latest.version if latest else 0)},
                )
            # Recorded in status with the next step's write (or the last one below): one write fewer.
            status = outcome.record(
                status, d, result_of_action, facts, attempt, time.time(), random.uniform(-1, 1)
            )
            result = Result(interval, d.action.value.lower(), result_of_action.ok)
        ready_now = st.get_condition(status, st.READY) or {}
        if ready_now.get("status") == "True" and not initial_ready:
            # Only delivered after a failure or stall was (the dispatcher keeps track).
            latest_rev = (status.get("history") or [{}])[0].get("revision", 0)
            self.notify(
                obj,
                RECOVERED,
                ready_now.get("message", ""),
                secret_strings,
                **{**fields, "revision": latest_rev},
            )
        await self.write_status(obj, status)
        return result

    # -- gates: what stops a reconcile before any source or helm work ---------------------------------
    async def _fetching(
        self, obj: dict[str, Any], status: st.Status, hr: HelmRelease, gen: int, now: float
    ) -> Result:
        """The chart source is slow: say so; the worker goes back to the queue, and the fetch's end
        queues this HelmRelease again (fetches.py)."""
        where = _source_url(hr)
        msg = f"fetching chart from {where}" if where else "fetching chart"
        status = st.set_condition(status, st.RECONCILING, True, "Progressing", msg, gen, now)
        status = st.set_condition(status, st.READY, None, "Progressing", msg, gen, now)
        await self.write_status(obj, status)
        return Result(FETCH_RECHECK, "fetching")

    async def _invalid(
        self, obj: dict[str, Any], status: st.Status, e: SpecError, gen: int, now: float
    ) -> Result:
        """The spec cannot be used: Stalled with the one-line reason, until the object changes."""
        meta = obj["metadata"]
        status = st.stalled(status, "InvalidSpec", f"invalid spec: {e}", gen, now)
        status.pop("nextRetryAt", None)
        if status != (obj.get("status") or {}):
            self.event(obj, False, "InvalidSpec", str(e))
            self.metrics.release_failure(meta["namespace"], meta["name"], "spec")
            self.notify(obj, STALLED, f"invalid spec: {e}")
            await self.write_status(obj, status)
        return Result(None, "invalid", False)

    async def _suspended(
        self, obj: dict[str, Any], status: st.Status, hr: HelmRelease, gen: int, now: float
    ) -> Result:
        prev = st.get_condition(status, st.READY)
        observed = status.get("observedGeneration")
        by = " (spec.suspend)" if hr.spec.suspend else " (helmrelease.dev/suspend annotation)"
        was_ready = None if prev is None else prev["status"] == "True"
        status = st.ready(status, was_ready, "Suspended", "reconciliation suspended" + by, gen, now)
        # A spec change made while suspended is not handled yet: observedGeneration stays, so
        # `kubectl wait --for=condition=Ready` does not report it done (as Flux).
        if observed is None:
            status.pop("observedGeneration", None)
        else:
            status["observedGeneration"] = observed
        await self.write_status(obj, status)
        return Result(None, "suspended")

    async def _blocked(
        self, obj: dict[str, Any], status: st.Status, blocked: str, gen: int, now: float
    ) -> Result:
        """A dependsOn HelmRelease is not Ready: say which, look again soon, tell people if it lasts."""
        status = st.ready(status, False, "DependencyNotReady", blocked, gen, now)
        since = st.parse_rfc3339((st.get_condition(status, st.READY) or {}).get("lastTransitionTime"))
        if alerting.waiting_alert("DependencyNotReady", 0, since, now):
            waiting = alerting.waiting_attempt("DependencyNotReady", blocked)
            self.notify(obj, FAILED, f"DependencyNotReady: {blocked}", attempt=waiting)
        await self.write_status(obj, status)
        return Result(self.dependency_requeue, "dependency")

    # -- pieces ------------------------------------------------------------------------------------
    async def _refused(
        self, obj: dict[str, Any], status: st.Status, spec: Any, why: str, gen: int, now: float
    ) -> Result:
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        tries = self._failed_tries[key] = self._failed_tries.get(key, 0) + 1
        status = st.ready(status, False, "StorageForbidden", why, gen, now)
        if st.get_condition(obj.get("status") or {}, st.READY) != st.get_condition(status, st.READY):
            self.event(obj, False, "StorageForbidden", why)
            log.warning("StorageForbidden: %s", why, extra={"key": "/".join(key)})
            self.notify(obj, FAILED, why, attempt=alerting.waiting_attempt("StorageForbidden", why))
        await self.write_status(obj, status)
        return Result(_backoff(spec).delay(tries, random.uniform(-1, 1)), "forbidden", False)

    async def _artifact_failed(
        self,
        obj: dict[str, Any],
        status: st.Status,
        spec: Any,
        err: SourceError | ValuesError,
        gen: int,
        now: float,
    ) -> Result:
        """The chart or the values could not be had: say why, retry with the spec's backoff (growing
        with each failed try in a row), and tell people once it has lasted (reconcile/alerting.py)."""
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        reason = "ArtifactFailed" if isinstance(err, SourceError) else "ValuesError"
        tries = self._failed_tries[key] = self._failed_tries.get(key, 0) + 1
        status = st.ready(status, False, reason, str(err), gen, now)
        if st.get_condition(obj.get("status") or {}, st.READY) != st.get_condition(status, st.READY):
            self.event(obj, False, reason, str(err))
            self.metrics.release_failure(*key, "source" if reason == "ArtifactFailed" else "values")
            status["failures"] = int(status.get("failures") or 0) + 1
            log.warning("%s: %s", reason, st.one_line(str(err), 300), extra={"key": "/".join(key)})
        if alerting.waiting_alert(reason, tries, 0.0, now):
            self.notify(obj, FAILED, f"{reason}: {err}", attempt=alerting.waiting_attempt(reason, str(err)))
        await self.write_status(obj, status)
        return Result(_backoff(spec).delay(tries, random.uniform(-1, 1)), "source", False)

    async def _observe(self, storage_namespace: str, release: str) -> ReleaseObservation:
        """Helm's storage for one release, from its Secrets' labels alone: a metadata-only list, so
        neither the API server nor we handle the release blobs (most of each Secret's bytes)."""
        items, _ = await self.client.list(
            SECRETS, storage_namespace, label_selector=f"owner=helm,name={release}", metadata_only=True
        )
        return observe(items)

    async def _ensure_finalizer(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        if FINALIZER in (meta.get("finalizers") or []):
            return obj
        return await self._set_finalizers(obj, [*(meta.get("finalizers") or []), FINALIZER])

    async def _resolve(
        self, hr: HelmRelease, refresh: bool
    ) -> tuple[ResolvedChart, dict[str, Any], set[str]] | Any:
        """The chart and the merged user values (and the secret strings among them, for redaction),
        or PENDING while a slow chart fetch goes on without this worker."""
        spec = hr.spec

        def start() -> Any:
            return self.sources.resolve(hr, self.client, refresh=refresh)

        chart = await self.fetches.get((hr.namespace, hr.name), repr(spec.chart), start)
        if chart is PENDING:
            return PENDING
        assert isinstance(chart, ResolvedChart)
        source_spec = getattr(spec.chart, spec.chart.kind)
        chart_files = await read_values_files(chart, list(getattr(source_spec, "values_files", []) or []))
        user_values, secret_strings = await resolve_values(self.client, hr, chart_files)
        return chart, user_values, secret_strings

    async def _act(
        self, d: Decision, f: Facts, t: ReleaseTarget, hr: HelmRelease, obj: dict[str, Any]
    ) -> Outcome:
        ex = self.executor
        installing = installs(d, f)
        if d.action is Action.UNLOCK:
            latest = f.release.latest
            assert latest is not None
            out = await ex.unlock(t.storage_namespace, latest.secret_name, latest.version)
        elif d.action in (Action.INSTALL, Action.UPGRADE):
            out = await ex.upgrade(t, hr.spec, installing, f.force_requested)
        elif d.action is Action.ROLLBACK:
            out = await ex.rollback(t, hr.spec, d.revision)
        elif d.action is Action.UNINSTALL:
            out = await ex.uninstall(t.release, t.namespace, hr.spec, t.timeout)
        elif d.action is Action.TEST:
            out = await ex.test(t)
        else:  # pragma: no cover - decide() returns no other action here
            raise AssertionError(d.action)
        # A retried first install is `helm upgrade --install` over a failed install: still an install.
        label = "install" if installing else d.action.value.lower()
        reason = label.capitalize() + ("Succeeded" if out.ok else "Failed")
        msg = out.message or f"{d.action.value.lower()} of release {t.namespace}/{t.release} succeeded"
        if out.ok and d.action in (Action.INSTALL, Action.UPGRADE):
            msg = f"Helm {label} succeeded: {t.namespace}/{t.release} revision {out.revision}"
        self.event(obj, out.ok, reason, msg, label.capitalize())
        self.metrics.helm_action(label, out.ok, out.duration)
        if not out.ok:
            self.metrics.release_failure(t.owner_namespace, t.owner_name, label)
        extra = {"key": f"{t.owner_namespace}/{t.owner_name}", "duration": round(out.duration, 3)}
        if out.ok:
            log.info("%s ok", d.action.value.lower(), extra=extra)
        else:  # every failed action at warning level, with its (redacted) reason
            log.warning("%s failed: %s", label, st.one_line(msg, 300), extra=extra)
        return out

    async def _finalize(self, obj: dict[str, Any]) -> Result:
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return Result(None)
        try:
            # An unsupported field does not stop the uninstall of what an older controller installed.
            hr = HelmRelease.from_obj(obj, supported_only=False)
            release, ns, storage = hr.release_name, hr.target_namespace, hr.storage_namespace
            spec: Any = hr.spec
            timeout = spec.timeout
        except SpecError:
            # The spec never was valid, so nothing of ours was installed from it.
            hr, spec, timeout = None, None, "5m"
            release = ns = storage = ""
        if hr is not None and await self._crd_deleting():
            # Rule 6: deleting the CRD (or uninstalling the controller with it) deletes every
            # HelmRelease; that must never cascade into uninstalling the workloads.
            self.event(
                obj,
                True,
                "ReleaseKept",
                f"the HelmRelease CRD is being deleted: release {ns}/{release} is left installed",
                "Finalize",
            )
            hr = None
        if hr is not None:
            obs = await self._observe(storage, release)
            owner = f"{meta['namespace']}/{meta['name']}"
            latest = obs.latest
            # Only a release this HelmRelease made (our owner labels) is uninstalled, never another's.
            if obs.exists and latest is not None and latest.owner == owner:
                out = await self.executor.uninstall(release, ns, spec, timeout)
                self.event(
                    obj,
                    out.ok,
                    "UninstallSucceeded" if out.ok else "UninstallFailed",
                    out.message
                    if not out.ok
                    else f"release {ns}/{release} uninstalled (HelmRelease deleted)",
                    "Uninstall",
                )
                if not out.ok:
                    return Result(_backoff(spec).delay(1), "uninstall", False)
        try:
            await self._set_finalizers(obj, [f for f in finalizers if f != FINALIZER])
        except KubeApiError as e:
            if e.status != 404:
                raise
        return Result(None, "finalize")

    async def _crd_deleting(self) -> bool:
        """True when the HelmRelease CRD is being deleted (or already gone)."""
        try:
            crd = await self.client.get(CRDS, None, CRD_NAME)
        except KubeApiError as e:
            if e.status == 404:
                return True
            raise  # unsure: retry later rather than uninstall by surprise
        return bool(crd["metadata"].get("deletionTimestamp"))


def _release_plan(
    hr: HelmRelease, chart: ResolvedChart, user_values: dict[str, Any], digest: str, gen: int
) -> tuple[ReleaseTarget, outcome.Attempt]:
    """What helm is asked to do (the target) and what status records about the attempt. Pure."""
    spec = hr.spec
    target = ReleaseTarget(
        owner_namespace=hr.namespace,
        owner_name=hr.name,
        release=hr.release_name,
        namespace=hr.target_namespace,
        storage_namespace=hr.storage_namespace,
        chart_path=chart.path,
        values=user_values,
        config_digest=digest,
        history_max=spec.max_history,
        timeout=spec.timeout,
    )
    attempt = outcome.Attempt(
        namespace=target.namespace,
        release=target.release,
        config_digest=digest,
        chart_name=chart.name,
        chart_version=chart.version,
        app_version=chart.app_version,
        chart_revision=chart.revision,
        max_history=spec.max_history,
        backoff=_backoff(spec),
        test_ignore_failures=spec.test.ignore_failures,
        generation=gen,
    )
    return target, attempt


def _source_url(hr: HelmRelease) -> str:
    """The chart source's URL for messages, credential-free."""
    source = getattr(hr.spec.chart, hr.spec.chart.kind, None)
    url = str(getattr(source, "url", "") or "")
    return redact_url(url) if "://" in url else url


def _rv(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("resourceVersion") or "")


def _backoff(spec: Any) -> Backoff:
    b = getattr(spec, "backoff", None)
    if b is None:
        return Backoff()
    return Backoff(parse_duration(b.initial), parse_duration(b.max), float(b.factor), float(b.jitter))


__all__ = ["Reconciler", "Result"]
