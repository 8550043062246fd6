"""Simulated cluster controllers, so that `helm --wait` and `kubectl` see a living cluster.

- defaulting at write time: see defaults.py;
- Deployment -> ReplicaSet (same template plus `pod-template-hash`) and status
  (`observedGeneration`, ready counts, `Available`/`Progressing`); StatefulSet,
  DaemonSet, ReplicaSet, Pod, PersistentVolumeClaim statuses; Job -> `Complete`;
- CustomResourceDefinitions: served types registered, `Established` and
  `NamesAccepted` set; deleting a CRD deletes its objects;
- namespace deletion that empties the namespace before it disappears;
- through their own modules: garbage collection (gc), cluster furniture
  (furniture: default ServiceAccount, kube-root-ca.crt, the Node, APIServices) and
  the load-balancer controller (loadbalancer).

With pods (the default), Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and Pods are
handled by workloads.py (deployments.py, kubelet.py: real Pods, failures, events); the workload
methods below are the status-only mode, `KubeSim(pods=False)`.

Deterministic failure: a workload whose metadata or pod-template annotations carry
`kubesim.dev/never-ready: "true"` never becomes ready (a Job never completes);
`kubesim.dev/fail: "true"` makes a Job fail. Controllers act shortly after each
change (`delay` seconds), never inside the write that triggered them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
from typing import Any

from . import furniture, pods
from .defaults import CRD_CLEANUP, Defaults
from .furniture import Furniture
from .gc import GarbageCollector
from .loadbalancer import LoadBalancer
from .resources import Registry, ResourceType, types_from_crd
from .store import ApiError, Change, Obj, Store, now_rfc3339
from .workloads import Workloads

NEVER_READY = "kubesim.dev/never-ready"
FAIL = "kubesim.dev/fail"
REVISION = "deployment.kubernetes.io/revision"


def _ann(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


_semantic = pods.semantic  # templates compared as Go's semantic equality does (pods.py)


def _revision(rs: Obj) -> int:
    return int(_ann(rs).get(REVISION, "0") or 0)


def _flag(obj: Obj, key: str) -> bool:
    tmpl = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return _ann(obj).get(key) == "true" or (tmpl.get("annotations") or {}).get(key) == "true"


def _cond(type_: str, status: bool, reason: str, message: str = "") -> Obj:
    ts = now_rfc3339()
    c = {"type": type_, "status": "True" if status else "False", "reason": reason, "lastTransitionTime": ts}
    if message:
        c["message"] = message
    return c


class Controllers:
    def __init__(self, registry: Registry, store: Store, delay: float = 0.02, pods: bool = True) -> None:
        self.registry, self.store, self.delay = registry, store, delay
        self._pending: dict[tuple[str, str, str, str], ResourceType] = {}
        self._scheduled = False
        # Workload controllers that create Pods, and the kubelet (workloads.py); off: statuses only.
        self.workloads = Workloads(registry, store, self._schedule) if pods else None
        self.gc = GarbageCollector(registry, store, self._later)
        self.furniture = Furniture(registry, store, self._later)
        self.load_balancer = LoadBalancer(self._set_status)
        store.listeners.append(self._on_change)
        store.defaulter = Defaults()
        self.furniture.install()

    # -- scheduling -------------------------------------------------------------------
    def _on_change(self, ch: Change) -> None:
        meta = ch.obj.get("metadata") or {}
        key = (ch.rt.group, ch.rt.plural, meta.get("namespace", ""), meta.get("name", ""))
        self.gc.on_change(ch)
        self.furniture.on_change(ch)
        if self.workloads is not None:
            self.workloads.on_change(ch)
        if ch.type == "DELETED":
            self._later(self._deleted, ch)
            return
        self._schedule(key, ch.rt)

    def _schedule(self, key: tuple[str, str, str, str], rt: ResourceType) -> None:
        """Reconcile the object at `key` shortly (one pass handles everything pending)."""
        self._pending[key] = rt
        if not self._scheduled:
            self._scheduled = True
            self._later(self._run_pending)

    def _later(self, fn: Any, *args: Any) -> None:
        try:
            asyncio.get_running_loop().call_later(self.delay, fn, *args)
        except RuntimeError:  # no loop: a synchronous caller (unit tests)
            fn(*args)

    def _run_pending(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        for (_g, _p, ns, name), rt in pending.items():
            obj = self.store.peek(rt, ns, name)
            if obj is None:
                continue
            handler = (self.workloads and self.workloads.handler(rt)) or getattr(
                self, f"_reconcile_{rt.kind.lower()}", None
            )
            if handler is not None:
                try:
                    handler(rt, obj)
                except ApiError:
                    pass  # lost a race with a client; the next change brings us back
        self.furniture.sync_apiservices()

    # -- helpers ------------------------------------------------------------------------
    def _set_status(self, rt: ResourceType, obj: Obj, status: Obj) -> None:
        if obj.get("status") == status:
            return
        new = copy.deepcopy(obj)
        new["status"] = status
        meta = obj["metadata"]
        sub = "status" if rt.has_status else None
        self.store.update(rt, meta.get("namespace", ""), meta["name"], new, sub)

    def _rt(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.by_kind(api_version, kind)
        assert rt is not None
        return rt

    # -- workloads ----------------------------------------------------------------------
    def _reconcile_deployment(self, rt: ResourceType, dep: Obj) -> None:
        meta, spec = dep["metadata"], dep.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        ns, replicas = meta["namespace"], int(spec.get("replicas", 1))
        template = copy.deepcopy(spec.get("template") or {})
        # Templates are compared semantically, as the deployment controller does (`resources: {}` is unset).
        phash = hashlib.sha256(json.dumps(_semantic(template), sort_keys=True).encode()).hexdigest()[:10]
        rs_rt = self._rt("apps/v1", "ReplicaSet")
        owned = [  # through the store's ownerReference index, not a scan of every ReplicaSet
            rs
            for gr, rs_ns, name in self.store.owners.keys(meta["uid"])
            if gr == rs_rt.group_resource
            and rs_ns == ns
            and (rs := self.store.peek(rs_rt, ns, name)) is not None
        ]
        rs_name = f"{meta['name']}-{phash}"
        newest_other = max((_revision(rs) for rs in owned if rs["metadata"]["name"] != rs_name), default=0)
        revision = 1 + newest_other
        for rs in owned:
            if rs["metadata"]["name"] != rs_name and (rs.get("spec") or {}).get("replicas", 0) != 0:
                new = copy.deepcopy(rs)
                new["spec"]["replicas"] = 0
                self.store.update(rs_rt, ns, rs["metadata"]["name"], new)
        current = next((rs for rs in owned if rs["metadata"]["name"] == rs_name), None)
        tmeta = template.setdefault("metadata", {})
        tmeta.setdefault("labels", {})["pod-template-hash"] = phash
        if current is None:
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = phash
            rs = {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": ns,
                    "labels": dict(tmeta["labels"]),
                    "annotations": {REVISION: str(revision)},
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {"replicas": replicas, "selector": selector, "template": template},
            }
            self.store.create(rs_rt, ns, rs)
        else:
            # Back to an older template (rollout undo): its ReplicaSet becomes the newest revision.
            revision = max(_revision(current), revision)
            if (current.get("spec") or {}).get("replicas") != replicas or _revision(current) != revision:
                new = copy.deepcopy(current)
                new["spec"]["replicas"] = replicas
                new["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
                self.store.update(rs_rt, ns, rs_name, new)
        if _ann(dep).get(REVISION) != str(revision):
            # The Deployment carries its current revision (kubectl rollout history/undo read it).
            new_dep = copy.deepcopy(dep)
            new_dep["metadata"].setdefault("annotations", {})[REVISION] = str(revision)
            self.store.update(rt, ns, meta["name"], new_dep)
            dep = self.store.peek(rt, ns, meta["name"]) or dep
            meta = dep["metadata"]
        ready = 0 if _flag(dep, NEVER_READY) else replicas
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        if replicas - ready:
            status["unavailableReplicas"] = replicas - ready
        status = {k: v for k, v in status.items() if v != 0 or k == "observedGeneration"}
        old_conds = {c["type"]: c for c in (dep.get("status") or {}).get("conditions") or []}
        conds = [
            _cond(
                "Available",
                ready >= replicas,
                "MinimumReplicasAvailable" if ready >= replicas else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if ready >= replicas
                else "Deployment does not have minimum availability.",
            ),
            _cond(
                "Progressing",
                True,
                "NewReplicaSetAvailable" if ready >= replicas else "ReplicaSetUpdated",
                f'ReplicaSet "{rs_name}" has successfully progressed.'
                if ready >= replicas
                else f'ReplicaSet "{rs_name}" is progressing.',
            ),
        ]
        for c in conds:  # keep transition times stable when nothing changed
            old = old_conds.get(c["type"])
            if old and (old.get("status"), old.get("reason")) == (c["status"], c["reason"]):
                c["lastTransitionTime"] = old.get("lastTransitionTime", c["lastTransitionTime"])
                c["message"] = old.get("message", c.get("message"))
        status["conditions"] = conds
        self._set_status(rt, dep, status)

    def _reconcile_replicaset(self, rt: ResourceType, rs: Obj) -> None:
        replicas = int((rs.get("spec") or {}).get("replicas", 1))
        ready = 0 if _flag(rs, NEVER_READY) else replicas
        status = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        self._set_status(rt, rs, {k: v for k, v in status.items() if v != 0 or k == "replicas"})

    def _reconcile_statefulset(self, rt: ResourceType, sts: Obj) -> None:
        spec = sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        ready = 0 if _flag(sts, NEVER_READY) else replicas
        rev = (
            f"{sts['metadata']['name']}-"
            + hashlib.sha256(
                json.dumps(_semantic(spec.get("template")), sort_keys=True).encode()
            ).hexdigest()[:10]
        )
        self._set_status(
            rt,
            sts,
            {
                "observedGeneration": sts["metadata"].get("generation", 1),
                "replicas": replicas,
                "readyReplicas": ready,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "availableReplicas": ready,
                "currentRevision": rev,
                "updateRevision": rev,
                "collisionCount": 0,
            },
        )

    def _reconcile_daemonset(self, rt: ResourceType, ds: Obj) -> None:
        ready = 0 if _flag(ds, NEVER_READY) else 1
        self._set_status(
            rt,
            ds,
            {
                "observedGeneration": ds["metadata"].get("generation", 1),
                "desiredNumberScheduled": 1,
                "currentNumberScheduled": 1,
                "updatedNumberScheduled": 1,
                "numberReady": ready,
                "numberAvailable": ready,
                "numberMisscheduled": 0,
            },
        )

    def _reconcile_job(self, rt: ResourceType, job: Obj) -> None:
        status = dict(job.get("status") or {})
        if any(c.get("type") in ("Complete", "Failed") for c in status.get("conditions") or []):
            return
        status.setdefault("startTime", now_rfc3339())
        if _flag(job, NEVER_READY):
            status["active"] = 1
        elif _flag(job, FAIL):
            status.update(failed=1, active=0)
            status["conditions"] = [
                _cond(
                    "FailureTarget",
                    True,
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ),
                _cond("Failed", True, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
            ]
        else:
            completions = int((job.get("spec") or {}).get("completions") or 1)
            status.update(succeeded=completions, completionTime=now_rfc3339(), ready=0)
            status.pop("active", None)
            status["conditions"] = [
                _cond(
                    "SuccessCriteriaMet",
                    True,
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                ),
                _cond("Complete", True, "CompletionsReached", "Reached expected number of succeeded pods"),
            ]
        self._set_status(rt, job, status)

    def _reconcile_pod(self, rt: ResourceType, pod: Obj) -> None:
        meta = pod["metadata"]
        if not (pod.get("spec") or {}).get("nodeName") and not meta.get("deletionTimestamp"):
            bound = copy.deepcopy(pod)  # the scheduler binds it to the one Node
            bound.setdefault("spec", {})["nodeName"] = furniture.NODE
            self.store.update(rt, meta["namespace"], meta["name"], bound)
            pod = self.store.peek(rt, meta["namespace"], meta["name"]) or pod
        if (pod.get("status") or {}).get("phase"):
            return
        ready = not _flag(pod, NEVER_READY)
        phase = "Running"
        if (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure") and ready:
            # A run-to-completion pod (e.g. a `helm test` hook) finishes at once: Succeeded,
            # or Failed with `kubesim.dev/fail: "true"`.
            phase, ready = ("Failed" if _flag(pod, FAIL) else "Succeeded"), False
        self._set_status(
            rt,
            pod,
            {
                "phase": phase,
                "podIP": "10.244.0.10",
                "hostIP": "172.18.0.2",
                "startTime": now_rfc3339(),
                "conditions": [
                    _cond(t, ready if t in ("Ready", "ContainersReady") else True, "")
                    for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
                ],
            },
        )

    def _reconcile_service(self, rt: ResourceType, svc: Obj) -> None:
        self.load_balancer.reconcile(rt, svc)

    def _reconcile_persistentvolumeclaim(self, rt: ResourceType, pvc: Obj) -> None:
        self._set_status(
            rt, pvc, {"phase": "Bound", "accessModes": (pvc.get("spec") or {}).get("accessModes", [])}
        )

    # -- CRDs and namespaces ----------------------------------------------------------------
    def _reconcile_customresourcedefinition(self, rt: ResourceType, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if crd["metadata"].get("deletionTimestamp"):
            self._clean_up_crd(rt, crd)
            return
        self.registry.remove_crd(name)
        for t in types_from_crd(crd):
            self.registry.add(t)
        names = (crd.get("spec") or {}).get("names") or {}
        status = {
            "conditions": [
                _cond("NamesAccepted", True, "NoConflicts", "no conflicts found"),
                _cond("Established", True, "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "acceptedNames": names,
            "storedVersions": [
                v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")
            ],
        }
        old = crd.get("status") or {}
        if old.get("acceptedNames") == names and old.get("storedVersions") == status["storedVersions"]:
            return
        self._set_status(rt, crd, status)

    def _clean_up_crd(self, rt: ResourceType, crd: Obj) -> None:
        """A deleted CRD first deletes its objects (which wait for their own finalizers), then goes."""
        name = crd["metadata"]["name"]
        types = [t for t in self.registry if t.crd_name == name]
        remaining = 0
        for t in types[:1]:  # every version shares one storage
            for obj in self.store.iter_raw(t):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    with contextlib.suppress(ApiError):
                        self.store.delete(t, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if remaining == 0 and CRD_CLEANUP in (crd["metadata"].get("finalizers") or []):
            new = copy.deepcopy(crd)
            new["metadata"]["finalizers"] = [f for f in crd["metadata"]["finalizers"] if f != CRD_CLEANUP]
            self.store.update(rt, "", name, new)

    def _drop_crd(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        self.store.drop_group_resource(spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        self.registry.remove_crd(crd["metadata"]["name"])

    def _reconcile_namespace(self, rt: ResourceType, nsobj: Obj) -> None:
        if not nsobj["metadata"].get("deletionTimestamp"):
            return
        ns = nsobj["metadata"]["name"]
        if (nsobj.get("status") or {}).get("phase") != "Terminating":
            self._set_status(rt, nsobj, {"phase": "Terminating"})
            return
        remaining = 0
        for t in self.registry:
            if not t.namespaced or (t.crd_name is None and t.version != self._preferred(t)):
                continue
            for obj in self.store.iter_raw(t):
                if obj["metadata"].get("namespace") == ns:
                    remaining += 1
                    if not obj["metadata"].get("deletionTimestamp"):
                        self.store.delete(t, ns, obj["metadata"]["name"])
        if remaining == 0:
            new = copy.deepcopy(self.store.peek(rt, "", ns) or nsobj)
            new.setdefault("spec", {})["finalizers"] = []
            self.store.update(rt, "", ns, new)

    def _preferred(self, rt: ResourceType) -> str:
        return (self.registry.groups().get(rt.group) or ["v1"])[0]

    def _deleted(self, ch: Change) -> None:
        meta = ch.obj.get("metadata") or {}
        if ch.rt.kind == "CustomResourceDefinition" and ch.rt.group == "apiextensions.k8s.io":
            self._drop_crd(ch.obj)
            self.furniture.sync_apiservices()
        elif ch.rt.crd_name is not None:
            # The last custom resources of a terminating CRD going away let the CRD go.
            crd_rt = self._rt("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            crd = self.store.peek(crd_rt, "", ch.rt.crd_name)
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                self._schedule(
                    ("apiextensions.k8s.io", "customresourcedefinitions", "", ch.rt.crd_name), crd_rt
                )
        ns = meta.get("namespace")
        if ns:
            ns_rt = self._rt("v1", "Namespace")
            nsobj = self.store.peek(ns_rt, "", ns)
            if nsobj is not None and nsobj["metadata"].get("deletionTimestamp"):
                self._schedule(("", "namespaces", "", ns), ns_rt)
