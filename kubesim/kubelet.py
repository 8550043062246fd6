"""The scheduler and the kubelet of kubesim's one Node: pods get bound, started and reported.

A new Pod is bound to the Node (`spec.nodeName`, event `Scheduled` from default-scheduler),
then the kubelet writes its status once (phase, conditions, container statuses, IPs) and the
events a kubelet writes (`Pulling`/`Pulled`, `Created`, `Started`), as told by the pod's
`kubesim.dev/fail` annotation (see pods.py):

- healthy: Running and Ready (a `restartPolicy: Never|OnFailure` pod runs to completion at once:
  Succeeded);
- `CrashLoopBackOff` (or `"true"`): the container exits with `kubesim.dev/exit-code` (default 1):
  a run-to-completion pod is Failed; otherwise the container waits in CrashLoopBackOff with
  lastState terminated (reason Error) and a restartCount that grows on the kubelet's back-off
  (10s doubling to 5m, run SPEED times faster), with Warning `BackOff` events;
- `ImagePullBackOff` / `ErrImagePull`: Pending, the container waiting with containerd's
  not-found error; `Failed` warnings (`Failed to pull image ...`, `Error: ErrImagePull`), then
  for ImagePullBackOff a `BackOff` event and the `Back-off pulling image "x": ErrImagePull: ...`
  waiting message; pull retries on the back-off count into the same events;
- `Unready` (or `kubesim.dev/never-ready: "true"`): running, not ready, Warning `Unhealthy`
  `Readiness probe failed: ...` repeating on the back-off schedule.

All back-offs share one timer (timers.py): no thread or timer per pod.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import itertools
from typing import Any

from . import furniture, pods
from .events import Recorder
from .pods import Failure, Obj
from .resources import ResourceType
from .store import ApiError, Store, now_rfc3339
from .timers import Timers

SPEED = 20.0  # simulated seconds per real second for the kubelet's back-offs (10 s runs as 0.5 s)
MAX_BACKOFF = 300  # the kubelet's cap, in simulated seconds
KUBELET = "kubelet"


def _backoff(n: int) -> int:
    """The n-th (from 1) back-off of the kubelet: 10s, 20s, 40s ... capped at 5m."""
    return min(10 * 2 ** max(n - 1, 0), MAX_BACKOFF)


def _probe_output(c: Obj, ip: str) -> str:
    probe = c.get("readinessProbe") or {}
    if probe.get("tcpSocket"):
        return f"dial tcp {ip}:{probe['tcpSocket'].get('port')}: connect: connection refused"
    if probe.get("exec"):
        return ""
    return "HTTP probe failed with statuscode: 503"


class Kubelet:
    def __init__(self, store: Store, recorder: Recorder, timers: Timers) -> None:
        self.store, self.recorder, self.timers = store, recorder, timers
        self._ips = itertools.islice(ipaddress.ip_network("10.244.0.0/16").hosts(), 1, None)
        self._ip_of: dict[str, str] = {}

    # -- entry: a Pod changed ---------------------------------------------------------------
    def reconcile(self, rt: ResourceType, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return
        ns, name = meta.get("namespace", ""), meta["name"]
        if not (pod.get("spec") or {}).get("nodeName"):
            bound = copy.deepcopy(pod)
            node = pods.affinity_node(pod) or furniture.NODE
            bound.setdefault("spec", {})["nodeName"] = node
            pod = self.store.update(rt, ns, name, bound)
            self.recorder.record(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {ns}/{name} to {node}",
                "default-scheduler",
            )
        if (pod.get("status") or {}).get("containerStatuses") is not None:
            return
        self._start(rt, pod)

    def stopped(self, pod: Obj) -> None:
        """The kubelet's `Killing` events for the running containers of a deleted pod."""
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if (cs.get("state") or {}).get("running"):
                self._event(pod, cs, "Normal", "Killing", f"Stopping container {cs.get('name')}")

    # -- starting ------------------------------------------------------------------------------
    def _ip(self, pod: Obj) -> str:
        uid = str(pod["metadata"].get("uid"))
        if uid not in self._ip_of:
            if len(self._ip_of) > 60_000:
                self._ip_of.clear()
            self._ip_of[uid] = str(next(self._ips, "10.244.255.254"))
        return self._ip_of[uid]

    def _start(self, rt: ResourceType, pod: Obj) -> None:
        fail = pods.failure(pod)
        ts = now_rfc3339()
        ip = self._ip(pod)
        names = [c.get("name", "") for c in pods.containers(pod)]
        phase, statuses, done = self._initial(pod, fail, ts)
        ready = phase == "Running" and fail.mode == pods.HEALTHY
        status: Obj = {
            "phase": phase,
            "conditions": pods.pod_conditions(names, ready, ts, done),
            "hostIP": furniture.NODE_IP,
            "hostIPs": [{"ip": furniture.NODE_IP}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": ts,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        }
        self._write(rt, pod, status)
        for c in pods.containers(pod):
            self._start_events(pod, c, fail, ip)
        if fail.mode != pods.HEALTHY and not done and fail.mode != pods.PULL_ERROR:
            self._after(rt, pod, 1)

    def _initial(self, pod: Obj, fail: Failure, ts: str) -> tuple[str, list[Obj], str]:
        """(phase, containerStatuses, done-reason) of a pod the kubelet just started."""
        out = []
        for c in pods.containers(pod):
            cs: Obj = {
                "name": c.get("name"),
                "image": c.get("image", ""),
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "lastState": {},
            }
            cid = pods.container_id(pod, str(c.get("name")), 0)
            if fail.mode in (pods.PULL_BACKOFF, pods.PULL_ERROR):
                cs["state"] = {
                    "waiting": {"reason": pods.PULL_ERROR, "message": pods.pull_error(str(c.get("image")))}
                }
                out.append(cs)
                continue
            cs.update(imageID=pods.image_id(str(c.get("image", ""))), containerID=cid)
            if pods.run_to_completion(pod):
                code = fail.exit_code if fail.mode == pods.CRASH else 0
                reason = "Error" if code else "Completed"
                cs["state"] = {
                    "terminated": {
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": ts,
                        "finishedAt": ts,
                        "containerID": cid,
                    }
                }
                if fail.mode == pods.UNREADY:  # runs forever, never done
                    cs.update(state={"running": {"startedAt": ts}}, started=True)
            elif fail.mode == pods.CRASH:
                cs.update(restartCount=1, lastState=self._terminated(pod, c, fail, ts, 0))
                cs["state"] = {"waiting": {"reason": pods.CRASH, "message": self._crash_message(pod, c, 1)}}
            else:
                cs.update(state={"running": {"startedAt": ts}}, started=True, ready=fail.mode == pods.HEALTHY)
            out.append(cs)
        if fail.mode in (pods.PULL_BACKOFF, pods.PULL_ERROR):
            return "Pending", out, ""
        if pods.run_to_completion(pod) and fail.mode != pods.UNREADY:
            failed = fail.mode == pods.CRASH
            return ("Failed" if failed else "Succeeded"), out, ("PodFailed" if failed else "PodCompleted")
        return "Running", out, ""

    @staticmethod
    def _terminated(pod: Obj, c: Obj, fail: Failure, ts: str, restarts: int) -> Obj:
        cid = pods.container_id(pod, str(c.get("name")), restarts)
        return {
            "terminated": {
                "exitCode": fail.exit_code,
                "reason": "Error",
                "startedAt": ts,
                "finishedAt": ts,
                "containerID": cid,
            }
        }

    @staticmethod
    def _crash_message(pod: Obj, c: Obj, restarts: int) -> str:
        return (
            f"back-off {pods.go_duration(_backoff(restarts))} restarting failed "
            f"container={c.get('name')} pod={pods.pod_ref(pod)}"
        )

    def _event(self, pod: Obj, c: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.record(
            pod, type_, reason, message, KUBELET, f"spec.containers{{{c.get('name')}}}", furniture.NODE
        )

    def _start_events(self, pod: Obj, c: Obj, fail: Failure, ip: str) -> None:
        image = str(c.get("image", ""))
        if fail.mode in (pods.PULL_BACKOFF, pods.PULL_ERROR):
            self._pull_failed(pod, c)
            return
        if c.get("imagePullPolicy") == "Always":
            self._event(pod, c, "Normal", "Pulling", f'Pulling image "{image}"')
            self._event(
                pod,
                c,
                "Normal",
                "Pulled",
                f'Successfully pulled image "{image}" in 1.02s '
                "(1.02s including waiting). Image size: 18112290 bytes.",
            )
        else:
            self._event(pod, c, "Normal", "Pulled", f'Container image "{image}" already present on machine')
        self._event(pod, c, "Normal", "Created", f"Created container: {c.get('name')}")
        self._event(pod, c, "Normal", "Started", f"Started container {c.get('name')}")
        if fail.mode == pods.CRASH and not pods.run_to_completion(pod):
            self._event(
                pod,
                c,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {c.get('name')} in pod {pods.pod_ref(pod)}",
            )
        elif fail.mode == pods.UNREADY:
            self._event(pod, c, "Warning", "Unhealthy", f"Readiness probe failed: {_probe_output(c, ip)}")

    def _pull_failed(self, pod: Obj, c: Obj) -> None:
        image = str(c.get("image", ""))
        self._event(pod, c, "Normal", "Pulling", f'Pulling image "{image}"')
        self._event(pod, c, "Warning", "Failed", f'Failed to pull image "{image}": {pods.pull_error(image)}')
        self._event(pod, c, "Warning", "Failed", "Error: ErrImagePull")

    # -- back-off ticks ----------------------------------------------------------------------------
    def _after(self, rt: ResourceType, pod: Obj, n: int) -> None:
        meta = pod["metadata"]
        key = ("kubelet", meta.get("uid"))
        ns, name, uid = meta.get("namespace", ""), meta["name"], meta.get("uid")
        self.timers.at(_backoff(n) / SPEED, key, lambda: self._tick(rt, ns, name, uid, n))

    def _tick(self, rt: ResourceType, ns: str, name: str, uid: Any, n: int) -> None:
        pod = self.store.peek(rt, ns, name)
        if pod is None or pod["metadata"].get("uid") != uid or pod["metadata"].get("deletionTimestamp"):
            return
        pod = self.store.view(rt, pod)
        fail = pods.failure(pod)
        ip = (pod.get("status") or {}).get("podIP", "")
        if fail.mode == pods.CRASH:
            self._crashed_again(rt, pod, fail)
        elif fail.mode == pods.PULL_BACKOFF:
            self._pull_backoff(rt, pod, first=n == 1)
        elif fail.mode == pods.UNREADY:
            for c in pods.containers(pod):
                self._event(pod, c, "Warning", "Unhealthy", f"Readiness probe failed: {_probe_output(c, ip)}")
        else:
            return
        self._after(rt, self.store.peek(rt, ns, name) or pod, n + 1)

    def _crashed_again(self, rt: ResourceType, pod: Obj, fail: Failure) -> None:
        status = copy.deepcopy(pod.get("status") or {})
        ts = now_rfc3339()
        by_name = {c.get("name"): c for c in pods.containers(pod)}
        for cs in status.get("containerStatuses") or []:
            c = by_name.get(cs.get("name"), {})
            restarts = int(cs.get("restartCount", 0)) + 1
            cs.update(restartCount=restarts, lastState=self._terminated(pod, c, fail, ts, restarts))
            cs["state"] = {
                "waiting": {"reason": pods.CRASH, "message": self._crash_message(pod, c, restarts)}
            }
            self._event(
                pod, c, "Normal", "Pulled", f'Container image "{c.get("image")}" already present on machine'
            )
            self._event(pod, c, "Normal", "Created", f"Created container: {c.get('name')}")
            self._event(pod, c, "Normal", "Started", f"Started container {c.get('name')}")
            self._event(
                pod,
                c,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {c.get('name')} in pod {pods.pod_ref(pod)}",
            )
        self._write(rt, pod, status)

    def _pull_backoff(self, rt: ResourceType, pod: Obj, first: bool) -> None:
        status = copy.deepcopy(pod.get("status") or {})
        by_name = {c.get("name"): c for c in pods.containers(pod)}
        for cs in status.get("containerStatuses") or []:
            c = by_name.get(cs.get("name"), {})
            image = str(c.get("image", ""))
            if not first:
                self._pull_failed(pod, c)
            self._event(pod, c, "Normal", "BackOff", f'Back-off pulling image "{image}"')
            self._event(pod, c, "Warning", "Failed", "Error: ImagePullBackOff")
            message = f'Back-off pulling image "{image}": ErrImagePull: {pods.pull_error(image)}'
            cs["state"] = {"waiting": {"reason": pods.PULL_BACKOFF, "message": message}}
        self._write(rt, pod, status)

    def _write(self, rt: ResourceType, pod: Obj, status: Obj) -> None:
        write_status(self.store, rt, pod, status)


def write_status(store: Store, rt: ResourceType, obj: Obj, status: Obj) -> None:
    """Replace `obj`'s status through the status subresource, unless it is already that
    (a controller that lost a race just comes back with the next change)."""
    if obj.get("status") == status:
        return
    new = copy.deepcopy(obj)
    new["status"] = status
    meta = obj["metadata"]
    with contextlib.suppress(ApiError):
        store.update(rt, meta.get("namespace", ""), meta["name"], new, "status")
