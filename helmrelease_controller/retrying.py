"""Retries in a call (notification deliveries, chart fetches): tenacity, timed by `Backoff`.

`backoff_wait(policy, rand, cap)` is a tenacity `wait`: after the n-th failed attempt it waits
`policy.delay(n, rand())`, unless the failure carries its own `retry_after` (seconds a server
asked for with `Retry-After`, or 0 for "at once"), which wins, capped at `cap`.
`retrying(...)` is `tenacity.AsyncRetrying` with that wait, a bounded number of attempts, the
caller's predicate of what is worth another attempt, and sleeps on a `Clock` (so tests assert the
exact schedule). `parse_retry_after` reads the header (delay-seconds or an HTTP date).
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable

import tenacity

from .clock import SYSTEM, Clock
from .reconcile.backoff import Backoff

__all__ = ["backoff_wait", "parse_retry_after", "retrying", "symmetric_jitter"]


def symmetric_jitter() -> float:
    """A random draw in [-1, 1] for `Backoff.delay`."""
    return random.uniform(-1.0, 1.0)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None if absent/bad."""
    v = (value or "").strip()
    if not v:
        return None
    try:
        seconds = float(v)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        return None
    return max(0.0, when.timestamp() - now)


def backoff_wait(
    policy: Backoff, rand: Callable[[], float] = symmetric_jitter, cap: float = math.inf
) -> Callable[[tenacity.RetryCallState], float]:
    """A tenacity wait: the failure's `retry_after` (capped at `cap`), else the policy's delay."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            return min(float(after), cap)
        return policy.delay(state.attempt_number, rand())

    return wait


def retrying(
    *,
    attempts: int,
    wait: Callable[[tenacity.RetryCallState], float],
    retry_on: Callable[[BaseException], bool],
    clock: Clock = SYSTEM,
    before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
) -> tenacity.AsyncRetrying:
    """At most `attempts` tries of the `async for attempt in ...: with attempt:` block; the last
    failure is raised as itself."""
    return tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=wait,
        retry=tenacity.retry_if_exception(retry_on),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
