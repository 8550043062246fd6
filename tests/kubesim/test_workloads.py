"""kubesim's workload controllers and kubelet: Pods as a real cluster makes and reports them.

Deployments -> ReplicaSets -> Pods (names, labels, owner references, statuses, revisions,
rolling updates), StatefulSets, DaemonSets, Jobs; failures driven by the `kubesim.dev/fail`
annotation (ImagePullBackOff, CrashLoopBackOff, a failing readiness probe) with the events a
kubelet writes; `pods/log`. Everything is read through real clients: kubectl (get, describe,
rollout status, logs, get events), the official Python client, and helm 3 and 4 `--wait`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from kubesim import KubeSim
from kubesim.pods import ALPHANUMS


def deployment(name: str = "web", replicas: int = 2, image: str = "nginx:1.27", **ann: str) -> dict[str, Any]:
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]},
    }
    if ann:
        template["metadata"]["annotations"] = {
            k.replace("_", "/", 1).replace("_", "-"): v for k, v in ann.items()
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template},
    }


def apply(kubectl: Any, obj: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump(obj))


def fail_ann(mode: str, **extra: str) -> dict[str, str]:
    return {"kubesim.dev/fail": mode, **{f"kubesim.dev/{k.replace('_', '-')}": v for k, v in extra.items()}}


def with_annotations(obj: dict[str, Any], ann: dict[str, str]) -> dict[str, Any]:
    obj["spec"]["template"]["metadata"]["annotations"] = ann
    return obj


def pods_of(kube: Any, selector: str) -> list[dict[str, Any]]:
    return kube.items("pods", "-l", selector)


def started(kube: Any, selector: str) -> list[dict[str, Any]]:
    """The pods of `selector`, once the kubelet reported every one of them (else [])."""
    pods = pods_of(kube, selector)
    return pods if pods and all((p.get("status") or {}).get("containerStatuses") for p in pods) else []


def events_of(kube: Any, name: str) -> list[dict[str, Any]]:
    return kube.items("events", "--field-selector", f"involvedObject.name={name}")


# -- Deployments ---------------------------------------------------------------------------------------


def test_deployment_makes_a_replicaset_and_pods_as_a_cluster_does(kubectl: Any, kube: Any) -> None:
    apply(kubectl, deployment())
    out = kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    assert 'deployment "web" successfully rolled out' in out

    dep = kube.get("deployment", "web")
    [rs] = kube.items("replicasets", "-l", "app=web")
    phash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{phash}" and set(phash) <= set(ALPHANUMS)
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": phash}
    [ref] = rs["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "Deployment",
        "web",
        dep["metadata"]["uid"],
        True,
    )

    pods = pods_of(kube, "app=web")
    assert len(pods) == 2
    for pod in pods:
        meta, spec, status = pod["metadata"], pod["spec"], pod["status"]
        assert meta["name"].startswith(f"web-{phash}-") and len(meta["name"]) == len(f"web-{phash}-") + 5
        assert meta["labels"] == {"app": "web", "pod-template-hash": phash}
        [ref] = meta["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("ReplicaSet", rs["metadata"]["name"], True)
        assert spec["nodeName"] == "kubesim" and spec["restartPolicy"] == "Always"
        assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
        assert spec["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
        assert status["phase"] == "Running" and status["podIP"].startswith("10.244.")
        assert {c["type"]: c["status"] for c in status["conditions"]} == {
            "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
            "ContainersReady": "True", "PodScheduled": "True",
        }  # fmt: skip
        [cs] = status["containerStatuses"]
        assert (cs["name"], cs["image"], cs["ready"], cs["started"], cs["restartCount"]) == (
            "app", "nginx:1.27", True, True, 0
        )  # fmt: skip
        assert cs["imageID"].startswith("docker.io/library/nginx@sha256:") and "running" in cs["state"]
    table = kubectl("get", "pods", "-l", "app=web")
    assert table.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert all(line.split()[1:4] == ["1/1", "Running", "0"] for line in table.splitlines()[1:])

    status = dep["status"]
    counts = ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas")
    assert [status[k] for k in counts] == [2, 2, 2, 2]
    conds = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conds == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    described = kubectl("describe", "deployment", "web")
    assert f"NewReplicaSet:   {rs['metadata']['name']} (2/2 replicas created)" in described
    assert "ScalingReplicaSet" in described and "Scaled up replica set" in described
    reasons = [(e["reason"], e["source"]["component"]) for e in events_of(kube, "web")]
    assert ("ScalingReplicaSet", "deployment-controller") in reasons
    msgs = [e["message"] for e in events_of(kube, rs["metadata"]["name"])]
    assert sorted(msgs) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    pod_events = {e["reason"]: e for e in events_of(kube, pods[0]["metadata"]["name"])}
    assert set(pod_events) == {"Scheduled", "Pulled", "Created", "Started"}
    assert pod_events["Started"]["message"] == "Started container app"
    assert pod_events["Started"]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    assert pod_events["Scheduled"]["source"]["component"] == "default-scheduler"


def test_new_template_rolls_out_a_new_replicaset_and_undo_brings_the_old_back(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    apply(kubectl, deployment(replicas=2))
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    kubectl("set", "image", "deployment/web", "app=nginx:1.28")
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")

    def by_image() -> dict[str, tuple[int, str]]:
        return {
            rs["spec"]["template"]["spec"]["containers"][0]["image"]: (
                rs["spec"]["replicas"],
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            )
            for rs in kube.items("replicasets", "-l", "app=web")
        }

    assert by_image() == {"nginx:1.27": (0, "1"), "nginx:1.28": (2, "2")}
    eventually(
        lambda: {p["spec"]["containers"][0]["image"] for p in pods_of(kube, "app=web")} == {"nginx:1.28"}
    )
    assert len(pods_of(kube, "app=web")) == 2
    scaling = [e["message"] for e in events_of(kube, "web") if e["reason"] == "ScalingReplicaSet"]
    assert any(m.startswith("Scaled down replica set web-") and m.endswith(" to 0") for m in scaling), scaling

    kubectl("rollout", "undo", "deployment/web")
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    assert by_image() == {"nginx:1.27": (2, "3"), "nginx:1.28": (0, "2")}


def test_scaling_down_deletes_pods_and_deleting_collects_replicasets_and_pods(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    apply(kubectl, deployment(replicas=3))
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    kubectl("scale", "deployment/web", "--replicas=1")
    eventually(lambda: len(pods_of(kube, "app=web")) == 1, what="two pods deleted")
    [rs] = kube.items("replicasets", "-l", "app=web")
    assert sum(e["reason"] == "SuccessfulDelete" for e in events_of(kube, rs["metadata"]["name"])) == 2
    killing = [e for e in kube.items("events", "--field-selector", "reason=Killing")]
    assert len(killing) == 2 and {e["message"] for e in killing} == {"Stopping container app"}

    kubectl("delete", "deployment", "web")
    eventually(
        lambda: not kube.items("replicasets") and not pods_of(kube, "app=web"), what="garbage collection"
    )


def test_rolling_update_to_a_failing_template_keeps_the_old_pod_serving(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    apply(kubectl, deployment(replicas=1))
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    apply(kubectl, with_annotations(deployment(replicas=1), fail_ann("ImagePullBackOff")))

    def settled() -> Any:
        st = kube.get("deployment", "web").get("status", {})
        both = (st.get("replicas"), st.get("updatedReplicas")) == (2, 1) and len(
            started(kube, "app=web")
        ) == 2
        return st if both else None

    status = eventually(settled, what="a surge pod next to the old one")
    assert status["availableReplicas"] == 1 and status["unavailableReplicas"] == 1
    pods = {p["metadata"]["labels"]["pod-template-hash"]: p for p in pods_of(kube, "app=web")}
    assert len(pods) == 2
    ready = sorted(p["status"]["containerStatuses"][0]["ready"] for p in pods.values())
    assert ready == [False, True]
    proc = kubectl.run("rollout", "status", "deployment/web", "--timeout=1s", check=False)
    assert proc.returncode != 0 and "1 old replicas are pending termination" in proc.stdout


# -- failures ---------------------------------------------------------------------------------------------


def test_image_pull_backoff_as_the_kubelet_reports_it(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    apply(
        kubectl,
        with_annotations(
            deployment(replicas=1, image="registry.example/app:9.9"), fail_ann("ImagePullBackOff")
        ),
    )

    def backing_off() -> Any:
        [pod] = started(kube, "app=web") or [None]
        waiting = (pod and pod["status"]["containerStatuses"][0]["state"].get("waiting")) or {}
        return pod if waiting.get("reason") == "ImagePullBackOff" else None

    pod = eventually(backing_off, what="ImagePullBackOff")
    name = pod["metadata"]["name"]
    assert pod["status"]["phase"] == "Pending"
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    not_found = (
        'rpc error: code = NotFound desc = failed to pull and unpack image "registry.example/app:9.9": '
        'failed to resolve reference "registry.example/app:9.9": registry.example/app:9.9: not found'
    )
    assert (
        waiting["message"] == f'Back-off pulling image "registry.example/app:9.9": ErrImagePull: {not_found}'
    )
    assert kubectl("get", "pod", name).splitlines()[1].split()[1:4] == ["0/1", "ImagePullBackOff", "0"]

    events = events_of(kube, name)
    warnings = {(e["reason"], e["message"]) for e in events if e["type"] == "Warning"}
    assert ("Failed", f'Failed to pull image "registry.example/app:9.9": {not_found}') in warnings
    assert ("Failed", "Error: ErrImagePull") in warnings and ("Failed", "Error: ImagePullBackOff") in warnings
    backoff = next(e for e in events if e["reason"] == "BackOff")
    assert (backoff["type"], backoff["message"]) == (
        "Normal",
        'Back-off pulling image "registry.example/app:9.9"',
    )
    assert all(e["source"]["component"] == "kubelet" for e in events if e["reason"] != "Scheduled")
    assert all(e["count"] >= 1 and e["firstTimestamp"] and e["lastTimestamp"] for e in events)
    described = kubectl("describe", "pod", name)
    assert "Reason:       ImagePullBackOff" in described
    assert "Back-off pulling image" in described and "Error: ErrImagePull" in described

    logs = kubectl.run("logs", name, check=False)
    assert logs.returncode != 0
    assert (
        f'container "app" in pod "{name}" is waiting to start: trying and failing to pull image'
        in logs.stderr
    )
    dep = kube.get("deployment", "web")["status"]
    assert {c["type"]: c["reason"] for c in dep["conditions"]}["Available"] == "MinimumReplicasUnavailable"


def test_crash_loop_back_off_with_a_growing_restart_count(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    ann = fail_ann("CrashLoopBackOff", exit_code="3", log="starting\\npanic: config file missing")
    apply(kubectl, with_annotations(deployment(replicas=1), ann))

    def restarted() -> Any:
        [pod] = started(kube, "app=web") or [None]
        return pod if pod and pod["status"]["containerStatuses"][0]["restartCount"] >= 3 else None

    pod = eventually(restarted, timeout=10, what="three restarts")
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    [cs] = pod["status"]["containerStatuses"]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"].endswith(
        f"restarting failed container=app pod={name}_default({uid})"
    )
    assert (
        cs["lastState"]["terminated"]["exitCode"] == 3 and cs["lastState"]["terminated"]["reason"] == "Error"
    )
    assert not cs["ready"] and pod["status"]["phase"] == "Running"
    row = kubectl("get", "pod", name).splitlines()[1]
    assert row.split()[1:3] == ["0/1", "CrashLoopBackOff"] and " ago)" in row  # RESTARTS: "3 (1s ago)"
    backoff = next(e for e in events_of(kube, name) if e["reason"] == "BackOff")
    assert backoff["type"] == "Warning" and backoff["count"] >= 2
    assert backoff["message"] == f"Back-off restarting failed container app in pod {name}_default({uid})"
    assert kubectl("logs", name, "--previous") == "starting\npanic: config file missing\n"
    assert kubectl("logs", name, "--tail=1") == "panic: config file missing\n"


def test_failing_readiness_probe_keeps_a_running_pod_unready(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    dep = with_annotations(deployment(replicas=1), fail_ann("Unready"))
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/ready", "port": 8080}
    }
    apply(kubectl, dep)
    pod = eventually(lambda: started(kube, "app=web"))[0]
    [cs] = pod["status"]["containerStatuses"]
    assert (
        pod["status"]["phase"] == "Running" and "running" in cs["state"] and not cs["ready"] and cs["started"]
    )
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [app]"
    )  # fmt: skip
    unhealthy = eventually(
        lambda: [e for e in events_of(kube, pod["metadata"]["name"]) if e["reason"] == "Unhealthy"]
    )
    assert unhealthy[0]["type"] == "Warning"
    assert unhealthy[0]["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert kubectl("logs", pod["metadata"]["name"]) == "kubesim: container app started (image nginx:1.27)\n"


def test_a_failure_annotation_on_the_workload_reaches_its_pods(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    dep = deployment(replicas=1)
    dep["metadata"]["annotations"] = {"kubesim.dev/never-ready": "true"}
    apply(kubectl, dep)
    pod = eventually(lambda: started(kube, "app=web"))[0]
    assert pod["metadata"]["annotations"]["kubesim.dev/never-ready"] == "true"
    assert pod["status"]["phase"] == "Running" and not pod["status"]["containerStatuses"][0]["ready"]


def test_progress_deadline_exceeded(kubectl: Any, kube: Any, eventually: Callable[..., Any]) -> None:
    dep = with_annotations(deployment(replicas=1), fail_ann("ImagePullBackOff"))
    dep["spec"]["progressDeadlineSeconds"] = 1
    apply(kubectl, dep)

    def progressing() -> Any:
        conds = {c["type"]: c for c in kube.get("deployment", "web").get("status", {}).get("conditions", [])}
        p = conds.get("Progressing") or {}
        return p if p.get("reason") == "ProgressDeadlineExceeded" else None

    cond = eventually(progressing, timeout=10, what="ProgressDeadlineExceeded")
    rs = kube.items("replicasets", "-l", "app=web")[0]["metadata"]["name"]
    assert (cond["status"], cond["message"]) == ("False", f'ReplicaSet "{rs}" has timed out progressing.')
    proc = kubectl.run("rollout", "status", "deployment/web", "--timeout=5s", check=False)
    assert proc.returncode != 0 and 'deployment "web" exceeded its progress deadline' in proc.stderr


# -- StatefulSets, DaemonSets, Jobs ------------------------------------------------------------------------


def test_statefulset_pods_have_ordinals_and_roll_out(kubectl: Any, kube: Any) -> None:
    sts = deployment("db", replicas=2)
    sts["kind"], sts["spec"]["serviceName"] = "StatefulSet", "db"
    apply(kubectl, sts)
    assert "partitioned roll out complete: 2 new pods have been updated" in kubectl(
        "rollout", "status", "statefulset/db", "--timeout=20s"
    )
    pods = pods_of(kube, "app=db")
    assert [p["metadata"]["name"] for p in pods] == ["db-0", "db-1"]
    labels = pods[1]["metadata"]["labels"]
    assert (
        labels["statefulset.kubernetes.io/pod-name"] == "db-1"
        and labels["apps.kubernetes.io/pod-index"] == "1"
    )
    assert pods[1]["spec"]["hostname"] == "db-1" and pods[1]["spec"]["subdomain"] == "db"
    status = kube.get("statefulset", "db")["status"]
    assert status["readyReplicas"] == 2 and status["currentRevision"] == status["updateRevision"]
    kubectl("set", "image", "statefulset/db", "app=nginx:1.28")
    kubectl("rollout", "status", "statefulset/db", "--timeout=20s")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(kube, "app=db")} == {"nginx:1.28"}


def test_daemonset_runs_one_pod_per_node(kubectl: Any, kube: Any) -> None:
    ds = deployment("agent")
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    apply(kubectl, ds)
    assert "successfully rolled out" in kubectl("rollout", "status", "daemonset/agent", "--timeout=20s")
    [pod] = pods_of(kube, "app=agent")
    assert (
        pod["spec"]["nodeName"] == "kubesim" and pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    )
    status = kube.get("daemonset", "agent")["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"], status["updatedNumberScheduled"]) == (
        1,
        1,
        1,
    )


def job(name: str, **ann: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "metadata": {"annotations": ann} if ann else {},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
            },
        },
    }


def test_job_pods_complete_or_fail_past_the_backoff_limit(kubectl: Any, kube: Any) -> None:
    apply(kubectl, job("ok"))
    apply(kubectl, job("broken", **fail_ann("true")))
    kubectl("wait", "--for=condition=complete", "job/ok", "--timeout=20s")
    kubectl("wait", "--for=condition=failed", "job/broken", "--timeout=20s")

    ok = kube.get("job", "ok")
    [pod] = kube.items("pods", "-l", "job-name=ok")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == ok["metadata"]["uid"]
    assert pod["metadata"]["labels"]["controller-uid"] == ok["metadata"]["uid"]
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert ok["status"]["succeeded"] == 1

    broken = kube.get("job", "broken")
    failed = {c["type"]: c for c in broken["status"]["conditions"]}["Failed"]
    assert (failed["reason"], failed["message"]) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    pods = kube.items("pods", "-l", "batch.kubernetes.io/job-name=broken")
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {
        "Failed"
    }  # backoffLimit 2: three tries
    assert broken["status"]["failed"] == 3
    reasons = {e["reason"] for e in events_of(kube, "broken")}
    assert {"SuccessfulCreate", "BackoffLimitExceeded"} <= reasons


# -- pods/log and the Python client -------------------------------------------------------------------------


def test_logs_through_kubectl_and_the_python_client(kubesim: KubeSim, kubectl: Any, kube: Any) -> None:
    apply(kubectl, with_annotations(deployment(replicas=1), {"kubesim.dev/log": "one\\ntwo\\nthree"}))
    kubectl("rollout", "status", "deployment/web", "--timeout=20s")
    assert kubectl("logs", "deployment/web") == "one\ntwo\nthree\n"
    assert kubectl("logs", "deployment/web", "--tail=2") == "two\nthree\n"
    name = pods_of(kube, "app=web")[0]["metadata"]["name"]
    proc = kubectl.run("logs", name, "--previous", check=False)
    assert (
        proc.returncode != 0
        and f'previous terminated container "app" in pod "{name}" not found' in proc.stderr
    )
    proc = kubectl.run("logs", name, "-c", "nope", check=False)
    assert f"container nope is not valid for pod {name}" in proc.stderr

    api = config.new_client_from_config(config_file=str(kubesim.kubeconfig_path))
    try:
        v1 = client.CoreV1Api(api)
        assert v1.read_namespaced_pod_log(name, "default", container="app", tail_lines=1) == "three\n"
        pods = v1.list_namespaced_pod("default", label_selector="app=web").items
        assert [p.status.container_statuses[0].ready for p in pods] == [True]
    finally:
        api.close()
    discovery = json.loads(kubectl("get", "--raw", "/api/v1"))
    assert {
        "name": "pods/log",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get"],
    } in discovery["resources"]


def test_pods_can_be_switched_off(tmp_path: Path) -> None:
    sim = KubeSim(pods=False)
    sim.start()
    try:
        rt, pod_rt = sim.registry.by_kind("apps/v1", "Deployment"), sim.registry.by_kind("v1", "Pod")
        assert rt is not None and pod_rt is not None
        sim.call(lambda: sim.store.create(rt, "default", deployment()))
        import time

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            dep = sim.call(lambda: sim.store.get(rt, "default", "web"))
            if (dep.get("status") or {}).get("availableReplicas") == 2:
                break
            time.sleep(0.05)
        assert dep["status"]["availableReplicas"] == 2
        assert sim.call(lambda: sim.store.list(pod_rt, "default")) == []
    finally:
        sim.stop()


# -- helm --wait ---------------------------------------------------------------------------------------------


@pytest.fixture
def chart(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "app"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    (root / "values.yaml").write_text("fail: ''\nreplicas: 2\n")
    dep = deployment("{{ .Release.Name }}", replicas=0)
    text = yaml.safe_dump(dep).replace("replicas: 0", "replicas: {{ .Values.replicas }}")
    text = text.replace(
        "      labels:\n",
        "      annotations:\n        kubesim.dev/fail: {{ .Values.fail | quote }}\n      labels:\n",
    )
    (root / "templates" / "deployment.yaml").write_text(text)
    yield str(root)


def test_helm_wait_sees_healthy_pods_ready_and_image_pull_backoff_never(
    helm: Any, kube: Any, chart: str
) -> None:
    out = helm("install", "good", chart, "--wait", "--timeout", "30s")
    assert "STATUS: deployed" in out
    assert kube.get("deployment", "good")["status"]["availableReplicas"] == 2

    proc = helm.run(
        "install", "bad", chart, "--set", "fail=ImagePullBackOff", "--wait", "--timeout", "3s", check=False
    )
    assert proc.returncode != 0, proc.stdout
    assert "deadline exceeded" in proc.stderr or "timed out" in proc.stderr, proc.stderr
    status = json.loads(helm("status", "bad", "-o", "json"))
    assert status["info"]["status"] == "failed"
    [pod] = kube.items("pods", "-l", "app=bad")[:1] or [None]
    assert pod and pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] in (
        "ErrImagePull", "ImagePullBackOff"
    )  # fmt: skip


def test_helm_test_logs_come_from_the_test_pod(helm: Any) -> None:
    webapp = str(Path(__file__).resolve().parent.parent / "charts" / "webapp")
    helm("install", "web", webapp, "--wait", "--timeout", "30s")
    out = helm("test", "web", "--logs")
    assert "Phase:          Succeeded" in out or "Phase: Succeeded" in out.replace("  ", " "), out
    assert "POD LOGS: web-test" in out and "kubesim: container curl started (image curlimages/curl)" in out

    proc = helm.run("upgrade", "web", webapp, "--set", "failTests=true", check=False)
    assert proc.returncode == 0, proc.stderr
    failed = helm.run("test", "web", "--logs", check=False)
    assert failed.returncode != 0 and "web-test" in failed.stderr + failed.stdout
