"""The resource-type registry: which kinds kubesim serves, and under which names.

One :class:`ResourceType` per (group, version, plural). Built-in kinds are listed
here; CustomResourceDefinitions add and remove their own at run time. Discovery,
OpenAPI, routing and storage all ask this registry, so a kind exists everywhere or
nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # For CRDs: the printer columns and the schema (both straight from the CRD).
    printer_columns: tuple[dict[str, Any], ...] = ()
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    crd_name: str | None = None
    # The scale subresource: (specReplicasPath, statusReplicasPath, labelSelectorPath).
    scale_paths: tuple[str, str, str] = (".spec.replicas", ".status.replicas", "")
    # Objects live in another group/resource's storage, converted (see conversion.py).
    stored_as: tuple[str, str] | None = None
    # For CRDs: the field labels of `selectableFields` (jsonPath without the leading dot).
    selectable_fields: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gvk(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.kind)

    @property
    def group_resource(self) -> tuple[str, str]:
        """Storage key: objects are shared by every version of a group/resource (and by aliases)."""
        return self.stored_as or (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"


def _rt(
    gv: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    sub: tuple[str, ...] = ("status",),
    cats: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    stored_as: tuple[str, str] | None = None,
) -> ResourceType:
    group, _, version = gv.rpartition("/")
    return ResourceType(
        group, version, kind, plural, namespaced, short, frozenset(sub), cats, verbs, stored_as=stored_as
    )


_ALL = ("all",)
BUILTINS: tuple[ResourceType, ...] = (
    _rt("v1", "Namespace", "namespaces", False, ("ns",), ("status", "finalize")),
    _rt("v1", "Secret", "secrets", sub=()),
    _rt("v1", "ConfigMap", "configmaps", short=("cm",), sub=()),
    _rt("v1", "Service", "services", short=("svc",), cats=_ALL),
    _rt("v1", "Pod", "pods", short=("po",), sub=("status", "log"), cats=_ALL),
    _rt("v1", "ServiceAccount", "serviceaccounts", short=("sa",), sub=()),
    _rt("v1", "Event", "events", short=("ev",), sub=()),
    _rt("v1", "Endpoints", "endpoints", short=("ep",), sub=()),
    _rt("v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",)),
    _rt("v1", "PersistentVolume", "persistentvolumes", False, ("pv",)),
    _rt("v1", "ResourceQuota", "resourcequotas", short=("quota",)),
    _rt("v1", "LimitRange", "limitranges", short=("limits",), sub=()),
    _rt("v1", "Node", "nodes", False, ("no",)),
    _rt("v1", "ReplicationController", "replicationcontrollers", short=("rc",), sub=("status", "scale")),
    _rt("apps/v1", "Deployment", "deployments", short=("deploy",), sub=("status", "scale"), cats=_ALL),
    _rt("apps/v1", "ReplicaSet", "replicasets", short=("rs",), sub=("status", "scale"), cats=_ALL),
    _rt("apps/v1", "StatefulSet", "statefulsets", short=("sts",), sub=("status", "scale"), cats=_ALL),
    _rt("apps/v1", "DaemonSet", "daemonsets", short=("ds",), cats=_ALL),
    _rt("apps/v1", "ControllerRevision", "controllerrevisions", sub=()),
    _rt("batch/v1", "Job", "jobs", cats=_ALL),
    _rt("batch/v1", "CronJob", "cronjobs", short=("cj",), cats=_ALL),
    _rt("rbac.authorization.k8s.io/v1", "Role", "roles", sub=()),
    _rt("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", sub=()),
    _rt("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False, sub=()),
    _rt("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False, sub=()),
    _rt(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
    ),
    _rt("coordination.k8s.io/v1", "Lease", "leases", sub=()),
    _rt("events.k8s.io/v1", "Event", "events", short=("ev",), sub=(), stored_as=("", "events")),
    _rt("networking.k8s.io/v1", "Ingress", "ingresses", short=("ing",)),
    _rt("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", short=("netpol",), sub=()),
    _rt("networking.k8s.io/v1", "IngressClass", "ingressclasses", False, sub=()),
    _rt("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",)),
    _rt("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), cats=_ALL),
    _rt("autoscaling/v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",)),
    _rt("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False, ("pc",), sub=()),
    _rt("storage.k8s.io/v1", "StorageClass", "storageclasses", False, ("sc",), sub=()),
    _rt("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", sub=()),
    _rt("apiregistration.k8s.io/v1", "APIService", "apiservices", False),
    _rt(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        sub=(),
    ),
    _rt(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        sub=(),
    ),
)


class Registry:
    """Every served resource type, built-in or from a CRD."""

    def __init__(self, builtins: Iterable[ResourceType] = BUILTINS) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        # Bumped on every change (ResourceType is frozen), so derived documents can be cached.
        self.generation = 0
        for rt in builtins:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        self._by_path[(rt.group, rt.version, rt.plural)] = rt
        self.generation += 1

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        gone = [rt for rt in self._by_path.values() if rt.crd_name == crd_name]
        self.generation += 1
        for rt in gone:
            del self._by_path[(rt.group, rt.version, rt.plural)]
        return gone

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._by_path.values():
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def by_group_resource(self, group: str, plural: str) -> list[ResourceType]:
        return [rt for rt in self._by_path.values() if rt.group == group and rt.plural == plural]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_path.values()))

    def groups(self) -> dict[str, list[str]]:
        """group -> versions, the preferred (first registered) version first; core excluded."""
        out: dict[str, list[str]] = {}
        for rt in self._by_path.values():
            if rt.group and rt.version not in out.setdefault(rt.group, []):
                out[rt.group].append(rt.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._by_path.values() if rt.group == group and rt.version == version]


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """The resource types a CustomResourceDefinition object declares (served versions only)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        subs = tuple(k for k in (v.get("subresources") or {}) if k in ("status", "scale"))
        scale = (v.get("subresources") or {}).get("scale") or {}
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=v.get("name", "v1"),
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                subresources=frozenset(subs),
                categories=tuple(names.get("categories") or ()),
                printer_columns=tuple(v.get("additionalPrinterColumns") or ()),
                schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                crd_name=(crd.get("metadata") or {}).get("name"),
                scale_paths=(
                    scale.get("specReplicasPath", ".spec.replicas"),
                    scale.get("statusReplicasPath", ".status.replicas"),
                    scale.get("labelSelectorPath", ""),
                ),
                selectable_fields=tuple(
                    str(f.get("jsonPath", "")).lstrip(".") for f in v.get("selectableFields") or []
                ),
            )
        )
    return out
