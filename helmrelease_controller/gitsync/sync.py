"""One sync of one GitSync: check out, render, validate, plan, apply, prune, record status.

`GitSyncReconciler.reconcile(namespace, name)` reads the GitSync, checks out the commit its ref
names (checkout.py: the shared git mirror of chart.git), renders it (render.py), validates it whole
(validate.py), compares it with the labelled live objects (plan.py) and writes it (apply.py).

- A commit is applied whole or not at all: broken YAML, a refused kind, a duplicate, an invalid
  HelmRelease or an object of another GitSync rejects it before any write. The last good commit
  stays applied (`lastAppliedRevision`), `lastAttemptedRevision` names the rejected one, Ready and
  Stalled are False/True with the first `file:line: problem` as message, and the next push is
  tried at the next interval.
- A write that fails midway leaves Ready=False; the next sync applies the same commit again, whole
  (objects already applied have matching digests and cost nothing), so a controller killed
  mid-apply converges on restart.
- Status: lastAppliedRevision (`<branch>@sha1:<commit>`), the commit subjects, the inventory of
  the applied commit, the orphans (gone from git, not pruned), conditions Ready/Reconciling/
  Stalled with one-line reasons. An unchanged status is not written; a sync that changes nothing
  writes nothing at all.
- Deletion: with prune: true the GitSync carries the `helmrelease.dev/finalizer`, and deleting it
  deletes what it applied (never objects annotated `helmrelease.dev/prune: disabled`); without
  prune it carries none and deleting it deletes nothing else.

- Notifications (with a `notifier`, the same Slack/webhook routing as HelmReleases, kind GitSync):
  a rejected commit is one `failed` message naming file and line (its dedup attempt is the commit);
  a sync failing `FAILURES_BEFORE_ALERT` times in a row is one `failed` message per distinct
  reason; `recovered` follows when it is Ready again (sent only to whoever heard of the failure).

Returns when to sync again (the interval; sooner after a transient failure), or None.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from helmrelease_controller.api.gitsync import GitSync, GitSyncStatus, InventoryEntry, owner_label_value
from helmrelease_controller.api.models import ANNOTATION_RECONCILE_REQUESTED_AT, FINALIZER, SpecError
from helmrelease_controller.charts import secret_credentials
from helmrelease_controller.kube.client import ApiError, KubeClient, NotFound
from helmrelease_controller.kube.events import EventRecorder
from helmrelease_controller.notify import FAILED, RECOVERED, Dispatcher, Notification
from helmrelease_controller.notify.notification import GITSYNC
from helmrelease_controller.reconcile import status as st
from helmrelease_controller.reconcile.tenancy import Tenancy
from helmrelease_controller.sources.base import SourceError
from helmrelease_controller.sources.git import GitSource

from .apply import GITSYNCS, ApplyError, ApplyResult, apply_plan, list_live
from .checkout import Checkout, checkout, drop_checkouts
from .plan import Plan, plan
from .render import RenderError, render
from .validate import Validated, validate

__all__ = ["FAILURES_BEFORE_ALERT", "TRANSIENT_RETRY", "GitSyncReconciler"]

log = logging.getLogger(__name__)
TRANSIENT_RETRY = 30.0  # seconds, at most, after an unreachable repository or API server
FAILURES_BEFORE_ALERT = 3  # failed syncs in a row before a notification (a blip pages nobody)
_Obj = dict[str, Any]  # an object or its status, as the API serves it


def _first(messages: list[str]) -> str:
    more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
    return messages[0] + more


class GitSyncReconciler:
    """Syncs GitSync objects; one instance serves them all (one sync per GitSync at a time: the caller's
    work queue serializes per key)."""

    def __init__(
        self,
        client: KubeClient,
        events: EventRecorder,
        git: GitSource,
        *,
        work_dir: Path | None = None,
        allow_cross_namespace: bool = False,
        kubectl: str = "kubectl",
        clock: Any = time.time,
        notifier: Dispatcher | None = None,
        default_service_account: str | None = None,
    ) -> None:
        self.client, self.events, self.git, self.notifier = client, events, git, notifier
        self.tenancy = Tenancy(default_service_account)  # whose identity writes (docs/security.md)
        self.work_dir = work_dir if work_dir is not None else git.mirror_root.parent / "gitsync"
        self.allow_cross_namespace, self.kubectl, self._clock = allow_cross_namespace, kubectl, clock
        self._validated: dict[tuple[str, str], tuple[tuple[Any, ...], Validated]] = {}
        self._commits: dict[tuple[str, str], str] = {}  # exported commit in use per GitSync
        self._refresh: set[tuple[str, str]] = set()  # GitSyncs whose next sync must fetch (webhook)
        self.results: Counter[str] = Counter()  # outcome -> syncs
        # Per GitSync, what its last sync did: (outcome, objects applied, objects pruned), for
        # metrics (read by the runtime; per key, since syncs of different GitSyncs interleave).
        self.reports: dict[tuple[str, str], tuple[str, int, int]] = {}
        self._written: dict[tuple[str, str], tuple[int, int]] = {}
        self._failures: Counter[tuple[str, str]] = Counter()  # failed syncs in a row, per GitSync

    # -- the entry point ------------------------------------------------------------------------
    async def reconcile(self, namespace: str, name: str) -> float | None:
        try:
            obj = await self.client.get(GITSYNCS, namespace, name)
        except NotFound:
            self._forget(namespace, name)
            return None
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if obj["metadata"].get("deletionTimestamp"):
            self._forget(namespace, name)
            return await self._finalize(obj) if FINALIZER in finalizers else None
        status = st.load(obj, GitSyncStatus)
        gen, now = int(obj["metadata"].get("generation") or 0), self._clock()
        try:
            gs = GitSync.from_obj(obj)
        except SpecError as exc:
            await self._finish(obj, st.stalled(status, "InvalidSpec", str(exc), gen, now), "invalid")
            self.events.emit(obj, "Warning", "InvalidSpec", str(exc))
            return None
        if gs.spec.prune != (FINALIZER in finalizers):  # prune: true also prunes on deletion
            wanted = [f for f in finalizers if f != FINALIZER] + ([FINALIZER] if gs.spec.prune else [])
            try:
                obj = await self._set_finalizers(obj, wanted)
            except ApiError as exc:
                log.info("GitSync %s/%s: finalizer not updated (%s); retrying", namespace, name, exc)
                return 1.0
        status = status.model_copy(update={"suspended": gs.suspended})
        if gs.suspended:
            status = st.drop_condition(status, st.RECONCILING)
            await self._finish(obj, status, "suspended")
            return None
        try:
            async with asyncio.timeout(gs.spec.timeout_seconds):
                return await self._sync(obj, gs, status)
        except TimeoutError:
            message = f"sync did not finish within spec.timeout ({gs.spec.timeout})"
            return await self._failed(obj, gs, status, "SyncTimedOut", message, transient=True)
        except ApiError as exc:  # reading a Secret, writing status: the API server, not the commit
            return await self._failed(obj, gs, status, "KubernetesApiError", str(exc), transient=True)

    async def _finalize(self, obj: dict[str, Any]) -> float | None:
        """A GitSync with prune: true is being deleted: delete what it applied (never what is
        protected), then release it. Without prune (any more), it only releases it."""
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        if (obj.get("spec") or {}).get("prune") is True:
            inventory = (obj.get("status") or {}).get("inventory") or []
            namespaces = {ns} | {
                e["namespace"] for e in inventory if isinstance(e, dict) and e.get("namespace")
            }
            applier = self._applier(ns, (obj.get("spec") or {}).get("serviceAccountName"))
            try:
                live = await list_live(self.client, namespaces)
                result = await apply_plan(
                    applier, plan([], live, owner=owner_label_value(ns, name), prune=True, home=ns)
                )
            except (ApiError, ApplyError) as exc:
                self.events.emit(obj, "Warning", "PruneFailed", f"GitSync deleted: {exc}")
                return TRANSIENT_RETRY
            self.reports[(ns, name)] = ("deleted", 0, result.total_pruned)
            if result.total_pruned:
                self.events.emit(
                    obj, "Normal", "Pruned", f"GitSync deleted: {result.total_pruned} objects pruned"
                )
        try:
            await self._set_finalizers(obj, [f for f in meta.get("finalizers") or [] if f != FINALIZER])
        except NotFound:
            pass
        except ApiError as exc:
            log.info("GitSync %s/%s: finalizer not removed (%s); retrying", ns, name, exc)
            return 1.0
        return None

    def _applier(self, namespace: str, service_account: str | None) -> KubeClient:
        """Who writes (applies and prunes) a GitSync's objects: its ServiceAccount (else the default
        one) through impersonation, as helm does for a HelmRelease (reconcile/tenancy.py); else the
        controller. Reading the labels of what a GitSync applied stays the controller's (a
        team's ServiceAccount need not list Namespaces cluster-wide for that)."""
        return self.client.impersonating(self.tenancy.user(namespace, service_account))

    async def _set_finalizers(self, obj: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        meta = obj["metadata"]
        body = {"metadata": {"finalizers": finalizers or None, "resourceVersion": meta["resourceVersion"]}}
        out: dict[str, Any] = await self.client.patch(GITSYNCS, meta["namespace"], meta["name"], body)
        return out

    def request_refresh(self, namespace: str, name: str) -> None:
        """The next sync of this GitSync fetches the repository whatever the fetch interval (a push
        webhook was received); the caller queues the sync itself."""
        self._refresh.add((namespace, name))

    def _forget(self, namespace: str, name: str) -> None:
        self._failures.pop((namespace, name), None)
        if self.notifier is not None:
            self.notifier.forget(namespace, name, GITSYNC)
        self._written.pop((namespace, name), None)
        self._validated.pop((namespace, name), None)
        self._commits.pop((namespace, name), None)

    # -- one sync -----------------------------------------------------------------------------------
    async def _sync(self, obj: dict[str, Any], gs: GitSync, status: GitSyncStatus) -> float | None:
        key, gen = (gs.namespace, gs.name), gs.generation
        try:
            co, status = await self._checkout(gs, status)
        except SourceError as exc:
            return await self._failed(
                obj, gs, status, "GitOperationFailed", str(exc), transient=exc.transient
            )
        status = status.model_copy(
            update={"last_attempted_revision": co.revision, "last_attempted_subject": co.subject}
        )
        validated = await self._validate(key, gs, co.commit, co.root)
        if not validated.ok:
            return await self._rejected(obj, gs, status, validated.errors)
        namespaces = {gs.namespace} | {d.namespace for d in validated.objects if d.namespace}
        namespaces |= {e.namespace for e in status.inventory if e.namespace}
        applier = self._applier(gs.namespace, gs.spec.service_account_name)
        try:
            live = await list_live(self.client, namespaces)
        except ApiError as exc:
            return await self._failed(obj, gs, status, "ApplyFailed", f"listing applied objects: {exc}", True)
        todo = plan(validated.objects, live, owner=gs.owner, prune=gs.spec.prune, home=gs.namespace)
        if todo.conflicts:
            return await self._rejected(obj, gs, status, todo.conflicts)
        if todo.apply or todo.prune:
            message = f"applying {co.revision}: {len(todo.apply)} to apply, {len(todo.prune)} to prune"
            progressing = st.set_condition(
                status, st.RECONCILING, True, "Progressing", message, gen, self._clock()
            )
            obj = await self._write(obj, progressing)
        try:
            result = await apply_plan(applier, todo)
        except ApplyError as exc:
            return await self._failed(obj, gs, status, "ApplyFailed", str(exc), transient=True)
        self._written[key] = (result.total_applied, result.total_pruned)
        return await self._applied(obj, gs, status, co, todo, result)

    async def _checkout(self, gs: GitSync, status: GitSyncStatus) -> tuple[Checkout, GitSyncStatus]:
        """The commit to sync, checked out; fetched first when a reconcile was requested (the
        annotation's token is recorded in the status returned) or a webhook asked for it. Raises
        SourceError."""
        key = (gs.namespace, gs.name)
        token = (gs.metadata.get("annotations") or {}).get(ANNOTATION_RECONCILE_REQUESTED_AT)
        requested = bool(token) and token != status.last_handled_reconcile_at
        if requested:
            status = status.model_copy(update={"last_handled_reconcile_at": token})
        refresh = requested or key in self._refresh
        self._refresh.discard(key)
        creds = await secret_credentials(self.client, gs.namespace, gs.spec.secret_ref)
        co = await checkout(self.git, gs.spec, creds, self.work_dir, refresh=refresh)
        if self._commits.get(key) != co.commit:
            self._commits[key] = co.commit
            await asyncio.to_thread(drop_checkouts, self.work_dir, set(self._commits.values()))
        return co, status

    async def _applied(
        self, obj: _Obj, gs: GitSync, status: GitSyncStatus, co: Checkout, todo: Plan, result: ApplyResult
    ) -> float | None:
        """The commit is applied: status, the recovery notification and events say so."""
        key, gen = (gs.namespace, gs.name), gs.generation
        status = status.model_copy(
            update={
                "last_applied_revision": co.revision,
                "last_applied_subject": co.subject,
                "inventory": [InventoryEntry.model_validate(r.entry()) for r in todo.inventory],
                "orphans": [InventoryEntry.model_validate(r.entry()) for r in todo.orphans] or None,
            }
        )
        summary = f"applied revision {co.revision}: {len(todo.inventory)} objects"
        if todo.orphans:
            summary += f", {len(todo.orphans)} gone from git left in place"
        was_ready = st.is_true(st.load(obj, GitSyncStatus), st.READY)
        status = st.ready(status, True, "Succeeded", summary, gen, self._clock())
        await self._finish(obj, status, "succeeded")
        self._failures.pop(key, None)
        if not was_ready:  # the dispatcher sends it only to providers that heard of a failure
            self._notify(obj, RECOVERED, summary, co.revision)
        if result.total_applied or result.total_pruned:
            self.events.emit(
                obj, "Normal", "Applied",
                f"revision {co.revision} ({co.subject}): {result.total_applied} applied, "
                f"{result.unchanged} unchanged, {result.total_pruned} pruned",
            )  # fmt: skip
        if todo.orphans and (result.total_applied or result.total_pruned or _changed(obj, status)):
            names = ", ".join(r.describe() for r in todo.orphans[:5])
            more = f" and {len(todo.orphans) - 5} more" if len(todo.orphans) > 5 else ""
            why = "prune is off" if not gs.spec.prune else "helmrelease.dev/prune: disabled"
            self.events.emit(
                obj, "Normal", "Orphaned", f"gone from git, left in place ({why}): {names}{more}"
            )
        return gs.spec.interval_seconds

    async def _validate(self, key: tuple[str, str], gs: GitSync, commit: str, root: Path) -> Validated:
        """The validated commit; rendered and validated once per (commit, path, namespace)."""
        ident = (commit, gs.spec.path, gs.namespace, self.allow_cross_namespace)
        cached = self._validated.get(key)
        if cached is not None and cached[0] == ident:
            return cached[1]
        try:
            docs = await render(root, gs.spec.path, kubectl=self.kubectl, timeout=gs.spec.timeout_seconds)
            validated = validate(
                docs, namespace=gs.namespace, allow_cross_namespace=self.allow_cross_namespace
            )
        except RenderError as exc:
            validated = Validated([], exc.messages)
        self._validated[key] = (ident, validated)
        return validated

    # -- outcomes -----------------------------------------------------------------------------------
    async def _rejected(
        self, obj: dict[str, Any], gs: GitSync, status: GitSyncStatus, errors: list[str]
    ) -> float | None:
        message = f"commit rejected, nothing applied: {_first(errors)}"
        status = st.stalled(status, "ValidationFailed", message, gs.generation, self._clock())
        revision = status.last_attempted_revision or ""
        if _changed(obj, status):
            self.events.emit(obj, "Warning", "ValidationFailed", f"{revision}: {message}")
            # One message per rejected commit: its attempt is the commit (a restart, a resync or
            # another sync of the same commit changes no status and sends nothing).
            self._notify(obj, FAILED, message, revision, attempt=f"rejected:{revision}")
        self._failures.pop((gs.namespace, gs.name), None)
        await self._finish(obj, status, "rejected")
        return gs.spec.interval_seconds

    async def _failed(
        self,
        obj: dict[str, Any],
        gs: GitSync,
        status: GitSyncStatus,
        reason: str,
        message: str,
        transient: bool,
    ) -> float | None:
        status = st.ready(status, False, reason, message, gs.generation, self._clock())
        if _changed(obj, status):
            self.events.emit(obj, "Warning", reason, message)
        key = (gs.namespace, gs.name)
        self._failures[key] += 1
        if self._failures[key] >= FAILURES_BEFORE_ALERT:  # deduplicated per reason and message
            revision = status.last_attempted_revision or ""
            self._notify(obj, FAILED, f"{reason}: {message}", revision, attempt=f"{reason}:{message}")
        await self._finish(obj, status, "failed")
        interval = gs.spec.interval_seconds
        return min(interval, TRANSIENT_RETRY) if transient else interval

    def _notify(
        self, obj: dict[str, Any], outcome: str, reason: str, revision: str, attempt: str = ""
    ) -> None:
        """A Slack/webhook notification about this GitSync; never blocks, never raises."""
        if self.notifier is not None:
            self.notifier.submit(
                Notification.for_object(
                    obj, outcome, kind=GITSYNC, action="sync" if outcome == FAILED else "",
                    reason=reason, git_revision=revision, attempt=attempt,
                )
            )  # fmt: skip

    async def _finish(self, obj: dict[str, Any], status: GitSyncStatus, outcome: str) -> None:
        self.results[outcome] += 1
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.reports[key] = (outcome, *self._written.pop(key, (0, 0)))
        try:
            await self._write(obj, status)
        except ApiError as exc:
            log.warning("GitSync %s/%s: status not written: %s", obj["metadata"].get("namespace"),
                        obj["metadata"]["name"], exc)  # fmt: skip

    async def _write(self, obj: dict[str, Any], status: GitSyncStatus) -> dict[str, Any]:
        """Write `status` as a merge patch of what changed; nothing when nothing did."""
        patch = st.diff_patch(obj.get("status") or {}, status)
        if patch is None:
            return obj
        meta = obj["metadata"]
        out: dict[str, Any] = await self.client.patch(
            GITSYNCS, meta.get("namespace"), meta["name"], {"status": patch}, subresource="status"
        )
        return out


def _changed(obj: dict[str, Any], status: GitSyncStatus) -> bool:
    """Whether `status` differs from what `obj` stores (a write, and news worth an event)."""
    return st.diff_patch(obj.get("status") or {}, status) is not None
