"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Owns "exactly one writer" (reliability rule 8): acquiring the Lease (create it when
absent; take it over only once the holder's lease has expired), renewing it every
`retry_period`, giving up leadership (cancelling the leading work) when renewals fail
for `renew_deadline`, and releasing it on graceful shutdown so a successor takes over
at once. Writes use optimistic concurrency: a 409 means someone else won the race.

Expiry is judged twice, and both must agree: the holder's renewTime +
leaseDurationSeconds has passed on our clock, and the record has not changed for
leaseDurationSeconds as observed locally (client-go's rule, which keeps a candidate
with a fast clock from stealing a live lease). Both clocks, the sleeps and the renewal
timeout come from an injectable `Clock` (the system's by default), the jitter of the
acquire retries from an injectable draw, so tests assert the exact schedule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from ..clock import SYSTEM, Clock
from .client import LEASES, ApiError, Conflict, KubeClient, NotFound, Obj, micro_time, parse_time

log = logging.getLogger(__name__)


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        *,
        clock: Clock = SYSTEM,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client, self.namespace, self.name, self.identity = client, namespace, name, identity
        self.lease_duration, self.renew_deadline = lease_duration, renew_deadline
        self.retry_period = retry_period
        self.clock, self._rand = clock, rand  # rand: a draw in [0, 1) for the acquire retries' jitter
        self.transitions = 0  # times this elector became leader
        self._is_leader = False
        self._observed: Obj | None = None  # the lease as last read or written
        self._observed_spec: Any = None
        self._observed_at = 0.0  # monotonic time the spec last changed
        self._work: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._acquirer: asyncio.Task[None] | None = None
        self._released = False

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @property
    def holder(self) -> str:
        """The holder identity as last observed ("" when none)."""
        spec = (self._observed or {}).get("spec") or {}
        return str(spec.get("holderIdentity") or "")

    # -- the election loop -------------------------------------------------------------------------
    async def run(self, on_started: Callable[[], Awaitable[None]]) -> None:
        """Acquire, run `on_started()` in a task while leading, renew every retry period.

        Returns when leadership is lost (renewals failed for renew_deadline, or another holder
        was seen; the work is cancelled first) or when `release()` is called. An exception of the
        work is raised. Cancelling `run` cancels the work and does not release the lease.
        """
        acquirer = self._acquirer = asyncio.create_task(self._acquire(), name="lease-acquire")
        try:
            await asyncio.wait({acquirer})
            if acquirer.cancelled():
                return  # release() was called before we led
            acquirer.result()
            if self._released:  # release() raced with a successful acquisition: hand it back
                await self._give_back()
                return
            self._is_leader = True
            self.transitions += 1
            log.info("leader election %s/%s: %s became leader", self.namespace, self.name, self.identity)
            work = self._work = asyncio.create_task(_call(on_started), name="leading")
            renewer = self._renewer = asyncio.create_task(self._renew_loop(), name="lease-renew")
            done, _ = await asyncio.wait({work, renewer}, return_when=asyncio.FIRST_COMPLETED)
            if work in done and not work.cancelled() and (exc := work.exception()) is not None:
                raise exc
            if renewer in done and not renewer.cancelled():
                log.error(
                    "leader election %s/%s: %s lost the lease", self.namespace, self.name, self.identity
                )
        finally:
            acquirer.cancel()
            self._is_leader = False
            await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        """Cancel the leading work and the renewals, and wait until they have stopped."""
        tasks = [t for t in (self._work, self._renewer) if t is not None]
        self._work = self._renewer = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for task in tasks:
            if (
                not task.cancelled()
                and (exc := task.exception()) is not None
                and task.get_name() != "leading"
            ):
                log.warning(
                    "leader election %s/%s: %s failed: %s", self.namespace, self.name, task.get_name(), exc
                )

    async def _acquire(self) -> None:
        while True:
            try:
                if await self._try_acquire_or_renew():
                    return
            except ApiError as e:
                log.warning("leader election %s/%s: acquire failed: %s", self.namespace, self.name, e)
            # client-go's JitterUntil(retryPeriod, 1.2): between 1x and 2.2x the retry period.
            await self.clock.sleep(self.retry_period * (1 + 1.2 * self._rand()))

    async def _renew_loop(self) -> None:
        last_renew = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.retry_period)
            remaining = last_renew + self.renew_deadline - self.clock.monotonic()
            ok = False
            if remaining > 0:
                try:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation that lands as the renewal completes, and this loop then
                    # outlives release()/shutdown, which wait for it (a hang seen in CI).
                    async with self.clock.timeout(remaining):
                        ok = await self._try_acquire_or_renew()
                except (ApiError, TimeoutError) as e:
                    log.warning("leader election %s/%s: renew failed: %s", self.namespace, self.name, e)
            if ok:
                last_renew = self.clock.monotonic()
                continue
            if self.holder not in ("", self.identity):
                return  # someone else holds it: no point retrying
            if self.clock.monotonic() - last_renew >= self.renew_deadline:
                return

    # -- one attempt --------------------------------------------------------------------------------
    def _observe(self, lease: Obj) -> None:
        spec = lease.get("spec") or {}
        record = (
            spec.get("holderIdentity"),
            spec.get("renewTime"),
            spec.get("leaseDurationSeconds"),
            spec.get("acquireTime"),
            spec.get("leaseTransitions"),
        )
        if record != self._observed_spec:
            self._observed_spec = record
            self._observed_at = self.clock.monotonic()
        self._observed = lease

    def _wall(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)

    def _now(self) -> str:
        """The clock's wall time as a Lease MicroTime."""
        return micro_time(self._wall())

    def _spec(self, acquire_time: str, transitions: int) -> Obj:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": acquire_time,
            "renewTime": self._now(),
            "leaseTransitions": transitions,
        }

    async def _try_acquire_or_renew(self) -> bool:
        """One attempt to create, take over or renew the lease; True when we hold it afterwards."""
        if self._is_leader and self._observed is not None and self.holder == self.identity:
            # Renewal fast path: write over the lease we last wrote; a 409 means it changed since.
            spec = self._observed.get("spec") or {}
            body = dict(self._observed)
            body["spec"] = self._spec(
                str(spec.get("acquireTime") or self._now()),
                int(spec.get("leaseTransitions") or 0),
            )
            try:
                self._observe(await self.client.replace(LEASES, self.namespace, self.name, body))
                return True
            except (Conflict, NotFound):
                pass
        try:
            lease = await self.client.get(LEASES, self.namespace, self.name)
        except NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(self._now(), 0),
            }
            try:
                self._observe(await self.client.create(LEASES, self.namespace, body))
            except Conflict:
                return False  # someone else created it first
            return True
        self._observe(lease)
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != self.identity and not self._expired(spec):
            return False
        if holder == self.identity:
            new_spec = self._spec(
                str(spec.get("acquireTime") or self._now()),
                int(spec.get("leaseTransitions") or 0),
            )
        else:
            new_spec = self._spec(self._now(), int(spec.get("leaseTransitions") or 0) + 1)
        body = dict(lease)
        body["spec"] = new_spec
        try:
            self._observe(await self.client.replace(LEASES, self.namespace, self.name, body))
        except Conflict:
            return False  # the lease changed under us: someone else renewed or won
        return True

    def _expired(self, spec: Obj) -> bool:
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        renew = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        wall_expired = renew is None or renew + dt.timedelta(seconds=duration) < self._wall()
        locally_expired = self._observed_at + duration < self.clock.monotonic()
        return wall_expired and locally_expired

    # -- graceful shutdown --------------------------------------------------------------------------
    async def release(self) -> bool:
        """Stop taking part: cancel the leading work (and any acquisition in progress), then hand the
        lease back (holderIdentity "", leaseDurationSeconds 1) so a successor takes over at once.
        `run()` returns. True when a lease we held was released."""
        self._released = True
        if self._acquirer is not None and not self._acquirer.done():
            self._acquirer.cancel()
        await self._stop_tasks()  # the work stops before anyone else can start
        self._is_leader = False
        return await self._give_back()

    async def _give_back(self) -> bool:
        try:
            lease = await self.client.get(LEASES, self.namespace, self.name)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return False
            now = self._now()
            body = dict(lease)
            body["spec"] = {
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": int(spec.get("leaseTransitions") or 0),
            }
            self._observe(await self.client.replace(LEASES, self.namespace, self.name, body))
        except ApiError as e:
            log.warning("leader election %s/%s: release failed: %s", self.namespace, self.name, e)
            return False
        log.info("leader election %s/%s: %s released the lease", self.namespace, self.name, self.identity)
        return True


async def _call(fn: Callable[[], Awaitable[None]]) -> None:
    await fn()
