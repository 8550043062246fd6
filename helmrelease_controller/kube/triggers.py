"""What, when it changes on an object we reconcile, needs a reconcile: everything a user can change,
never status (our own writes). Shared by the HelmRelease and GitSync runtimes. Pure.

Our finalizer appearing triggers nothing: only our reconcilers add it, so that watch event would
just start a second, no-op pass; it disappearing does (it must be put back).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..api.models import FINALIZER


class Triggers(NamedTuple):
    generation: Any
    annotations: Any
    labels: Any
    deletion: Any
    other_finalizers: tuple[str, ...]
    uid: Any
    finalizer_missing: bool  # ours


def trigger_fields(obj: dict[str, Any]) -> Triggers:
    meta = obj.get("metadata") or {}
    finalizers = meta.get("finalizers") or []
    return Triggers(
        meta.get("generation"),
        meta.get("annotations"),
        meta.get("labels"),
        meta.get("deletionTimestamp"),
        tuple(f for f in finalizers if f != FINALIZER),
        meta.get("uid"),
        FINALIZER not in finalizers,
    )


def needs_reconcile(prev: Triggers | None, now: Triggers) -> bool:
    if prev is None or prev._replace(finalizer_missing=now.finalizer_missing) != now:
        return True
    return now.finalizer_missing and not prev.finalizer_missing


__all__ = ["Triggers", "needs_reconcile", "trigger_fields"]
