"""Sharding: which HelmReleases and GitSyncs a replica owns, and the Lease it campaigns for.

`run --shard-key VALUE` makes a replica own only the objects labelled
`helmrelease.dev/shard: VALUE`; a replica without the flag (the unsharded one) owns only the
objects *without* that label. Every object is therefore owned by exactly one kind of replica,
decided by the API server: the informers of HelmReleases and GitSyncs list and watch with the
shard's label selector, so a replica never even receives another shard's objects, and an object
relabelled to another shard leaves one replica's watch (a DELETED event: forgotten, never
uninstalled, since only a deletionTimestamp finalizes) and enters the other's (ADDED).

Each shard has its own Lease (`<lease>-shard-<value>`), so the replicas of one shard elect their
own leader; the unsharded replica keeps the plain `<lease>` name (an upgrade to a sharded
deployment keeps its leader).

`dependsOn` may name a HelmRelease of another shard, which this replica's informer does not hold:
`dependency_view` reads such a dependency with a GET (as Flux's helm-controller reads dependencies
with its uncached API reader), so the dependency check sees every shard. Pure functions, except
`dependency_view`'s GETs. `from_flux_labels` turns Flux's `sharding.fluxcd.io/key` label into ours
for the Flux converter.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..api.names import GROUP
from .client import HELMRELEASES, KubeClient, NotFound

SHARD_LABEL = f"{GROUP}/shard"
#: Flux's sharding label convention (`--watch-label-selector=sharding.fluxcd.io/key=...`).
FLUX_SHARD_LABEL = "sharding.fluxcd.io/key"

Obj = dict[str, Any]
Key = tuple[str, str]
Lookup = Callable[[str, str], Obj | None]

# A label value (k8s.io/apimachinery validation.IsValidLabelValue): at most 63 characters,
# alphanumerics, '-', '_' or '.', beginning and ending with an alphanumeric.
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MAX_LABEL_VALUE = 63
#: At most this many HelmReleases are read to follow one reconcile's dependsOn chain.
MAX_DEPENDENCY_READS = 50


class ShardKeyError(ValueError):
    """A --shard-key that is no label value; the message is one line for the command line."""


def validate_shard_key(value: str) -> str:
    """`value` when it can be the value of the shard label, else ShardKeyError saying why."""
    if value == "":
        raise ShardKeyError("empty: leave --shard-key out to run the unsharded replica")
    if len(value) > MAX_LABEL_VALUE:
        raise ShardKeyError(f"{value!r} is {len(value)} characters: a label value has at most 63")
    if not _LABEL_VALUE.fullmatch(value):
        raise ShardKeyError(
            f"{value!r} is not a label value: alphanumerics, '-', '_' or '.', "
            "beginning and ending with an alphanumeric"
        )
    return value


def selector(shard_key: str | None) -> str:
    """The label selector of the HelmReleases and GitSyncs a replica owns."""
    return f"{SHARD_LABEL}={shard_key}" if shard_key else f"!{SHARD_LABEL}"


def owns(shard_key: str | None, labels: Mapping[str, str] | None) -> bool:
    """Does the replica of `shard_key` (None: unsharded) own an object with these labels?"""
    value = (labels or {}).get(SHARD_LABEL)
    return value is None if not shard_key else value == shard_key


def lease_name(base: str, shard_key: str | None) -> str:
    """The Lease of a shard's replicas: `base` for the unsharded one, `base-shard-<value>` else.

    A label value may hold capitals, '_' and '.', which a Lease name (a DNS subdomain) may not,
    or not everywhere: such a value is lowercased, its other characters become '-', and a short
    hash of the value keeps two values apart that would read the same ("A" and "a").
    """
    if not shard_key:
        return base
    if _DNS_LABEL.fullmatch(shard_key):
        return f"{base}-shard-{shard_key}"
    readable = re.sub(r"[^a-z0-9]+", "-", shard_key.lower()).strip("-")
    digest = hashlib.sha256(shard_key.encode()).hexdigest()[:8]
    return f"{base}-shard-{readable}-{digest}" if readable else f"{base}-shard-{digest}"


def describe(shard_key: str | None) -> str:
    """For log lines: `shard "a"`, or `unsharded`."""
    return f'shard "{shard_key}"' if shard_key else "unsharded"


def from_flux_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """A converted Flux object's labels: Flux's shard label becomes ours (same value), in place."""
    return {(SHARD_LABEL if k == FLUX_SHARD_LABEL else k): v for k, v in labels.items()}


# -- dependsOn across shards ----------------------------------------------------------------------
def _depends_on(obj: Obj | None, ns: str) -> Iterable[Key]:
    for dep in ((obj or {}).get("spec") or {}).get("dependsOn") or []:
        if isinstance(dep, dict) and dep.get("name"):
            yield (str(dep.get("namespace") or ns), str(dep["name"]))


async def dependency_view(
    client: KubeClient, cached: Lookup, ns: str, name: str, deps: Iterable[tuple[str | None, str]]
) -> Lookup:
    """A lookup for reconcile/dependencies.py that sees every shard: the informer's copy, else a
    GET of the dependency (another shard's, or outside a --namespace). The dependsOn chain is
    followed (for the cycle check) through at most MAX_DEPENDENCY_READS GETs; no dependency, or
    all of them in the cache, costs no request."""
    fetched: dict[Key, Obj | None] = {}
    todo = [(d_ns or ns, d_name) for d_ns, d_name in deps]
    seen: set[Key] = {(ns, name)}
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        obj = cached(*key)
        if obj is None:
            if len(fetched) >= MAX_DEPENDENCY_READS:
                continue
            try:
                obj = await client.get(HELMRELEASES, *key)
            except NotFound:
                obj = None
            fetched[key] = obj
        todo.extend(_depends_on(obj, key[0]))
    if not fetched:
        return cached

    def lookup(l_ns: str, l_name: str) -> Obj | None:
        obj = cached(l_ns, l_name)
        return obj if obj is not None else fetched.get((l_ns, l_name))

    return lookup


__all__ = [
    "FLUX_SHARD_LABEL",
    "SHARD_LABEL",
    "ShardKeyError",
    "dependency_view",
    "describe",
    "from_flux_labels",
    "lease_name",
    "owns",
    "selector",
    "validate_shard_key",
]
