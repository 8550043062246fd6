"""`spec.dependsOn`: is every dependency Ready, and is there a cycle? Pure: reads a lookup function.

`lookup(namespace, name)` returns a HelmRelease object (a dict, as the informer caches it) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import status as st

Lookup = Callable[[str, str], dict[str, Any] | None]


def cycle(lookup: Lookup, ns: str, name: str) -> list[str]:
    """The dependency path from ns/name back to itself (["a/x", "a/y", "a/x"]), or [] when none."""
    start = f"{ns}/{name}"
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        key, path = stack.pop()
        kns, kname = key.split("/", 1)
        obj = lookup(kns, kname)
        for dep in ((obj or {}).get("spec") or {}).get("dependsOn") or []:
            nxt = f"{dep.get('namespace') or kns}/{dep.get('name')}"
            if nxt == start:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return []


def blocking(lookup: Lookup, ns: str, name: str, depends_on: list[tuple[str | None, str]]) -> str:
    """One line naming the first dependency that is not Ready (or a cycle); "" when free to go.

    Ready means the dependency's Ready condition is True for its current generation.
    """
    if not depends_on:
        return ""
    loop = cycle(lookup, ns, name)
    if loop:
        return "dependency cycle: " + " -> ".join(loop)
    for dep_ns, dep_name in depends_on:
        dns = dep_ns or ns
        other = lookup(dns, dep_name)
        if other is None:
            return f"dependency {dns}/{dep_name} not found"
        status = other.get("status") or {}
        conditions = status.get("conditions") or []
        ready: dict[str, Any] = next((c for c in conditions if c.get("type") == st.READY), {})
        current = status.get("observedGeneration") == other["metadata"].get("generation")
        if ready.get("status") != "True" or not current:
            return f"dependency {dns}/{dep_name} is not ready"
    return ""
