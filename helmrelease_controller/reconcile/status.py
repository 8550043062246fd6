"""What a status says: conditions, history snapshots and the write between two statuses. Pure.

Status is the typed, immutable model of api/models.py (`HelmReleaseStatus`, and any
`ConditionedStatus`): every function here returns a new one. `lastTransitionTime` moves only
when a condition's status changes, so re-computing an unchanged status gives an equal model
and `diff_patch` finds nothing to write (zero API writes per no-op reconcile). Defaults live
in the model, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

from ..api.models import Condition, ConditionedStatus, HelmReleaseStatus, HistoryEntry

S = TypeVar("S", bound=ConditionedStatus)
Status = HelmReleaseStatus

READY, RELEASED, RECONCILING, STALLED, REMEDIATED, TEST_SUCCESS = (
    "Ready",
    "Released",
    "Reconciling",
    "Stalled",
    "Remediated",
    "TestSuccess",
)
CONDITION_ORDER = (READY, RELEASED, RECONCILING, STALLED, REMEDIATED, TEST_SUCCESS, "Drifted")
_ORDER = {t: i for i, t in enumerate(CONDITION_ORDER)}


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


def is_true(status: ConditionedStatus, type_: str) -> bool:
    c = status.condition(type_)
    return c is not None and c.status == "True"


def set_condition(
    status: S, type_: str, value: bool | None, reason: str, message: str, generation: int, now: float
) -> S:
    old = status.condition(type_)
    s: Literal["True", "False", "Unknown"] = "Unknown" if value is None else ("True" if value else "False")
    ltt = old.last_transition_time if old and old.status == s and old.last_transition_time else None
    new = Condition(
        type=type_,
        status=s,
        reason=reason,
        message=one_line(message),
        last_transition_time=ltt or rfc3339(now),
        observed_generation=generation,
    )
    conds = [c for c in status.conditions if c.type != type_] + [new]
    conds.sort(key=lambda c: _ORDER.get(c.type, 99))
    return status.model_copy(update={"conditions": conds})


def drop_condition(status: S, type_: str) -> S:
    if status.condition(type_) is None:
        return status
    return status.model_copy(update={"conditions": [c for c in status.conditions if c.type != type_]})


def ready(status: S, value: bool | None, reason: str, message: str, generation: int, now: float) -> S:
    """Ready is what `kubectl get hr` shows: set it, and keep Stalled/Reconciling consistent with it."""
    out = set_condition(status, READY, value, reason, message, generation, now)
    if value is not None:
        out = drop_condition(out, RECONCILING)
    if value is True:
        out = drop_condition(out, STALLED)
    return out.model_copy(update={"observed_generation": generation})


def stalled(status: S, reason: str, message: str, generation: int, now: float) -> S:
    out = ready(status, False, reason, message, generation, now)
    return set_condition(out, STALLED, True, reason, message, generation, now)


def progressing(status: S, ready_message: str, message: str, generation: int, now: float) -> S:
    """Reconciling=True and Ready=Unknown, both "Progressing": work is under way."""
    out = set_condition(status, RECONCILING, True, "Progressing", message, generation, now)
    return set_condition(out, READY, None, "Progressing", ready_message, generation, now)


def record_history(status: Status, entry: HistoryEntry, max_history: int) -> Status:
    """Add or update the snapshot of one revision; keep at most max_history, newest first."""
    hist = [h for h in status.history if h.revision != entry.revision] + [entry]
    hist.sort(key=lambda h: -h.revision)
    return status.model_copy(update={"history": hist[:max_history] if max_history > 0 else hist})


def sync_history_statuses(status: Status, statuses: dict[int, str]) -> Status:
    """Refresh each snapshot's status from Helm storage (superseded, failed ...); drop purged revisions."""
    new = [
        h.model_copy(update={"status": statuses[h.revision]})
        for h in status.history
        if h.revision in statuses
    ]
    if new == status.history:
        return status
    return status.model_copy(update={"history": new})


def load(obj: dict[str, Any], model: type[S]) -> S:
    """The status of `obj` as `model`; an unreadable one (hand-edited) starts afresh."""
    try:
        return model.model_validate(obj.get("status") or {})
    except ValueError:
        return model()


def to_obj(status: ConditionedStatus) -> dict[str, Any]:
    """`status` as stored in the object: camelCase, None left out."""
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def diff_patch(old: dict[str, Any], new: ConditionedStatus) -> dict[str, Any] | None:
    """A JSON merge patch turning the stored status `old` into `new` at the top level (None: nothing
    to write). Fields this controller does not know (a newer one wrote them) are left alone."""
    want = to_obj(new)
    patch: dict[str, Any] = {k: v for k, v in want.items() if old.get(k) != v}
    known = {f.alias or n for n, f in type(new).model_fields.items()}
    patch.update({k: None for k in old if k not in want and k in known})
    return patch or None
