"""Workload controllers that make Pods: ReplicaSet, StatefulSet, DaemonSet, Job (Deployments:
deployments.py), and the kubelet (kubelet.py) that runs them; their statuses follow from the pods.

- ReplicaSet: `<rs>-<5 chars>` pods from its template until `spec.replicas` are active; extra
  ones deleted (not-ready first); events SuccessfulCreate/SuccessfulDelete; status replicas,
  fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration.
- StatefulSet: `<sts>-<ordinal>` pods (OrderedReady: one at a time, each after the previous is
  ready; Parallel: all), labels `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`,
  `apps.kubernetes.io/pod-index`; a template change replaces pods from the highest ordinal down,
  one at a time (RollingUpdate with its partition; OnDelete: not at all); status with
  current/update revisions.
- DaemonSet: one pod per Node (bound to it through node affinity), a template change replaces
  them one at a time; status desired/current/updated/ready/available numbers.
- Job: pods (labels `job-name`, `controller-uid` and their `batch.kubernetes.io/` forms) until
  `completions` succeeded (Complete, event Completed) or more than `backoffLimit` failed (Failed,
  reason BackoffLimitExceeded, active pods deleted); replacements are created at once (no
  back-off delay).

Controllers find their pods through the store's ownerReference index (owners.py; no scan of all
pods); a changed pod wakes its controller, a changed ReplicaSet its Deployment.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

from . import pods
from .deployments import DeploymentController
from .events import Recorder
from .kubelet import Kubelet, write_status
from .pods import Obj
from .resources import Registry, ResourceType
from .store import ApiError, Change, Store, now_rfc3339
from .timers import Timers

Schedule = Callable[[tuple[str, str, str, str], ResourceType], None]
_OWNERS = {
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("apps", "Deployment"),
}
_INDEXED = (("", "pods"), ("apps", "replicasets"))


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _cond(type_: str, reason: str, message: str, ts: str) -> Obj:
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": ts,
        "lastTransitionTime": ts,
        "reason": reason,
        "message": message,
    }


class Workloads:
    def __init__(self, registry: Registry, store: Store, schedule: Schedule) -> None:
        self.registry, self.store, self.schedule = registry, store, schedule
        self.recorder = Recorder(registry, store)
        self.timers = Timers()
        self.kubelet = Kubelet(store, self.recorder, self.timers)
        self.pod_rt = self._rt("v1", "Pod")
        self.rs_rt = self._rt("apps/v1", "ReplicaSet")
        self.deployments = DeploymentController(self)

    def _rt(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.by_kind(api_version, kind)
        assert rt is not None
        return rt

    # -- dispatch and the owner index ---------------------------------------------------------------
    def handler(self, rt: ResourceType) -> Callable[[ResourceType, Obj], None] | None:
        if rt.group == "" and rt.kind == "Pod":
            return self.kubelet.reconcile
        if (rt.group, rt.kind) in _OWNERS:
            return getattr(self, f"_{rt.kind.lower()}", None)
        return None

    def on_change(self, ch: Change) -> None:
        """A changed pod wakes its controller, a changed ReplicaSet its Deployment."""
        if ch.rt.group_resource not in _INDEXED:
            return
        meta = _meta(ch.obj)
        for ref in meta.get("ownerReferences") or []:
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            if ref.get("controller") and (group, ref.get("kind")) in _OWNERS:
                owner_rt = self.registry.by_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
                if owner_rt is not None:
                    self.schedule(
                        (group, owner_rt.plural, meta.get("namespace", ""), str(ref.get("name"))), owner_rt
                    )

    def children(self, rt: ResourceType, owner: Obj) -> list[Obj]:
        """The objects of `rt` (pods or replicasets) whose controller is `owner`."""
        uid = _meta(owner).get("uid")
        out = []
        for gr, ns, name in self.store.owners.keys(str(uid)):  # the store's ownerReference index
            obj = self.store.peek(rt, ns, name) if gr == rt.group_resource else None
            if obj is not None and pods.controller_uid(obj) == uid:
                out.append(obj)
        return sorted(out, key=lambda o: (_meta(o).get("creationTimestamp", ""), _meta(o).get("name", "")))

    # -- shared helpers --------------------------------------------------------------------------------
    def set_status(self, rt: ResourceType, obj: Obj, status: Obj) -> None:
        write_status(self.store, rt, obj, status)

    def create_pod(
        self,
        owner: Obj,
        template: Obj,
        name: str,
        labels: dict[str, str],
        component: str,
        message: str = "",
        generate: bool = True,
    ) -> None:
        pod = pods.new_pod(owner, template, name, labels, generate)
        ns = _meta(owner).get("namespace", "")
        try:
            created = self.store.create(self.pod_rt, ns, pod)
        except ApiError as e:
            self.recorder.record(owner, "Warning", "FailedCreate", f"Error creating: {e.message}", component)
            return
        self.recorder.record(
            owner,
            "Normal",
            "SuccessfulCreate",
            message or f"Created pod: {created['metadata']['name']}",
            component,
        )

    def delete_pod(self, owner: Obj, pod: Obj, component: str, message: str = "") -> None:
        name = _meta(pod)["name"]
        with contextlib.suppress(ApiError):
            self.store.delete(self.pod_rt, _meta(pod).get("namespace", ""), name)
            self.kubelet.stopped(self.store.view(self.pod_rt, pod))
            self.recorder.record(
                owner, "Normal", "SuccessfulDelete", message or f"Deleted pod: {name}", component
            )

    # -- ReplicaSet -------------------------------------------------------------------------------------
    def _replicaset(self, rt: ResourceType, rs: Obj) -> None:
        meta, spec = rs["metadata"], rs.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        replicas = int(spec.get("replicas", 1))
        live = [p for p in self.children(self.pod_rt, rs) if pods.active(p)]
        rs = self.store.view(rt, rs)
        if len(live) < replicas:
            template = spec.get("template") or {}
            for _ in range(replicas - len(live)):
                self.create_pod(
                    rs, template, f"{meta['name']}-{pods.random_suffix()}", {}, "replicaset-controller"
                )
        elif len(live) > replicas:
            # getPodsToDelete: unscheduled, then not ready, then the newest first
            doomed = sorted(
                live,
                key=lambda p: (
                    bool((p.get("spec") or {}).get("nodeName")),
                    pods.ready(p),
                    _neg(_meta(p).get("creationTimestamp", "")),
                ),
            )
            for p in doomed[: len(live) - replicas]:
                self.delete_pod(rs, p, "replicaset-controller")
        live = [p for p in self.children(self.pod_rt, rs) if pods.active(p)]
        ready = sum(1 for p in live if pods.ready(p))
        status = {
            "replicas": len(live),
            "fullyLabeledReplicas": len(live),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        self.set_status(rt, rs, {k: v for k, v in status.items() if v or k == "replicas"})

    def _deployment(self, rt: ResourceType, dep: Obj) -> None:
        self.deployments.reconcile(rt, dep)

    # -- StatefulSet ------------------------------------------------------------------------------------
    def _statefulset(self, rt: ResourceType, sts: Obj) -> None:
        meta, spec = sts["metadata"], sts.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        sts = self.store.view(rt, sts)
        name, replicas = meta["name"], int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        revision = f"{name}-{pods.template_hash(template)}"
        by_ordinal = {}
        for p in self.children(self.pod_rt, sts):
            idx = _meta(p)["name"].rsplit("-", 1)[-1]
            if idx.isdigit() and pods.active(p):
                by_ordinal[int(idx)] = p
        self._sts_pods(sts, by_ordinal, replicas, revision)
        self._sts_status(rt, sts, replicas, revision)

    def _sts_pods(self, sts: Obj, by_ordinal: dict[int, Obj], replicas: int, revision: str) -> None:
        spec, name = sts.get("spec") or {}, sts["metadata"]["name"]
        parallel = spec.get("podManagementPolicy") == "Parallel"
        msg = "{verb} Pod {pod} in StatefulSet " + name + " successful"
        for i in sorted((i for i in by_ordinal if i >= replicas), reverse=True):
            self.delete_pod(
                sts, by_ordinal.pop(i), "statefulset-controller", msg.format(verb="delete", pod=f"{name}-{i}")
            )
            if not parallel:
                return
        for i in range(replicas):
            if i in by_ordinal:
                if not parallel and not pods.ready(by_ordinal[i]):
                    return
                continue
            labels = {
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                "apps.kubernetes.io/pod-index": str(i),
            }
            template = copy.deepcopy(spec.get("template") or {})
            tspec = template.setdefault("spec", {})
            tspec["hostname"] = f"{name}-{i}"
            if spec.get("serviceName"):
                tspec["subdomain"] = spec["serviceName"]
            self.create_pod(
                sts,
                template,
                f"{name}-{i}",
                labels,
                "statefulset-controller",
                msg.format(verb="create", pod=f"{name}-{i}"),
                generate=False,
            )
            if not parallel:
                return
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate" or not all(
            map(pods.ready, by_ordinal.values())
        ):
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for i in sorted(by_ordinal, reverse=True):
            if (
                i >= partition
                and (_meta(by_ordinal[i]).get("labels") or {}).get("controller-revision-hash") != revision
            ):
                self.delete_pod(
                    sts, by_ordinal[i], "statefulset-controller", msg.format(verb="delete", pod=f"{name}-{i}")
                )
                return

    def _sts_status(self, rt: ResourceType, sts: Obj, replicas: int, revision: str) -> None:
        live = [p for p in self.children(self.pod_rt, sts) if pods.active(p)]
        ready = sum(1 for p in live if pods.ready(p))
        updated = sum(
            1 for p in live if (_meta(p).get("labels") or {}).get("controller-revision-hash") == revision
        )
        old = sts.get("status") or {}
        current_rev = revision if updated >= replicas else old.get("currentRevision") or revision
        current = sum(
            1 for p in live if (_meta(p).get("labels") or {}).get("controller-revision-hash") == current_rev
        )
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_rev,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        keep = ("replicas", "collisionCount", "availableReplicas")
        self.set_status(rt, sts, {k: v for k, v in status.items() if v or k in keep})

    # -- DaemonSet --------------------------------------------------------------------------------------
    def _daemonset(self, rt: ResourceType, ds: Obj) -> None:
        meta, spec = ds["metadata"], ds.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        ds = self.store.view(rt, ds)
        nodes = [_meta(n)["name"] for n in self.store.iter_raw(self._rt("v1", "Node"))]
        template = spec.get("template") or {}
        revision = pods.template_hash(template)
        on_node: dict[str, Obj] = {}
        for p in self.children(self.pod_rt, ds):
            if pods.active(p):
                on_node[_node_of(p)] = p
        for node in nodes:
            if node not in on_node:
                self.create_pod(
                    ds,
                    _pinned(template, node),
                    f"{meta['name']}-{pods.random_suffix()}",
                    {
                        "controller-revision-hash": revision,
                        "pod-template-generation": str(meta.get("generation", 1)),
                    },
                    "daemonset-controller",
                )
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        outdated = [
            p
            for p in on_node.values()
            if (_meta(p).get("labels") or {}).get("controller-revision-hash") != revision
        ]
        if rolling and outdated and all(map(pods.ready, on_node.values())):
            self.delete_pod(ds, outdated[0], "daemonset-controller")
        live = [p for p in self.children(self.pod_rt, ds) if pods.active(p)]
        ready = sum(1 for p in live if pods.ready(p))
        status = {
            "currentNumberScheduled": len({_node_of(p) for p in live}),
            "desiredNumberScheduled": len(nodes),
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberUnavailable": max(len(nodes) - ready, 0),
            "observedGeneration": meta.get("generation", 1),
            "updatedNumberScheduled": sum(
                1 for p in live if (_meta(p).get("labels") or {}).get("controller-revision-hash") == revision
            ),
        }
        keep = ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady")
        self.set_status(rt, ds, {k: v for k, v in status.items() if v or k in keep})

    # -- Job --------------------------------------------------------------------------------------------
    def _job(self, rt: ResourceType, job: Obj) -> None:
        meta, spec = job["metadata"], job.get("spec") or {}
        old = job.get("status") or {}
        if meta.get("deletionTimestamp") or spec.get("suspend"):
            return
        job = self.store.view(rt, job)
        if any(c.get("type") in ("Complete", "Failed") for c in old.get("conditions") or []):
            return
        children = self.children(self.pod_rt, job)
        live = [p for p in children if pods.active(p)]
        succeeded = sum(1 for p in children if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in children if (p.get("status") or {}).get("phase") == "Failed")
        completions = int(spec.get("completions") or 1)
        status: Obj = {
            "startTime": old.get("startTime") or now_rfc3339(),
            "terminating": 0,
            "uncountedTerminatedPods": {},
        }
        ts = now_rfc3339()
        if failed > int(spec.get("backoffLimit", 6)):
            for p in live:
                self.delete_pod(job, p, "job-controller", f"Deleted pod: {_meta(p)['name']}")
            live = []
            msg = "Job has reached the specified backoff limit"
            status["conditions"] = [
                _cond("FailureTarget", "BackoffLimitExceeded", msg, ts),
                _cond("Failed", "BackoffLimitExceeded", msg, ts),
            ]
            self.recorder.record(job, "Warning", "BackoffLimitExceeded", msg, "job-controller")
        elif succeeded >= completions:
            msg = "Reached expected number of succeeded pods"
            status["conditions"] = [
                _cond("SuccessCriteriaMet", "CompletionsReached", msg, ts),
                _cond("Complete", "CompletionsReached", msg, ts),
            ]
            status["completionTime"] = ts
            self.recorder.record(job, "Normal", "Completed", "Job completed", "job-controller")
        else:
            want = min(int(spec.get("parallelism") or 1), completions - succeeded)
            for _ in range(want - len(live)):
                self._job_pod(job)
            live = [p for p in self.children(self.pod_rt, job) if pods.active(p)]
        status.update(
            active=len(live), ready=sum(1 for p in live if pods.ready(p)), succeeded=succeeded, failed=failed
        )
        self.set_status(rt, job, {k: v for k, v in status.items() if v or k in ("ready", "terminating")})

    def _job_pod(self, job: Obj) -> None:
        meta = job["metadata"]
        uid, name = str(meta.get("uid")), meta["name"]
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        self.create_pod(
            job,
            (job.get("spec") or {}).get("template") or {},
            f"{name}-{pods.random_suffix()}",
            labels,
            "job-controller",
        )


def _neg(ts: str) -> list[int]:
    """A sort key that orders timestamps newest first."""
    return [-ord(ch) for ch in ts]


def _node_of(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    return str(spec.get("nodeName") or pods.affinity_node(pod) or "")


def _pinned(template: Obj, node: str) -> Obj:
    """The DaemonSet's template with the node affinity that binds its pod to `node`."""
    t = copy.deepcopy(template)
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = t.setdefault("spec", {}).setdefault("affinity", {})
    affinity["nodeAffinity"] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
    }
    return t
