"""What `get` shows of a HelmRelease or a GitSync: the columns of one row, from the object as the API
server returns it (a dict). Pure; the column names are the contract docs/cli.md shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from .fmt import age, one_line

Obj = dict[str, Any]

STATUS_WIDTH = 60  # the STATUS column in the narrow table; -o wide shows the whole line

HR_COLUMNS = ["NAME", "READY", "STATUS", "CHART", "REVISION", "SUSPENDED", "LAST CHANGE", "AGE"]
HR_WIDE = ["RELEASE", "APPLIED", "FAILURES", "NEXT RETRY"]
GS_COLUMNS = ["NAME", "READY", "STATUS", "REVISION", "SUSPENDED", "LAST CHANGE", "AGE"]
GS_WIDE = ["URL", "PATH", "SUBJECT", "OBJECTS"]


def condition(obj: Obj, type_: str) -> Obj:
    """The condition of `type_` in obj.status ({} when absent)."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return {}


def suspended(obj: Obj) -> bool:
    """spec.suspend or the helmrelease.dev/suspend annotation, as the controller reads them (the
    annotation counts before the controller has written status.suspended)."""
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get("helmrelease.dev/suspend")
    annotated = isinstance(value, str) and value.strip().lower() == "true"
    return bool((obj.get("spec") or {}).get("suspend")) or annotated


def _common(obj: Obj, now: dt.datetime, wide: bool) -> tuple[str, str, str, str]:
    """NAME, READY, STATUS (one line) and LAST CHANGE (age of Ready's last transition)."""
    ready = condition(obj, "Ready")
    status = one_line(str(ready.get("message") or ""), 0 if wide else STATUS_WIDTH)
    if not ready:
        status = "waiting for the controller"
    last = age(ready.get("lastTransitionTime"), now) if ready else "-"
    return obj["metadata"]["name"], str(ready.get("status") or "Unknown"), status, last


def hr_row(obj: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    """One HelmRelease as HR_COLUMNS (+ HR_WIDE)."""
    st = obj.get("status") or {}
    name, ready, status, last = _common(obj, now, wide)
    history = st.get("history") or []
    revision = str(history[0].get("revision", "")) if history else "-"
    chart = str(st.get("helmChart") or "-")
    sus = str(suspended(obj)).lower()
    row = [
        name,
        ready,
        status,
        chart,
        revision,
        sus,
        last,
        age(obj["metadata"].get("creationTimestamp"), now),
    ]
    if wide:
        spec = obj.get("spec") or {}
        release = spec.get("releaseName") or name
        target = spec.get("targetNamespace") or obj["metadata"].get("namespace", "")
        failures = f"install {st.get('installFailures', 0)}, upgrade {st.get('upgradeFailures', 0)}"
        retry = st.get("nextRetryAt") or "-"
        row += [f"{target}/{release}", str(st.get("lastAppliedRevision") or "-"), failures, retry]
    return row


def gs_row(obj: Obj, now: dt.datetime, wide: bool = False) -> list[str]:
    """One GitSync as GS_COLUMNS (+ GS_WIDE)."""
    st = obj.get("status") or {}
    name, ready, status, last = _common(obj, now, wide)
    revision = str(st.get("lastAppliedRevision") or "-")
    sus = str(suspended(obj)).lower()
    row = [name, ready, status, revision, sus, last, age(obj["metadata"].get("creationTimestamp"), now)]
    if wide:
        spec = obj.get("spec") or {}
        subject = one_line(str(st.get("lastAppliedSubject") or "-"))
        row += [
            str(spec.get("url", "")),
            str(spec.get("path", ".")),
            subject,
            str(len(st.get("inventory") or [])),
        ]
    return row


def columns(gitsync: bool, wide: bool, all_namespaces: bool) -> list[str]:
    """The header of `get`'s table."""
    cols = (GS_COLUMNS + (GS_WIDE if wide else [])) if gitsync else (HR_COLUMNS + (HR_WIDE if wide else []))
    return (["NAMESPACE"] if all_namespaces else []) + cols


def row(obj: Obj, now: dt.datetime, gitsync: bool, wide: bool, all_namespaces: bool) -> list[str]:
    """One object's cells under `columns(...)`."""
    cells = gs_row(obj, now, wide) if gitsync else hr_row(obj, now, wide)
    return ([str(obj["metadata"].get("namespace", ""))] if all_namespaces else []) + cells
