"""Dispatcher.submit() without any network: routing, dedup, bounded queues, never raising."""

from __future__ import annotations

import pytest

from helmrelease_controller.metrics import Metrics
from helmrelease_controller.notify import Dispatcher, Notification, parse_config

CONFIG = """
cluster: test
queueSize: 3
providers:
  - {name: a, type: slack, secretRef: {namespace: s, name: a, key: url}}
  - {name: b, type: webhook, secretRef: {namespace: s, name: b, key: url}}
routes:
  - providers: [a]
  - match: {namespaces: [web]}
    providers: [b]
"""


async def no_secret(ns: str, name: str, key: str) -> str:
    raise AssertionError("no delivery in these tests")


def fail(name: str = "app", ns: str = "web", reason: str = "boom") -> Notification:
    return Notification(namespace=ns, name=name, outcome="failed", action="upgrade", reason=reason)


def sample(m: Metrics, outcome: str, provider: str) -> float | None:
    return m.registry.get_sample_value(f"helmrelease_notifications_{outcome}_total", {"provider": provider})


async def test_submit_routes_dedups_and_bounds() -> None:
    m = Metrics()
    d = Dispatcher(parse_config(CONFIG), no_secret, m)
    assert sample(m, "sent", "a") == 0  # series exist from the start
    assert d.submit(fail()) == 2
    assert d.submit(fail()) == 0  # duplicate
    assert d.submit(fail(ns="other")) == 1  # only a
    assert d.submit(fail(name="x")) == 2
    assert d.submit(fail(name="y")) == 1  # a's queue (3) is full now; b takes it
    assert d.pending() == 6
    assert d.stats["a"] == {
        "queued": 3,
        "sent": 0,
        "failed": 0,
        "dropped": 1,
        "deduplicated": 1,
        "skipped": 0,
    }
    assert d.stats["b"]["queued"] == 3
    assert sample(m, "dropped", "a") == 1
    assert sample(m, "dropped", "b") == 0
    # the dropped one was forgotten by dedup: once there is room it can go again
    await d.close(timeout=0)
    assert sample(m, "dropped", "a") == 4 and sample(m, "dropped", "b") == 3
    assert d.submit(fail(name="late")) == 0  # after close: dropped, counted
    assert sample(m, "dropped", "a") == 5


async def test_submit_recovery_without_failure_is_not_queued() -> None:
    d = Dispatcher(parse_config(CONFIG), no_secret)
    assert d.submit(Notification(namespace="web", name="app", outcome="recovered")) == 0
    assert d.submit(fail()) == 2
    assert d.submit(Notification(namespace="web", name="app", outcome="recovered")) == 2
    d.forget("web", "app")
    assert d.submit(Notification(namespace="web", name="app", outcome="recovered")) == 0
    await d.close(0)


async def test_submit_never_raises(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    d = Dispatcher(parse_config(CONFIG), no_secret)

    def boom(n: Notification) -> list[str]:
        raise RuntimeError("router exploded")

    monkeypatch.setattr(d.router, "route", boom)
    assert d.submit(fail()) == 0
    assert "not submitted" in caplog.text
    assert d.submit(None) == 0  # type: ignore[arg-type]
    await d.close(0)


async def test_submitted_copy_is_prepared() -> None:
    d = Dispatcher(parse_config(CONFIG), no_secret)
    d.submit(
        Notification(
            namespace="web",
            name="app",
            outcome="failed",
            reason="pw=hunter22!",
            secrets=frozenset({"hunter22!"}),
        )
    )
    queued = d._queues["a"].get_nowait()
    assert queued.reason == "pw=***" and queued.secrets == frozenset() and queued.cluster == "test"
    await d.close(0)
