"""The per-HelmRelease state gauges (ready, stalled, suspended, drifted) as one Prometheus collector.

prometheus_client's labelled Gauge keeps an object with a lock and a value per series: four
series per HelmRelease cost about 2.4 KB each, 24 MB at 10,000 HelmReleases. The state is four
bits, so it is kept as one small int per HelmRelease and turned into gauge families at scrape
time. The exposition is the same as four labelled Gauges' (names, help, `namespace`/`name`
labels, 0 or 1), the contract of docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

READY, STALLED, SUSPENDED, DRIFTED = 1, 2, 4, 8

#: (metric name, help, bit), in the order of the exposition.
FAMILIES = (
    ("helmrelease_ready", "1 when the HelmRelease's Ready condition is True, else 0.", READY),
    ("helmrelease_stalled", "1 when the HelmRelease is Stalled (retries exhausted, bad spec).", STALLED),
    ("helmrelease_suspended", "1 when reconciliation of the HelmRelease is suspended.", SUSPENDED),
    (
        "helmrelease_drifted",
        "1 when the HelmRelease's Drifted condition is True (drift seen, or a correction fought).",
        DRIFTED,
    ),
)
LABELS = ("namespace", "name")

Key = tuple[str, str]


class ReleaseGauges(Collector):
    """One int of state bits per HelmRelease (namespace, name); gauges made when scraped."""

    def __init__(self) -> None:
        self._state: dict[Key, int] = {}

    def set(self, key: Key, bit: int, on: bool) -> None:
        """Turn one bit of a HelmRelease's state on or off (its four series exist from now on)."""
        old = self._state.get(key, 0)
        self._state[key] = old | bit if on else old & ~bit

    def forget(self, key: Key) -> None:
        self._state.pop(key, None)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, doc, _ in FAMILIES:
            yield GaugeMetricFamily(name, doc, labels=LABELS)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        items = list(self._state.items())
        for name, doc, bit in FAMILIES:
            family = GaugeMetricFamily(name, doc, labels=LABELS)
            for (namespace, release), state in items:
                family.add_metric([namespace, release], 1.0 if state & bit else 0.0)
            yield family
