"""One reconcile of one HelmRelease, top to bottom: load -> gate -> resolve -> decide/act -> report.

The shape of Flux's `atomic_release.go`: observe Helm's storage, ask the pure decision table
(decide.py) for the next action, carry it out (actions/: one module per action, each recording
its own outcome), and loop (unlock -> upgrade -> rollback ...) until the decision is to do
nothing, wait or stall (settle.py). A failed install, upgrade or test is explained once
(explain.py: forensics and what changed); a release found in sync is compared with the live
objects when drift detection is on (driftcheck.py). Status is written before every action ("Progressing",
carrying the previous action's outcome) and once at the end; Helm's storage, not our status,
is the record of what was done, so a controller killed mid-loop loses nothing. An unchanged
status is not written at all.

Round trips are kept off the critical path (measured in hack/bench.py): the finalizer patch,
the first look at Helm's storage and the chart resolve run at once, and the "Progressing"
write runs while helm starts. A slow chart fetch does not hold the worker (fetches.py).

Returns when to look again (`interval`, a retry time, or None for "only on change").
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from ..api.durations import parse_duration
from ..api.models import CONDITION_DRIFTED, FINALIZER, HelmRelease, SpecError
from ..fetches import PENDING, Fetches
from ..helm.runner import Helm, HelmError, unsupported_by
from ..kube.client import ApiError as KubeApiError
from ..kube.client import KubeClient
from ..kube.events import EventRecorder
from ..kube.sharding import dependency_view
from ..metrics import Metrics
from ..notify import FAILED, RECOVERED, STALLED, Dispatcher
from ..preflight import storage_forbidden_reason
from ..sources.base import ResolvedChart, SourceError
from ..valuesfiles import read_values_files
from ..valuesfrom import UserValues, ValuesError, read_user_values
from . import actions, alerting, dependencies
from . import status as st
from .actions import ActionResult, Step
from .decide import Action, decide, effective
from .driftcheck import DriftChecker
from .explain import ExplainContext, Explainer, Explanation, record_failure
from .facts import facts_for
from .finalize import Finalizer
from .gates import Gates
from .helmstorage import ReleaseObservation
from .objects import Cache, Objects
from .plan import Plan, Resolved, release_plan
from .remote import REASON as REMOTE_REASON
from .remote import Cluster, RemoteClusters, RemoteError
from .report import Reporter
from .run import Result, Run, Tokens
from .settle import settled
from .storagecache import StorageCache
from .tenancy import Tenancy

log = logging.getLogger("helmrelease_controller.reconciler")

MAX_STEPS = 6
SETTLING = (Action.NONE, Action.WAIT, Action.STALL)
MAKERS = (Action.INSTALL, Action.UPGRADE)  # actions whose success ends with a new `deployed` revision


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        helm: Helm,
        sources: Any,
        events: EventRecorder,
        cache: Cache,
        dependency_requeue: float = 5.0,
        metrics: Metrics | None = None,
        notifier: Dispatcher | None = None,
        tenancy: Tenancy | None = None,
        storage: StorageCache | None = None,
    ) -> None:
        self.client, self.helm, self.sources, self.cache = client, helm, sources, cache
        # Helm's storage: from the controller's informer when it runs, else always a direct list.
        self.storage = storage or StorageCache(client)
        self.tenancy = tenancy or Tenancy()
        self.objects = Objects(client, cache)
        self.report = Reporter(events, metrics or Metrics(), notifier)
        self.gates = Gates(self.objects, self.report, dependency_requeue)
        self.finalizer = Finalizer(client, helm, self.objects, self.report, self.tenancy)
        self.remotes = RemoteClusters(client)  # spec.kubeConfig: releases in other clusters
        # Chart fetches run beside the workers (rule 9); the controller sets `fetches.on_done` to
        # queue a HelmRelease again when its fetch finishes.
        self.fetches: Fetches[ResolvedChart] = Fetches()
        self.drift = DriftChecker(self.report)  # spec.driftDetection, when the release is in sync
        self.explainer = Explainer()  # why a failed action failed, what it changed
        # Told of every chart a reconcile resolves (the controller's SourceWatch: sourcewatch.py).
        self.on_resolved: Callable[[HelmRelease, ResolvedChart], None] | None = None

    async def reconcile(self, ns: str, name: str) -> Result:
        obj = self.objects.current(ns, name)
        if obj is None:
            return Result(None)
        if obj["metadata"].get("deletionTimestamp"):
            return await self.finalizer.finalize(obj)
        try:
            hr = self.objects.parse(obj)
        except SpecError as e:
            return await self.gates.invalid(Run.start(obj), e)
        if refused := self.tenancy.refusals(hr) + await self._helm_refusals(hr):
            return await self.gates.invalid(Run.start(obj, hr.status), SpecError(refused))
        run = Run.start(obj, hr.status)  # the status parsed with the object (cached per version)
        gated = await self._gate(run, hr)
        if gated is not None:
            return gated
        return await self._release(run, hr)

    async def _release(self, run: Run, hr: HelmRelease) -> Result:
        """Resolve, decide and act where the release lives: this cluster, or spec.kubeConfig's
        (reconcile/remote.py); a remote cluster that cannot be used is said and retried."""
        local = Cluster(self.client, self.helm, self.storage.observe)
        try:
            async with self.remotes.cluster(hr, local, self.tenancy.helm_user(hr)) as where:
                resolved = await self._prepare(run, hr, where)
                if isinstance(resolved, Result):
                    return resolved
                return await self._converge(run, hr, resolved, where)
        except RemoteError as e:
            return await self.gates.refused(run, hr.spec, str(e), reason=REMOTE_REASON)

    # -- load and gate ------------------------------------------------------------------------------
    async def _helm_refusals(self, hr: HelmRelease) -> list[str]:
        """What the spec asks that this helm cannot do (helm 4 --recreate-pods, helm 3 poller)."""
        try:
            major = await self.helm.major_version()
        except HelmError:
            return []  # the action's helm run says what is wrong with helm
        spec = hr.spec
        return unsupported_by(major, recreate=spec.rollback.recreate, wait_strategy=spec.wait_strategy_name)

    async def _gate(self, run: Run, hr: HelmRelease) -> Result | None:
        """Suspension and dependencies stop the reconcile here (an invalid spec stopped it earlier)."""
        run.tokens = Tokens.of(hr)
        run.refresh = run.tokens.refresh(run.status)
        if run.tokens.reconcile:
            run.update(last_handled_reconcile_at=run.tokens.reconcile)
        run.update(suspended=hr.suspended)
        if hr.suspended:
            return await self.gates.suspended(run, hr)
        deps = [(d.namespace, d.name) for d in hr.spec.depends_on]
        # A dependency of another shard is not in our cache: read it (kube/sharding.py).
        lookup = await dependency_view(self.client, self.cache.get, hr.namespace, hr.name, deps)
        blocked = dependencies.blocking(lookup, hr.namespace, hr.name, deps)
        return await self.gates.blocked(run, blocked) if blocked else None

    async def _prepare(self, run: Run, hr: HelmRelease, where: Cluster) -> Resolved | Result:
        """Three independent round trips at once: our finalizer on the object (before anything is
        installed), Helm's storage for this release, and the chart + values."""
        fin, first_look, resolved = await asyncio.gather(
            self._ensure_finalizer(run.obj),
            where.observe(hr.storage_namespace, hr.release_name, fresh=run.refresh),
            self._resolve(hr, run.refresh),
            return_exceptions=True,
        )
        if (
            isinstance(first_look, KubeApiError)
            and not where.remote
            and (why := storage_forbidden_reason(first_look, hr.storage_namespace))
        ):
            run.obj = fin if isinstance(fin, dict) else run.obj
            return await self.gates.refused(run, hr.spec, why)
        for r in (fin, first_look):
            if isinstance(r, BaseException):
                raise r
        assert isinstance(fin, dict) and isinstance(first_look, ReleaseObservation)
        run.obj = fin
        if resolved is PENDING:
            return await self.gates.fetching(run, hr)
        if isinstance(resolved, SourceError | ValuesError):
            return await self.gates.artifact_failed(run, hr.spec, resolved)
        if isinstance(resolved, BaseException):
            raise resolved
        self.gates.passed(run.key)
        chart, got = resolved
        return Resolved(chart, got.values, got.secrets, first_look, got.secret_paths)

    async def _ensure_finalizer(self, obj: dict[str, Any]) -> dict[str, Any]:
        finalizers = obj["metadata"].get("finalizers") or []
        if FINALIZER in finalizers:
            return obj
        return await self.objects.set_finalizers(obj, [*finalizers, FINALIZER])

    async def _resolve(self, hr: HelmRelease, refresh: bool) -> tuple[ResolvedChart, UserValues] | Any:
        """The chart and the merged user values (and what of them came from Secrets: the strings,
        for redaction, and the paths, for what a failure changed), or PENDING while a slow chart
        fetch goes on without this worker."""
        spec = hr.spec

        def start() -> Any:
            return self.sources.resolve(hr, self.client, refresh=refresh)

        chart = await self.fetches.get((hr.namespace, hr.name), repr(spec.chart), start)
        if chart is PENDING:
            return PENDING
        assert isinstance(chart, ResolvedChart)
        if self.on_resolved is not None:
            self.on_resolved(hr, chart)
        source_spec = getattr(spec.chart, spec.chart.kind)
        chart_files = await read_values_files(chart, list(getattr(source_spec, "values_files", []) or []))
        return chart, await read_user_values(self.client, hr, chart_files)

    # -- decide and act -----------------------------------------------------------------------------
    async def _converge(self, run: Run, hr: HelmRelease, r: Resolved, where: Cluster) -> Result:
        """Decide and act until settled, then report and write status."""
        plan = release_plan(hr, r, run.gen, self.tenancy.helm_user(hr))
        self.helm.add_secrets(plan.secrets)
        chart = r.chart
        run.update(helm_chart=f"{chart.name}@{chart.version}", storage_namespace=hr.storage_namespace)
        force = run.tokens.force_new(run.status)
        reset = run.tokens.reset_new(run.status)
        if reset:
            run.update(last_handled_reset_at=run.tokens.reset)
        result = Result(parse_duration(hr.spec.interval))
        release: ReleaseObservation | None = r.release
        made = 0  # the revision a successful install or upgrade just made (storagecache.py)
        for _ in range(MAX_STEPS):
            if release is None:
                t = plan.target
                release = await where.observe(t.storage_namespace, t.release, fresh=True, after=made)
            step = self._step(run, hr, plan, release, force, reset)
            reset = False
            if step.decision.action in SETTLING:
                result = self._settle(run, hr, plan, step, release)
                await self._check_drift(run, hr, plan, step, release, where)
                break
            if force and step.decision.action in (Action.INSTALL, Action.UPGRADE):
                run.update(last_handled_force_at=run.tokens.force)
                force = False
            done = await self._act(run, step, plan, where)
            release = done.observed
            made = done.revision if done.ok and step.decision.action in MAKERS else 0
            result = Result(result.requeue_after, step.decision.action.value.lower(), done.ok)
        await self._finish(run, plan)
        return result

    async def _check_drift(
        self, run: Run, hr: HelmRelease, plan: Plan, step: Step, release: ReleaseObservation, where: Cluster
    ) -> None:
        """In sync: compare the live objects with the release when the spec asks (driftcheck.py)."""
        if hr.spec.drift_detection.mode == "disabled":
            run.status = st.drop_condition(run.status, CONDITION_DRIFTED)
        elif step.decision.action is Action.NONE:
            client = where.client if where.remote else where.client.impersonating(plan.target.helm_user)
            await self.drift.check(run, hr, release, where.client, client)

    def _step(
        self, run: Run, hr: HelmRelease, plan: Plan, release: ReleaseObservation, force: bool, reset: bool
    ) -> Step:
        """The next decision, from facts about the release as it stands. Counters reset when the
        config digest changes (effective), on reset-at, and when the spec changed (generation)."""
        run.status = st.sync_history_statuses(run.status, {v.version: v.status for v in release.revisions})
        new_generation = (run.status.last_attempted_generation or run.gen) != run.gen
        digest = plan.target.config_digest
        facts = effective(
            facts_for(hr, run.status, release, digest, time.time(), force), reset or new_generation
        )
        s = run.status
        if (facts.upgrade_failures, facts.install_failures) != (s.upgrade_failures, s.install_failures):
            run.update(
                install_failures=facts.install_failures,
                upgrade_failures=facts.upgrade_failures,
                next_retry_at=None,
            )
            run.status = st.drop_condition(run.status, st.REMEDIATED)
        d = decide(facts)
        log.debug("decision", extra={"key": run.name, "action": d.action.value, "reason": d.reason})
        return Step(d, facts, plan.target, plan.attempt, hr.spec, force=facts.force_requested)

    def _settle(
        self, run: Run, hr: HelmRelease, plan: Plan, step: Step, release: ReleaseObservation
    ) -> Result:
        """The loop ends: in sync, waiting for a retry, or stalled."""
        d, test = step.decision, hr.spec.test
        run.status = settled(
            run.status, d, release, plan.attempt, test.enable and not test.ignore_failures, time.time()
        )
        if d.action is Action.STALL:
            stall = run.status.condition(st.STALLED)
            attempt = alerting.action_attempt(plan.target.config_digest, "")
            message = stall.message if stall else d.reason
            self.report.notify(run.obj, STALLED, message, plan.secrets, attempt=attempt, **plan.fields)
        interval = parse_duration(hr.spec.interval)
        if d.action is Action.NONE:
            return Result(interval, "none", True)
        if d.action is Action.WAIT:
            return Result(max(0.0, d.retry_at - time.time()) + 0.05, "wait", False)
        return Result(None, "stall", False)

    async def _act(self, run: Run, step: Step, plan: Plan, where: Cluster) -> ActionResult:
        """Say "Progressing", run the action (the status write goes out while helm starts), report
        it, and record its outcome in status (written with the next step's write or the last)."""
        d, now = step.decision, time.time()
        run.status = st.progressing(run.status, f"{d.action.value}: {d.reason}", d.reason, run.gen, now)
        progress = asyncio.ensure_future(self.objects.write_status(run.obj, run.status))
        module = actions.for_step(step)
        try:
            done = await module.run(where.helm.impersonating(step.target.helm_user), where.client, step)
        finally:
            try:
                run.obj = await progress
            except (KubeApiError, OSError, TimeoutError) as e:
                log.warning(
                    "status write failed while helm ran: %s",
                    st.one_line(str(e), 200),
                    extra={"key": run.name},
                )
        objects = where.client if where.remote else where.client.impersonating(step.target.helm_user)
        why = await self.explainer.explain(
            module.LABEL, step, done, ExplainContext(where.client, objects, now, plan.secrets)
        )
        self._tell(run, step, plan, module.LABEL, done, why)
        run.status = module.record(run.status, step, done, time.time(), random.uniform(-1, 1))
        run.status = record_failure(run.status, module.LABEL, done, why, now)
        return done

    def _tell(
        self, run: Run, step: Step, plan: Plan, label: str, done: ActionResult, why: Explanation
    ) -> None:
        """The event, metrics, log line and (for a failure) notification of one action; a failure's
        event also says what the attempt changed."""
        t, d = step.target, step.decision
        msg = done.message or f"{d.action.value.lower()} of release {t.namespace}/{t.release} succeeded"
        changed = f"; changed: {', '.join(why.changes)}" if why.changes else ""
        if done.ok and label in ("install", "upgrade"):
            msg = f"Helm {label} succeeded: {t.namespace}/{t.release} revision {done.revision}"
        self.report.event(
            run.obj,
            done.ok,
            label.capitalize() + ("Succeeded" if done.ok else "Failed"),
            msg + changed,
            label.capitalize(),
        )
        self.report.metrics.helm_action(label, done.ok, done.duration)
        extra = {"key": run.name, "duration": round(done.duration, 3)}
        if done.ok:
            log.info("%s ok", d.action.value.lower(), extra=extra)
            return
        log.warning("%s failed: %s", label, st.one_line(msg, 300), extra=extra)
        self.report.metrics.release_failure(t.owner_namespace, t.owner_name, label)
        if d.action is Action.TEST and step.attempt.test_ignore_failures:
            return
        latest = step.facts.release.latest
        revision = done.revision or (latest.version if latest else 0)
        attempt = alerting.action_attempt(t.config_digest, d.action.value.lower())
        fields = {**plan.fields, "revision": revision}
        self.report.notify(
            run.obj,
            FAILED,
            done.message,
            plan.secrets,
            action=label,
            attempt=attempt,
            details=why.details,
            changes=why.changes,
            **fields,
        )

    async def _finish(self, run: Run, plan: Plan) -> None:
        """Tell of a recovery (only delivered after a failure or stall was), and write status."""
        ready = run.status.condition(st.READY)
        if ready is not None and ready.status == "True" and not run.initially_ready:
            revision = run.status.history[0].revision if run.status.history else 0
            fields = {**plan.fields, "revision": revision}
            self.report.notify(run.obj, RECOVERED, ready.message, plan.secrets, **fields)
        await self.objects.write_status(run.obj, run.status)


__all__ = ["Reconciler", "Result"]
