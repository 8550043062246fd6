"""EventRecorder against kubesim, read back with the real kubectl."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helmrelease_controller.kube.client import CONFIGMAPS, EVENTS, NAMESPACES, KubeClient
from helmrelease_controller.kube.events import NOTE_LIMIT, EventRecorder, truncate_note
from kubesim import KubeSim

MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
async def client(kubesim: KubeSim) -> AsyncIterator[KubeClient]:
    c = await KubeClient.from_kubeconfig(str(kubesim.kubeconfig_path))
    yield c
    await c.close()


@pytest.fixture
async def subject(client: KubeClient) -> dict[str, Any]:
    """The object the events are about (a ConfigMap stands in for a HelmRelease)."""
    return await client.create(CONFIGMAPS, "default", {"metadata": {"name": "web"}, "data": {"a": "b"}})


async def test_repeats_fold_into_one_event_with_a_series(
    client: KubeClient, kubectl: Any, subject: dict[str, Any]
) -> None:
    """Read back with the real kubectl (the `kubectl` fixture runs .bin/kubectl against this kubesim)."""
    recorder = EventRecorder(client, host="pod-1")
    for _ in range(3):
        recorder.emit(subject, "Warning", "UpgradeFailed", "helm upgrade failed: timed out", action="Upgrade")
    await recorder.close()
    assert (recorder.created, recorder.updated, recorder.dropped, recorder.failed) == (1, 2, 0, 0)

    out = kubectl("get", "events.events.k8s.io", "-n", "default", "-o", "json")
    items = json.loads(out)["items"]
    assert len(items) == 1
    ev = items[0]
    assert ev["series"]["count"] == 3 and MICRO_TIME.match(ev["series"]["lastObservedTime"])
    assert (ev["type"], ev["reason"], ev["note"], ev["action"]) == (
        "Warning",
        "UpgradeFailed",
        "helm upgrade failed: timed out",
        "Upgrade",
    )
    assert ev["regarding"] == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "namespace": "default",
        "name": "web",
        "uid": subject["metadata"]["uid"],
        "resourceVersion": subject["metadata"]["resourceVersion"],
    }
    assert ev["reportingController"] == "helmrelease-controller"
    assert ev["reportingInstance"] == "helmrelease-controller-pod-1"
    assert MICRO_TIME.match(ev["eventTime"]) and ev["metadata"]["name"].startswith("web.")

    # What users run: `kubectl get events` and `kubectl describe` read the core v1 view of the same Event.
    listed = kubectl("get", "events", "-n", "default")
    for shown in ("Warning", "UpgradeFailed", "configmap/web", "helm upgrade failed: timed out"):
        assert shown in listed
    core = json.loads(kubectl("get", "events", "-n", "default", "-o", "json"))["items"]
    assert len(core) == 1 and core[0]["series"]["count"] == 3
    assert core[0]["message"] == "helm upgrade failed: timed out" and core[0]["reason"] == "UpgradeFailed"
    assert core[0]["involvedObject"]["uid"] == subject["metadata"]["uid"]
    described = kubectl("describe", "configmap", "web", "-n", "default")
    assert re.search(r"Warning\s+UpgradeFailed\s+\S+ \(x3 over \S+\)\s+helmrelease-controller", described)


async def test_distinct_events_and_note_limit(client: KubeClient, subject: dict[str, Any]) -> None:
    recorder = EventRecorder(client)
    recorder.emit(subject, "Normal", "Progressing", "step 1")
    recorder.emit(subject, "Normal", "Progressing", "step 2")  # another message: another event
    recorder.emit(subject, "Warning", "Progressing", "step 1")  # another type: another event
    recorder.emit(subject, "Warning", "Failed", "ü" * 2000)  # 4000 bytes
    ns = await client.get(NAMESPACES, None, "default")
    recorder.emit(ns, "Normal", "Seen", "cluster-scoped")
    await recorder.close()
    items, _ = await client.list(EVENTS, "default")
    assert len(items) == 5 and recorder.created == 5
    long = next(i for i in items if i["reason"] == "Failed")
    assert len(long["note"].encode()) <= NOTE_LIMIT and long["note"].endswith("...")
    cluster = next(i for i in items if i["reason"] == "Seen")
    assert cluster["regarding"]["kind"] == "Namespace" and "namespace" not in cluster["regarding"]
    assert all(i["action"] == i["reason"] for i in items)  # action defaults to the reason


def test_truncate_note_keeps_characters_whole() -> None:
    assert truncate_note("short") == "short"
    cut = truncate_note("€" * 500, limit=100)
    assert len(cut.encode()) <= 100 and cut.endswith("...") and set(cut[:-3]) == {"€"}


async def test_emit_never_raises_nor_blocks(
    client: KubeClient, kubesim: KubeSim, subject: dict[str, Any]
) -> None:
    recorder = EventRecorder(client, queue_size=2)
    kubesim.add_fault(status=0, verb="create", resource="events.events.k8s.io", latency=0.1, times=1)
    for i in range(5):
        recorder.emit(subject, "Normal", "Burst", f"event {i}")  # returns at once; the queue holds 2
    assert recorder.dropped >= 2
    recorder.emit({"not": "an object"}, "Normal", "Odd", "x")  # tolerated (or dropped), never raised
    await recorder.close()

    kubesim.add_fault(status=500, verb="create", resource="events.events.k8s.io", times=1)
    recorder.emit(subject, "Warning", "Refused", "the API server said no")
    recorder.emit(subject, "Normal", "Accepted", "this one works")
    await recorder.flush()
    assert recorder.failed == 1
    items, _ = await client.list(EVENTS, "default")
    assert "Accepted" in {i["reason"] for i in items} and "Refused" not in {i["reason"] for i in items}
    await recorder.close()


def test_emit_without_an_event_loop_drops() -> None:
    recorder = EventRecorder(None, host="h")  # type: ignore[arg-type]
    recorder.emit({"metadata": {"name": "x"}}, "Normal", "NoLoop", "dropped, not raised")
    assert recorder.dropped == 1


async def test_series_restarts_after_the_window_or_a_deleted_event(
    client: KubeClient, subject: dict[str, Any]
) -> None:
    recorder = EventRecorder(client, dedup_window=0.05)
    recorder.emit(subject, "Normal", "Synced", "in sync")
    await recorder.flush()
    await asyncio.sleep(0.08)
    recorder.emit(subject, "Normal", "Synced", "in sync")  # outside the window: a new event
    await recorder.flush()
    assert recorder.created == 2

    recorder.dedup_window = 600.0
    items, _ = await client.list(EVENTS, "default")
    for item in items:
        await client.delete(EVENTS, "default", item["metadata"]["name"])
    recorder.emit(subject, "Normal", "Synced", "in sync")  # its series' event is gone: create anew
    await recorder.close()
    assert (recorder.created, recorder.updated, recorder.failed) == (3, 0, 0)
    items, _ = await client.list(EVENTS, "default")
    assert len(items) == 1 and "series" not in items[0]
