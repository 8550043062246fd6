"""Events as Kubernetes components write them (client-go's EventRecorder and its correlator).

`Recorder.record(obj, type, reason, message, component)` writes a core/v1 Event about `obj`
in its namespace: named `<object name>.<hex nanoseconds>`, `involvedObject` the object (with a
`fieldPath` such as `spec.containers{app}` for a container), `source.component` (and `host` for
the kubelet), `reportingComponent`/`reportingInstance`, `count`, `firstTimestamp` and
`lastTimestamp`. The same event again (same object, type, reason, message, source) increments
`count` and moves `lastTimestamp`, as the correlator's aggregation does. An event whose object
or namespace is gone is dropped silently, as a recorder's failed write is.
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any

from .resources import Registry, ResourceType
from .store import ApiError, Obj, Store, now_rfc3339

_MAX_KEYS = 50_000


class Recorder:
    def __init__(self, registry: Registry, store: Store) -> None:
        self.store = store
        rt = registry.by_kind("v1", "Event")
        assert rt is not None
        self.rt: ResourceType = rt
        self._names: dict[tuple[Any, ...], tuple[str, str]] = {}  # correlation key -> (ns, name)
        self.enabled = True

    def record(
        self,
        obj: Obj,
        type_: str,
        reason: str,
        message: str,
        component: str,
        field_path: str = "",
        host: str = "",
    ) -> None:
        if not self.enabled:
            return
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        key = (meta.get("uid"), field_path, type_, reason, message, component)
        ts = now_rfc3339()
        known = self._names.get(key)
        if known is not None:
            current = self.store.peek(self.rt, *known)
            if current is not None:
                new = copy.deepcopy(current)
                new["count"] = int(current.get("count", 1)) + 1
                new["lastTimestamp"] = ts
                with contextlib.suppress(ApiError):
                    self.store.update(self.rt, known[0], known[1], new)
                return
        name = f"{meta.get('name')}.{time.time_ns():x}"
        ref = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "fieldPath": field_path,
        }
        source = {"component": component, **({"host": host} if host else {})}
        event: Obj = {
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {k: v for k, v in ref.items() if v},
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": ts,
            "lastTimestamp": ts,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        try:
            self.store.create(self.rt, ns, event)
        except ApiError:
            return  # the namespace is going away: the recorder drops it
        if len(self._names) > _MAX_KEYS:
            self._names.clear()
        self._names[key] = (ns, name)
