"""Why a release failed, in a few lines, from what the cluster shows. Pure.

`Evidence` is what forensics/gather.py read after a failed install, upgrade or test: the release's
workloads (Deployment, StatefulSet, DaemonSet, Job), their pods, the hook Jobs and `helm test`
pods of the revision, and the Warning events of all of those since the action began. `findings`
turns it into lines, most telling first:

1. failed hooks and test pods (`Job/web-migrate (pre-upgrade hook): Failed BackoffLimitExceeded:
   Job has reached the specified backoff limit`, `Pod/web-test (test): Failed: container curl
   exited 1: <its last log line>`);
2. workloads not ready with their conditions (`Deployment/web: 0/1 ready; Progressing=False
   ProgressDeadlineExceeded: ...`);
3. their pods' containers: waiting with a reason (`ImagePullBackOff: Back-off pulling image
   "nginx:9.9"`), restarting (`CrashLoopBackOff, 4 restarts, last exit code 1`) or running not
   ready;
4. Warning events not already said, one per (object, reason), with their count.

`digest` keeps the first `limit` lines (status.lastFailure, notifications); `why` shows them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = Mapping[str, Any]
Objs = Sequence[Obj]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass
class Evidence:
    """What the cluster showed after a failure (forensics/gather.py reads it)."""

    workloads: list[Obj] = field(default_factory=list)  # the manifest's, live
    pods: dict[str, Objs] = field(default_factory=dict)  # "Kind/name" of a workload or hook -> its pods
    hooks: list[tuple[str, Obj]] = field(default_factory=list)  # (which hook, the live Job or Pod)
    events: Objs = field(default_factory=list)  # Warning events of all of the above
    logs: dict[str, str] = field(default_factory=dict)  # "pod/container" -> the last log lines


def _ref(obj: Obj) -> str:
    return f"{obj.get('kind', '')}/{(obj.get('metadata') or {}).get('name', '')}"


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {
        str(c.get("type")): c
        for c in (obj.get("status") or {}).get("conditions") or []
        if isinstance(c, dict)
    }


def _cond_text(c: Obj) -> str:
    text = f"{c.get('type')}={c.get('status')}"
    if c.get("reason"):
        text += f" {c['reason']}"
    if c.get("message"):
        text += f": {c['message']}"
    return text


def workload_state(obj: Obj) -> str | None:
    """What is wrong with a workload (`rollout incomplete: 1/1 updated, 0/1 available;
    Progressing=False ProgressDeadlineExceeded: ...`), None when it is fine."""
    kind, status = obj.get("kind"), obj.get("status") or {}
    conds = _conditions(obj)
    if kind == "Job":
        return _job_state(obj, conds)
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled") or 0)
        updated, ready = int(status.get("updatedNumberScheduled") or 0), int(status.get("numberReady") or 0)
        counts = f"{updated}/{want} updated, {ready}/{want} ready"
    else:
        replicas = (obj.get("spec") or {}).get("replicas")
        want = int(1 if replicas is None else replicas)
        updated, total = int(status.get("updatedReplicas") or 0), int(status.get("replicas") or 0)
        ready = int(status.get("availableReplicas" if kind == "Deployment" else "readyReplicas") or 0)
        old = max(0, total - updated)  # pods of the previous template still running
        noun = "available" if kind == "Deployment" else "ready"
        counts = f"{updated}/{want} updated, {ready}/{want} {noun}" + (
            f", {old} old still running" if old else ""
        )
        updated -= old  # an update is not done while old pods run
    bad = [
        c
        for t, c in conds.items()
        if t in ("Available", "Progressing", "ReplicaFailure") and _unhealthy(t, c)
    ]
    if updated >= want and ready >= want and not bad:
        return None
    return "; ".join([f"rollout incomplete: {counts}", *(_cond_text(c) for c in bad)])


def _job_state(obj: Obj, conds: Mapping[str, Obj]) -> str | None:
    failed = conds.get("Failed")
    if failed is not None and failed.get("status") == "True":
        return f"Failed {failed.get('reason', '')}: {failed.get('message', '')}".rstrip(": ")
    if conds.get("Complete", {}).get("status") == "True":
        return None
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    return f"not complete: {int(status.get('succeeded') or 0)}/{int(spec.get('completions') or 1)} succeeded"


def _unhealthy(type_: str, c: Obj) -> bool:
    if type_ == "ReplicaFailure":
        return c.get("status") == "True"
    return c.get("status") != "True"


def container_states(pod: Obj, logs: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with each container of `pod` (none: [])."""
    out = []
    name = (pod.get("metadata") or {}).get("name", "")
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated") or {}
        who = f"container {cs.get('name')}"
        restarts = int(cs.get("restartCount") or 0)
        if waiting := state.get("waiting"):
            text = f"{who} waiting {waiting.get('reason', '')}"
            if waiting.get("reason") == "CrashLoopBackOff":
                text += f", {restarts} restarts, last exit code {last.get('exitCode', '?')}"
            elif waiting.get("message"):
                text += f": {waiting['message']}"
            out.append(text)
        elif (term := state.get("terminated")) and int(term.get("exitCode") or 0) != 0:
            text = f"{who} exited {term.get('exitCode')}" + (
                f" ({term['reason']})" if term.get("reason") else ""
            )
            line = _last_line((logs or {}).get(f"{name}/{cs.get('name')}", ""))
            out.append(f"{text}: {line}" if line else text)
        elif "running" in state and not cs.get("ready"):
            out.append(f"{who} running, not ready")
    return out


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _event_line(ev: Obj) -> tuple[str, str]:
    """(key, line) of a Warning event: core/v1 or events.k8s.io/v1."""
    inv = ev.get("involvedObject") or ev.get("regarding") or {}
    ref = f"{inv.get('kind', '')}/{inv.get('name', '')}"
    reason = str(ev.get("reason") or "")
    message = str(ev.get("message") or ev.get("note") or "")
    count = int(ev.get("count") or (ev.get("series") or {}).get("count") or 1)
    times = f" (x{count})" if count > 1 else ""
    return f"{ref}\x00{reason}", f"{ref}: {reason}: {message}{times}"


def findings(ev: Evidence) -> list[str]:
    """Every line, most telling first (see the module docstring)."""
    out: list[str] = []
    for events, obj in ev.hooks:
        state = workload_state(obj) if obj.get("kind") == "Job" else _pod_failure(obj, ev.logs)
        if state:
            out.append(f"{_ref(obj)} ({events}): {state}")
        for pod in ev.pods.get(_ref(obj), []):
            out += [f"{_ref(pod)} ({events}): {s}" for s in container_states(pod, ev.logs)]
    for obj in ev.workloads:
        if state := workload_state(obj):
            out.append(f"{_ref(obj)}: {state}")
            for pod in ev.pods.get(_ref(obj), []):
                out += [f"{_ref(pod)}: {s}" for s in container_states(pod, ev.logs)]
    said = "\n".join(out)
    seen: set[str] = set()
    for event in sorted(ev.events, key=_event_time, reverse=True):
        key, line = _event_line(event)
        reason_said = key.split("\x00")[1] in said and key.split("\x00")[0] in said
        if key not in seen and not reason_said:
            seen.add(key)
            out.append(line)
    return out


def _pod_failure(pod: Obj, logs: Mapping[str, str]) -> str | None:
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Failed":
        states = container_states(pod, logs)
        return "Failed" + (f": {'; '.join(states)}" if states else "")
    return None


def _event_time(ev: Obj) -> str:
    return str(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp") or "")


def digest(lines: Iterable[str], limit: int = 10) -> list[str]:
    """At most `limit` lines, the last saying how many more there were."""
    lines = list(lines)
    if len(lines) <= limit:
        return lines
    return [*lines[: limit - 1], f"and {len(lines) - limit + 1} more (helmrelease-controller why)"]
