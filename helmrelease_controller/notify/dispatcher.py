"""Delivery: `submit()` from the reconciler, background tasks that post to the providers.

- `submit(n)` never blocks and never raises: it routes `n`, drops duplicates, and puts it on each
  provider's bounded queue; when a queue is full the notification is dropped for that provider
  and counted (`helmrelease_notifications_dropped_total`).
- One delivery task per provider, so a slow or hung endpoint delays only its own messages (and
  order per provider is kept: a failure goes out before its recovery). Each request has a timeout.
- Retries (tenacity, `retrying.py`): 429 and 5xx honour `Retry-After` (seconds or an HTTP date,
  capped at `maxRetryAfter`), other errors back off exponentially (`Backoff(backoffInitial,
  backoffMax, 2, 0.1)`); 401/403/404/410 re-read the Secret once (a rotated webhook URL); other
  4xx give up at once. After `maxAttempts` the notification is counted failed. Sleeps and
  Retry-After dates are on an injectable `Clock`.
- Logs name the provider and the HelmRelease, never the URL, a signing key, the reason or a
  response body (only an error code such as Slack's `no_service`).
- `close(timeout)` stops accepting, flushes what it can within `timeout`, counts the rest dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import tenacity

from ..clock import SYSTEM, Clock
from ..reconcile.backoff import Backoff
from ..retrying import backoff_wait, parse_retry_after, retrying, symmetric_jitter
from .config import NotificationsConfig
from .dedup import Deduplicator
from .notification import HELMRELEASE, Notification
from .provider import GetSecret, Provider, SecretCache, build_providers
from .router import Router

log = logging.getLogger("helmrelease_controller.notify")

REREAD_STATUSES = (401, 403, 404, 410)
_ERROR_CODE = re.compile(r"[a-z][a-z_]{0,39}")


class _Undelivered(Exception):
    """One failed attempt: `problem` for the log, `retry` whether another attempt may help,
    `retry_after` the wait the answer asked for (Retry-After, or 0 after re-reading the Secret)."""

    def __init__(self, problem: str, retry: bool = True, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem, self.retry, self.retry_after = problem, retry, retry_after


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, _Undelivered) and exc.retry


class Dispatcher:
    """Routes, deduplicates, queues and delivers notifications. See the module docstring."""

    def __init__(
        self,
        config: NotificationsConfig,
        get_secret: GetSecret,
        metrics: Any = None,
        *,
        clock: Clock = SYSTEM,
        rand: Callable[[], float] = symmetric_jitter,
    ) -> None:
        self.config = config
        self.clock = clock
        self.backoff = Backoff(config.backoff_initial, config.backoff_max, factor=2.0, jitter=0.1)
        self._wait = backoff_wait(self.backoff, rand, cap=config.max_retry_after)
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
        extra = {"provider": p.name, "key": f"{n.namespace}/{n.name}"}
        body, reread = p.body(n), [False]
        tries = retrying(
            attempts=self.config.max_attempts,
            wait=self._wait,
            retry_on=_worth_retrying,
            clock=self.clock,
            before_sleep=self._log_retry(p.name, extra),
        )
        try:
            async for attempt in tries:
                with attempt:
                    await self._attempt(p, n, body, reread)
        except _Undelivered as e:
            self.dedup.undelivered(p.name, n)
            self._count(p.name, "failed")
            log.warning("notification to provider %s failed (gave up): %s", p.name, e.problem, extra=extra)
            return
        self.dedup.delivered(p.name, n)
        self._count(p.name, "sent")
        log.info("notification sent to %s", p.name, extra={**extra, "outcome": n.outcome})

    def _log_retry(self, provider: str, extra: dict[str, str]) -> Callable[[tenacity.RetryCallState], None]:
        def log_retry(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            problem = exc.problem if isinstance(exc, _Undelivered) else type(exc).__name__
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            retries = self.config.max_attempts - 1
            msg = "notification to %s: %s; retry %d/%d in %.1fs"
            log.info(msg, provider, problem, state.attempt_number, retries, delay, extra=extra)

        return log_retry

    async def _attempt(self, p: Provider, n: Notification, body: bytes, reread: list[bool]) -> None:
        """One POST; returns on 2xx, raises _Undelivered saying whether and when to try again."""
        try:
            url = await p.url(self.secrets)
            headers = await p.headers(n, body, self.secrets)
            status, retry_after, text = await self._post(url, body, headers)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            raise _Undelivered(type(e).__name__ if not isinstance(e, ValueError) else "invalid URL") from e
        except Exception as e:  # SecretUnavailable, and anything unexpected
            raise _Undelivered(str(e) if type(e).__name__ == "SecretUnavailable" else type(e).__name__) from e
        if 200 <= status < 300:
            return
        # Only an error code such as Slack's `no_service` is logged, never a body.
        problem = f"HTTP {status}" + (f": {text}" if _ERROR_CODE.fullmatch(text) else "")
        if status == 429 or status >= 500:
            raise _Undelivered(problem, retry_after=parse_retry_after(retry_after, self.clock.time()))
        if status in REREAD_STATUSES and not reread[0]:
            reread[0] = True
            for ref in p.secret_refs():
                self.secrets.invalidate(ref)
            raise _Undelivered(problem, retry_after=0.0)
        raise _Undelivered(problem, retry=False)

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
        now = self.clock.monotonic()
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


__all__ = ["Dispatcher", "parse_retry_after"]
