"""Write-time defaulting, inside the write as the real registry strategies do.

Deployment replicas and rolling-update strategy, StatefulSet/ReplicaSet replicas,
Job completions, parallelism, backoffLimit, completionMode and suspend (SetDefaults_Job: helm
3's `--wait-for-jobs` dereferences them), Service type, session affinity, clusterIP (from
10.96.0.0/12) and nodePorts (from 30000-32767) and a new Service's empty
`status.loadBalancer`, Secret type and `stringData` folded into `data`, the Namespace finalizer,
phase and name label, and a CRD's cleanup finalizer. The store calls a `Defaults` as its `defaulter`.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools

from . import furniture, pods
from .resources import ResourceType
from .store import Obj

CRD_CLEANUP = "customresourcecleanup.apiextensions.k8s.io"


class Defaults:
    def __init__(self) -> None:
        self._ips = ipaddress.ip_network("10.96.0.0/12").hosts()
        next(self._ips)  # 10.96.0.1 is the kubernetes service
        self._node_ports = itertools.cycle(range(30000, 32768))

    def __call__(self, rt: ResourceType, obj: Obj, creating: bool) -> None:
        if creating and rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            # As the real apiserver: the CRD stays until its custom resources are gone.
            fins = obj.setdefault("metadata", {}).setdefault("finalizers", [])
            if CRD_CLEANUP not in fins:
                fins.append(CRD_CLEANUP)
        spec = (
            obj.setdefault("spec", {})
            if rt.kind in ("Deployment", "Service", "Namespace", "StatefulSet")
            else None
        )
        if rt.group == "apps" and rt.kind in ("Deployment", "StatefulSet", "ReplicaSet") and spec is not None:
            spec.setdefault("replicas", 1)
        if rt.group == "apps" and rt.kind == "Deployment" and spec is not None:
            strat = spec.setdefault("strategy", {"type": "RollingUpdate"})
            if strat.get("type", "RollingUpdate") == "RollingUpdate":
                strat.setdefault("type", "RollingUpdate")
                strat.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
        if rt.group == "batch" and rt.kind == "Job":
            _job_defaults(obj.setdefault("spec", {}))
        if (rt.group, rt.kind) in (("", "Pod"), ("apps", "DaemonSet"), ("apps", "StatefulSet")):
            pods.defaults(rt.kind, obj, creating)  # Pod spec, DaemonSet/StatefulSet update strategies
        if rt.group == "" and rt.kind == "Service" and spec is not None:
            if creating:
                obj["status"] = {"loadBalancer": {}}  # as the registry resets a new Service's status
            spec.setdefault("type", "ClusterIP")
            spec.setdefault("sessionAffinity", "None")
            if creating and spec["type"] != "ExternalName" and not spec.get("clusterIP"):
                ip = str(next(self._ips))
                spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
            for p in spec.get("ports") or []:
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
                if creating and spec["type"] in ("NodePort", "LoadBalancer") and not p.get("nodePort"):
                    p["nodePort"] = next(self._node_ports)  # from the default range 30000-32767
        if rt.group == "" and rt.kind == "Secret" and creating:
            obj.setdefault("type", "Opaque")  # SetDefaults_Secret
        if rt.group == "" and rt.kind == "Secret" and obj.get("stringData"):
            # stringData is write-only: folded into data, as the real registry does.
            data = obj.setdefault("data", {}) or {}
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data
            obj.setdefault("type", "Opaque")
        if rt.group == "" and rt.kind == "Namespace":
            furniture.namespace_defaults(obj)
        if rt.group == "" and rt.kind == "Namespace" and spec is not None and creating:
            spec.setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}


def _job_defaults(spec: Obj) -> None:
    """batch/v1 SetDefaults_Job: a non-parallel Job (neither set) gets completions and parallelism
    1; backoffLimit 6 (MaxInt32 with backoffLimitPerIndex); NonIndexed; not suspended."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
