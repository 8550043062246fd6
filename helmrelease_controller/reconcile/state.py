"""What the release is, seen from Helm's storage: Flux's observed release states.

Absent, Locked (pending-*), Unmanaged (made by someone else), Failed, OutOfSync,
Untested and InSync. `classify` is the one place that decides which.
"""

from __future__ import annotations

from enum import StrEnum

from .helmstorage import ReleaseObservation, label_digest


class ReleaseState(StrEnum):
    ABSENT = "Absent"
    LOCKED = "Locked"
    UNMANAGED = "Unmanaged"
    FAILED = "Failed"
    OUT_OF_SYNC = "OutOfSync"
    UNTESTED = "Untested"
    IN_SYNC = "InSync"


def classify(
    release: ReleaseObservation,
    owner: str,
    desired_digest: str,
    test_enabled: bool = False,
    tested_revision: int = 0,
) -> ReleaseState:
    latest = release.latest
    if latest is None or not release.exists:
        return ReleaseState.ABSENT
    if latest.pending:
        return ReleaseState.LOCKED
    if latest.owner != owner:
        return ReleaseState.UNMANAGED
    if latest.status == "failed":
        return ReleaseState.FAILED
    if latest.status != "deployed" or latest.digest != label_digest(desired_digest):
        return ReleaseState.OUT_OF_SYNC
    if test_enabled and tested_revision != latest.version:
        return ReleaseState.UNTESTED
    return ReleaseState.IN_SYNC
