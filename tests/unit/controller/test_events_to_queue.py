"""Which HelmRelease watch events queue a reconcile (Controller._on_event), and RefIndex.

Pure: a Controller is built with no API client (its constructor does no I/O) and fed events.
"""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.api.models import FINALIZER
from helmrelease_controller.controller import Controller, Options
from helmrelease_controller.refindex import RefIndex


def hr(
    name: str,
    rv: str,
    *,
    finalizers: list[str] | None = None,
    generation: int = 1,
    depends_on: list[str] = (),  # type: ignore[assignment]
    ready: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {
            "namespace": "apps",
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": rv,
            "generation": generation,
        },
        "spec": {"dependsOn": [{"name": d} for d in depends_on]},
    }
    if finalizers is not None:
        obj["metadata"]["finalizers"] = finalizers
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", "status": ready}], "observedGeneration": generation}
    return obj


@pytest.fixture
def ctl(tmp_path: Any) -> Controller:
    return Controller(Options(cache_dir=str(tmp_path)), client=None)  # type: ignore[arg-type]


NAMES = ("a", "db", "api", "web", "other")


def queued(c: Controller) -> set[tuple[str, str]]:
    assert len(c.queue) == sum(c.queue.is_queued(("apps", n)) for n in NAMES)
    return {("apps", n) for n in NAMES if c.queue.is_queued(("apps", n))}


async def drain(c: Controller) -> None:
    while len(c.queue):
        key = await c.queue.get()
        c.queue.done(key)


async def test_our_own_finalizer_patch_does_not_queue_a_second_reconcile(ctl: Controller) -> None:
    ctl._on_event("add", hr("a", "1"))
    assert queued(ctl) == {("apps", "a")}
    await drain(ctl)
    # The reconciler patched the finalizer in (only it ever adds that finalizer).
    ctl._on_event("update", hr("a", "2", finalizers=[FINALIZER]))
    assert queued(ctl) == set()


async def test_finalizer_removed_by_someone_else_queues(ctl: Controller) -> None:
    ctl._on_event("add", hr("a", "1"))
    await drain(ctl)
    ctl._on_event("update", hr("a", "2", finalizers=[FINALIZER]))
    ctl._on_event("update", hr("a", "3", finalizers=[]))
    assert queued(ctl) == {("apps", "a")}


async def test_another_finalizer_added_queues(ctl: Controller) -> None:
    ctl._on_event("add", hr("a", "1"))
    await drain(ctl)
    ctl._on_event("update", hr("a", "2", finalizers=["example.com/other"]))
    assert queued(ctl) == {("apps", "a")}


async def test_our_finalizer_write_that_also_carries_a_spec_change_queues(ctl: Controller) -> None:
    # A watch gap hid the user's edit (generation 2); our patch's version shows both changes.
    ctl._on_event("add", hr("a", "1"))
    await drain(ctl)
    ctl._on_event("update", hr("a", "3", finalizers=[FINALIZER], generation=2))
    assert queued(ctl) == {("apps", "a")}


async def test_status_only_update_does_not_queue(ctl: Controller) -> None:
    ctl._on_event("add", hr("a", "1", finalizers=[FINALIZER]))
    await drain(ctl)
    ctl._on_event("update", hr("a", "2", finalizers=[FINALIZER], ready="False"))
    assert queued(ctl) == set()


async def test_ready_change_queues_dependents_and_only_them(ctl: Controller) -> None:
    for name, deps in (("db", []), ("api", ["db"]), ("web", ["api"]), ("other", [])):
        ctl._on_event("add", hr(name, "1", finalizers=[FINALIZER], depends_on=deps))
    await drain(ctl)
    ctl._on_event("update", hr("db", "2", finalizers=[FINALIZER], ready="True"))
    assert queued(ctl) == {("apps", "api")}


async def test_dependents_follow_spec_edits_and_deletes(ctl: Controller) -> None:
    ctl._on_event("add", hr("db", "1", finalizers=[FINALIZER]))
    ctl._on_event("add", hr("api", "1", finalizers=[FINALIZER], depends_on=["db"]))
    await drain(ctl)
    ctl._on_event("update", hr("api", "2", finalizers=[FINALIZER], generation=2))  # dependsOn dropped
    await drain(ctl)
    ctl._on_event("update", hr("db", "2", finalizers=[FINALIZER], ready="True"))
    assert queued(ctl) == set()
    ctl._on_event("update", hr("api", "3", finalizers=[FINALIZER], generation=3, depends_on=["db"]))
    await drain(ctl)
    ctl._on_event("delete", hr("db", "3", finalizers=[FINALIZER], ready="True"))
    assert queued(ctl) == {("apps", "api")}  # a deleted dependency is news to its dependents


def test_refindex_tracks_set_replace_and_clear() -> None:
    idx: RefIndex[str, str] = RefIndex()
    idx.set("a", ["x", "y"])
    idx.set("b", ["y"])
    assert idx.referrers("y") == {"a", "b"}
    idx.set("a", ["x"])
    assert idx.referrers("y") == {"b"}
    assert idx.referrers("x") == {"a"}
    idx.set("a", [])
    idx.set("b", [])
    assert idx.referrers("x") == frozenset() and len(idx) == 0
    assert idx._referrers == {}  # nothing left behind for keys gone
