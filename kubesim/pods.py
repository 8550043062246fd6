"""Pods as the workload controllers make them and the kubelet reports them: pure functions.

- names: `<owner>-<5 chars>` from the apiserver's name-generator alphabet, the Deployment's
  `pod-template-hash` (fnv32a, encoded with `SafeEncodeString`, as ComputeHash; over kubesim's
  JSON of the template, not Go's spew dump: same shape, other values);
- a Pod from a template (labels, annotations, ownerReferences with `controller: true`) and the
  Pod defaults of the registry and admission (restartPolicy, dnsPolicy, schedulerName,
  terminationGracePeriodSeconds, imagePullPolicy, terminationMessagePath/Policy, tolerations,
  serviceAccountName, priority, enableServiceLinks);
- the failure a pod is told to have (`kubesim.dev/fail` on the pod template or, copied down by
  the controller, on the workload): `ImagePullBackOff`, `ErrImagePull`, `CrashLoopBackOff`
  (also `"true"`: the container exits with `kubesim.dev/exit-code`, default 1), `Unready`
  (also `kubesim.dev/never-ready: "true"`: running, its readiness probe failing);
- the kubelet's view of a pod in that state: phase, conditions, container statuses (state,
  lastState, restartCount, ready, started, image, imageID, containerID), in the kubelet's words;
- `kubectl get pods` columns (READY, STATUS, RESTARTS) as the server's pod printer computes them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

FAIL = "kubesim.dev/fail"
NEVER_READY = "kubesim.dev/never-ready"
EXIT_CODE = "kubesim.dev/exit-code"
LOG = "kubesim.dev/log"
HASH_LABEL = "pod-template-hash"
# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated names and SafeEncodeString.
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

HEALTHY, PULL_BACKOFF, PULL_ERROR, CRASH, UNREADY = (
    "",
    "ImagePullBackOff",
    "ErrImagePull",
    "CrashLoopBackOff",
    "Unready",
)
_MODES = {
    "imagepullbackoff": PULL_BACKOFF,
    "errimagepull": PULL_ERROR,
    "crashloopbackoff": CRASH,
    "error": CRASH,
    "true": CRASH,
    "unready": UNREADY,
    "": HEALTHY,
    "false": HEALTHY,
}


@dataclass(frozen=True)
class Failure:
    """How a pod's containers misbehave: `mode` (one of the constants above) and the exit code."""

    mode: str = HEALTHY
    exit_code: int = 1


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _ann(o: Obj) -> dict[str, str]:
    return _meta(o).get("annotations") or {}


def failure_annotations(*objs: Obj) -> dict[str, str]:
    """The kubesim annotations of the first of `objs` that has any (pod template, then workload)."""
    for o in objs:
        found = {k: v for k, v in _ann(o).items() if k in (FAIL, NEVER_READY, EXIT_CODE, LOG)}
        if found:
            return found
    return {}


def failure(pod: Obj) -> Failure:
    ann = _ann(pod)
    mode = _MODES.get(str(ann.get(FAIL, "")).strip().lower(), CRASH)
    if mode == HEALTHY and ann.get(NEVER_READY) == "true":
        mode = UNREADY
    try:
        code = int(ann.get(EXIT_CODE, "1"))
    except ValueError:
        code = 1
    return Failure(mode, code or 1)


def random_suffix(n: int = 5) -> str:
    return "".join(random.choices(ALPHANUMS, k=n))


def semantic(value: Any) -> Any:
    """`value` without null, {} and [] fields: to Go's semantic equality they are all unset."""
    if isinstance(value, dict):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def template_hash(template: Obj) -> str:
    """ComputeHash: fnv32a of the template, its decimal value encoded with SafeEncodeString."""
    h = 0x811C9DC5
    for b in json.dumps(semantic(template), sort_keys=True, separators=(",", ":")).encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in str(h))


def without_hash(template: Obj) -> Any:
    """A ReplicaSet's template as its Deployment's (EqualIgnoreHash), for semantic comparison."""
    t = semantic(template or {})  # new dicts all the way down: safe to edit
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict) and labels.pop(HASH_LABEL, None) is not None and not labels:
        del t["metadata"]["labels"]
        if not t["metadata"]:
            del t["metadata"]
    return t


def owner_ref(owner: Obj) -> Obj:
    m = _meta(owner)
    return {
        "apiVersion": owner.get("apiVersion"),
        "kind": owner.get("kind"),
        "name": m.get("name"),
        "uid": m.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: Obj) -> str:
    for r in _meta(obj).get("ownerReferences") or []:
        if r.get("controller"):
            return str(r.get("uid"))
    return ""


def new_pod(
    owner: Obj, template: Obj, name: str, labels: dict[str, str] | None = None, generate: bool = True
) -> Obj:
    """A Pod of `owner` from its template (GetPodFromTemplate): the template's labels plus
    `labels`, its annotations plus the workload's kubesim annotations, spec as the template's."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {
        "name": name,
        "namespace": _meta(owner).get("namespace"),
        "labels": {**(tmeta.get("labels") or {}), **(labels or {})},
        "ownerReferences": [owner_ref(owner)],
    }
    if generate:
        meta["generateName"] = name[: name.rfind("-") + 1]
    annotations = {**failure_annotations(owner), **(tmeta.get("annotations") or {})}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


_TOLERATIONS = [
    {"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    for k in ("not-ready", "unreachable")
]


def _pull_policy(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@" in tail:
        return "IfNotPresent"
    return "Always" if ":" not in tail or tail.endswith(":latest") else "IfNotPresent"


def _default_probe(probe: Any) -> None:
    if isinstance(probe, dict):
        for k, v in (
            ("timeoutSeconds", 1),
            ("periodSeconds", 10),
            ("successThreshold", 1),
            ("failureThreshold", 3),
        ):
            probe.setdefault(k, v)
        if isinstance(probe.get("httpGet"), dict):
            probe["httpGet"].setdefault("scheme", "HTTP")
            probe["httpGet"].setdefault("path", "/")


def _default_container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", _pull_policy(str(c.get("image", ""))))
    c.setdefault("resources", {})
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for k in ("readinessProbe", "livenessProbe", "startupProbe"):
        _default_probe(c.get(k))


def default_pod(pod: Obj) -> None:
    """SetDefaults_PodSpec/Container and the admission plugins a new Pod passes (ServiceAccount,
    DefaultTolerationSeconds, Priority)."""
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    for k, v in (
        ("restartPolicy", "Always"),
        ("dnsPolicy", "ClusterFirst"),
        ("schedulerName", "default-scheduler"),
        ("terminationGracePeriodSeconds", 30),
        ("securityContext", {}),
        ("enableServiceLinks", True),
        ("preemptionPolicy", "PreemptLowerPriority"),
        ("priority", 0),
    ):
        spec.setdefault(k, v)
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    tolerations = spec.setdefault("tolerations", [])
    if isinstance(tolerations, list):
        keys = {t.get("key") for t in tolerations if isinstance(t, dict)}
        tolerations.extend(copy.deepcopy(t) for t in _TOLERATIONS if t["key"] not in keys)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _default_container(c)


def defaults(kind: str, obj: Obj, creating: bool) -> None:
    """Write-time defaults: a new Pod's (default_pod); a DaemonSet's and a StatefulSet's update
    strategy and history (SetDefaults_DaemonSet/StatefulSet), which helm 3's --wait reads."""
    spec = obj.get("spec")
    if kind == "Pod":
        if creating:
            default_pod(obj)
        return
    if not isinstance(spec, dict):
        return
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    if not isinstance(strategy, dict):
        return
    strategy.setdefault("type", "RollingUpdate")
    if kind == "DaemonSet" and strategy["type"] == "RollingUpdate":
        ru = strategy.setdefault("rollingUpdate", {})
        if isinstance(ru, dict):
            ru.setdefault("maxUnavailable", 1)
            ru.setdefault("maxSurge", 0)
    if kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        if strategy["type"] == "RollingUpdate" and isinstance(strategy.setdefault("rollingUpdate", {}), dict):
            strategy["rollingUpdate"].setdefault("partition", 0)
        spec.setdefault(
            "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}
        )


# -- the kubelet's view ------------------------------------------------------------------------


def containers(pod: Obj) -> list[Obj]:
    return [c for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]


def run_to_completion(pod: Obj) -> bool:
    return (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure")


def full_image(image: str) -> str:
    """The image as containerd names it: docker.io/library/nginx:latest for `nginx`."""
    name, _, digest = image.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name}" if "/" in name else f"docker.io/library/{name}"
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def image_id(image: str) -> str:
    repo = full_image(image).split("@")[0].rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def pull_error(image: str) -> str:
    """containerd's answer for an image that does not exist (what the kubelet quotes)."""
    ref = full_image(image)
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found'
    )


def go_duration(seconds: int) -> str:
    """A whole number of seconds as Go prints a time.Duration (10s, 1m20s, 5m0s)."""
    m, s = divmod(seconds, 60)
    return f"{m}m{s}s" if m else f"{s}s"


def pod_ref(pod: Obj) -> str:
    """format.Pod: name_namespace(uid)."""
    m = _meta(pod)
    return f"{m.get('name')}_{m.get('namespace')}({m.get('uid')})"


def container_id(pod: Obj, name: str, restarts: int) -> str:
    seed = f"{_meta(pod).get('uid')}/{name}/{restarts}"
    return "containerd://" + hashlib.sha256(seed.encode()).hexdigest()


def condition(type_: str, ok: bool, ts: str, reason: str = "", message: str = "") -> Obj:
    c: Obj = {
        "type": type_,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": ts,
    }
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def pod_conditions(names: list[str], ready: bool, ts: str, done: str = "") -> list[Obj]:
    """The five conditions of a scheduled pod; `done`: PodCompleted/PodFailed for a finished one."""
    unready = done or "ContainersNotReady"
    msg = "" if done else f"containers with unready status: [{' '.join(names)}]"
    return [
        condition("PodReadyToStartContainers", not done, ts),
        condition("Initialized", True, ts, done),
        condition("Ready", ready, ts, "" if ready else unready, "" if ready else msg),
        condition("ContainersReady", ready, ts, "" if ready else unready, "" if ready else msg),
        condition("PodScheduled", True, ts),
    ]


def affinity_node(pod: Obj) -> str:
    """The node a DaemonSet pod's required node affinity names (metadata.name In [node])."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return str(f["values"][0])
    return ""


def ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def active(pod: Obj) -> bool:
    """controller.IsPodActive: not finished and not being deleted."""
    return not terminal(pod) and not _meta(pod).get("deletionTimestamp")


# -- `kubectl get pods` ---------------------------------------------------------------------------


def _pod_reason(pod: Obj) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif state.get("terminated"):
            reason = f"ExitCode:{state['terminated'].get('exitCode', 0)}"
        elif state.get("running") and cs.get("ready") and reason == "Completed":
            reason = "Running"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    n = len(containers(pod))
    return f"{sum(1 for cs in statuses if cs.get('ready'))}/{n}"


def _pod_restarts(pod: Obj) -> str:
    """RESTARTS: the count, and how long ago the last one was (`3 (12s ago)`)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    finished = [((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") for cs in statuses]
    last = max((str(f) for f in finished if f), default="")
    if not restarts or not last:
        return str(restarts)
    from .tables import age  # tables prints pods with this module's columns

    return f"{restarts} ({age(last)} ago)"


COLUMNS: list[tuple[str, str, Any]] = [
    ("Ready", "string", _pod_ready),
    ("Status", "string", _pod_reason),
    ("Restarts", "string", _pod_restarts),
]
WIDE: list[tuple[str, str, Any, int]] = [
    ("IP", "string", lambda o: (o.get("status") or {}).get("podIP") or "<none>", 1),
    ("Node", "string", lambda o: (o.get("spec") or {}).get("nodeName") or "<none>", 1),
    ("Nominated Node", "string", lambda o: "<none>", 1),
    ("Readiness Gates", "string", lambda o: "<none>", 1),
]
