"""Fingerprints, the dedup window and recovery gating."""

from __future__ import annotations

from dataclasses import replace

from helmrelease_controller.notify import Deduplicator, Notification


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


FAIL = Notification(
    namespace="apps", name="web", outcome="failed", action="upgrade", reason="boom", revision=3
)
RECOVER = Notification(
    namespace="apps", name="web", outcome="recovered", action="upgrade", reason="ok", revision=4
)


def test_fingerprint_is_release_outcome_reason_revision() -> None:
    fp = FAIL.fingerprint
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert (
        replace(FAIL, timestamp=0, chart="x", version="9", labels={"a": "b"}, cluster="c").fingerprint == fp
    )
    assert replace(FAIL, action="rollback").fingerprint == fp  # action is not part of it
    for change in (
        {"reason": "other"},
        {"revision": 4},
        {"outcome": "stalled"},
        {"name": "web2"},
        {"namespace": "apps2"},
    ):
        assert replace(FAIL, **change).fingerprint != fp, change
    # no ambiguity from joining fields
    a = Notification(namespace="a", name="bc", outcome="failed")
    b = Notification(namespace="ab", name="c", outcome="failed")
    assert a.fingerprint != b.fingerprint


def test_repeated_failure_is_admitted_once_per_window() -> None:
    clock = Clock()
    d = Deduplicator(600, clock)
    assert d.admit("slack", FAIL)
    clock.t += 599
    assert not d.admit("slack", FAIL)
    assert d.admit("other-provider", FAIL)  # per provider
    assert d.admit("slack", replace(FAIL, reason="another reason"))
    assert d.admit("slack", replace(FAIL, revision=4))
    clock.t += 2  # window passed since the first
    assert d.admit("slack", FAIL)


def test_recovery_needs_a_failure_and_resets_dedup() -> None:
    clock = Clock()
    d = Deduplicator(600, clock)
    assert not d.admit("slack", RECOVER)  # nothing failed
    assert d.admit("slack", FAIL)
    assert d.admit("slack", RECOVER)
    assert not d.admit("slack", RECOVER)  # one recovery per failure
    assert d.admit("slack", FAIL)  # the same failure again after a recovery is news
    assert not d.admit("slack", FAIL)
    assert d.admit("slack", RECOVER)


def test_stall_counts_as_an_alert() -> None:
    d = Deduplicator(600, Clock())
    assert d.admit("slack", replace(FAIL, outcome="stalled"))
    assert d.admit("slack", RECOVER)


def test_delivery_gating() -> None:
    d = Deduplicator(600, Clock())
    assert d.should_deliver("slack", FAIL)
    assert not d.should_deliver("slack", RECOVER)  # the failure was not delivered (yet)
    d.delivered("slack", FAIL)
    assert d.should_deliver("slack", RECOVER)
    assert not d.should_deliver("webhook", RECOVER)
    d.delivered("slack", RECOVER)
    assert not d.should_deliver("slack", RECOVER)


def test_undelivered_and_forget() -> None:
    clock = Clock()
    d = Deduplicator(600, clock)
    assert d.admit("slack", FAIL)
    d.undelivered("slack", FAIL)
    assert d.admit("slack", FAIL)  # tried again
    d.delivered("slack", FAIL)
    d.forget("apps", "web")
    assert len(d) == 0
    assert not d.should_deliver("slack", RECOVER)
    assert not d.admit("slack", RECOVER)
    assert d.admit("slack", FAIL)


def test_old_entries_are_pruned() -> None:
    clock = Clock()
    d = Deduplicator(60, clock)
    for i in range(100):
        d.admit("slack", replace(FAIL, name=f"r{i}"))
    assert len(d) == 100
    clock.t += 61
    d.admit("slack", replace(FAIL, name="new"))
    assert len(d) == 1
