"""What `reconcile` and `resume` say while they wait: the lines a change of status adds, whether the
controller is done with a request token, and how it ended. Pure, over objects as dicts."""

from __future__ import annotations

from typing import Any

from .fmt import one_line
from .rows import condition

Obj = dict[str, Any]

SHOWN = ("Reconciling", "Released", "TestSuccess", "Remediated", "Stalled", "Ready")


def _key(c: Obj) -> tuple[str, str, str]:
    return str(c.get("status", "")), str(c.get("reason", "")), str(c.get("message", ""))


def lines(before: Obj | None, after: Obj) -> list[str]:
    """One line per condition, revision or retry that changed from `before` to `after`."""
    out = []
    for type_ in SHOWN:
        old, new = condition(before or {}, type_), condition(after, type_)
        if not new or _key(old) == _key(new):
            continue
        if type_ == "Ready" and new.get("reason") == "Progressing":
            continue  # the same words as Reconciling's
        if type_ == "Reconciling":
            out.append(f"progressing: {one_line(str(new.get('message', '')))}")
            continue
        reason = f" {new['reason']}" if new.get("reason") else ""
        out.append(f"{type_}={new.get('status')}{reason}: {one_line(str(new.get('message', '')))}")
    out += _revision(before or {}, after)
    retry = (after.get("status") or {}).get("nextRetryAt")
    if retry and retry != ((before or {}).get("status") or {}).get("nextRetryAt"):
        out.append(f"retrying at {retry}")
    return out


def _revision(before: Obj, after: Obj) -> list[str]:
    def newest(obj: Obj) -> Obj:
        history = (obj.get("status") or {}).get("history") or []
        return history[0] if history and isinstance(history[0], dict) else {}

    old, new = newest(before), newest(after)
    if not new or (old.get("revision"), old.get("status")) == (new.get("revision"), new.get("status")):
        return []
    chart = f"{new.get('chartName', '')}@{new.get('chartVersion', '')}"
    return [f"revision {new.get('revision')}: {chart} {new.get('status', '')}"]


def handled(obj: Obj, token: str) -> bool:
    """Whether the controller is done with request `token`: it recorded the token, nothing is in
    progress, Ready is decided for the current generation, and no retry is pending (a pending
    retry is still the same request's work)."""
    st = obj.get("status") or {}
    if st.get("lastHandledReconcileAt") != token:
        return False
    if condition(obj, "Reconciling").get("status") == "True":
        return False
    ready = condition(obj, "Ready")
    generation = (obj.get("metadata") or {}).get("generation")
    if ready.get("status") not in ("True", "False") or st.get("observedGeneration") != generation:
        return False
    if ready.get("status") == "True" or condition(obj, "Stalled").get("status") == "True":
        return True
    return not st.get("nextRetryAt")


def outcome(obj: Obj) -> tuple[bool, str]:
    """Whether it ended Ready, and the one line that says so (the Ready condition's reason and message)."""
    ready = condition(obj, "Ready")
    text = (
        f"{ready.get('reason', '')}: {one_line(str(ready.get('message', '')))}"
        if ready
        else "no Ready condition"
    )
    return ready.get("status") == "True", text
