"""A reverse index: which HelmReleases refer to a thing (a valuesFrom source, a dependsOn target).

The controller keeps one per kind of reference, updated on every HelmRelease watch event, so an
event about the referred-to thing finds its referrers without scanning every HelmRelease.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # the referrer (a HelmRelease key)
R = TypeVar("R", bound=Hashable)  # what it refers to


class RefIndex(Generic[K, R]):
    def __init__(self) -> None:
        self._referrers: dict[R, set[K]] = {}
        self._refs: dict[K, frozenset[R]] = {}

    def set(self, key: K, refs: Iterable[R]) -> None:
        """`key` now refers to exactly `refs` (empty: to nothing, as when it is deleted)."""
        new = frozenset(refs)
        old = self._refs.get(key, frozenset())
        for ref in old - new:
            holders = self._referrers[ref]
            holders.discard(key)
            if not holders:
                del self._referrers[ref]
        for ref in new - old:
            self._referrers.setdefault(ref, set()).add(key)
        if new:
            self._refs[key] = new
        else:
            self._refs.pop(key, None)

    def referrers(self, ref: R) -> frozenset[K]:
        return frozenset(self._referrers.get(ref, ()))

    def __len__(self) -> int:
        """How many referrers refer to anything."""
        return len(self._refs)
