"""`GET /api/v1/namespaces/{ns}/pods/{name}/log`: a container's log, as text/plain.

The text is the pod's `kubesim.dev/log` annotation (from its template; `\\n` separates lines),
else a default line naming the container and image. Query parameters: `container` (required
when the pod has several, as the apiserver says), `previous` (the last terminated instance:
only a container that restarted has one), `tailLines`, `limitBytes`, `timestamps`. A container
that never started answers 400 in the kubelet's words (`is waiting to start: trying and failing
to pull image`), as does an unscheduled pod or an unknown container.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import pods
from .pods import Obj
from .store import ApiError


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _container(pod: Obj, wanted: str) -> str:
    meta = pod.get("metadata") or {}
    names = [str(c.get("name")) for c in pods.containers(pod)]
    init = [str(c.get("name")) for c in (pod.get("spec") or {}).get("initContainers") or []]
    if not wanted:
        if len(names) == 1:
            return names[0]
        raise _bad(
            f"a container name must be specified for pod {meta.get('name')}, "
            f"choose one of: [{' '.join(names)}]"
            + (f" or one of the init containers: [{' '.join(init)}]" if init else "")
        )
    if wanted not in names + init:
        raise _bad(f"container {wanted} is not valid for pod {meta.get('name')}")
    return wanted


def _check_started(pod: Obj, name: str, previous: bool) -> None:
    """validateContainerLogStatus: the kubelet's refusals for a container without logs."""
    pod_name = (pod.get("metadata") or {}).get("name")
    status: Obj = next(
        (cs for cs in (pod.get("status") or {}).get("containerStatuses") or [] if cs.get("name") == name), {}
    )
    state, last = status.get("state") or {}, (status.get("lastState") or {}).get("terminated")
    if previous:
        if last is None:
            raise _bad(f'previous terminated container "{name}" in pod "{pod_name}" not found')
        return
    if "running" in state or "terminated" in state or last is not None:
        return
    reason = (state.get("waiting") or {}).get("reason")
    if reason == pods.PULL_ERROR:
        raise _bad(f'container "{name}" in pod "{pod_name}" is waiting to start: image can\'t be pulled')
    if reason == pods.PULL_BACKOFF:
        raise _bad(
            f'container "{name}" in pod "{pod_name}" is waiting to start: trying and failing to pull image'
        )
    raise _bad(f'container "{name}" in pod "{pod_name}" is waiting to start: {reason or "ContainerCreating"}')


def lines(pod: Obj, name: str) -> list[str]:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    text = ann.get(pods.LOG)
    if text is None:
        image = next((c.get("image") for c in pods.containers(pod) if c.get("name") == name), "")
        text = f"kubesim: container {name} started (image {image})"
    return str(text).replace("\\n", "\n").splitlines()


def text(pod: Obj, query: Mapping[str, str]) -> str:
    """The log a GET of pods/log answers, or an ApiError as the apiserver and kubelet refuse."""
    meta = pod.get("metadata") or {}
    name = _container(pod, query.get("container", ""))
    if not (pod.get("spec") or {}).get("nodeName"):
        raise _bad(f"pod {meta.get('name')} does not have a host assigned")
    previous = query.get("previous") in ("true", "1")
    _check_started(pod, name, previous)
    out = lines(pod, name)
    tail = query.get("tailLines")
    if tail is not None and tail.lstrip("-").isdigit():
        n = int(tail)
        out = out[-n:] if n > 0 else []
    if query.get("timestamps") in ("true", "1"):
        started = (pod.get("status") or {}).get("startTime", "")
        out = [f"{started.replace('Z', '.000000000Z')} {line}" for line in out]
    body = "".join(line + "\n" for line in out)
    limit = query.get("limitBytes")
    if limit is not None and limit.isdigit():
        body = body[: int(limit)]
    return body
