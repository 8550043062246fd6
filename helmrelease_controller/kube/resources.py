"""API resources: `Resource` (group, version, plural, scope, kind -> request paths and the names
used in request counts), the ones the controller uses, and the Accept headers of metadata-only
reads. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    """One API resource: where it lives and what it is called."""

    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def label(self) -> str:
        """`plural.group` (or `plural` for the core group): the name used in request counts."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        parts = ["/apis", self.group, self.version] if self.group else ["/api", self.version]
        if self.namespaced and namespace:
            parts += ["namespaces", quote(namespace, safe="")]
        parts.append(self.plural)
        if name:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


# Metadata-only reads (PartialObjectMetadata): the API server sends metadata without data/spec,
# which is how the controller watches Secrets and ConfigMaps without holding their contents.
METADATA_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
METADATA_LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

HELMRELEASES = Resource("helmrelease.dev", "v1", "helmreleases", True, "HelmRelease")
SECRETS = Resource("", "v1", "secrets", True, "Secret")
_NON_RESOURCE = Resource("", "", "nonresource", False, "")  # /version, discovery (request counts)
CONFIGMAPS = Resource("", "v1", "configmaps", True, "ConfigMap")
PODS = Resource("", "v1", "pods", True, "Pod")
EVENTS = Resource("events.k8s.io", "v1", "events", True, "Event")
CORE_EVENTS = Resource("", "v1", "events", True, "Event")
LEASES = Resource("coordination.k8s.io", "v1", "leases", True, "Lease")
NAMESPACES = Resource("", "v1", "namespaces", False, "Namespace")
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", False, "CustomResourceDefinition")
