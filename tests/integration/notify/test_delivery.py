"""Delivery against real HTTP servers on 127.0.0.1 standing in for Slack and a generic webhook.

Exact payloads received, deduplication of a repeated failure, a 429 with Retry-After honoured,
5xx backoff, a rotated webhook URL, a hung or refused endpoint that slows nothing, and secrets
(a value planted in the reason, the webhook URL) that never appear in a payload, a log or a metric.
Waits between attempts are asserted exactly, as the sleeps asked of a FakeClock (jitter drawn as 0).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from helmrelease_controller.metrics import Metrics
from helmrelease_controller.notify import (
    Dispatcher,
    Notification,
    parse_config,
    slack_payload,
    verify_signature,
)
from tests.helpers.clock import FakeClock
from tests.helpers.notifications import REASON, RECOVERY

TOKEN = "T0001/B0002/XyZsecretWebhookToken42"


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeSlack:
    """An incoming-webhook endpoint: records requests, answers from a script (default 200 ok)."""

    requests: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    def url(self, path: str = f"/services/{TOKEN}") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            Received(time.monotonic(), request.path, dict(request.headers), await request.read())
        )
        if self.hang:
            await self.release.wait()
        status, headers, text = self.script.pop(0) if self.script else (200, {}, "ok")
        return web.Response(status=status, headers=headers, text=text)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/{tail:.*}", fake.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    yield fake
    fake.release.set()
    await runner.cleanup()


second_slack = slack  # a second, independent endpoint


class Secrets:
    """The controller's get_secret callback, over a dict; counts reads."""

    def __init__(self, values: dict[tuple[str, str, str], str]) -> None:
        self.values = values
        self.reads: list[tuple[str, str, str]] = []

    async def __call__(self, namespace: str, name: str, key: str) -> str:
        self.reads.append((namespace, name, key))
        return self.values[(namespace, name, key)]


def config(extra: str = "", providers: str = "", **settings: Any) -> Any:
    base = {
        "cluster": "prod-eu",
        "proxyFromEnvironment": False,
        "timeout": "2s",
        "backoffInitial": "100ms",
        "backoffMax": "500ms",
        "maxAttempts": 3,
        **settings,
    }
    head = "\n".join(f"{k}: {json.dumps(v)}" for k, v in base.items())
    providers = providers or (
        "  - {name: slack, type: slack, channel: '#deploys', username: helmrelease,"
        " secretRef: {namespace: helmrelease-system, name: slack, key: url}}"
    )
    return parse_config(f"{head}\nproviders:\n{providers}\nroutes:\n  - providers: [slack]\n{extra}")


async def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@dataclass
class Timed:
    """A Dispatcher posting to `slack`, whose sleeps are on a FakeClock (taken at once and recorded)
    and whose jitter is drawn as 0, and its metrics."""

    slack: FakeSlack
    settings: dict[str, Any]
    clock: FakeClock = field(default_factory=lambda: FakeClock(auto=True))
    m: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        secrets = Secrets({("helmrelease-system", "slack", "url"): self.slack.url()})
        self.d = Dispatcher(config(**self.settings), secrets, self.m, clock=self.clock, rand=lambda: 0.0)

    async def deliver(self, until: str = "sent") -> None:
        """Submit one failed upgrade (the same each time); wait until it is counted `until`."""
        self.d.submit(failed_upgrade())
        await wait_for(lambda: count(self.m, until) == 1)


def count(m: Metrics, outcome: str, provider: str = "slack") -> float:
    return (
        m.registry.get_sample_value(f"helmrelease_notifications_{outcome}_total", {"provider": provider}) or 0
    )


def failed_upgrade(**kw: Any) -> Notification:
    base: dict[str, Any] = {
        "namespace": "apps",
        "name": "podinfo",
        "outcome": "failed",
        "action": "upgrade",
        "reason": REASON,
        "release": "podinfo",
        "chart": "podinfo",
        "version": "6.5.0",
        "revision": 3,
        "timestamp": 1795168800,
    }
    return Notification(**{**base, **kw})


def fields(*rows: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"title": t, "value": v, "short": True} for t, v in rows]


async def test_failed_upgrade_and_recovery_exact_payloads(slack: FakeSlack) -> None:
    m = Metrics()
    secrets = Secrets({("helmrelease-system", "slack", "url"): slack.url()})
    async with Dispatcher(config(), secrets, m) as d:
        d.submit(failed_upgrade())
        d.submit(RECOVERY)
        await wait_for(lambda: len(slack.requests) == 2 and count(m, "sent") == 2)
    first, second = slack.requests
    assert first.path == f"/services/{TOKEN}"
    assert first.headers["Content-Type"] == "application/json"
    # Exactly the payloads the builder makes (tests/unit/notify/test_payloads.py pins them field by field).
    sent = (failed_upgrade(), RECOVERY)
    assert [r.json() for r in slack.requests] == [
        slack_payload(n.prepared("prod-eu"), "#deploys", "helmrelease") for n in sent
    ]
    assert first.json()["attachments"][0]["text"] == REASON
    assert (
        second.json()["text"] == ":white_check_mark: recovered: HelmRelease apps/podinfo in cluster prod-eu"
    )
    assert len(secrets.reads) == 1  # the URL is read once and cached
    assert (count(m, "failed"), count(m, "dropped")) == (0, 0)


async def test_repeated_failure_is_sent_once(slack: FakeSlack) -> None:
    secrets = Secrets({("helmrelease-system", "slack", "url"): slack.url()})
    async with Dispatcher(config(), secrets) as d:
        for _ in range(5):  # every retry of the reconcile reports the same failure, once it was sent
            d.submit(failed_upgrade(timestamp=time.time()))
            await wait_for(lambda: d.pending() == 0)
        assert len(slack.requests) == 1
        d.submit(failed_upgrade(revision=4))  # a new revision failing is news
        d.submit(RECOVERY)
        d.submit(RECOVERY)  # one recovery per failure
        d.submit(failed_upgrade())  # failing again after the recovery: news again
        await wait_for(lambda: len(slack.requests) == 4 and d.pending() == 0)  # nothing left to send
    outcomes = [(r.json()["text"].split(":")[1]) for r in slack.requests]
    assert outcomes == ["x", "x", "white_check_mark", "x"]
    assert d.stats["slack"]["deduplicated"] == 5
    assert len(slack.requests) == 4


async def test_recovery_not_sent_when_the_failure_was_not_delivered(slack: FakeSlack) -> None:
    slack.script = [(400, {}, "invalid_payload")]  # the failure is refused for good
    secrets = Secrets({("helmrelease-system", "slack", "url"): slack.url()})
    m = Metrics()
    async with Dispatcher(config(), secrets, m) as d:
        d.submit(failed_upgrade())
        d.submit(RECOVERY)
        await wait_for(lambda: d.pending() == 0)
    assert len(slack.requests) == 1  # a permanent 4xx is not retried; the recovery is skipped
    assert (count(m, "failed"), count(m, "sent"), d.stats["slack"]["skipped"]) == (1, 0, 1)


async def test_429_retry_after_is_honoured(slack: FakeSlack) -> None:
    slack.script = [(429, {"Retry-After": "1"}, "rate_limited")]
    t = Timed(slack, {"backoffInitial": "30s", "backoffMax": "30s"})
    async with t.d:
        await t.deliver()
    assert t.clock.sleeps == [1.0]  # Retry-After's 1 s, not the 30 s backoff
    first, second = slack.requests
    assert first.body == second.body
    assert count(t.m, "failed") == 0


async def test_retry_after_http_date_and_cap(slack: FakeSlack) -> None:
    t = Timed(slack, {"maxRetryAfter": "300ms"})
    an_hour_away = email.utils.formatdate(t.clock.time() + 3600, usegmt=True)
    slack.script = [(503, {"Retry-After": an_hour_away}, "busy")]
    async with t.d:
        await t.deliver()
    assert t.clock.sleeps == [0.3]  # an hour away by the clock's own date, capped at 300 ms
    assert len(slack.requests) == 2


async def test_5xx_backs_off_then_gives_up(slack: FakeSlack) -> None:
    slack.script = [(500, {}, "rollup_error")] * 3
    t = Timed(slack, {"backoffInitial": "100ms", "backoffMax": "1s"})
    async with t.d:
        await t.deliver(until="failed")
        assert t.clock.sleeps == [0.1, 0.2]  # 3 attempts: 100 ms, then 200 ms
        await t.deliver()  # given up on: the same failure may be tried again
    assert len(slack.requests) == 4
    assert t.clock.sleeps == [0.1, 0.2]  # sent at the first attempt


async def test_rotated_webhook_url_is_reread_after_404(slack: FakeSlack) -> None:
    slack.script = [(404, {}, "no_service")]
    secrets = Secrets({("helmrelease-system", "slack", "url"): slack.url("/services/old")})
    m = Metrics()
    async with Dispatcher(config(), secrets, m) as d:
        d.submit(failed_upgrade())
        await asyncio.sleep(0)
        secrets.values[("helmrelease-system", "slack", "url")] = slack.url("/services/new")
        await wait_for(lambda: count(m, "sent") == 1)
    assert [r.path for r in slack.requests] == ["/services/old", "/services/new"]
    assert len(secrets.reads) == 2


async def test_unreadable_secret_counts_failed(caplog: pytest.LogCaptureFixture) -> None:
    m = Metrics()
    async with Dispatcher(config(maxAttempts=2, backoffInitial="10ms"), Secrets({}), m) as d:
        d.submit(failed_upgrade())
        await wait_for(lambda: count(m, "failed") == 1)
    assert "Secret helmrelease-system/slack[url]: KeyError" in caplog.text


async def test_hung_endpoint_does_not_slow_submit_or_other_providers(
    slack: FakeSlack, second_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.hang = True
    caplog.set_level(logging.DEBUG)
    providers = (
        "  - {name: slack, type: slack, secretRef: {namespace: s, name: hung, key: url}}\n"
        "  - {name: ok, type: webhook, secretRef: {namespace: s, name: ok, key: url}}"
    )
    secrets = Secrets({("s", "hung", "url"): slack.url(), ("s", "ok", "url"): second_slack.url("/hook")})
    m = Metrics()
    cfg = config(
        providers=providers,
        extra="  - providers: [ok]\n    match: {namespaces: [team]}",
        # 2 attempts of 2 s each: the hung provider's queue of 11 takes at least 44 s to give up,
        # far longer than the wait for the other provider's delivery (so no timing window decides).
        timeout="2s",
        maxAttempts=2,
        backoffInitial="50ms",
        queueSize=10,
    )
    async with Dispatcher(cfg, secrets, m) as d:
        await asyncio.sleep(0)
        for i in range(100):
            d.submit(failed_upgrade(name=f"r{i}"))
        # Nothing waited on the endpoint: the queue of 10 filled and the other 90 were dropped
        # before the delivery task ran at all (submit never yields to the event loop).
        assert (d.pending(), count(m, "dropped")) == (10, 90)
        d.submit(failed_upgrade(namespace="team", name="other"))  # to both providers
        await wait_for(lambda: len(second_slack.requests) == 1, timeout=20)
        # Not behind the hung one: delivered while the hung provider's queue (11 notifications,
        # each given up after 2 timeouts) is still far from done.
        assert count(m, "failed") < 11
        assert count(m, "sent", "ok") == 1
        await wait_for(lambda: count(m, "failed") >= 1, timeout=20)  # one gave up after 2 timeouts
        await d.close(timeout=0.2)
    total = count(m, "sent") + count(m, "failed") + count(m, "dropped")
    assert total == 101
    assert count(m, "sent") == 0
    assert count(m, "dropped") >= 89  # queue of 10 (+1 in flight) out of 101
    assert all(r.path == f"/services/{TOKEN}" for r in slack.requests)
    assert TOKEN not in caplog.text and "TimeoutError" in caplog.text


async def test_refused_endpoint_fails_fast_and_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    url = f"http://127.0.0.1:{port}/services/{TOKEN}"
    m = Metrics()
    async with Dispatcher(
        config(backoffInitial="20ms"), Secrets({("helmrelease-system", "slack", "url"): url}), m
    ) as d:
        for i in range(3):
            d.submit(failed_upgrade(name=f"r{i}"))
        assert d.pending() == 3 and count(m, "failed") == 0  # submit never waits for the connection
        await wait_for(lambda: count(m, "failed") == 3, timeout=5)
    assert TOKEN not in caplog.text
    assert "ClientConnectorError" in caplog.text


async def test_close_flushes_queued_notifications(slack: FakeSlack) -> None:
    m = Metrics()
    d = Dispatcher(config(), Secrets({("helmrelease-system", "slack", "url"): slack.url()}), m)
    await d.start()
    for i in range(20):
        d.submit(failed_upgrade(name=f"r{i}"))
    await d.close(timeout=5)
    assert count(m, "sent") == 20 and len(slack.requests) == 20


async def test_signed_generic_webhook(slack: FakeSlack) -> None:
    providers = (
        "  - {name: slack, type: webhook, secretRef: {namespace: s, name: hook, key: url},"
        " signingSecretRef: {namespace: s, name: hook, key: hmac}}"
    )
    secrets = Secrets({("s", "hook", "url"): slack.url("/hook"), ("s", "hook", "hmac"): "sh4red-key"})
    async with Dispatcher(config(providers=providers), secrets) as d:
        d.submit(failed_upgrade(labels={"team": "web"}))
        await wait_for(lambda: len(slack.requests) == 1)
    r = slack.requests[0]
    assert verify_signature("sh4red-key", r.body, r.headers["X-HelmRelease-Signature"])
    assert r.headers["X-HelmRelease-Event"] == "failed"
    body = r.json()
    assert body["schema"] == "helmrelease.dev/notification/v1"
    assert body["helmRelease"] == {"namespace": "apps", "name": "podinfo", "labels": {"team": "web"}}
    assert body["release"] == {"name": "podinfo", "namespace": "apps", "revision": 3}
    assert (body["reason"], body["cluster"], body["timestamp"]) == (REASON, "prod-eu", "2026-11-20T10:00:00Z")


async def test_secrets_never_leave(slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    planted = "pl4nted-db-passw0rd"
    caplog.set_level(logging.DEBUG)
    url = slack.url()
    # the endpoint misbehaves first: 500 echoing the URL, then a 404 (re-read), then accepts
    slack.script = [(500, {}, f"error at {url} {planted}"), (404, {}, f"no_service {url}")]
    m = Metrics()
    secrets = Secrets({("helmrelease-system", "slack", "url"): url})
    async with Dispatcher(config(backoffInitial="10ms"), secrets, m) as d:
        d.submit(
            failed_upgrade(
                reason=f'upgrade failed: secret "db" value {planted} rejected',
                secrets=frozenset({planted}),
                annotations={"kubectl.kubernetes.io/last-applied-configuration": planted},
            )
        )
        await wait_for(lambda: count(m, "sent") == 1)
    assert len(slack.requests) == 3
    for r in slack.requests:
        assert planted.encode() not in r.body
    assert (
        slack.requests[-1].json()["attachments"][0]["text"]
        == 'upgrade failed: secret "db" value *** rejected'
    )
    logged = caplog.text + "".join(str(rec.__dict__) for rec in caplog.records)
    assert planted not in logged
    assert TOKEN not in logged and url not in logged
    assert "HTTP 500" in caplog.text and "HTTP 404" in caplog.text
    exposition = m.exposition()[0].decode()
    assert planted not in exposition and TOKEN not in exposition
