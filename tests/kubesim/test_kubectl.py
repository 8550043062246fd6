"""kubesim conformance, driven by the real kubectl (v1.37).

Client-side apply (strategic merge patch against last-applied-configuration) and
server-side apply, including removals on re-apply; label and field selectors;
`get -w`; the three patch types; the status subresource of a custom resource;
finalizers; namespace deletion; and server-side printing of a CRD's
additionalPrinterColumns.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

WIDGET_CRD = Path(__file__).resolve().parent.parent / "charts" / "demo" / "crds" / "widgets.yaml"


def deployment(
    image: str, ports: list[int], env: dict[str, str], labels: dict[str, str] | None = None
) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", **(labels or {})}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": image,
                                "ports": [{"containerPort": p} for p in ports],
                                "env": [{"name": k, "value": v} for k, v in env.items()],
                            }
                        ]
                    },
                },
            },
        }
    )


def container(dep: dict[str, Any]) -> dict[str, Any]:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def apply(kubectl: Any, manifest: str, *flags: str) -> str:
    return kubectl("apply", "-f", "-", *flags, input=manifest)


def install_widget_crd(kubectl: Any, printer_columns: list[dict[str, Any]] | None = None) -> None:
    crd = yaml.safe_load(WIDGET_CRD.read_text())
    if printer_columns is not None:
        crd["spec"]["versions"][0]["additionalPrinterColumns"] = printer_columns
    apply(kubectl, yaml.safe_dump(crd))
    kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")


def widget(name: str, size: int) -> str:
    return yaml.safe_dump(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": {"size": size}}
    )


# -- apply ------------------------------------------------------------------------------------------


def test_client_side_apply_twice_removes_dropped_port_and_env(kubectl: Any, kube: Any, kubesim: Any) -> None:
    out = apply(kubectl, deployment("nginx:1.27", [80, 443], {"A": "1", "B": "2"}))
    assert "deployment.apps/web created" in out
    first = kube.get("deployment", "web")
    assert "kubectl.kubernetes.io/last-applied-configuration" in first["metadata"]["annotations"]

    out = apply(kubectl, deployment("nginx:1.28", [80], {"A": "1"}))
    assert "deployment.apps/web configured" in out
    dep = kube.get("deployment", "web")
    c = container(dep)
    assert c["image"] == "nginx:1.28"
    assert [p["containerPort"] for p in c["ports"]] == [80]
    assert c["env"] == [{"name": "A", "value": "1"}]
    assert dep["metadata"]["generation"] == 2
    assert dep["metadata"]["uid"] == first["metadata"]["uid"]
    # The second apply was a strategic merge patch computed by kubectl.
    assert any(
        e.verb == "patch" and e.content_type.startswith("application/strategic-merge-patch+json")
        for e in kubesim.requests.entries()
    )

    out = apply(kubectl, deployment("nginx:1.28", [80], {"A": "1"}))
    assert "deployment.apps/web unchanged" in out


def test_server_side_apply_twice_removes_dropped_fields(kubectl: Any, kube: Any, kubesim: Any) -> None:
    out = apply(
        kubectl, deployment("nginx:1.27", [80, 443], {"A": "1", "B": "2"}, {"tier": "front"}), "--server-side"
    )
    assert "deployment.apps/web serverside-applied" in out
    out = apply(kubectl, deployment("nginx:1.27", [80], {"A": "1"}), "--server-side")
    assert "deployment.apps/web serverside-applied" in out

    dep = kube.get("deployment", "web", "--show-managed-fields")
    assert "tier" not in dep["metadata"]["labels"]
    c = container(dep)
    assert [p["containerPort"] for p in c["ports"]] == [80]
    assert c["env"] == [{"name": "A", "value": "1"}]
    managers = {(m["manager"], m["operation"]) for m in dep["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert kubesim.requests.count(verb="patch", resource="deployments.apps", name="web") == 2
    assert all(
        e.content_type.startswith("application/apply-patch+yaml")
        for e in kubesim.requests.entries()
        if e.verb == "patch"
    )


# -- reads --------------------------------------------------------------------------------------------


def test_get_with_label_and_field_selectors(kubectl: Any, kube: Any) -> None:
    for name, tier in (("a", "front"), ("b", "back"), ("c", "front")):
        kubectl("create", "configmap", name, "--from-literal=k=v")
        kubectl("label", "configmap", name, f"tier={tier}")
    assert kube.names("configmaps", "-l", "tier=front") == ["a", "c"]
    assert kube.names("configmaps", "-l", "tier!=front,tier") == ["b"]
    assert kube.names("configmaps", "-l", "tier in (back,middle)") == ["b"]
    assert kube.names("configmaps", "--field-selector", "metadata.name=b") == ["b"]
    assert kube.names("configmaps", "--field-selector", "metadata.name!=b", "-l", "tier") == ["a", "c"]
    out = kubectl("get", "configmaps", "-l", "tier=front", "-o", "name")
    assert out.split() == ["configmap/a", "configmap/c"]
    proc = kubectl.run("get", "configmaps", "-l", "tier=nothing", check=False)
    assert proc.returncode == 0 and "No resources found in default namespace." in proc.stderr


class Watch:
    """`kubectl get ... -w` running in the background; its output lines, whitespace-normalised."""

    def __init__(self, kubectl: Any, *args: str) -> None:
        self.proc = subprocess.Popen(
            [kubectl.binary, "get", *args, "-w", "--request-timeout", "10s"],
            env=kubectl.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(" ".join(line.split()))

    def saw(self, text: str) -> Callable[[], bool]:
        def check() -> bool:
            while not self._queue.empty():
                self.lines.append(self._queue.get())
            return any(line.startswith(text) for line in self.lines)

        return check

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def test_get_watch_prints_changes(kubectl: Any, eventually: Callable[..., Any]) -> None:
    kubectl("create", "configmap", "before", "--from-literal=k=v")
    w = Watch(kubectl, "configmaps", "-o", "custom-columns=NAME:.metadata.name,K:.data.k")
    try:
        eventually(w.saw("before v"), timeout=10, what="the initial listing")
        kubectl("create", "configmap", "during", "--from-literal=k=one")
        eventually(w.saw("during one"), timeout=10, what="the ADDED event")
        kubectl("patch", "configmap", "during", "--type", "merge", "-p", '{"data":{"k":"two"}}')
        eventually(w.saw("during two"), timeout=10, what="the MODIFIED event")
    finally:
        w.stop()
    assert w.lines[0].split() == ["NAME", "K"]


def test_get_watch_prints_server_side_columns(kubectl: Any, eventually: Callable[..., Any]) -> None:
    """Default printing during a watch uses the server's Table, with the same columns as the listing."""
    kubectl("create", "configmap", "c1")
    w = Watch(kubectl, "configmaps", "--output-watch-events")
    try:
        eventually(w.saw("ADDED c1 0"), timeout=10, what="the initial listing")
        kubectl("create", "configmap", "c2", "--from-literal=a=1", "--from-literal=b=2")
        eventually(w.saw("ADDED c2 2"), timeout=10, what="the ADDED event as a table row")
        kubectl("delete", "configmap", "c1")
        eventually(w.saw("DELETED c1 0"), timeout=10, what="the DELETED event as a table row")
    finally:
        w.stop()
    assert w.lines[0].split() == ["EVENT", "NAME", "DATA", "AGE"]
    assert [line for line in w.lines if line.startswith("EVENT")] == [w.lines[0]], "one header only"


def test_get_in_chunks(kubectl: Any, kubesim: Any) -> None:
    for i in range(5):
        kubectl("create", "configmap", f"c{i}")
    for output in (["-o", "name"], []):
        since = time.time()
        out = kubectl("get", "configmaps", "--chunk-size=2", *output)
        names = [
            line.split()[0].removeprefix("configmap/") for line in out.splitlines() if "NAME" not in line
        ]
        assert names == [*(f"c{i}" for i in range(5)), "kube-root-ca.crt"], out  # 6 items: 3 pages
        lists = [
            e for e in kubesim.requests.entries(since) if e.verb == "list" and e.resource == "configmaps"
        ]
        assert len(lists) == 3, [e.query for e in lists]
        assert sum("continue=" in e.query for e in lists) == 2


def test_invalid_names_and_labels_are_rejected(kubectl: Any, kube: Any) -> None:
    proc = kubectl.run("create", "configmap", "Bad_Name", check=False)
    assert proc.returncode != 0
    assert (
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 '
        "subdomain must consist of" in proc.stderr
    )
    long_value = "x" * 64
    proc = kubectl.run(
        "apply",
        "-f",
        "-",
        check=False,
        input=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok", "labels": {"a": long_value}}}
        ),
    )
    assert proc.returncode != 0
    assert (
        f'The ConfigMap "ok" is invalid: metadata.labels: Invalid value: "{long_value}": must be no more '
        "than 63 bytes" in proc.stderr
    )
    proc = kubectl.run("create", "namespace", "a.b", check=False)
    assert proc.returncode != 0 and "a lowercase RFC 1123 label must consist of" in proc.stderr
    assert kube.names("configmaps") == ["kube-root-ca.crt"]  # only what every namespace has
    kubectl("create", "configmap", "fine")
    proc = kubectl.run(
        "patch",
        "configmap",
        "fine",
        "-p",
        json.dumps({"metadata": {"labels": {"a": long_value}}}),
        check=False,
    )
    assert proc.returncode != 0 and "must be no more than 63 bytes" in proc.stderr
    assert "a" not in (kube.get("configmap", "fine")["metadata"].get("labels") or {})


# -- patches -------------------------------------------------------------------------------------------


def test_patch_strategic_merge_and_json(kubectl: Any, kube: Any) -> None:
    apply(kubectl, deployment("nginx:1.27", [80], {"A": "1", "B": "2"}))

    kubectl(
        "patch",
        "deployment",
        "web",
        "--type",
        "strategic",
        "-p",
        json.dumps(
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "env": [{"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
                                }
                            ]
                        }
                    }
                }
            }
        ),
    )
    c = container(kube.get("deployment", "web"))
    assert {e["name"]: e["value"] for e in c["env"]} == {"B": "2", "C": "3"}
    assert c["image"] == "nginx:1.27"  # merged by name, not replaced

    kubectl(
        "patch",
        "deployment",
        "web",
        "--type",
        "merge",
        "-p",
        json.dumps({"metadata": {"labels": {"app": None, "x": "y"}}, "spec": {"replicas": 3}}),
    )
    dep = kube.get("deployment", "web")
    assert dep["metadata"]["labels"] == {"x": "y"}
    assert dep["spec"]["replicas"] == 3

    kubectl(
        "patch",
        "deployment",
        "web",
        "--type",
        "json",
        "-p",
        json.dumps(
            [
                {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.29"},
                {"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}},
                {"op": "remove", "path": "/spec/template/spec/containers/0/ports"},
            ]
        ),
    )
    dep = kube.get("deployment", "web")
    assert container(dep)["image"] == "nginx:1.29"
    assert "ports" not in container(dep)
    assert dep["metadata"]["annotations"]["note"] == "hi"
    assert dep["metadata"]["generation"] == 4  # env, replicas, image/ports: three spec changes

    proc = kubectl.run(
        "patch",
        "deployment",
        "web",
        "--type",
        "json",
        "-p",
        json.dumps([{"op": "test", "path": "/spec/replicas", "value": 7}]),
        check=False,
    )
    assert proc.returncode != 0 and "test failed" in proc.stderr
    after = kube.get("deployment", "web")
    assert (after["spec"], after["metadata"]["generation"]) == (dep["spec"], 4)  # nothing written


def test_patch_status_subresource_of_custom_resource(kubectl: Any, kube: Any) -> None:
    install_widget_crd(kubectl)
    apply(kubectl, widget("w", 1))
    created = kube.get("widget", "w")
    assert created["metadata"]["generation"] == 1 and "status" not in created

    kubectl(
        "patch",
        "widget",
        "w",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        '{"status": {"phase": "Ready"}, "spec": {"size": 99}}',
    )
    w = kube.get("widget", "w")
    assert w["status"] == {"phase": "Ready"}
    assert w["spec"] == {"size": 1}, "a status write must ignore spec"
    assert w["metadata"]["generation"] == 1
    assert int(w["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    kubectl(
        "patch", "widget", "w", "--type", "merge", "-p", '{"spec": {"size": 2}, "status": {"phase": "X"}}'
    )
    w = kube.get("widget", "w")
    assert w["spec"] == {"size": 2}
    assert w["status"] == {"phase": "Ready"}, "a main-resource write must ignore status"
    assert w["metadata"]["generation"] == 2


def test_client_side_apply_and_annotate_custom_resource(kubectl: Any, kube: Any, kubesim: Any) -> None:
    """Custom resources take JSON merge patches: removals become nulls computed from last-applied."""
    install_widget_crd(kubectl)
    cr = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"tier": "front"}},
        "spec": {"size": 1, "color": "red"},
    }
    apply(kubectl, yaml.safe_dump(cr))
    cr["metadata"].pop("labels")
    cr["spec"] = {"size": 2}
    assert "widget.example.com/w configured" in apply(kubectl, yaml.safe_dump(cr))
    w = kube.get("widget", "w")
    assert w["spec"] == {"size": 2}
    assert "tier" not in (w["metadata"].get("labels") or {})
    assert w["metadata"]["generation"] == 2

    kubectl("annotate", "widget", "w", "helmrelease.dev/suspend=true")
    assert kube.get("widget", "w")["metadata"]["annotations"]["helmrelease.dev/suspend"] == "true"
    kubectl("annotate", "widget", "w", "helmrelease.dev/suspend-")
    w = kube.get("widget", "w")
    assert "helmrelease.dev/suspend" not in w["metadata"]["annotations"]
    assert w["metadata"]["generation"] == 2, "metadata changes do not bump the generation"
    patches = [e.content_type for e in kubesim.requests.entries() if e.verb == "patch"]
    assert patches and all(c.startswith("application/merge-patch+json") for c in patches)


def test_scale_deployment_and_custom_resource(kubectl: Any, kube: Any) -> None:
    apply(kubectl, deployment("nginx:1.27", [80], {"A": "1"}))
    out = kubectl("scale", "deployment", "web", "--replicas=3")
    assert "deployment.apps/web scaled" in out
    dep = kube.get("deployment", "web")
    assert dep["spec"]["replicas"] == 3
    assert container(dep)["image"] == "nginx:1.27", "scaling must not touch the template"
    assert dep["metadata"]["generation"] == 2
    proc = kubectl.run("scale", "deployment", "web", "--current-replicas=2", "--replicas=5", check=False)
    assert proc.returncode != 0 and "Expected replicas to be 2, was 3" in proc.stderr
    kubectl("rollout", "status", "deployment", "web", "--timeout=10s")
    assert kube.get("deployment", "web")["status"]["readyReplicas"] == 3

    crd = yaml.safe_load(WIDGET_CRD.read_text())
    crd["spec"]["versions"][0]["subresources"]["scale"] = {
        "specReplicasPath": ".spec.size",
        "statusReplicasPath": ".status.size",
    }
    apply(kubectl, yaml.safe_dump(crd))
    kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=10s")
    apply(kubectl, widget("w", 1))
    assert "widget.example.com/w scaled" in kubectl("scale", "widget", "w", "--replicas=4")
    w = kube.get("widget", "w")
    assert w["spec"] == {"size": 4}


def test_rollout_status_history_and_undo(kubectl: Any, kube: Any, eventually: Callable[..., Any]) -> None:
    apply(kubectl, deployment("nginx:1.27", [80], {}))
    kubectl("rollout", "status", "deployment", "web", "--timeout=10s")
    apply(kubectl, deployment("nginx:1.28", [80], {}))
    out = kubectl("rollout", "status", "deployment", "web", "--timeout=10s")
    assert 'deployment "web" successfully rolled out' in out

    def revisions() -> list[str]:
        lines = kubectl("rollout", "history", "deployment", "web").splitlines()
        return [line.split()[0] for line in lines[2:] if line.strip()]

    assert revisions() == ["1", "2"]
    assert "rolled back" in kubectl("rollout", "undo", "deployment", "web")
    assert container(kube.get("deployment", "web"))["image"] == "nginx:1.27"
    eventually(lambda: revisions() == ["2", "3"], what="revision 1 to come back as revision 3")
    dep = kube.get("deployment", "web")
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    replicas = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["spec"]["replicas"]
        for rs in kube.items("replicasets")
    }
    assert replicas == {"nginx:1.27": 1, "nginx:1.28": 0}


def test_rollout_status_times_out_on_never_ready(kubectl: Any) -> None:
    manifest = yaml.safe_load(deployment("nginx:1.27", [80], {}))
    manifest["spec"]["template"]["metadata"]["annotations"] = {"kubesim.dev/never-ready": "true"}
    apply(kubectl, yaml.safe_dump(manifest))
    proc = kubectl.run("rollout", "status", "deployment", "web", "--timeout=1s", check=False)
    assert proc.returncode != 0
    assert (
        'Waiting for deployment "web" rollout to finish: 0 of 1 updated replicas are available' in proc.stdout
    )
    assert "timed out waiting for the condition" in proc.stderr


# -- deletion -------------------------------------------------------------------------------------------


def test_delete_waits_for_finalizer(kubectl: Any, kube: Any) -> None:
    kubectl("create", "configmap", "held", "--from-literal=k=v")
    kubectl(
        "patch",
        "configmap",
        "held",
        "--type",
        "merge",
        "-p",
        '{"metadata": {"finalizers": ["example.com/hold"]}}',
    )
    out = kubectl("delete", "configmap", "held", "--wait=false")
    assert 'configmap "held" deleted' in out

    held = kube.get("configmap", "held")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    proc = kubectl.run(
        "patch",
        "configmap",
        "held",
        "--type",
        "json",
        "-p",
        '[{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/more"}]',
        check=False,
    )
    assert proc.returncode != 0 and "no new finalizers" in proc.stderr

    kubectl(
        "patch",
        "configmap",
        "held",
        "--type",
        "json",
        "-p",
        '[{"op": "remove", "path": "/metadata/finalizers"}]',
    )
    assert kube.absent("configmap", "held")


def test_delete_with_wait_returns_once_finalizer_is_removed(kubectl: Any, kube: Any) -> None:
    kubectl("create", "configmap", "held", "--from-literal=k=v")
    kubectl("patch", "configmap", "held", "--type", "merge", "-p", '{"metadata": {"finalizers": ["x.io/y"]}}')
    proc = kubectl.run("delete", "configmap", "held", "--timeout=1s", check=False)
    assert proc.returncode != 0, "kubectl delete waits for the object to be gone"
    assert "timed out" in proc.stderr
    kubectl("patch", "configmap", "held", "--type", "merge", "-p", '{"metadata": {"finalizers": null}}')
    assert kube.absent("configmap", "held")


def test_namespace_deletion_cascades(kubectl: Any, kube: Any) -> None:
    kubectl("create", "namespace", "doomed")
    kubectl("create", "configmap", "c", "-n", "doomed", "--from-literal=k=v")
    apply(kubectl, deployment("nginx", [80], {}), "-n", "doomed")
    kubectl("create", "namespace", "keep")
    kubectl("create", "configmap", "c", "-n", "keep", "--from-literal=k=v")
    assert kube.names("replicasets", "-n", "doomed") != []

    out = kubectl("delete", "namespace", "doomed", "--timeout=20s")
    assert 'namespace "doomed" deleted' in out
    assert kube.absent("namespace", "doomed")
    for kind in ("configmaps", "deployments", "replicasets"):
        assert kube.items(kind, "-n", "doomed") == [], kind
    assert kube.names("configmaps", "-n", "keep") == ["c", "kube-root-ca.crt"]
    proc = kubectl.run("create", "configmap", "late", "-n", "doomed", check=False)
    assert proc.returncode != 0 and 'namespaces "doomed" not found' in proc.stderr


def test_create_deployment_imperatively(kubectl: Any, kube: Any) -> None:
    """`kubectl create deployment` sends an apps/v1 Deployment as a protobuf body."""
    out = kubectl("create", "deployment", "d", "--image=nginx:1.27", "--replicas=2")
    assert "deployment.apps/d created" in out
    dep = kube.get("deployment", "d")
    assert dep["spec"]["replicas"] == 2
    assert container(dep)["image"] == "nginx:1.27"
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "d"}}


def test_namespace_waits_for_finalized_content(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "namespace", "t")
    kubectl("create", "configmap", "held", "-n", "t")
    kubectl("patch", "configmap", "held", "-n", "t", "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
    kubectl("delete", "namespace", "t", "--wait=false")

    eventually(lambda: kube.get("namespace", "t")["status"]["phase"] == "Terminating", what="Terminating")
    assert kube.get("configmap", "held", "-n", "t")["metadata"]["deletionTimestamp"]
    proc = kubectl.run("create", "configmap", "new", "-n", "t", check=False)
    assert proc.returncode != 0
    assert (
        'configmaps "new" is forbidden: unable to create new content in namespace t because it is being '
        "terminated" in proc.stderr
    )
    assert kube.get("namespace", "t")["status"]["phase"] == "Terminating"

    kubectl(
        "patch",
        "configmap",
        "held",
        "-n",
        "t",
        "--type",
        "json",
        "-p",
        '[{"op": "remove", "path": "/metadata/finalizers"}]',
    )
    eventually(lambda: kube.absent("namespace", "t"), what="the namespace to go")


# -- printing -------------------------------------------------------------------------------------------


def test_crd_printer_columns(kubectl: Any) -> None:
    install_widget_crd(
        kubectl,
        [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )
    apply(kubectl, widget("small", 3))
    apply(kubectl, widget("large", 12))
    kubectl(
        "patch",
        "widget",
        "large",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        '{"status":{"phase":"Ready"}}',
    )

    rows = [line.split() for line in kubectl("get", "wd").splitlines()]
    assert rows[0] == ["NAME", "SIZE", "PHASE", "AGE"]
    by_name = {r[0]: r[1:] for r in rows[1:]}
    assert by_name["large"][:2] == ["12", "Ready"]
    assert by_name["small"][0] == "3" and len(by_name["small"]) == 2  # no phase yet: an empty cell
    assert by_name["small"][1].endswith("s")


def test_events_are_listed_and_described(kubectl: Any, kube: Any) -> None:
    kubectl("create", "configmap", "c")
    uid = kube.get("configmap", "c")["metadata"]["uid"]
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "c.1", "namespace": "default"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "c",
            "namespace": "default",
            "uid": uid,
        },
        "reason": "UpgradeFailed",
        "message": "timed out waiting for Deployment/web",
        "type": "Warning",
        "source": {"component": "helmrelease-controller"},
        "count": 2,
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    kubectl("create", "-f", "-", input=json.dumps(event))

    header, row = (line.split() for line in kubectl("get", "events").splitlines())
    assert header == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert row[1:] == [
        "Warning",
        "UpgradeFailed",
        "configmap/c",
        *["timed", "out", "waiting", "for", "Deployment/web"],
    ]
    wide = kubectl("get", "events", "-o", "wide").splitlines()[0]
    assert "SOURCE" in wide and "COUNT" in wide

    described = kubectl("describe", "configmap", "c")
    events = described[described.index("Events:") :]
    assert "UpgradeFailed" in events and "timed out waiting for Deployment/web" in events
    assert "helmrelease-controller" in events


def test_discovery_and_openapi_follow_crds_coming_and_going(kubectl: Any, kubesim: Any) -> None:
    # kubesim serves these documents from a cache per registry generation: it must not go stale.
    assert "widgets" not in kubectl("api-resources", "--api-group=example.com")
    install_widget_crd(kubectl)
    assert "widgets" in kubectl("api-resources", "--api-group=example.com")
    explained = kubectl("explain", "widget")  # OpenAPI v3, fetched afresh by each kubectl
    assert "KIND:       Widget" in explained
    kubectl("delete", "crd", "widgets.example.com", "--wait=true", "--timeout=10s")
    assert "widgets" not in kubectl("api-resources", "--api-group=example.com")
    gone = kubectl.run("explain", "widget", check=False)
    assert gone.returncode != 0


def test_apply_body_in_yaml_proper_and_in_json(kubectl: Any, kube: Any) -> None:
    # Server-side apply bodies are sent as application/apply-patch+yaml; kubesim reads JSON content
    # with json and anything else (flow or block YAML) with PyYAML.
    apply(kubectl, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow}\ndata: {k: v}\n", "--server-side")
    assert kube.get("configmap", "flow")["data"] == {"k": "v"}
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"json"},"data":{"k":"w"}}'
    apply(kubectl, body, "--server-side")
    assert kube.get("configmap", "json")["data"] == {"k": "w"}


def test_replace_of_a_service_keeps_its_allocated_cluster_ip_and_node_ports(kubectl: Any, kube: Any) -> None:
    """`kubectl replace` (and helm 3's --force) sends the manifest without what the server allocated;
    a real server keeps the clusterIP and nodePorts (patchAllocatedValues)."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    kubectl("create", "-f", "-", input=yaml.safe_dump(svc))
    first = kube.get("service", "web")
    ip, node_port = first["spec"]["clusterIP"], first["spec"]["ports"][0]["nodePort"]
    assert ip and node_port
    svc["metadata"]["labels"] = {"replaced": "yes"}
    kubectl("replace", "-f", "-", input=yaml.safe_dump(svc))
    after = kube.get("service", "web")
    assert after["metadata"]["labels"] == {"replaced": "yes"}
    assert after["spec"]["clusterIP"] == ip and after["spec"]["clusterIPs"] == [ip]
    assert after["spec"]["ports"][0]["nodePort"] == node_port
