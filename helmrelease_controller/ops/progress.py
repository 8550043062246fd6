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
    out = [_said(type_, condition(after, type_), after) for type_ in SHOWN if _changed(before, after, type_)]
    out = [line for line in out if line]
    out += _revision(before or {}, after) + _applied(before or {}, after)
    retry = (after.get("status") or {}).get("nextRetryAt")
    if retry and retry != ((before or {}).get("status") or {}).get("nextRetryAt"):
        out.append(f"retrying at {retry}")
    return out


def _changed(before: Obj | None, after: Obj, type_: str) -> bool:
    new = condition(after, type_)
    return bool(new) and _key(condition(before or {}, type_)) != _key(new)


def _said(type_: str, c: Obj, obj: Obj) -> str:
    """The line for condition `c`; "" when another line says the same."""
    ready = condition(obj, "Ready")
    if type_ == "Reconciling":
        # Ready's Progressing message names the action too ("upgrade: <why>").
        text = ready.get("message") if ready.get("reason") == "Progressing" else c.get("message")
        return f"progressing: {one_line(str(text or ''))}"
    if type_ == "Ready" and (
        c.get("reason") == "Progressing" or _key(c)[1:] == _key(condition(obj, "Stalled"))[1:]
    ):
        return ""  # said by the Reconciling or the Stalled line
    reason = f" {c['reason']}" if c.get("reason") else ""
    return f"{type_}={c.get('status')}{reason}: {one_line(str(c.get('message', '')))}"


def _revision(before: Obj, after: Obj) -> list[str]:
    def newest(obj: Obj) -> Obj:
        history = (obj.get("status") or {}).get("history") or []
        return history[0] if history and isinstance(history[0], dict) else {}

    old, new = newest(before), newest(after)
    if not new or (old.get("revision"), old.get("status")) == (new.get("revision"), new.get("status")):
        return []
    chart = f"{new.get('chartName', '')}@{new.get('chartVersion', '')}"
    return [f"revision {new.get('revision')}: {chart} {new.get('status', '')}"]


def _applied(before: Obj, after: Obj) -> list[str]:
    """A new status.lastAppliedRevision (a GitSync adds its commit's subject)."""
    old, new = (before.get("status") or {}), (after.get("status") or {})
    rev = new.get("lastAppliedRevision")
    if not rev or rev == old.get("lastAppliedRevision"):
        return []
    subject = new.get("lastAppliedSubject")
    return [f"applied {rev}" + (f": {one_line(str(subject))}" if subject else "")]


def handled(obj: Obj, token: str) -> bool:
    """Whether the controller is done with request `token`: it recorded the token, nothing is in
    progress, Ready is decided for the current generation, and no retry is pending (a pending
    retry is still the same request's work). An invalid spec is never going to handle it: done."""
    st = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    stalled = condition(obj, "Stalled")
    if stalled.get("reason") == "InvalidSpec" and st.get("observedGeneration") == generation:
        return True  # the controller stops at an invalid spec before it reads the token
    if st.get("lastHandledReconcileAt") != token:
        return False
    if condition(obj, "Reconciling").get("status") == "True":
        return False
    ready = condition(obj, "Ready")
    if ready.get("status") not in ("True", "False") or st.get("observedGeneration") != generation:
        return False
    if ready.get("status") == "True" or stalled.get("status") == "True":
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
