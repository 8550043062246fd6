"""The Deployment controller: ReplicaSets per pod template, rollouts, and a status from them.

As kube-controller-manager's deployment controller does:

- the new ReplicaSet is the one whose template equals the Deployment's (ignoring
  `pod-template-hash`); none: one is created, `<deploy>-<hash>` with the hash label in its
  selector and template, ownerReference `controller: true`, annotations
  `deployment.kubernetes.io/revision` (one above the newest), `desired-replicas`, `max-replicas`;
  going back to an older template makes its ReplicaSet the newest revision (rollout undo);
- RollingUpdate: the new ReplicaSet grows within `maxSurge`, old ones shrink while at least
  `replicas - maxUnavailable` pods stay available (unhealthy old pods go first), so a new
  template whose pods never become ready leaves the old pods serving; Recreate: old ones go to
  0 first; events `ScalingReplicaSet` (`Scaled up replica set x from 0 to 1`);
- old ReplicaSets beyond `revisionHistoryLimit` (scaled to 0) are deleted;
- status: replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
  observedGeneration, conditions Available (MinimumReplicas[Un]available) and Progressing
  (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable; False
  with ProgressDeadlineExceeded once no progress was made for `progressDeadlineSeconds`, real
  seconds, checked by one shared timer).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from . import pods
from .pods import Obj
from .resources import ResourceType
from .store import ApiError, now_rfc3339

if TYPE_CHECKING:
    from .workloads import Workloads

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
COMPONENT = "deployment-controller"
# Annotations a Deployment does not pass on to its ReplicaSets (skipCopyAnnotation).
_NOT_COPIED = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, DESIRED, MAX,
               "deployment.kubernetes.io/revision-history", "deprecated.deployment.rollback.to"}  # fmt: skip


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _revision(rs: Obj) -> int:
    try:
        return int((_meta(rs).get("annotations") or {}).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def _replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0) or 0)


def _st(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0) or 0)


def _scaled(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        x = int(value[:-1]) * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    return int(value or 0)


def surge_and_unavailable(dep: Obj) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts: (maxSurge, maxUnavailable); both 0 makes unavailable 1."""
    spec = dep.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    replicas = int(spec.get("replicas", 1))
    surge = _scaled(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def _epoch(ts: str) -> float:
    try:
        return dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    except (TypeError, ValueError):
        return 0.0


class DeploymentController:
    def __init__(self, workloads: Workloads) -> None:
        self.w = workloads

    def reconcile(self, rt: ResourceType, dep: Obj) -> None:
        meta, spec = dep["metadata"], dep.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        dep = self.w.store.view(rt, dep)
        template = spec.get("template") or {}
        want = pods.semantic(template)
        owned = self.w.children(self.w.rs_rt, dep)
        new_rs = next(
            (rs for rs in owned if pods.without_hash((rs.get("spec") or {}).get("template") or {}) == want),
            None,
        )
        old = [rs for rs in owned if rs is not new_rs]
        newest_old = max((_revision(rs) for rs in old), default=0)
        found = ""
        if new_rs is None:
            new_rs = self._create_rs(dep, template, old, newest_old + 1)
            found = "NewReplicaSetCreated"
        elif _revision(new_rs) <= newest_old:
            new_rs = self._annotate(new_rs, {REVISION: str(newest_old + 1)})
            found = "FoundNewReplicaSet"
        if new_rs is None:
            return
        self._sync_revision(rt, dep, str(_revision(new_rs)))
        if not spec.get("paused"):
            if (spec.get("strategy") or {}).get("type") == "Recreate":
                self._recreate(dep, new_rs, old)
            else:
                self._rolling(dep, new_rs, old)
            self._cleanup(dep, old)
        current = self.w.store.peek(rt, meta["namespace"], meta["name"])
        if current is not None:
            owned = self.w.children(self.w.rs_rt, dep)
            new_rs = next((rs for rs in owned if _meta(rs)["name"] == _meta(new_rs)["name"]), new_rs)
            self._status(
                rt, self.w.store.view(rt, current), new_rs, [rs for rs in owned if rs is not new_rs], found
            )

    # -- ReplicaSets ---------------------------------------------------------------------------------
    def _create_rs(self, dep: Obj, template: Obj, old: list[Obj], revision: int) -> Obj | None:
        meta, spec = dep["metadata"], dep.get("spec") or {}
        phash = pods.template_hash(template)
        tmpl = copy.deepcopy(template)
        tmpl.setdefault("metadata", {}).setdefault("labels", {})[pods.HASH_LABEL] = phash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[pods.HASH_LABEL] = phash
        replicas = int(spec.get("replicas", 1))
        surge, _ = surge_and_unavailable(dep)
        if (spec.get("strategy") or {}).get("type") == "Recreate" or spec.get("paused"):
            initial = 0
        else:
            initial = max(min(replicas + surge - sum(_replicas(rs) for rs in old), replicas), 0)
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{phash}",
                "namespace": meta["namespace"],
                "labels": dict(tmpl["metadata"]["labels"]),
                "annotations": {
                    **{k: v for k, v in (meta.get("annotations") or {}).items() if k not in _NOT_COPIED},
                    DESIRED: str(replicas),
                    MAX: str(replicas + surge),
                    REVISION: str(revision),
                },
                "ownerReferences": [pods.owner_ref(dep)],
            },
            "spec": {
                "replicas": initial,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": tmpl,
            },
        }
        try:
            created = self.w.store.create(self.w.rs_rt, meta["namespace"], rs)
        except ApiError:
            return None  # a name collision or a namespace going away: the next change retries
        if initial:
            self._scaling_event(dep, created, 0, initial)
        return created

    def _annotate(self, rs: Obj, annotations: dict[str, str], replicas: int | None = None) -> Obj:
        have = _meta(rs).get("annotations") or {}
        if all(have.get(k) == v for k, v in annotations.items()) and replicas in (None, _replicas(rs)):
            return rs
        new = copy.deepcopy(rs)
        new["metadata"].setdefault("annotations", {}).update(annotations)
        if replicas is not None:
            new.setdefault("spec", {})["replicas"] = replicas
        if new == rs:
            return rs
        try:
            return self.w.store.update(self.w.rs_rt, _meta(rs)["namespace"], _meta(rs)["name"], new)
        except ApiError:
            return rs

    def _scale(self, dep: Obj, rs: Obj, to: int) -> Obj:
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        surge, _ = surge_and_unavailable(dep)
        before = _replicas(rs)
        out = self._annotate(rs, {DESIRED: str(replicas), MAX: str(replicas + surge)}, to)
        if before != to and out is not rs:
            self._scaling_event(dep, out, before, to)
        return out

    def _scaling_event(self, dep: Obj, rs: Obj, before: int, after: int) -> None:
        verb = "up" if after > before else "down"
        msg = f"Scaled {verb} replica set {_meta(rs)['name']} from {before} to {after}"
        self.w.recorder.record(dep, "Normal", "ScalingReplicaSet", msg, COMPONENT)

    def _sync_revision(self, rt: ResourceType, dep: Obj, revision: str) -> None:
        if (_meta(dep).get("annotations") or {}).get(REVISION) == revision:
            return
        new = copy.deepcopy(dep)
        new["metadata"].setdefault("annotations", {})[REVISION] = revision
        with contextlib.suppress(ApiError):
            self.w.store.update(rt, _meta(dep)["namespace"], _meta(dep)["name"], new)

    # -- rollouts -----------------------------------------------------------------------------------
    def _recreate(self, dep: Obj, new_rs: Obj, old: list[Obj]) -> None:
        busy = False
        for rs in old:
            if _replicas(rs):
                self._scale(dep, rs, 0)
                busy = True
            busy = busy or _st(rs, "replicas") > 0
        if not busy:
            self._scale(dep, new_rs, int((dep.get("spec") or {}).get("replicas", 1)))

    def _rolling(self, dep: Obj, new_rs: Obj, old: list[Obj]) -> None:
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        surge, unavailable = surge_and_unavailable(dep)
        # NewRSNewReplicas: grow the new ReplicaSet within maxSurge.
        total = _replicas(new_rs) + sum(_replicas(rs) for rs in old)
        if _replicas(new_rs) > replicas:
            new_rs = self._scale(dep, new_rs, replicas)
        elif _replicas(new_rs) < replicas and total < replicas + surge:
            new_rs = self._scale(
                dep, new_rs, _replicas(new_rs) + min(replicas + surge - total, replicas - _replicas(new_rs))
            )
        else:
            new_rs = self._scale(dep, new_rs, _replicas(new_rs))  # keeps the replica annotations current
        # reconcileOldReplicaSets: shrink the old ones while minAvailable pods stay available.
        old = [rs for rs in old if _replicas(rs)]
        if not old:
            return
        min_available = replicas - unavailable
        total = _replicas(new_rs) + sum(_replicas(rs) for rs in old)
        new_unavailable = _replicas(new_rs) - _st(new_rs, "availableReplicas")
        budget = total - min_available - new_unavailable
        if budget <= 0:
            return
        for i, rs in enumerate(old):  # unhealthy old pods first
            cut = min(budget, _replicas(rs) - _st(rs, "availableReplicas"))
            if cut > 0:
                old[i] = self._scale(dep, rs, _replicas(rs) - cut)
                budget -= cut
        available = _st(new_rs, "availableReplicas") + sum(
            min(_st(rs, "availableReplicas"), _replicas(rs)) for rs in old
        )
        room = min(budget, available - min_available)
        for rs in old:
            if room <= 0:
                break
            cut = min(room, _replicas(rs))
            if cut:
                self._scale(dep, rs, _replicas(rs) - cut)
                room -= cut

    def _cleanup(self, dep: Obj, old: list[Obj]) -> None:
        limit = (dep.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        idle = [rs for rs in old if not _replicas(rs) and not _st(rs, "replicas")]
        for rs in sorted(idle, key=_revision)[: max(len(idle) - int(limit), 0)]:
            with contextlib.suppress(ApiError):
                self.w.store.delete(self.w.rs_rt, _meta(rs)["namespace"], _meta(rs)["name"])

    # -- status -------------------------------------------------------------------------------------
    def _status(self, rt: ResourceType, dep: Obj, new_rs: Obj, old: list[Obj], found: str) -> None:
        spec, meta = dep.get("spec") or {}, dep["metadata"]
        replicas = int(spec.get("replicas", 1))
        _, unavailable = surge_and_unavailable(dep)
        every = [new_rs, *old]
        available = sum(_st(rs, "availableReplicas") for rs in every)
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": sum(_st(rs, "replicas") for rs in every),
            "updatedReplicas": _st(new_rs, "replicas"),
            "readyReplicas": sum(_st(rs, "readyReplicas") for rs in every),
            "availableReplicas": available,
            "unavailableReplicas": max(
                sum(_st(rs, "replicas") for rs in every) - available, replicas - available, 0
            ),
        }
        status = {k: v for k, v in status.items() if v}
        old_status = dep.get("status") or {}
        conds = {c.get("type"): c for c in old_status.get("conditions") or []}
        ts = now_rfc3339()
        ok = available >= replicas - unavailable
        avail = self._condition(
            conds.get("Available"),
            "Available",
            ok,
            "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if ok
            else "Deployment does not have minimum availability.",
            ts,
        )
        prog = self._progressing(
            dep, conds.get("Progressing"), status, old_status, _meta(new_rs)["name"], found, ts
        )
        status["conditions"] = [avail, prog]
        self.w.set_status(rt, dep, status)

    def _progressing(
        self, dep: Obj, prev: Obj | None, status: Obj, old_status: Obj, rs_name: str, found: str, ts: str
    ) -> Obj:
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        complete = (
            status.get("updatedReplicas", 0) == replicas
            and status.get("replicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
        )
        if complete:
            return self._condition(
                prev,
                "Progressing",
                True,
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                ts,
            )
        progressed = any(
            status.get(k, 0) > old_status.get(k, 0)
            for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
        )
        progressed = progressed or (status.get("replicas", 0) - status.get("updatedReplicas", 0)) < (
            old_status.get("replicas", 0) - old_status.get("updatedReplicas", 0)
        )
        if found == "NewReplicaSetCreated":
            cond = self._condition(
                prev, "Progressing", True, found, f'Created new replica set "{rs_name}"', ts, True
            )
        elif found == "FoundNewReplicaSet":
            cond = self._condition(
                prev, "Progressing", True, found, f'Found new replica set "{rs_name}"', ts, True
            )
        elif progressed or prev is None:
            cond = self._condition(
                prev,
                "Progressing",
                True,
                "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" is progressing.',
                ts,
                True,
            )
        else:
            cond = prev
        return self._deadline(dep, cond, rs_name, ts)

    def _deadline(self, dep: Obj, cond: Obj, rs_name: str, ts: str) -> Obj:
        """Progressing False (ProgressDeadlineExceeded) once `progressDeadlineSeconds` passed since the
        last progress; until then a reconcile is due at that moment (one shared timer)."""
        deadline = (dep.get("spec") or {}).get("progressDeadlineSeconds")
        if deadline is None or cond.get("status") != "True":
            return cond
        left = _epoch(str(cond.get("lastUpdateTime"))) + int(deadline) - dt.datetime.now(dt.UTC).timestamp()
        if left <= 0:
            return self._condition(
                cond,
                "Progressing",
                False,
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                ts,
            )
        meta = _meta(dep)
        key = ("apps", "deployments", meta["namespace"], meta["name"])
        self.w.timers.at(
            left + 0.05, ("deadline", meta.get("uid")), lambda: self.w.schedule(key, self._dep_rt())
        )
        return cond

    def _dep_rt(self) -> ResourceType:
        rt = self.w.registry.by_kind("apps/v1", "Deployment")
        assert rt is not None
        return rt

    @staticmethod
    def _condition(
        prev: Obj | None, type_: str, ok: bool, reason: str, message: str, ts: str, touch: bool = False
    ) -> Obj:
        """A Deployment condition; times kept when nothing changed (lastUpdateTime moves on `touch`)."""
        status = "True" if ok else "False"
        if prev and (prev.get("status"), prev.get("reason"), prev.get("message")) == (
            status,
            reason,
            message,
        ):
            if not touch:
                return prev
            return {**prev, "lastUpdateTime": ts}
        transition = prev.get("lastTransitionTime", ts) if prev and prev.get("status") == status else ts
        return {
            "type": type_,
            "status": status,
            "lastUpdateTime": ts,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }
