"""Cluster furniture: what every real cluster has before anyone applies anything.

- in every namespace (the built-in ones too), as the service-account and
  root-CA-publisher controllers make them: the `default` ServiceAccount and the
  `kube-root-ca.crt` ConfigMap (recreated when deleted, its data reset when edited);
- the `kubernetes.io/metadata.name` label on every Namespace, set on create and
  on every update (as the namespace registry strategy does), so it cannot be
  removed or changed;
- one Ready Node, `kubesim` (the pods' hostIP is its InternalIP);
- an `apiregistration.k8s.io/v1` APIService per served group-version, local and
  Available (CRD groups get theirs while the CRD is served, as crd-autoregistration).

GitSync prune and the controller never see these as theirs: they carry no
`helmrelease.dev/gitsync` label.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

from .resources import Registry, ResourceType
from .store import ApiError, Change, Obj, Store, now_rfc3339

NS_LABEL = "kubernetes.io/metadata.name"
ROOT_CA = "kube-root-ca.crt"
NODE = "kubesim"
NODE_IP = "172.18.0.2"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
# A self-signed CA certificate (its key was never kept): what pods would mount as ca.crt.
CA_CRT = """-----BEGIN CERTIFICATE-----
MIIBgTCCASegAwIBAgIUEwtNm/UC48hQOalLOWbPQGl7nYQwCgYIKoZIzj0EAwIw
FTETMBEGA1UEAwwKa3ViZXJuZXRlczAgFw0yNjEyMDQwMzM3MzFaGA8yMTI2MTEx
MDAzMzczMVowFTETMBEGA1UEAwwKa3ViZXJuZXRlczBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABKkYZkTMLRwHJVGisWokSt7KQZg0CS30sh6eczzrqmGGL/n9uU9/
k7JSH3s63t7y0mfeGVUB7Ec/BlNwD781fQKjUzBRMB0GA1UdDgQWBBQMiXDGCwkB
EhCsFH+1cd71cMNBCTAfBgNVHSMEGDAWgBQMiXDGCwkBEhCsFH+1cd71cMNBCTAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIAVF+X1YF/KbzmP8fUKf
RUHuyE5aCkVbELDg8I7EfhrYAiEAx4V3C14xQ2sutif5bNri2baNs1jhCuPPPBoT
DctyiSs=
-----END CERTIFICATE-----
"""
CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
    "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
    "distributions of Kubernetes clusters."
)
# (group, version) -> (groupPriorityMinimum, versionPriority), as kube-apiserver registers them.
_PRIORITIES = {
    ("", "v1"): (18000, 1),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("policy", "v1"): (17600, 15),
    ("batch", "v1"): (17400, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("autoscaling", "v2"): (19100, 30),
    ("autoscaling", "v1"): (19100, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
}

Later = Callable[..., None]


def namespace_defaults(obj: Obj) -> None:
    """The registry strategy of Namespaces: the name label, on create and on every update."""
    meta = obj.setdefault("metadata", {})
    if meta.get("name"):
        labels = meta.get("labels") or {}
        labels[NS_LABEL] = meta["name"]
        meta["labels"] = labels


def _available() -> Obj:
    return {
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "lastTransitionTime": now_rfc3339(),
                "reason": "Local",
                "message": "Local APIServices are always available",
            }
        ]
    }


class Furniture:
    def __init__(self, registry: Registry, store: Store, later: Later) -> None:
        self.registry, self.store, self.later = registry, store, later
        self._synced_generation = -1

    def _rt(self, api_version: str, kind: str) -> ResourceType:
        rt = self.registry.by_kind(api_version, kind)
        assert rt is not None
        return rt

    def _create(self, rt: ResourceType, ns: str, obj: Obj, status: Obj | None = None) -> None:
        with contextlib.suppress(ApiError):  # already there, or the namespace is going away
            created = self.store.create(rt, ns, obj)
            if status is not None:
                created["status"] = status
                self.store.update(rt, ns, created["metadata"]["name"], created, "status")

    # -- at start ----------------------------------------------------------------------------
    def install(self) -> None:
        """The Node and the APIServices of the built-in groups."""
        node_rt = self._rt("v1", "Node")
        capacity = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        labels = {
            "kubernetes.io/hostname": NODE,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            "node-role.kubernetes.io/control-plane": "",
        }
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": now_rfc3339(),
            "lastTransitionTime": now_rfc3339(),
        }
        status = {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [ready],
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": NODE}],
            "nodeInfo": {
                "kubeletVersion": "v1.37.0-kubesim",
                "containerRuntimeVersion": "containerd://2.1.0",
                "kernelVersion": "6.8.0",
                "osImage": "kubesim",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kubeProxyVersion": "",
            },
        }
        self._create(node_rt, "", {"metadata": {"name": NODE, "labels": labels}, "spec": {}}, status)
        self.sync_apiservices()

    def sync_apiservices(self) -> None:
        """One APIService per served group-version; CRD groups' ones come and go with their CRDs."""
        if self._synced_generation == self.registry.generation:
            return
        self._synced_generation = self.registry.generation
        rt = self._rt("apiregistration.k8s.io/v1", "APIService")
        want: dict[str, tuple[str, str, bool]] = {}
        for t in self.registry:
            want[f"{t.version}.{t.group}"] = (t.group, t.version, t.crd_name is not None)
        have = {o["metadata"]["name"]: o for o in self.store.iter_raw(rt)}
        for name, (group, version, from_crd) in sorted(want.items()):
            if name in have:
                continue
            prio = _PRIORITIES.get((group, version), (1000, 100))
            spec: dict[str, Any] = {"version": version}
            spec.update(groupPriorityMinimum=prio[0], versionPriority=prio[1])
            if group:
                spec["group"] = group
            labels = {AUTOMANAGED: "true" if from_crd else "onstart"}
            self._create(rt, "", {"metadata": {"name": name, "labels": labels}, "spec": spec}, _available())
        for name, obj in have.items():
            if name not in want and ((obj["metadata"].get("labels") or {}).get(AUTOMANAGED)) == "true":
                with contextlib.suppress(ApiError):
                    self.store.delete(rt, "", name)

    # -- namespaces ---------------------------------------------------------------------------
    def on_change(self, ch: Change) -> None:
        meta = ch.obj.get("metadata") or {}
        if ch.rt.group != "":
            return
        if ch.rt.kind == "Namespace" and ch.type == "ADDED":
            self.later(self._furnish, meta.get("name", ""))
            return
        sa_gone = ch.rt.kind == "ServiceAccount" and meta.get("name") == "default" and ch.type == "DELETED"
        ca_changed = ch.rt.kind == "ConfigMap" and meta.get("name") == ROOT_CA
        if sa_gone or (
            ca_changed and (ch.type == "DELETED" or (ch.obj.get("data") or {}) != {"ca.crt": CA_CRT})
        ):
            self.later(self._furnish, meta.get("namespace", ""))

    def _furnish(self, ns: str) -> None:
        nsobj = self.store.peek(self._rt("v1", "Namespace"), "", ns)
        if nsobj is None or nsobj["metadata"].get("deletionTimestamp"):
            return
        sa_rt, cm_rt = self._rt("v1", "ServiceAccount"), self._rt("v1", "ConfigMap")
        if self.store.peek(sa_rt, ns, "default") is None:
            self._create(sa_rt, ns, {"metadata": {"name": "default", "namespace": ns}})
        cm = self.store.peek(cm_rt, ns, ROOT_CA)
        if cm is None:
            self._create(
                cm_rt,
                ns,
                {
                    "metadata": {
                        "name": ROOT_CA,
                        "namespace": ns,
                        "annotations": {"kubernetes.io/description": CA_DESCRIPTION},
                    },
                    "data": {"ca.crt": CA_CRT},
                },
            )
        elif (cm.get("data") or {}) != {"ca.crt": CA_CRT} or cm.get("binaryData"):
            new = copy.deepcopy(cm)
            new["data"] = {"ca.crt": CA_CRT}
            new.pop("binaryData", None)
            with contextlib.suppress(ApiError):
                self.store.update(cm_rt, ns, ROOT_CA, new)
