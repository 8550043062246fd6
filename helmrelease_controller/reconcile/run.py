"""One reconcile's working state (`Run`), the annotation tokens it handles and what it returns.

`Run` carries the newest copy of the object (it changes with our own writes), the status
being built (typed, immutable: each step replaces it) and the generation it is built for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..api.models import HelmRelease, HelmReleaseStatus
from . import status as st

ANN_RECONCILE, ANN_FORCE, ANN_RESET = "reconcile-requested-at", "force-at", "reset-at"


@dataclass
class Result:
    requeue_after: float | None  # seconds; None: wait for a change
    action: str = "none"
    ok: bool = True


@dataclass(frozen=True)
class Tokens:
    """The request annotations: a token not yet in status (lastHandled...) is a new request."""

    reconcile: str = ""
    force: str = ""
    reset: str = ""

    @classmethod
    def of(cls, hr: HelmRelease) -> Tokens:
        return cls(*(hr.annotation(a) or "" for a in (ANN_RECONCILE, ANN_FORCE, ANN_RESET)))

    def refresh(self, s: HelmReleaseStatus) -> bool:
        """A new reconcile-requested-at (or force-at) token also refetches the chart source."""
        return bool(self.reconcile and self.reconcile != s.last_handled_reconcile_at) or self.force_new(s)

    def force_new(self, s: HelmReleaseStatus) -> bool:
        return bool(self.force) and self.force != s.last_handled_force_at

    def reset_new(self, s: HelmReleaseStatus) -> bool:
        return bool(self.reset) and self.reset != s.last_handled_reset_at


@dataclass
class Run:
    obj: dict[str, Any]
    status: HelmReleaseStatus
    gen: int
    key: tuple[str, str]
    initially_ready: bool = False
    tokens: Tokens = field(default_factory=Tokens)
    refresh: bool = False  # a new request token: refetch the chart source too

    @classmethod
    def start(cls, obj: dict[str, Any], parsed: HelmReleaseStatus | None = None) -> Run:
        """`parsed`: the object's status as its model already holds it (None: parse it here)."""
        meta = obj["metadata"]
        status = parsed if parsed is not None else st.load(obj, HelmReleaseStatus)
        key = (str(meta.get("namespace") or ""), str(meta["name"]))
        return cls(obj, status, int(meta.get("generation") or 1), key, st.is_true(status, st.READY))

    @property
    def name(self) -> str:
        return "/".join(self.key)

    def update(self, **fields: Any) -> None:
        self.status = self.status.model_copy(update=fields)

    @staticmethod
    def now() -> float:
        return time.time()
