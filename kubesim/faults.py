"""Fault injection and the request log: what tests use to make kubesim misbehave and to count calls.

A :class:`Fault` matches requests by method, Kubernetes verb, resource, namespace,
name and a path regex; when it matches it adds latency and/or answers with an
error status (a `Status` body, optional `Retry-After`), a given number of times or
forever. Dropped watches and forced 410s are server actions (see `KubeSim`).

The :class:`RequestLog` records every API request (method, path, verb, resource,
subresource, namespace, name, status code, user agent) so tests and benchmarks can
count what a client did.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RequestRecord:
    ts: float
    method: str
    path: str
    query: str
    verb: str
    resource: str  # "deployments.apps" style, "" for non-resource paths
    subresource: str
    namespace: str
    name: str
    status: int = 0
    user_agent: str = ""
    content_type: str = ""
    accept: str = ""  # the Accept header: tells a metadata-only or Table request from a full one

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fault:
    status: int = 500  # 0: no error, latency only
    method: str | None = None
    verb: str | None = None
    resource: str | None = None  # plural, or plural.group
    subresource: str | None = None
    namespace: str | None = None
    name: str | None = None
    path: str | None = None  # regex searched in the path
    user_agent: str | None = None  # prefix of the client's User-Agent (one client's outage)
    latency: float = 0.0  # seconds
    times: int | None = None  # None: forever
    message: str = "injected fault"
    retry_after: int | None = None
    id: int = 0
    hits: int = 0
    _path_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def matches(self, rec: RequestRecord) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != rec.method:
            return False
        if self.verb and self.verb != rec.verb:
            return False
        if self.resource and self.resource not in (rec.resource, rec.resource.split(".", 1)[0]):
            return False
        if self.subresource is not None and self.subresource != rec.subresource:
            return False
        if self.namespace and self.namespace != rec.namespace:
            return False
        if self.name and self.name != rec.name:
            return False
        if self.user_agent and not rec.user_agent.startswith(self.user_agent):
            return False
        if self.path:
            if self._path_re is None:
                self._path_re = re.compile(self.path)
            if not self._path_re.search(rec.path):
                return False
        return True

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class Faults:
    """The active fault rules. Thread-safe: tests add them from their own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, **kw: Any) -> Fault:
        fault = Fault(**kw)
        fault.id = next(self._ids)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: int) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def match(self, rec: RequestRecord) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.matches(rec):
                    f.hits += 1
                    return f
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.public() for f in self._faults]


class RequestLog:
    def __init__(self, limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._entries: list[RequestRecord] = []
        self._limit = limit

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self._entries.append(rec)
            if len(self._entries) > self._limit:
                del self._entries[: self._limit // 10]

    def entries(self, since: float = 0.0) -> list[RequestRecord]:
        with self._lock:
            return [e for e in self._entries if e.ts >= since]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(self, **match: Any) -> int:
        """How many recorded requests have all the given attribute values (e.g. verb="patch")."""
        return sum(1 for e in self.entries() if all(getattr(e, k) == v for k, v in match.items()))
