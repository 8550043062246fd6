"""Gates: what stops a reconcile before (or instead of) any helm work, and what status says then.

An invalid spec stalls until the object changes; a suspended HelmRelease says so and waits; a
dependency not Ready is named and looked at again soon; a chart still being fetched frees the
worker (fetches.py queues the HelmRelease again when the fetch ends); a chart or values that
cannot be had, or Helm's storage we may not read, are retried with the spec's backoff, growing
with each failed try in a row, and told once they last (reconcile/alerting.py).
"""

from __future__ import annotations

import logging
import random

from ..api.durations import parse_duration
from ..api.models import HelmRelease, HelmReleaseSpec, SpecError
from ..notify import FAILED, STALLED
from ..sources.base import SourceError, redact_url
from ..valuesfrom import ValuesError
from . import alerting
from . import status as st
from .backoff import Backoff
from .objects import Key, Objects
from .report import Reporter
from .run import Result, Run

log = logging.getLogger("helmrelease_controller.reconciler")
FETCH_RECHECK = 60.0  # a reconcile waiting on a slow fetch looks again after this at the latest


class Gates:
    def __init__(self, objects: Objects, report: Reporter, dependency_requeue: float) -> None:
        self.objects, self.report, self.dependency_requeue = objects, report, dependency_requeue
        self.failed_tries: dict[Key, int] = {}  # chart/values/storage failures in a row, per key
        objects.forgotten.append(lambda key: self.failed_tries.pop(key, None))

    async def invalid(self, run: Run, e: SpecError) -> Result:
        """The spec cannot be used: Stalled with the one-line reason, until the object changes."""
        run.status = st.stalled(run.status, "InvalidSpec", f"invalid spec: {e}", run.gen, run.now())
        run.update(next_retry_at=None)
        if st.diff_patch(run.obj.get("status") or {}, run.status) is not None:
            self.report.event(run.obj, False, "InvalidSpec", str(e))
            self.report.metrics.release_failure(*run.key, "spec")
            self.report.notify(run.obj, STALLED, f"invalid spec: {e}")
            await self.objects.write_status(run.obj, run.status)
        return Result(None, "invalid", False)

    async def suspended(self, run: Run, hr: HelmRelease) -> Result:
        prev = run.status.condition(st.READY)
        by = " (spec.suspend)" if hr.spec.suspend else " (helmrelease.dev/suspend annotation)"
        was_ready = None if prev is None else prev.status == "True"
        observed = run.status.observed_generation
        status = st.ready(
            run.status, was_ready, "Suspended", "reconciliation suspended" + by, run.gen, run.now()
        )
        # A spec change made while suspended is not handled yet: observedGeneration stays, so
        # `kubectl wait --for=condition=Ready` does not report it done (as Flux).
        run.status = status.model_copy(update={"observed_generation": observed})
        await self.objects.write_status(run.obj, run.status)
        return Result(None, "suspended")

    async def blocked(self, run: Run, blocked: str) -> Result:
        """A dependsOn HelmRelease is not Ready: say which, look again soon, tell people if it lasts."""
        now = run.now()
        run.status = st.ready(run.status, False, "DependencyNotReady", blocked, run.gen, now)
        ready = run.status.condition(st.READY)
        since = st.parse_rfc3339(ready.last_transition_time if ready else None)
        if alerting.waiting_alert("DependencyNotReady", 0, since, now):
            waiting = alerting.waiting_attempt("DependencyNotReady", blocked)
            self.report.notify(run.obj, FAILED, f"DependencyNotReady: {blocked}", attempt=waiting)
        await self.objects.write_status(run.obj, run.status)
        return Result(self.dependency_requeue, "dependency")

    async def fetching(self, run: Run, hr: HelmRelease) -> Result:
        """The chart source is slow: say so; the worker goes back to the queue."""
        where = source_url(hr)
        msg = f"fetching chart from {where}" if where else "fetching chart"
        run.status = st.progressing(run.status, msg, msg, run.gen, run.now())
        await self.objects.write_status(run.obj, run.status)
        return Result(FETCH_RECHECK, "fetching")

    async def refused(
        self, run: Run, spec: HelmReleaseSpec, why: str, reason: str = "StorageForbidden"
    ) -> Result:
        """Helm's storage may not be read (rule 10: not transient), or (reason RESTClientError) the
        remote cluster of spec.kubeConfig cannot be used: said once, retried with backoff."""
        tries = self._failed(run.key)
        run.status = st.ready(run.status, False, reason, why, run.gen, run.now())
        if self._ready_changed(run):
            self.report.event(run.obj, False, reason, why)
            log.warning("%s: %s", reason, why, extra={"key": run.name})
            self.report.notify(run.obj, FAILED, why, attempt=alerting.waiting_attempt(reason, why))
        await self.objects.write_status(run.obj, run.status)
        return Result(backoff_of(spec).delay(tries, random.uniform(-1, 1)), "forbidden", False)

    async def artifact_failed(
        self, run: Run, spec: HelmReleaseSpec, err: SourceError | ValuesError
    ) -> Result:
        """The chart or the values could not be had: say why, retry with backoff, tell if it lasts."""
        reason = "ArtifactFailed" if isinstance(err, SourceError) else "ValuesError"
        tries, now = self._failed(run.key), run.now()
        run.status = st.ready(run.status, False, reason, str(err), run.gen, now)
        if self._ready_changed(run):
            self.report.event(run.obj, False, reason, str(err))
            self.report.metrics.release_failure(
                *run.key, "source" if reason == "ArtifactFailed" else "values"
            )
            run.update(failures=run.status.failures + 1)
            log.warning("%s: %s", reason, st.one_line(str(err), 300), extra={"key": run.name})
        if alerting.waiting_alert(reason, tries, 0.0, now):
            attempt = alerting.waiting_attempt(reason, str(err))
            self.report.notify(run.obj, FAILED, f"{reason}: {err}", attempt=attempt)
        await self.objects.write_status(run.obj, run.status)
        return Result(backoff_of(spec).delay(tries, random.uniform(-1, 1)), "source", False)

    def passed(self, key: Key) -> None:
        """The chart and values were had: the failed tries in a row start again from zero."""
        self.failed_tries.pop(key, None)

    def _failed(self, key: Key) -> int:
        tries = self.failed_tries[key] = self.failed_tries.get(key, 0) + 1
        return tries

    @staticmethod
    def _ready_changed(run: Run) -> bool:
        stored = st.load(run.obj, type(run.status)).condition(st.READY)
        return stored != run.status.condition(st.READY)


def source_url(hr: HelmRelease) -> str:
    """The chart source's URL for messages, credential-free."""
    source = getattr(hr.spec.chart, hr.spec.chart.kind, None)
    url = str(getattr(source, "url", "") or "")
    return redact_url(url) if "://" in url else url


def backoff_of(spec: HelmReleaseSpec | None) -> Backoff:
    """The retry policy of `spec.backoff` (the defaults without one)."""
    b = spec.backoff if spec is not None else None
    if b is None:
        return Backoff()
    return Backoff(parse_duration(b.initial), parse_duration(b.max), float(b.factor), float(b.jitter))
