"""The Kubernetes edge of the controller: everything that talks to the API server.

Module map: client (KubeClient: auth, CRUD, patches, lists, watches, errors),
informer (list+watch cache with change handlers), workqueue (deduplicating,
per-key serialized, rate-limited queue of keys), leader (Lease-based leader
election), events (non-blocking, deduplicating events.k8s.io/v1 recorder).
"""

from .client import (
    CONFIGMAPS,
    CORE_EVENTS,
    EVENTS,
    HELMRELEASES,
    LEASES,
    NAMESPACES,
    SECRETS,
    ApiError,
    Conflict,
    Gone,
    KubeClient,
    NotFound,
    Resource,
    StreamBroken,
    TransportError,
    micro_time,
    parse_time,
)
from .events import EventRecorder
from .informer import Informer, strip_managed_fields
from .leader import LeaderElector
from .workqueue import ShutDown, WorkQueue

__all__ = [
    "CONFIGMAPS",
    "CORE_EVENTS",
    "EVENTS",
    "HELMRELEASES",
    "LEASES",
    "NAMESPACES",
    "SECRETS",
    "ApiError",
    "Conflict",
    "EventRecorder",
    "Gone",
    "Informer",
    "KubeClient",
    "LeaderElector",
    "NotFound",
    "Resource",
    "ShutDown",
    "StreamBroken",
    "TransportError",
    "WorkQueue",
    "micro_time",
    "parse_time",
    "strip_managed_fields",
]
