"""An API server outage: the controller waits it out quietly and catches up the moment it ends.

During the outage every request of the controller gets 503 (kubesim's fault injection, scoped to
the controller's User-Agent, so kubectl can still change a spec: as if another API server replica
had taken that write). Before, each failing reconcile and informer backed off on its own and the
backoff built up through the outage (0.75 s doubling), so after a long outage each HelmRelease
waited out its own delay; and every attempt logged an error.

A HelmRelease with nothing to do needs no API request (its reconcile is answered from the
controller's caches), so it does not notice an outage at all; the test changes every HelmRelease
during the outage, so each reconcile needs the API server.

What the test checks is the mechanism, counted, not a stopwatch: each HelmRelease fails once (or
twice, if a watch event re-queued it) and is parked instead of retried with a growing delay; one
probe watches for the API; when it answers, every parked reconcile is handed back at once and the
informers reconnect. How fast that is end to end is measured by hack/experiments.py (about a
second after a 36 s outage).
"""

from __future__ import annotations

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for

from .conftest import Cluster, helmrelease

# The outage ends once the controller's API probe (a GET of the CRD every 0.5 s) has been refused
# this often: about 4 s after the first failure, when every HelmRelease (interval 2 s) has failed.
# A per-key backoff (0.75 s doubling) would have failed each of them 3 times or more by then.
PROBES_REFUSED = 8


def probes_refused(cluster: Cluster) -> int:
    return sum(
        1
        for e in cluster.sim.requests.entries()
        if e.resource.startswith("customresourcedefinitions")
        and e.verb == "get"
        and e.status == 503
        and e.user_agent.startswith("helmrelease-controller")
    )


def test_after_an_outage_everything_is_retried_at_once(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    names = ["a", "b", "c"]
    for name in names:
        cluster.apply(helmrelease(name, repo.url, interval="2s", values={"message": "v1"}))
    for name in names:
        cluster.wait_ready(name)
    records_before = len(controller.log_records())
    errors_before = controller.reconciles("error")

    fault = cluster.sim.add_fault(status=503, user_agent="helmrelease-controller", message="down")
    for name in names:  # changes (the watch opened before the outage still delivers them)
        cluster.apply(helmrelease(name, repo.url, interval="2s", values={"message": "changed in the outage"}))
    # The controller notices and says so once.
    wait_for(
        lambda: any("API server unavailable" in str(r.get("msg")) for r in controller.log_records()),
        15,
        what="the outage in the log",
    )
    wait_for(lambda: probes_refused(cluster) >= PROBES_REFUSED, 30, what="the API probe refused")
    failed = controller.reconciles("error") - errors_before
    cluster.sim.call(lambda: cluster.sim.faults.remove(fault.id))

    # Parked, not retried with a growing delay: each failed once (twice if a watch event re-queued it).
    assert len(names) <= failed <= 2 * len(names), failed
    for name in names:
        gen = cluster.wait_ready(name, timeout=30)["metadata"]["generation"]
        wait_for(
            lambda n=name, g=gen: cluster.status(n).get("observedGeneration") == g,
            30,
            what=f"{name}'s change recorded",
        )
        cm = cluster.get("v1", "ConfigMap", "apps", f"{name}-config")
        assert cm is not None and cm["data"]["message"] == "changed in the outage"

    during = [str(r.get("msg")) for r in controller.log_records()[records_before:]]
    # Every parked reconcile handed back at once, when the API answered.
    assert any(f"retrying {len(names)} reconcile(s) now" in m for m in during), during
    loud = [r for r in controller.log_records()[records_before:] if r.get("level") in ("warning", "error")]
    # Each change was acted on (helm's own requests are not refused) while the controller's status
    # write failed: one warning each, since that HelmRelease's status may be stale until it is retried.
    acted = [r for r in loud if "status write failed while helm ran" in str(r.get("msg"))]
    assert len(acted) <= len(names), [r.get("msg") for r in acted]
    # Otherwise one line for the outage, at most one per informer (HelmReleases, Secrets, ConfigMaps,
    # Helm's storage).
    others = [r for r in loud if r not in acted]
    assert len(others) <= 5, [r.get("msg") for r in others]
    assert any("API server answers again" in m for m in during)
