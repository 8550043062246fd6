"""When a failure is worth telling people about, and which failures are the same one. Pure.

- A failed helm action is told once per *attempt*: the desired config digest, so the retries of
  one upgrade (each a new revision, often with the same reason) and the stall that ends them are
  one message; a failed remediation (rollback, uninstall) of that attempt is news of its own.
- A failure that is not an action (the chart cannot be fetched, the values cannot be read, a
  dependency stays not Ready) is told once it has lasted: the chart or values after
  `SOURCE_FAILURES` failed tries in a row (a blip that the next try fixes pages nobody), a
  dependency after `DEPENDENCY_GRACE` seconds. Each distinct reason is one message; the recovery
  follows when the HelmRelease is Ready again.
"""

from __future__ import annotations

SOURCE_FAILURES = 3
DEPENDENCY_GRACE = 300.0
WAITING_REASONS = ("ArtifactFailed", "ValuesError", "DependencyNotReady")


def action_attempt(config_digest: str, action: str) -> str:
    """The dedup identity of a failed helm action."""
    phase = "remediation" if action in ("rollback", "uninstall") else "release"
    return f"{phase}:{config_digest}"


def waiting_alert(reason: str, failures: int, since: float, now: float) -> bool:
    """Should a not-an-action failure (`reason`, one of WAITING_REASONS) be told now?
    `failures`: failed tries in a row; `since`: when the HelmRelease became not Ready."""
    if reason == "DependencyNotReady":
        return since > 0 and now - since >= DEPENDENCY_GRACE
    return failures >= SOURCE_FAILURES


def waiting_attempt(reason: str, message: str) -> str:
    """The dedup identity of a not-an-action failure: its reason and message."""
    return f"{reason}:{message}"


__all__ = [
    "DEPENDENCY_GRACE",
    "SOURCE_FAILURES",
    "WAITING_REASONS",
    "action_attempt",
    "waiting_alert",
    "waiting_attempt",
]
