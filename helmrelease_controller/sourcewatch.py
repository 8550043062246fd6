"""New chart versions and commits noticed when they appear, not at each HelmRelease's interval.

A HelmRelease with `interval: 1h` should still move within one source interval of a new chart
version in its repository index, a new commit on its git branch or a new OCI tag in its range.
`SourceWatch` knows which HelmReleases use which chart source and what each last resolved:
every reconcile reports its resolve (`resolved`). Each `period` seconds it resolves every
distinct source once (`Group`: the namespace, for its credentials, and the chart spec), through
the same chart sources a reconcile uses, so the fetches are the ones the sources already share
and cache for their interval (one index download, git fetch or tag list per source per
interval), and requeues exactly the HelmReleases whose last resolve differs from what the source
offers now. Nothing else is started: the requeued reconcile finds the new chart and upgrades.

A source that fails or hangs is skipped until the next round (its HelmReleases report the
failure themselves, at their own reconcile); rounds never overlap, and a look at one source is
bounded by `timeout`, so a dead repository does not delay the others' news by more than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name) of a HelmRelease


@dataclass(frozen=True)
class Group:
    """HelmReleases resolving the same chart spec in the same namespace get the same answer."""

    namespace: str
    chart: str  # repr of spec.chart: source, version constraint, credentials' Secret name


class SourceWatch:
    def __init__(
        self,
        resolve: Callable[[Key], Awaitable[str | None]],
        requeue: Callable[[Key], None],
        period: float,
        timeout: float = 30.0,
        concurrent: int = 4,
    ) -> None:
        self.resolve = resolve  # a user's chart digest as its source offers it now (None: no answer)
        self.requeue, self.period, self.timeout = requeue, period, timeout
        self._slots = asyncio.Semaphore(concurrent)
        self._group: dict[Key, Group] = {}  # HelmRelease -> its source
        self._users: dict[Group, set[Key]] = {}  # source -> its HelmReleases
        self._digest: dict[Key, str] = {}  # HelmRelease -> the chart digest its last resolve found
        self.rounds = 0
        self.requeued = 0

    def __len__(self) -> int:
        return len(self._users)

    # -- what reconciles report -----------------------------------------------------------------
    def resolved(self, key: Key, group: Group, digest: str) -> None:
        """A reconcile of `key` resolved its chart (from `group`) to `digest`."""
        old = self._group.get(key)
        if old != group:
            if old is not None:
                self._leave(key, old)
            self._group[key] = group
            self._users.setdefault(group, set()).add(key)
        self._digest[key] = digest

    def forget(self, key: Key) -> None:
        """The HelmRelease is gone (or no longer resolves a chart)."""
        group = self._group.pop(key, None)
        self._digest.pop(key, None)
        if group is not None:
            self._leave(key, group)

    def _leave(self, key: Key, group: Group) -> None:
        users = self._users.get(group)
        if users is not None:
            users.discard(key)
            if not users:
                del self._users[group]

    # -- rounds -----------------------------------------------------------------------------------
    def stale(self, group: Group, digest: str) -> list[Key]:
        """The users of `group` whose last resolve did not find `digest` (pure)."""
        return sorted(k for k in self._users.get(group, ()) if self._digest.get(k) != digest)

    async def round(self) -> None:
        """Look at every source once; requeue the HelmReleases it has news for."""
        self.rounds += 1
        await asyncio.gather(*(self._look(g) for g in list(self._users)))

    async def _look(self, group: Group) -> None:
        async with self._slots:
            users = self._users.get(group)
            if not users:
                return
            someone = min(users)
            digest: str | None = None
            try:
                async with asyncio.timeout(self.timeout):
                    digest = await self.resolve(someone)
            except TimeoutError:
                log.debug("source watch: %s did not answer within %.0fs", group.chart, self.timeout)
            except Exception as e:  # a source's failure is its HelmReleases' to report
                log.debug("source watch: %s failed: %s", group.chart, e)
            if digest is None:
                return
            for key in self.stale(group, digest):
                # Told once per new digest: a HelmRelease that does not resolve it (suspended,
                # failing) is not requeued every round; its own reconcile reports it again.
                self._digest[key] = digest
                self.requeued += 1
                self.requeue(key)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every `period` seconds until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.period):
                    await stop.wait()
            if not stop.is_set():
                await self.round()
