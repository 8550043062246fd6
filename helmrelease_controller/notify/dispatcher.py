"""Delivery: `submit()` from the reconciler, background tasks that post to the providers.

- `submit(n)` never blocks and never raises: it routes `n`, drops duplicates, and puts it on each
  provider's bounded queue; when a queue is full the notification is dropped for that provider
  and counted (`helmrelease_notifications_dropped_total`).
- One delivery task per provider, so a slow or hung endpoint delays only its own messages (and
  order per provider is kept: a failure goes out before its recovery). Each request has a timeout.
- Retries: 429 and 5xx honour `Retry-After` (seconds or an HTTP date, capped at
  `maxRetryAfter`), other errors back off exponentially; 401/403/404/410 re-read the Secret once
  (a rotated webhook URL); other 4xx give up at once. After `maxAttempts` the notification is
  counted failed.
- Logs name the provider and the HelmRelease, never the URL, a signing key, the reason or a
  response body (only an error code such as Slack's `no_service`).
- `close(timeout)` stops accepting, flushes what it can within `timeout`, counts the rest dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import re
import time
from typing import Any

import aiohttp

from .config import NotificationsConfig
from .dedup import Deduplicator
from .notification import HELMRELEASE, Notification
from .provider import GetSecret, Provider, SecretCache, build_providers
from .router import Router

log = logging.getLogger("helmrelease_controller.notify")

REREAD_STATUSES = (401, 403, 404, 410)
_ERROR_CODE = re.compile(r"[a-z][a-z_]{0,39}")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    try:
        seconds = float(v)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, initial: float, maximum: float, jitter: float = 0.1) -> float:
    """Exponential backoff before retry `attempt` (1-based): initial * 2**(attempt-1), capped, +-jitter."""
    base = min(maximum, initial * (2 ** min(attempt - 1, 30)))
    return max(0.0, base * (1 + random.uniform(-jitter, jitter)))


class Dispatcher:
    """Routes, deduplicates, queues and delivers notifications. See the module docstring."""

    def __init__(
        self,
        config: NotificationsConfig,
        get_secret: GetSecret,
        metrics: Any = None,
    ) -> None:
        self.config = config
        self.router = Router(config)
        self.providers: dict[str, Provider] = build_providers(config.providers)
        self.secrets = SecretCache(get_secret)
        self.metrics = metrics
        self.dedup = Deduplicator(config.dedup_window)
        self.stats: dict[str, dict[str, int]] = {
            p: {"queued": 0, "sent": 0, "failed": 0, "dropped": 0, "deduplicated": 0, "skipped": 0}
            for p in self.providers
        }
        self._queues: dict[str, asyncio.Queue[Notification]] = {
            p: asyncio.Queue(maxsize=config.queue_size) for p in self.providers
        }
        self._inflight: dict[str, Notification] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._drop_logged: dict[str, float] = {}
        if metrics is not None:
            metrics.notification_providers(self.providers)

    async def start(self) -> None:
        """Start one delivery task per provider (call once, from the controller's loop)."""
        if self._tasks or self._closed:
            return
        self._session = aiohttp.ClientSession(trust_env=self.config.proxy_from_environment)
        for name, provider in self.providers.items():
            self._tasks.append(asyncio.create_task(self._worker(provider), name=f"notify-{name}"))

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- submit ---------------------------------------------------------------------------------------
    def submit(self, n: Notification) -> int:
        """Queue `n` for every provider it routes to. Returns how many queued it; never raises."""
        try:
            return self._submit(n)
        except Exception:
            key = f"{getattr(n, 'namespace', '?')}/{getattr(n, 'name', '?')}"
            log.error("notification for %s not submitted", key, exc_info=True)
            return 0

    def _submit(self, n: Notification) -> int:
        n = n.prepared(self.config.cluster)
        queued = 0
        for name in self.router.route(n):
            if self._closed:
                self._count(name, "dropped")
                continue
            if not self.dedup.admit(name, n):
                self.stats[name]["deduplicated"] += 1
                continue
            try:
                self._queues[name].put_nowait(n)
            except asyncio.QueueFull:
                self.dedup.undelivered(name, n)
                self._count(name, "dropped")
                self._log_drop(name)
                continue
            self.stats[name]["queued"] += 1
            queued += 1
        return queued

    def forget(self, namespace: str, name: str, kind: str = HELMRELEASE) -> None:
        """The HelmRelease (or GitSync: `kind`) is gone: forget its deduplication and recovery state."""
        self.dedup.forget(namespace, name, kind)

    # -- delivery -------------------------------------------------------------------------------------
    async def _worker(self, p: Provider) -> None:
        q = self._queues[p.name]
        while True:
            n = await q.get()
            self._inflight[p.name] = n
            try:
                await self._deliver(p, n)
            except asyncio.CancelledError:  # close() ran out of time
                self.dedup.undelivered(p.name, n)
                self._count(p.name, "dropped")
                raise
            except Exception as e:  # never let one message stop the provider's task
                log.error(
                    "notification to provider %s failed: %s",
                    p.name,
                    type(e).__name__,
                    extra={"provider": p.name, "key": f"{n.namespace}/{n.name}"},
                )
                self.dedup.undelivered(p.name, n)
                self._count(p.name, "failed")
            finally:
                self._inflight.pop(p.name, None)
                q.task_done()

    async def _deliver(self, p: Provider, n: Notification) -> None:
        if not self.dedup.should_deliver(p.name, n):
            self.stats[p.name]["skipped"] += 1
            log.debug("recovery of %s/%s not sent to %s: no failure was sent", n.namespace, n.name, p.name)
            return
        cfg = self.config
        extra = {"provider": p.name, "key": f"{n.namespace}/{n.name}"}
        body = p.body(n)
        reread = False
        problem = ""
        for attempt in range(1, cfg.max_attempts + 1):
            delay = backoff_delay(attempt, cfg.backoff_initial, cfg.backoff_max)
            retry = True
            try:
                url = await p.url(self.secrets)
                headers = await p.headers(n, body, self.secrets)
                status, retry_after, text = await self._post(url, body, headers)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
                problem = type(e).__name__ if not isinstance(e, ValueError) else "invalid URL"
            except Exception as e:  # SecretUnavailable, and anything unexpected
                problem = str(e) if type(e).__name__ == "SecretUnavailable" else type(e).__name__
            else:
                if 200 <= status < 300:
                    self.dedup.delivered(p.name, n)
                    self._count(p.name, "sent")
                    log.info("notification sent to %s", p.name, extra={**extra, "outcome": n.outcome})
                    return
                # Only an error code such as Slack's `no_service` is logged, never a body.
                problem = f"HTTP {status}" + (f": {text}" if _ERROR_CODE.fullmatch(text) else "")
                if status == 429 or status >= 500:
                    wait = parse_retry_after(retry_after)
                    if wait is not None:
                        delay = min(wait, cfg.max_retry_after)
                elif status in REREAD_STATUSES and not reread:
                    reread, delay = True, 0.0
                    for ref in p.secret_refs():
                        self.secrets.invalidate(ref)
                else:
                    retry = False
            if not retry or attempt == cfg.max_attempts:
                break
            log.info(
                "notification to %s: %s; retry %d/%d in %.1fs",
                p.name,
                problem,
                attempt,
                cfg.max_attempts - 1,
                delay,
                extra=extra,
            )
            await asyncio.sleep(delay)
        self.dedup.undelivered(p.name, n)
        self._count(p.name, "failed")
        log.warning("notification to provider %s failed (gave up): %s", p.name, problem, extra=extra)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str | None, str]:
        assert self._session is not None, "Dispatcher.start() was not called"
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        async with self._session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as resp:
            try:
                text = (await resp.content.read(64)).decode(errors="replace")
            except (aiohttp.ClientError, TimeoutError):
                text = ""
            return resp.status, resp.headers.get("Retry-After"), text.strip()

    # -- accounting -----------------------------------------------------------------------------------
    def _count(self, provider: str, outcome: str) -> None:
        self.stats[provider][outcome] += 1
        if self.metrics is not None:
            try:
                self.metrics.notification(provider, outcome)
            except Exception:
                log.debug("metrics update failed", exc_info=True)

    def _log_drop(self, provider: str) -> None:
        now = time.monotonic()
        if now - self._drop_logged.get(provider, -1e9) >= 60.0:
            self._drop_logged[provider] = now
            log.warning(
                "notification queue of provider %s is full (%d): dropping notifications",
                provider,
                self.config.queue_size,
                extra={"provider": provider},
            )

    def pending(self) -> int:
        """Notifications queued or being delivered."""
        return sum(q.qsize() for q in self._queues.values()) + len(self._inflight)

    # -- shutdown -------------------------------------------------------------------------------------
    async def close(self, timeout: float = 10.0) -> None:
        """Stop accepting; deliver what is queued within `timeout` seconds; count the rest dropped."""
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            joins = [asyncio.create_task(q.join()) for q in self._queues.values()]
            _done, pending = await asyncio.wait(joins, timeout=max(0.0, timeout))
            for t in (*pending, *self._tasks):
                t.cancel()
            for t in (*joins, *self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        for name, q in self._queues.items():
            while not q.empty():
                n = q.get_nowait()
                q.task_done()
                self.dedup.undelivered(name, n)
                self._count(name, "dropped")
        if self._session is not None:
            await self._session.close()
        undelivered = sum(s["dropped"] for s in self.stats.values())
        log.debug("notifications closed (%d dropped in total)", undelivered)


__all__ = ["Dispatcher", "backoff_delay", "parse_retry_after"]
