"""Deduplication and recovery gating, per provider and object (a HelmRelease or a GitSync, kept
apart by kind). Pure (a clock is passed in).

- A notification whose fingerprint (HelmRelease, outcome, reason, revision) was accepted for the
  same provider within `window` seconds is a duplicate: a failure repeated by every retry is sent
  once.
- A failure or stall clears the recoveries remembered for its HelmRelease and a recovery clears
  the failures, so fail -> recover -> the same failure again is news each time.
- A recovery is accepted only after a failure or stall of that HelmRelease was accepted for the
  provider, and delivered only if one was delivered (`should_deliver`), so nobody gets "recovered"
  for something they never heard was broken.
- A notification that was dropped or could not be delivered is forgotten (`undelivered`), so a
  later identical one is tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .notification import HELMRELEASE, RECOVERED, Notification

_Key = tuple[str, str, str, str]  # provider, kind, namespace, name


class Deduplicator:
    def __init__(self, window: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._seen: dict[_Key, dict[str, tuple[float, bool]]] = {}  # fingerprint -> (when, recovery)
        self._alert_accepted: set[_Key] = set()
        self._alert_delivered: set[_Key] = set()
        self._last_prune = clock()

    @staticmethod
    def _key(provider: str, n: Notification) -> _Key:
        return (provider, n.kind, n.namespace, n.name)

    def admit(self, provider: str, n: Notification) -> bool:
        """Should `n` be queued for `provider`? Records it when it should."""
        now = self.clock()
        self._maybe_prune(now)
        key = self._key(provider, n)
        recovery = n.outcome == RECOVERED
        if recovery and key not in self._alert_accepted:
            return False
        seen = self._seen.setdefault(key, {})
        fp = n.fingerprint
        hit = seen.get(fp)
        if hit is not None and now - hit[0] < self.window:
            return False
        # A failure makes an earlier recovery stale and vice versa.
        for other, (_, was_recovery) in list(seen.items()):
            if was_recovery != recovery:
                del seen[other]
        seen[fp] = (now, recovery)
        if recovery:
            self._alert_accepted.discard(key)
        else:
            self._alert_accepted.add(key)
        return True

    def should_deliver(self, provider: str, n: Notification) -> bool:
        """At delivery: a recovery goes out only if a failure or stall was delivered before it."""
        return n.outcome != RECOVERED or self._key(provider, n) in self._alert_delivered

    def delivered(self, provider: str, n: Notification) -> None:
        key = self._key(provider, n)
        if n.outcome == RECOVERED:
            self._alert_delivered.discard(key)
        else:
            self._alert_delivered.add(key)

    def undelivered(self, provider: str, n: Notification) -> None:
        """`n` was dropped or given up on: a later identical notification may be sent."""
        seen = self._seen.get(self._key(provider, n))
        if seen is not None:
            seen.pop(n.fingerprint, None)

    def forget(self, namespace: str, name: str, kind: str = HELMRELEASE) -> None:
        """The HelmRelease (or GitSync: `kind`) is gone: drop everything remembered about it."""
        for store in (self._seen, self._alert_accepted, self._alert_delivered):
            for key in [k for k in store if k[1:] == (kind, namespace, name)]:
                if isinstance(store, dict):
                    del store[key]
                else:
                    store.discard(key)

    def _maybe_prune(self, now: float) -> None:
        if now - self._last_prune < min(self.window, 60.0):
            return
        self._last_prune = now
        for key in list(self._seen):
            fresh = {fp: v for fp, v in self._seen[key].items() if now - v[0] < self.window}
            if fresh:
                self._seen[key] = fresh
            else:
                del self._seen[key]

    def __len__(self) -> int:
        return sum(len(v) for v in self._seen.values())


__all__ = ["Deduplicator"]
