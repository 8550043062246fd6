"""LeaderElector against kubesim: one leader, takeover on expiry, release, races, lost renewals."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from helmrelease_controller.kube.client import LEASES, KubeClient, micro_time, parse_time
from helmrelease_controller.kube.leader import LeaderElector
from kubesim import KubeSim

FAST = {"lease_duration": 1.0, "renew_deadline": 0.7, "retry_period": 0.2}
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
async def client(kubesim: KubeSim) -> AsyncIterator[KubeClient]:
    c = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    yield c
    await c.close()


async def until(cond: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait for cond(). The timeout only bounds a hung test: no assertion here is about speed
    (timing claims are checked as causality, on the Lease's own timestamps)."""
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def seconds_between(earlier: str, later: str) -> float:
    """Seconds from one Lease MicroTime to another."""
    start, end = parse_time(earlier), parse_time(later)
    assert start is not None and end is not None
    return (end - start).total_seconds()


class Candidate:
    """One replica: an elector and its leading work (which runs until cancelled)."""

    def __init__(self, client: KubeClient, identity: str, **timing: float) -> None:
        self.elector = LeaderElector(
            client, "default", "helmrelease-controller", identity, **(timing or FAST)
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
async def candidates(client: KubeClient) -> AsyncIterator[Callable[..., Candidate]]:
    """Start candidates; all are killed at the end of the test."""
    started: list[Candidate] = []

    def start(identity: str, **timing: float) -> Candidate:
        c = Candidate(client, identity, **timing).start()
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


async def test_only_one_of_two_leads(client: KubeClient, candidates: Callable[..., Candidate]) -> None:
    a, b = candidates("a"), candidates("b")
    await until(lambda: a.leading or b.leading)
    await asyncio.sleep(0.5)  # a few renew periods: still exactly one
    assert a.leading != b.leading
    assert a.elector.is_leader != b.elector.is_leader
    leader = "a" if a.leading else "b"
    spec = await lease(client)
    assert spec["holderIdentity"] == leader
    assert spec["leaseDurationSeconds"] == 1 and spec["leaseTransitions"] == 0
    assert MICRO_TIME.match(spec["renewTime"]) and MICRO_TIME.match(spec["acquireTime"])
    renewed = spec["renewTime"]
    for _ in range(100):  # renewed every retry period (0.2 s); waiting up to 10 s for it
        if (await lease(client))["renewTime"] > renewed:
            break
        await asyncio.sleep(0.1)
    assert (await lease(client))["renewTime"] > renewed
    assert (await lease(client))["holderIdentity"] == leader


async def test_takeover_after_the_leader_stops_renewing(
    client: KubeClient, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await until(lambda: a.leading)
    b = candidates("b")
    await asyncio.sleep(0.3)
    assert not b.leading
    await a.kill()
    assert a.cancelled and not a.elector.is_leader
    last_renewal = (await lease(client))["renewTime"]  # a's last: nobody renews it any more
    await until(lambda: b.leading)
    spec = await lease(client)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    # Not before a's 1 s lease had expired (as the Lease itself records it; whatever the load).
    assert seconds_between(last_renewal, spec["acquireTime"]) >= 1.0


async def test_release_hands_over_at_once(client: KubeClient, candidates: Callable[..., Candidate]) -> None:
    slow = {"lease_duration": 5.0, "renew_deadline": 3.0, "retry_period": 0.1}
    a = candidates("a", **slow)
    await until(lambda: a.leading)
    b = candidates("b", **slow)
    await asyncio.sleep(0.2)
    last_renewal = (await lease(client))["renewTime"]
    assert await a.elector.release()
    assert a.cancelled and not a.elector.is_leader
    await asyncio.wait_for(a.task, 10)  # type: ignore[arg-type]  # run() returned
    await until(lambda: b.leading)
    spec = await lease(client)
    # b took over before a's 5 s lease could have expired: the release handed it over.
    assert seconds_between(last_renewal, spec["acquireTime"]) < 5.0
    assert spec["holderIdentity"] == "b" and spec["leaseDurationSeconds"] == 5
    assert not await a.elector.release()  # not ours any more: nothing to release


async def test_release_after_run_was_cancelled(
    client: KubeClient, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await until(lambda: a.leading)
    await a.kill()
    assert await a.elector.release()
    spec = await lease(client)
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1


async def test_release_while_waiting_to_lead(
    client: KubeClient, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await until(lambda: a.leading)
    b = candidates("b")
    await asyncio.sleep(0.1)
    assert not await b.elector.release()  # b held nothing ...
    await asyncio.wait_for(b.task, 10)  # type: ignore[arg-type]  # ... and its run() returned
    assert not b.leading and not b.cancelled
    assert (await lease(client))["holderIdentity"] == "a"


async def test_acquire_survives_api_errors(
    client: KubeClient, kubesim: KubeSim, candidates: Callable[..., Candidate]
) -> None:
    kubesim.add_fault(status=500, verb="get", resource="leases", times=2)
    a = candidates("a")
    await until(lambda: a.leading)


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


async def test_failed_renewals_end_leadership(
    client: KubeClient, kubesim: KubeSim, candidates: Callable[..., Candidate]
) -> None:
    a = candidates("a")
    await until(lambda: a.leading)
    kubesim.add_fault(status=500, resource="leases")  # the API server stops answering for leases
    await asyncio.wait_for(a.task, 10)  # type: ignore[arg-type]  # run() returns on its own
    gave_up = micro_time()
    assert a.cancelled and not a.elector.is_leader
    kubesim.clear_faults()
    # It gave up only once renewals had failed for renew_deadline (0.7 s) after the last one
    # that succeeded, which the Lease records.
    assert seconds_between((await lease(client))["renewTime"], gave_up) >= 0.7


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
