"""What the HelmRelease status says: conditions, counters and history, computed from outcomes. Pure.

Status is handled as the plain camelCase dict that is written to the API. Every
function returns a new dict; `lastTransitionTime` moves only when a condition's
status changes, so re-computing an unchanged status gives an identical dict and the
controller can skip the write (zero API writes per no-op reconcile).
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

Status = dict[str, Any]

READY, RELEASED, RECONCILING, STALLED, REMEDIATED, TEST_SUCCESS = (
    "Ready",
    "Released",
    "Reconciling",
    "Stalled",
    "Remediated",
    "TestSuccess",
)
CONDITION_ORDER = (READY, RELEASED, RECONCILING, STALLED, REMEDIATED, TEST_SUCCESS, "Drifted")


def rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(s: str | None) -> float:
    if not s:
        return 0.0
    try:
        return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return 0.0


def one_line(msg: str, limit: int = 300) -> str:
    """`msg` on one line of at most `limit` characters. A long message keeps its head (the action)
    and its tail (helm's reason usually ends it): the middle is cut, marked with "…"."""
    line = " ".join(msg.split())
    if len(line) <= limit:
        return line
    head = (limit - 1) // 2
    return line[:head].rstrip() + "…" + line[len(line) - (limit - 1 - head) :].lstrip()


def get_condition(status: Status, type_: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def set_condition(
    status: Status, type_: str, value: bool | None, reason: str, message: str, generation: int, now: float
) -> Status:
    out = copy.deepcopy(status)
    conds = [c for c in out.get("conditions") or [] if c.get("type") != type_]
    old = get_condition(status, type_)
    s = "Unknown" if value is None else ("True" if value else "False")
    ltt = (
        old["lastTransitionTime"]
        if old and old.get("status") == s and old.get("lastTransitionTime")
        else rfc3339(now)
    )
    conds.append(
        {
            "type": type_,
            "status": s,
            "reason": reason,
            "message": one_line(message),
            "lastTransitionTime": ltt,
            "observedGeneration": generation,
        }
    )
    order = {t: i for i, t in enumerate(CONDITION_ORDER)}
    out["conditions"] = sorted(conds, key=lambda c: order.get(c["type"], 99))
    return out


def drop_condition(status: Status, type_: str) -> Status:
    if get_condition(status, type_) is None:
        return status
    out = copy.deepcopy(status)
    out["conditions"] = [c for c in out.get("conditions") or [] if c.get("type") != type_]
    return out


def ready(
    status: Status, value: bool | None, reason: str, message: str, generation: int, now: float
) -> Status:
    """Ready is what `kubectl get hr` shows: set it, and keep Stalled/Reconciling consistent with it."""
    out = set_condition(status, READY, value, reason, message, generation, now)
    if value is not None:
        out = drop_condition(out, RECONCILING)
    if value is True:
        out = drop_condition(out, STALLED)
    out["observedGeneration"] = generation
    return out


def stalled(status: Status, reason: str, message: str, generation: int, now: float) -> Status:
    out = ready(status, False, reason, message, generation, now)
    return set_condition(out, STALLED, True, reason, message, generation, now)


def record_history(
    status: Status,
    entry: dict[str, Any],
    max_history: int,
) -> Status:
    """Add or update the snapshot of one revision; keep at most max_history, newest first."""
    out = copy.deepcopy(status)
    hist = [h for h in out.get("history") or [] if h.get("revision") != entry.get("revision")]
    hist.insert(0, entry)
    hist.sort(key=lambda h: -int(h.get("revision") or 0))
    out["history"] = hist[:max_history] if max_history > 0 else hist
    return out


def sync_history_statuses(status: Status, statuses: dict[int, str]) -> Status:
    """Refresh each snapshot's status from Helm storage (superseded, failed ...); drop purged revisions."""
    hist = status.get("history") or []
    new = []
    for h in hist:
        rev = int(h.get("revision") or 0)
        if rev in statuses:
            new.append({**h, "status": statuses[rev]})
    if new == hist:
        return status
    out = copy.deepcopy(status)
    out["history"] = new
    return out


def diff_patch(old: Status, new: Status) -> dict[str, Any] | None:
    """A JSON merge patch turning old into new at the top level (None: nothing to write)."""
    if old == new:
        return None
    patch: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    for k in old:
        if k not in new:
            patch[k] = None
    return patch
