"""Informer against kubesim: list, watch, 410 recovery, dropped watches, retries, resync, transform."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from helmrelease_controller.kube.client import CONFIGMAPS, SECRETS, KubeClient
from helmrelease_controller.kube.informer import EventKind, Informer, strip_managed_fields
from helmrelease_controller.reconcile.backoff import Backoff
from kubesim import KubeSim
from tests.helpers.clock import HANG, FakeClock, until

Seen = list[tuple[EventKind, str]]


@contextlib.asynccontextmanager
async def running(informer: Informer, sim: KubeSim) -> AsyncIterator[Seen]:
    """Run the informer until it has listed and its watch is open; yields what its handler saw."""
    seen: Seen = []
    informer.add_handler(lambda kind, obj: seen.append((kind, obj["metadata"]["name"])))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 10)
        await until(lambda: sim.hub.open_streams == 1)
        yield seen
    finally:
        informer.stop()
        await asyncio.wait_for(task, 10)


# The test's own ConfigMaps: "default" also holds kube-root-ca.crt, as every real namespace does.
APP = "app=x"


def cm(name: str, value: str = "v") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": "x"}}, "data": {"k": value}}


async def drop_watch(sim: KubeSim) -> None:
    """Drop the informer's watch connection, once it has one."""
    await until(lambda: sim.hub.open_streams == 1)
    assert sim.drop_watches() == 1


def lists(sim: KubeSim) -> int:
    return sim.requests.count(verb="list", resource="configmaps")


async def test_initial_list_then_add_update_delete(client: KubeClient, kubesim: KubeSim) -> None:
    await client.create(CONFIGMAPS, "default", cm("a"))
    await client.create(CONFIGMAPS, "default", cm("b"))
    await client.create(CONFIGMAPS, "kube-system", cm("elsewhere"))
    informer = Informer(client, CONFIGMAPS, namespace="default", label_selector=APP)
    async with running(informer, kubesim) as seen:
        assert sorted(seen) == [("add", "a"), ("add", "b")]
        assert set(informer.keys()) == {("default", "a"), ("default", "b")}
        assert informer.get("default", "a")["data"] == {"k": "v"}  # type: ignore[index]

        await client.create(CONFIGMAPS, "default", cm("c"))
        await client.patch(CONFIGMAPS, "default", "a", {"data": {"k": "v2"}})
        await client.delete(CONFIGMAPS, "default", "b")
        await until(lambda: len(seen) == 5)
        assert seen[2:] == [("add", "c"), ("update", "a"), ("delete", "b")]
        assert informer.get("default", "a")["data"] == {"k": "v2"}  # type: ignore[index]
        assert informer.get("default", "b") is None
        assert sorted(o["metadata"]["name"] for o in informer.list()) == ["a", "c"]


async def test_label_selector(client: KubeClient, kubesim: KubeSim) -> None:
    await client.create(CONFIGMAPS, "default", cm("mine"))
    await client.create(CONFIGMAPS, "default", {"metadata": {"name": "other"}})
    informer = Informer(client, CONFIGMAPS, label_selector="app=x")
    async with running(informer, kubesim) as seen:
        assert seen == [("add", "mine")]
        await client.patch(CONFIGMAPS, "default", "mine", {"metadata": {"labels": {"app": None}}})
        await until(lambda: len(seen) == 2)
        assert seen[1] == ("delete", "mine")  # stopped matching


async def test_gone_relists_and_emits_the_differences(client: KubeClient, kubesim: KubeSim) -> None:
    for name in ("keep", "change", "remove"):
        await client.create(CONFIGMAPS, "default", cm(name))
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP)
    async with running(informer, kubesim) as seen:
        seen.clear()
        # Hold the informer's reconnection while the world changes and history is compacted.
        kubesim.add_fault(status=0, verb="watch", resource="configmaps", latency=0.3, times=1)
        await drop_watch(kubesim)
        await client.create(CONFIGMAPS, "default", cm("new"))
        await client.patch(CONFIGMAPS, "default", "change", {"data": {"k": "changed"}})
        await client.delete(CONFIGMAPS, "default", "remove")
        kubesim.compact()
        await until(lambda: len(seen) == 3)
        assert sorted(seen) == [("add", "new"), ("delete", "remove"), ("update", "change")]
        assert informer.lists == 2 and lists(kubesim) == 2
        assert sorted(o["metadata"]["name"] for o in informer.list()) == ["change", "keep", "new"]
        assert informer.get("default", "change")["data"] == {"k": "changed"}  # type: ignore[index]

        await client.create(CONFIGMAPS, "default", cm("after"))  # and the new watch works
        await until(lambda: ("add", "after") in seen)


async def test_http_410_on_watch_start_relists(client: KubeClient, kubesim: KubeSim) -> None:
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP)
    async with running(informer, kubesim) as seen:
        kubesim.add_fault(status=410, verb="watch", resource="configmaps", times=1)
        await drop_watch(kubesim)
        await until(lambda: informer.lists == 2)
        await client.create(CONFIGMAPS, "default", cm("x"))
        await until(lambda: seen == [("add", "x")])


async def test_dropped_watch_resumes_without_relist(client: KubeClient, kubesim: KubeSim) -> None:
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP)
    async with running(informer, kubesim) as seen:
        for round_ in range(3):
            await drop_watch(kubesim)
            await client.create(CONFIGMAPS, "default", cm(f"c{round_}"))
            await until(lambda r=round_: ("add", f"c{r}") in seen)  # type: ignore[misc]
        assert seen == [("add", "c0"), ("add", "c1"), ("add", "c2")]  # nothing lost, nothing doubled
        assert lists(kubesim) == 1 and informer.lists == 1
        assert informer.watches >= 4
        watches = [e for e in kubesim.requests.entries() if e.verb == "watch"]
        assert all("resourceVersion=" in e.query and "allowWatchBookmarks=true" in e.query for e in watches)


async def test_bookmarks_advance_the_resource_version(client: KubeClient, kubesim: KubeSim) -> None:
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP)
    async with running(informer, kubesim) as seen:
        start = informer.resource_version
        await client.create(SECRETS, "default", {"metadata": {"name": "s"}})  # bumps the global version
        # A bookmark (every 1 s) moves it on. resourceVersions are opaque: compared for equality only.
        await until(lambda: informer.resource_version != start)
        assert seen == []
        resumed_from = informer.resource_version
        await drop_watch(kubesim)
        await until(lambda: informer.watches >= 2)
        await until(
            lambda: any(
                f"resourceVersion={resumed_from}" in e.query
                for e in kubesim.requests.entries()
                if e.verb == "watch"
            )
        )


NO_JITTER = Backoff(initial=0.8, max=30.0, factor=2.0, jitter=0.0)


async def test_list_errors_are_retried_with_backoff(client: KubeClient, kubesim: KubeSim) -> None:
    await client.create(CONFIGMAPS, "default", cm("a"))
    kubesim.add_fault(status=500, verb="list", resource="configmaps", times=2)
    clock = FakeClock()
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP, backoff=NO_JITTER, clock=clock)
    seen: Seen = []
    informer.add_handler(lambda kind, obj: seen.append((kind, obj["metadata"]["name"])))
    task = asyncio.create_task(informer.run())
    try:
        await clock.until_timeouts(1)  # the first list failed: waiting 0.8 s
        assert clock.pending() == [1000.8]
        await clock.advance(0.799)
        assert clock.pending() == [1000.8] and lists(kubesim) == 1  # not a moment early
        await clock.advance(0.001)
        await clock.until_timeouts(2)
        await clock.advance(1.6)
        await asyncio.wait_for(informer.synced.wait(), HANG)
        assert clock.timeouts == [0.8, 1.6]  # doubling
        assert seen == [("add", "a")]
        assert lists(kubesim) == 3  # two failures, then success
    finally:
        informer.stop()
        await asyncio.wait_for(task, HANG)


async def test_watch_errors_are_retried_and_a_nudge_cuts_the_wait(
    client: KubeClient, kubesim: KubeSim
) -> None:
    clock = FakeClock()
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP, backoff=NO_JITTER, clock=clock)
    async with running(informer, kubesim) as seen:
        kubesim.add_fault(status=500, verb="watch", resource="configmaps", times=3)
        await drop_watch(kubesim)  # resumed at once, and the resumption fails
        await clock.until_timeouts(1)
        await clock.advance(0.8)
        await clock.until_timeouts(2)
        await clock.advance(1.6)
        await clock.until_timeouts(3)
        assert clock.timeouts == [0.8, 1.6, 3.2]
        informer.nudge()  # the API answers again: no waiting out the 3.2 s
        await client.create(CONFIGMAPS, "default", cm("a"))
        await until(lambda: seen == [("add", "a")])
        assert informer.lists == 1  # retried the watch from the same version; no re-list needed
        assert clock.now == 1000.0 + 0.8 + 1.6


async def test_resync_and_transform(client: KubeClient, kubesim: KubeSim) -> None:
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}}
    await client.patch(CONFIGMAPS, "default", "a", applied, patch_type="apply")
    clock = FakeClock()
    informer = Informer(
        client, CONFIGMAPS, "default", resync_period=60, transform=strip_managed_fields, clock=clock
    )
    async with running(informer, kubesim) as seen:
        await clock.until_sleeps(1)
        await clock.advance(59.9)
        assert ("resync", "a") not in seen
        await clock.advance(0.1)
        assert seen.count(("resync", "a")) == 1  # every resync period, exactly
        await clock.advance(120)
        assert seen.count(("resync", "a")) == 3
        assert clock.sleeps == [60, 60, 60, 60]
        cached = informer.get("default", "a")
        assert cached is not None and "managedFields" not in cached["metadata"]
        assert cached["data"] == {"k": "v"}


async def test_a_failing_handler_does_not_stop_the_informer(client: KubeClient, kubesim: KubeSim) -> None:
    informer = Informer(client, CONFIGMAPS, "default", label_selector=APP)

    def bad(kind: EventKind, obj: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    informer.add_handler(bad)
    async with running(informer, kubesim) as seen:
        await client.create(CONFIGMAPS, "default", cm("a"))
        await until(lambda: seen == [("add", "a")])
        assert informer.get("default", "a") is not None
