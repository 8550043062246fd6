"""Retry timing: exponential backoff with jitter, per HelmRelease (`spec.backoff`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    initial: float = 10.0  # seconds
    max: float = 600.0
    factor: float = 2.0
    jitter: float = 0.1  # fraction, 0..1

    def delay(self, failures: int, rand: float = 0.0) -> float:
        """Seconds to wait before the attempt after `failures` failures.

        `rand` in [-1, 1] scales the jitter; the caller draws it, so this stays pure.
        """
        if failures <= 0:
            return 0.0
        base = min(self.max, self.initial * self.factor ** (failures - 1))
        return max(0.0, min(self.max, base * (1.0 + self.jitter * max(-1.0, min(1.0, rand)))))
