"""Retry timing: the one backoff policy of the controller. Pure.

`Backoff(initial, max, factor, jitter).delay(n, rand)` is the delay after `n` failures in a row:
`initial * factor^(n-1)`, capped at `max`, spread by `jitter` (a fraction) scaled by `rand` in
[-1, 1], which the caller draws (so this stays pure and tests pass a fixed value). Every retry
uses it: a HelmRelease's `spec.backoff`, the work queue's per-key backoff (0.75 s doubling to
15 min, no jitter), the informer's list/watch retries (0.8 s doubling to 30 s), and, through
`retrying.backoff_wait`, notification deliveries and chart fetches.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial: float = 10.0  # seconds
    max: float = 600.0
    factor: float = 2.0
    jitter: float = 0.1  # fraction, 0..1

    def delay(self, failures: int, rand: float = 0.0) -> float:
        """Seconds to wait before the attempt after `failures` failures (0.0 after none).

        `rand` in [-1, 1] scales the jitter; the caller draws it, so this stays pure.
        """
        if failures <= 0:
            return 0.0
        try:
            base = min(self.max, self.initial * self.factor ** (failures - 1))
        except OverflowError:  # a key failing for ever: the exponent outgrew a float
            base = self.max
        return float(max(0.0, min(self.max, base * (1.0 + self.jitter * max(-1.0, min(1.0, rand))))))
