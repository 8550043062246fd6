"""A chart source that never answers holds no reconcile worker: everything else is served meanwhile.

Five HelmReleases whose repository accepts connections and never answers (more than the four
workers) must not delay a healthy HelmRelease, and while their fetches go on they say so:
Ready=Unknown, reason Progressing, a message naming the URL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from .conftest import Cluster, helmrelease


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An HTTP "server" that completes TCP handshakes (the kernel does, from the backlog) and never
    answers a byte: the worst kind of dead repository, since nothing fails fast."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}/charts"
    finally:
        s.close()


def _fetching(cluster: Cluster, name: str, url: str) -> bool:
    c = cluster.condition(name, "Ready")
    return c.get("status") == "Unknown" and c.get("reason") == "Progressing" and url in c.get("message", "")


def test_hung_repositories_do_not_hold_workers(
    cluster: Cluster, repo: ChartRepo, black_hole: str, controller: ControllerProcess
) -> None:
    dead = [f"dead-{i}" for i in range(5)]
    for name in dead:
        cluster.apply(helmrelease(name, black_hole))
    # Each dead one reports what it waits for, well before any timeout could fire.
    for name in dead:
        c = cluster.wait_condition(name, "Ready", "Unknown", "Progressing", timeout=10)
        assert c["message"] == f"fetching chart from {black_hole}"
        assert cluster.condition(name, "Reconciling")["status"] == "True"

    # A healthy HelmRelease installs, and then upgrades, while all five fetches still hang (the
    # read timeout is 15 s; every wait below is shorter). Before, the four workers sat in the
    # fetches for the whole timeout and this release waited for one of them.
    cluster.apply(helmrelease("web", repo.url, values={"message": "v1"}))
    cluster.wait_ready("web", timeout=10)
    cluster.apply(helmrelease("web", repo.url, values={"message": "v2"}))
    cluster.wait_ready("web", timeout=10, reason="UpgradeSucceeded")
    assert all(_fetching(cluster, name, black_hole) for name in dead)

    # When the fetches give up, each dead HelmRelease is queued again by the fetch's end and says why.
    c = cluster.wait_condition("dead-0", "Ready", "False", "ArtifactFailed", timeout=30)
    assert "no response for 15s" in c["message"] and black_hole.rsplit("/", 1)[0] in c["message"]
    assert not any(f" dead-{i} " in call for call in controller.helm_calls() for i in range(5))
