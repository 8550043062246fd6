"""LeaderElector against kubesim: one leader, takeover on expiry, release, races, lost renewals.

Time is a FakeClock and the acquire retries' jitter is drawn as 0.5 (a retry every 2 s * 1.6 =
3.2 s), with the default timing (lease 15 s, renew deadline 10 s, retry period 2 s): each test
advances the clock to the next timer, waits (real time, only bounded against a hang) for the
woken elector to finish its API calls and sleep again, and asserts the exact times, also as the
Lease records them (renewTime, acquireTime are written from the clock's wall time).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from helmrelease_controller.kube.client import LEASES, KubeClient, parse_time
from helmrelease_controller.kube.leader import LeaderElector
from kubesim import KubeSim
from tests.helpers.clock import HANG, FakeClock, until

FAST: dict[str, Any] = {"lease_duration": 1.0, "renew_deadline": 0.7, "retry_period": 0.2}
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
START, WALL = 1000.0, 1_795_168_800.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=START, wall=WALL)


def at(micro_time: str) -> float:
    """A Lease MicroTime as seconds since the test started, on the fake clock."""
    parsed = parse_time(micro_time)
    assert parsed is not None
    return round(parsed.timestamp() - WALL, 6)


async def tick(clock: FakeClock) -> float:
    """Advance to the next timer; wait until the elector it woke has slept again. The time (s)."""
    sleeps = len(clock.sleeps)
    await clock.advance(clock.pending()[0] - clock.now)
    await until(lambda: len(clock.sleeps) > sleeps, "the woken elector sleeping again")
    return round(clock.now - START, 6)


class Candidate:
    """One replica: an elector and its leading work (which runs until cancelled)."""

    def __init__(self, client: KubeClient, identity: str, clock: FakeClock) -> None:
        self.elector = LeaderElector(
            client, "default", "helmrelease-controller", identity, clock=clock, rand=lambda: 0.5
        )
        self.leading = False
        self.cancelled = False
        self.task: asyncio.Task[None] | None = None

    async def work(self) -> None:
        self.leading = True
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            self.leading = False
            raise

    def start(self) -> Candidate:
        self.task = asyncio.create_task(self.elector.run(self.work))
        return self

    async def kill(self) -> None:
        """The process dies: no more renewals, no release."""
        assert self.task is not None
        self.task.cancel()
        await asyncio.wait({self.task})
        assert self.task.cancelled()


@pytest.fixture
async def candidates(client: KubeClient, clock: FakeClock) -> AsyncIterator[Callable[..., Candidate]]:
    """Start candidates on the fake clock; all are killed at the end of the test."""
    started: list[Candidate] = []

    def start(identity: str) -> Candidate:
        c = Candidate(client, identity, clock).start()
        started.append(c)
        return c

    yield start
    for c in started:
        assert c.task is not None
        c.task.cancel()
        await asyncio.wait({c.task})


async def lease(client: KubeClient) -> dict[str, Any]:
    spec: dict[str, Any] = (await client.get(LEASES, "default", "helmrelease-controller"))["spec"]
    return spec


async def leader_and_waiting(
    clock: FakeClock, candidates: Callable[..., Candidate]
) -> tuple[Candidate, Candidate]:
    """a leads from t=0 (renewing every 2 s); b found the lease held and retries every 3.2 s."""
    a = candidates("a")
    await clock.until_sleeps(1)
    assert a.leading
    b = candidates("b")
    await clock.until_sleeps(2)
    assert clock.sleeps == [2.0, 3.2] and not b.leading
    return a, b


async def test_only_one_of_two_leads(
    client: KubeClient, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    a, b = await leader_and_waiting(clock, candidates)
    spec = await lease(client)
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 15, 0)
    assert MICRO_TIME.match(spec["renewTime"]) and MICRO_TIME.match(spec["acquireTime"])
    assert at(spec["acquireTime"]) == at(spec["renewTime"]) == 0.0
    renewals = []
    for _ in range(6):
        now = await tick(clock)
        if now % 2 == 0:  # a's renewal
            renewals.append((now, at((await lease(client))["renewTime"])))
    assert renewals == [(2.0, 2.0), (4.0, 4.0), (6.0, 6.0), (8.0, 8.0)]  # every retry period exactly
    assert clock.sleeps == [2.0, 3.2, 2.0, 3.2, 2.0, 2.0, 3.2, 2.0]  # b retried at 3.2 and 6.4
    assert a.leading and not b.leading
    assert (await lease(client))["holderIdentity"] == "a"


async def test_takeover_exactly_when_the_lease_expires(
    client: KubeClient, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    a, b = await leader_and_waiting(clock, candidates)
    await a.kill()  # at t=0: its renewal at t=2 never happens
    assert a.cancelled and not a.elector.is_leader
    attempts = []
    while not b.leading:
        attempts.append(await tick(clock))
    # b looks every 3.2 s; the lease (renewed at 0, 15 s) has expired by its look at 16.0, not 12.8.
    assert attempts == [3.2, 6.4, 9.6, 12.8, 16.0]
    spec = await lease(client)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert at(spec["acquireTime"]) == at(spec["renewTime"]) == 16.0


async def test_release_hands_over_at_once(
    client: KubeClient, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    a, b = await leader_and_waiting(clock, candidates)
    await clock.advance(1.0)
    assert await a.elector.release()
    assert a.cancelled and not a.elector.is_leader
    await asyncio.wait_for(a.task, HANG)  # type: ignore[arg-type]  # run() returned
    released = await lease(client)
    assert (released["holderIdentity"], released["leaseDurationSeconds"], at(released["renewTime"])) == (
        "",
        1,
        1.0,
    )
    assert await tick(clock) == 3.2 and b.leading  # b's next look, long before a's 15 s lease expired
    spec = await lease(client)
    assert spec["holderIdentity"] == "b" and spec["leaseDurationSeconds"] == 15
    assert at(spec["acquireTime"]) == 3.2
    assert not await a.elector.release()  # not ours any more: nothing to release


async def test_release_after_run_was_cancelled(
    client: KubeClient, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await clock.until_sleeps(1)
    await a.kill()
    assert await a.elector.release()
    spec = await lease(client)
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1


async def test_release_while_waiting_to_lead(
    client: KubeClient, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    _a, b = await leader_and_waiting(clock, candidates)
    assert not await b.elector.release()  # b held nothing ...
    await asyncio.wait_for(b.task, HANG)  # type: ignore[arg-type]  # ... and its run() returned
    assert not b.leading and not b.cancelled
    assert (await lease(client))["holderIdentity"] == "a"


async def test_acquire_survives_api_errors(
    client: KubeClient, kubesim: KubeSim, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    kubesim.add_fault(status=500, verb="get", resource="leases", times=2)
    a = candidates("a")
    await clock.until_sleeps(1)
    assert [await tick(clock), await tick(clock)] == [3.2, 6.4]  # two failed reads, 3.2 s apart
    assert a.leading and clock.sleeps == [3.2, 3.2, 2.0]
    assert at((await lease(client))["acquireTime"]) == 6.4


async def test_failed_renewals_end_leadership_at_the_renew_deadline(
    client: KubeClient, kubesim: KubeSim, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await clock.until_sleeps(1)
    assert await tick(clock) == 2.0  # renewed
    kubesim.add_fault(status=500, resource="leases")  # the API server stops answering for leases
    failed = [await tick(clock) for _ in range(4)]
    assert failed == [4.0, 6.0, 8.0, 10.0] and a.leading  # 8 s since the last renewal: still leading
    await clock.advance(2.0)  # t=12: 10 s (renew_deadline) since the renewal at 2
    await asyncio.wait_for(a.task, HANG)  # type: ignore[arg-type]  # run() returns on its own
    assert a.cancelled and not a.elector.is_leader
    kubesim.clear_faults()
    assert at((await lease(client))["renewTime"]) == 2.0


async def test_a_hung_renewal_is_given_up_at_the_renew_deadline(
    kubesim: KubeSim, clock: FakeClock, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await clock.until_sleeps(1)
    assert await tick(clock) == 2.0  # renewed, within what was left of the deadline (8 s)
    kubesim.add_fault(status=0, verb="update", resource="leases", latency=3.0, times=1)  # hangs
    await clock.advance(2.0)
    await clock.until_timeouts(2)  # the renewal at t=4 is waiting, with 8 s left ...
    assert clock.timeouts == [8.0, 8.0]
    await clock.advance(8.0)  # ... which run out at t=12, with the request still unanswered
    await asyncio.wait_for(a.task, HANG)  # type: ignore[arg-type]
    assert a.cancelled and not a.elector.is_leader
    assert clock.now - START == 12.0


@contextlib.contextmanager
def reads_in_lockstep(client: KubeClient) -> Iterator[None]:
    """Two concurrent attempts both read the lease before either writes: a deterministic race."""
    barrier, real_get = asyncio.Barrier(2), client.get

    async def get(*args: Any, **kw: Any) -> Any:
        try:
            return await real_get(*args, **kw)
        finally:
            await barrier.wait()

    client.get = get  # type: ignore[method-assign]
    try:
        yield
    finally:
        client.get = real_get  # type: ignore[method-assign]


async def test_409_races_have_one_winner(client: KubeClient, kubesim: KubeSim) -> None:
    a = LeaderElector(client, "default", "race", "a", **FAST)
    b = LeaderElector(client, "default", "race", "b", **FAST)
    with reads_in_lockstep(client):  # both read "no lease", both create: one gets 409 AlreadyExists
        results = await asyncio.gather(a._try_acquire_or_renew(), b._try_acquire_or_renew())
    assert sorted(results) == [False, True]
    assert kubesim.requests.count(verb="create", resource="leases.coordination.k8s.io", status=409) == 1

    winner, loser = (a, b) if results[0] else (b, a)
    assert await winner.release()
    c = LeaderElector(client, "default", "race", "c", **FAST)
    with reads_in_lockstep(client):  # both read the free lease, both update it: one gets 409 Conflict
        results = await asyncio.gather(loser._try_acquire_or_renew(), c._try_acquire_or_renew())
    assert sorted(results) == [False, True]
    assert kubesim.requests.count(verb="update", resource="leases.coordination.k8s.io", status=409) == 1
    holder = (await client.get(LEASES, "default", "race"))["spec"]["holderIdentity"]
    assert holder == ("c" if results[1] else loser.identity)


async def test_work_ending_ends_run(client: KubeClient) -> None:
    elector = LeaderElector(client, "default", "hr", "a", **FAST)
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()
        raise RuntimeError("controller crashed")

    with pytest.raises(RuntimeError, match="controller crashed"):
        await asyncio.wait_for(elector.run(work), 10)
    assert ran.is_set() and not elector.is_leader


def test_timing_is_validated() -> None:
    with pytest.raises(ValueError):
        LeaderElector(None, "ns", "n", "id", lease_duration=1.0, renew_deadline=2.0)  # type: ignore[arg-type]
