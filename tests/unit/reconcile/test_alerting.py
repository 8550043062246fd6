"""When a failure is told, and which failures are one message (reconcile/alerting.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helmrelease_controller.notify import Deduplicator, Notification
from helmrelease_controller.reconcile.alerting import (
    DEPENDENCY_GRACE,
    action_attempt,
    waiting_alert,
    waiting_attempt,
)


@pytest.mark.parametrize(
    ("reason", "failures", "since", "now", "told"),
    [
        ("ArtifactFailed", 1, 0.0, 100.0, False),  # a blip the next try may fix
        ("ArtifactFailed", 2, 0.0, 100.0, False),
        ("ArtifactFailed", 3, 0.0, 100.0, True),
        ("ArtifactFailed", 9, 0.0, 100.0, True),  # told again only if the dedup window passed
        ("ValuesError", 3, 0.0, 100.0, True),
        ("ValuesError", 2, 0.0, 100.0, False),
        ("DependencyNotReady", 0, 1000.0, 1000.0 + DEPENDENCY_GRACE - 1, False),
        ("DependencyNotReady", 0, 1000.0, 1000.0 + DEPENDENCY_GRACE, True),
        ("DependencyNotReady", 0, 0.0, 1e9, False),  # no transition time known
    ],
)
def test_waiting_alert(reason: str, failures: int, since: float, now: float, told: bool) -> None:
    assert waiting_alert(reason, failures, since, now) is told


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("sha256:1", "upgrade"), ("sha256:1", "upgrade"), True),  # a retry
        (("sha256:1", "upgrade"), ("sha256:1", ""), True),  # the stall that ends the retries
        (("sha256:1", "install"), ("sha256:1", "upgrade"), True),
        (("sha256:1", "upgrade"), ("sha256:1", "rollback"), False),  # a failed remediation is news
        (("sha256:1", "upgrade"), ("sha256:2", "upgrade"), False),  # another change
    ],
)
def test_action_attempts(a: tuple[str, str], b: tuple[str, str], same: bool) -> None:
    assert (action_attempt(*a) == action_attempt(*b)) is same


def test_retries_of_one_attempt_are_one_message_per_window() -> None:
    d = Deduplicator(600, lambda: 1000.0)
    attempt = action_attempt("sha256:1", "upgrade")
    first = Notification(
        namespace="apps", name="web", outcome="failed", action="upgrade", reason="timed out", revision=3
    )
    first = replace(first, attempt=attempt)
    assert d.admit("slack", first)
    assert not d.admit("slack", replace(first, revision=4))  # the retry
    assert not d.admit("slack", replace(first, outcome="stalled", reason="retries exhausted", revision=5))
    rollback = replace(first, action="rollback", attempt=action_attempt("sha256:1", "rollback"))
    assert d.admit("slack", rollback)
    assert d.admit("slack", replace(first, attempt=action_attempt("sha256:2", "upgrade")))
    # Without an attempt (e.g. an invalid spec), the reason tells failures apart, as before.
    assert d.admit("slack", Notification(namespace="apps", name="web", outcome="stalled", reason="bad"))


def test_waiting_attempts_differ_by_reason_and_message() -> None:
    assert waiting_attempt("ArtifactFailed", "x") != waiting_attempt("ValuesError", "x")
    assert waiting_attempt("ArtifactFailed", "x") != waiting_attempt("ArtifactFailed", "y")
