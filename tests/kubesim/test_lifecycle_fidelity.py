"""kubesim conformance: object lifecycles as a real cluster runs them (issue 14).

Deletion propagation (Foreground keeps the owner with the `foregroundDeletion`
finalizer until its blocking dependents are gone; Orphan strips ownerReferences),
the garbage collection of dependents whose owner does not exist, the load-balancer
controller that lets `helm --wait` finish on a LoadBalancer Service, the cluster
furniture every namespace has, and field selectors limited to the fields the real
server supports. Everything is observed through the real kubectl and helm.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim.selectors import SelectorError, parse_field_selector, supported_fields

LB_CHART = str(Path(__file__).resolve().parent.parent / "charts" / "loadbalancer")


def apply(kubectl: Any, *docs: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def configmap(name: str, ns: str = "default", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, **meta}}


def owner_ref(obj: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def events(kube: Any, reason: str, ns: str = "default") -> list[dict[str, Any]]:
    return [e for e in kube.items("events", "-n", ns) if e.get("reason") == reason]


# -- deletion propagation -----------------------------------------------------------------------------
def test_foreground_deletion_keeps_owner_until_blocking_dependents_are_gone(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "configmap", "owner")
    owner = kube.get("configmap", "owner")
    held = configmap("held", ownerReferences=[owner_ref(owner, block=True)], finalizers=["example.com/hold"])
    apply(kubectl, held, configmap("loose", ownerReferences=[owner_ref(owner)]))

    out = kubectl("delete", "configmap", "owner", "--cascade=foreground", "--wait=false")
    assert 'configmap "owner" deleted' in out
    # The dependents are deleted first; the blocking one is held by its own finalizer ...
    eventually(lambda: kube.absent("configmap", "loose"), what="the non-blocking dependent deleted")
    eventually(
        lambda: kube.get("configmap", "held")["metadata"].get("deletionTimestamp"),
        what="the blocking dependent being deleted",
    )
    # ... and meanwhile the owner stays, marked, with the foregroundDeletion finalizer.
    meta = kube.get("configmap", "owner")["metadata"]
    assert meta["deletionTimestamp"] and meta["finalizers"] == ["foregroundDeletion"]

    kubectl("patch", "configmap", "held", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
    eventually(lambda: kube.absent("configmap", "owner"), what="the owner gone after its dependents")


def test_foreground_deletion_of_a_deployment_takes_replicasets_first(kubectl: Any, kube: Any) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27")
    assert kube.names("replicasets") != []
    # kubectl waits until the Deployment itself is gone: by then its ReplicaSets are too.
    out = kubectl("delete", "deployment", "web", "--cascade=foreground", "--timeout=20s")
    assert 'deployment.apps "web" deleted' in out
    assert kube.names("replicasets") == []


def test_orphan_deletion_strips_owner_references(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "configmap", "owner")
    owner = kube.get("configmap", "owner")
    apply(kubectl, configmap("dep", ownerReferences=[owner_ref(owner, block=True)]))
    kubectl("delete", "configmap", "owner", "--cascade=orphan", "--timeout=20s")
    assert kube.absent("configmap", "owner")
    assert "ownerReferences" not in kube.get("configmap", "dep")["metadata"]


def test_unknown_propagation_policy_is_invalid(kubectl: Any, kube: Any) -> None:
    kubectl("create", "configmap", "c")
    proc = kubectl.run(
        "delete", "--raw", "/api/v1/namespaces/default/configmaps/c?propagationPolicy=Sometimes", check=False
    )
    assert proc.returncode != 0
    assert (
        # kubectl renders the 422's details (kind DeleteOptions, one cause) as the real server's.
        'The DeleteOptions "" is invalid: propagationPolicy: Unsupported value: "Sometimes": '
        'supported values: "Foreground", "Background", "Orphan", "nil"' in proc.stderr
    ), proc.stderr
    assert kube.get("configmap", "c")["metadata"].get("deletionTimestamp") is None


# -- dependents of owners that do not exist ----------------------------------------------------------------
def test_dependent_of_an_owner_that_never_existed_is_collected(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    apply(kubectl, configmap("orphaned", ownerReferences=[ghost]))
    eventually(
        lambda: kube.absent("configmap", "orphaned"), what="the dependent of a missing owner collected"
    )


def test_dependent_with_a_live_owner_only_loses_the_dangling_reference(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "configmap", "alive")
    alive = owner_ref(kube.get("configmap", "alive"))
    # Same name as a live owner, another uid: that owner is not this one.
    stale = {**alive, "uid": str(uuid.uuid4())}
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    apply(
        kubectl,
        configmap("shared", ownerReferences=[alive, ghost]),
        configmap("stale", ownerReferences=[stale]),
    )
    eventually(
        lambda: kube.get("configmap", "shared")["metadata"].get("ownerReferences") == [alive],
        what="the dangling reference dropped",
    )
    eventually(lambda: kube.absent("configmap", "stale"), what="the dependent of a replaced owner collected")


def test_owner_in_another_namespace_is_absent_and_reported(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "namespace", "other")
    kubectl("create", "configmap", "owner", "-n", "other")
    ref = owner_ref(kube.get("configmap", "owner", "-n", "other"))
    apply(kubectl, configmap("cross", ownerReferences=[ref]))
    eventually(lambda: kube.absent("configmap", "cross"), what="the cross-namespace dependent collected")
    [event] = eventually(lambda: events(kube, "OwnerRefInvalidNamespace"), what="the warning event")
    assert event["type"] == "Warning" and event["involvedObject"]["name"] == "cross"
    assert event["message"] == (
        f"ownerRef [v1/ConfigMap, namespace: default, name: owner, uid: {ref['uid']}] "
        'does not exist in namespace "default"'
    )


def test_cluster_scoped_dependent_of_a_namespaced_kind_is_never_collected(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "configmap", "owner")
    ref = owner_ref(kube.get("configmap", "owner"))
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "owned-by-a-configmap", "ownerReferences": [ref]},
        "rules": [],
    }
    apply(kubectl, role)
    # The collector decided (and reported why) ...
    [event] = eventually(lambda: events(kube, "OwnerRefInvalidNamespace"), what="the warning event")
    assert event["involvedObject"]["kind"] == "ClusterRole"
    # ... and the unresolvable reference keeps the object, even when the owner goes.
    kubectl("delete", "configmap", "owner")
    assert kube.get("clusterrole", "owned-by-a-configmap")["metadata"]["ownerReferences"] == [ref]


# -- load balancers -------------------------------------------------------------------------------------
def test_helm_wait_finishes_once_the_load_balancer_has_an_address(helm: Any, kube: Any, kubectl: Any) -> None:
    out = helm("install", "lb", LB_CHART, "--wait", "--timeout", "30s")
    assert "STATUS: deployed" in out
    [ingress] = kube.get("service", "lb-lb")["status"]["loadBalancer"]["ingress"]
    assert ingress["ip"].startswith("172.18.255.") and ingress["ipMode"] == "VIP"
    assert ingress["ip"] in kubectl("get", "service", "lb-lb")  # the EXTERNAL-IP column


def test_helm_wait_on_a_pending_load_balancer(helm: Any, kube: Any, kubectl: Any) -> None:
    """helm 3's --wait needs the address; helm 4's (kstatus) only a clusterIP, so it does not wait."""
    proc = helm.run(
        "install", "lb", LB_CHART, "--set", "pending=true", "--wait", "--timeout", "3s", check=False
    )
    if helm.major == 3:
        assert proc.returncode != 0
        assert "context deadline exceeded" in proc.stderr or "timed out" in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 0 and "STATUS: deployed" in proc.stdout, proc.stderr
    svc = kube.get("service", "lb-lb")
    assert svc["status"]["loadBalancer"] == {}
    row = kubectl("get", "service", "lb-lb", "--no-headers").split()
    assert row[:4] == ["lb-lb", "LoadBalancer", svc["spec"]["clusterIP"], "<pending>"]


def test_switch_leaves_load_balancers_pending_and_type_change_clears_the_address(
    kubectl: Any, kube: Any, kubesim: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "service", "loadbalancer", "on", "--tcp=80:8080")
    eventually(lambda: kube.get("service", "on")["status"]["loadBalancer"].get("ingress"), what="an address")

    kubesim.controllers.load_balancer.enabled = False
    kubectl("create", "service", "loadbalancer", "off", "--tcp=80:8080")
    # A Deployment created afterwards being available shows the controllers have caught up.
    kubectl("create", "deployment", "marker", "--image=nginx:1.27")
    eventually(lambda: kube.get("deployment", "marker").get("status", {}).get("availableReplicas") == 1)
    assert kube.get("service", "off")["status"]["loadBalancer"] == {}

    patch = {"spec": {"type": "ClusterIP", "ports": [{"port": 80, "targetPort": 8080, "nodePort": None}]}}
    kubectl("patch", "service", "on", "-p", json.dumps(patch))
    eventually(lambda: kube.get("service", "on")["status"]["loadBalancer"] == {}, what="the address released")


# -- cluster furniture -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ns", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_builtin_namespaces_are_furnished(kube: Any, ns: str) -> None:
    assert kube.get("serviceaccount", "default", "-n", ns)["metadata"]["name"] == "default"
    cm = kube.get("configmap", "kube-root-ca.crt", "-n", ns)
    assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    assert kube.get("namespace", ns)["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns}


def test_new_namespace_is_furnished_and_keeps_its_name_label(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "namespace", "team")
    eventually(lambda: kube.names("serviceaccounts", "-n", "team") == ["default"], what="the default SA")
    eventually(lambda: kube.names("configmaps", "-n", "team") == ["kube-root-ca.crt"], what="the CA bundle")
    kubectl("label", "namespace", "team", "kubernetes.io/metadata.name-", "tier=a")
    assert kube.get("namespace", "team")["metadata"]["labels"] == {
        "kubernetes.io/metadata.name": "team",
        "tier": "a",
    }
    # Deleted furniture comes back, as the service-account and root-CA controllers make it again.
    kubectl("delete", "serviceaccount", "default", "-n", "team")
    kubectl("delete", "configmap", "kube-root-ca.crt", "-n", "team")
    eventually(lambda: kube.names("serviceaccounts", "-n", "team") == ["default"], what="the SA back")
    eventually(lambda: kube.names("configmaps", "-n", "team") == ["kube-root-ca.crt"], what="the CA back")


def test_one_ready_node(kube: Any, kubectl: Any) -> None:
    [node] = kube.items("nodes")
    assert node["metadata"]["name"] == "kubesim"
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {"Ready": "True"}
    assert node["status"]["capacity"]["pods"] == "110"
    assert kubectl("get", "nodes", "--no-headers").split()[:3] == ["kubesim", "Ready", "control-plane"]


def test_pods_are_bound_to_the_node(kubectl: Any, kube: Any, eventually: Callable[..., Any]) -> None:
    kubectl("run", "p", "--image=nginx:1.27")
    eventually(lambda: kube.get("pod", "p")["spec"].get("nodeName") == "kubesim", what="the pod scheduled")
    assert kube.names("pods", "--field-selector", "spec.nodeName=kubesim") == ["p"]
    assert kube.names("pods", "--field-selector", "spec.nodeName=elsewhere") == []


def test_delete_collection_with_foreground_propagation(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    kubectl("create", "configmap", "owner")
    held = configmap(
        "held", ownerReferences=[owner_ref(kube.get("configmap", "owner"), block=True)], finalizers=["x.io/h"]
    )
    apply(kubectl, held)
    query = "propagationPolicy=Foreground&fieldSelector=metadata.name%3Downer"
    path = f"/api/v1/namespaces/default/configmaps?{query}"
    kubectl("delete", "--raw", path)
    eventually(
        lambda: kube.get("configmap", "held")["metadata"].get("deletionTimestamp"), what="dependent deleting"
    )
    assert kube.get("configmap", "owner")["metadata"]["finalizers"] == ["foregroundDeletion"]
    kubectl("patch", "configmap", "held", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
    eventually(lambda: kube.absent("configmap", "owner"), what="the owner gone after its dependent")


def test_apiservices_follow_the_served_groups(
    kubectl: Any, kube: Any, eventually: Callable[..., Any]
) -> None:
    names = kube.names("apiservices")
    assert {"v1.", "v1.apps", "v1.apiregistration.k8s.io", "v2.autoscaling"} <= set(names)
    apps = kube.get("apiservice", "v1.apps")
    assert apps["spec"]["group"] == "apps" and apps["spec"]["version"] == "v1"
    assert [(c["type"], c["status"]) for c in apps["status"]["conditions"]] == [("Available", "True")]
    assert "apiservices" in kubectl("api-resources", "--api-group=apiregistration.k8s.io", "-o", "name")

    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    apply(kubectl, crd)
    eventually(lambda: "v1.example.com" in kube.names("apiservices"), what="the CRD group's APIService")
    kubectl("delete", "crd", "gizmos.example.com", "--timeout=20s")
    eventually(lambda: "v1.example.com" not in kube.names("apiservices"), what="its APIService gone")


# -- field selectors -----------------------------------------------------------------------------------
def test_field_selectors_on_supported_fields(kubectl: Any, kube: Any) -> None:
    kubectl("create", "secret", "generic", "plain", "--from-literal=k=v")
    kubectl(
        "create",
        "secret",
        "docker-registry",
        "pull",
        "--docker-server=r.example",
        "--docker-username=u",
        "--docker-password=p",
    )
    assert kube.names("secrets", "--field-selector", "type=Opaque") == ["plain"]
    kubectl("create", "service", "clusterip", "svc", "--tcp=80")
    assert kube.names("services", "--field-selector", "spec.type=ClusterIP") == ["svc"]
    assert kube.names("namespaces", "--field-selector", "status.phase=Active,metadata.name=default") == [
        "default"
    ]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("pods", "field label not supported: spec.foo"),
        ("secrets", "field label not supported: spec.foo"),
        (
            "configmaps",
            '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        (
            "deployments",
            '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        ("jobs", 'field label "spec.foo" not supported for batchv1.Job'),
    ],
)
def test_field_selector_on_an_unsupported_field_is_a_bad_request(
    kubectl: Any, resource: str, message: str
) -> None:
    proc = kubectl.run("get", resource, "--field-selector", "spec.foo=x", check=False)
    assert proc.returncode != 0
    assert "Error from server (BadRequest)" in proc.stderr and message in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("group", "kind", "selector", "obj", "matches"),
    [
        ("", "Pod", "spec.nodeName=kubesim", {"spec": {"nodeName": "kubesim"}}, True),
        ("", "Pod", "spec.host=kubesim", {"spec": {"nodeName": "kubesim"}}, True),
        ("", "Pod", "status.phase!=Running", {"status": {"phase": "Running"}}, False),
        ("", "Event", "source=kubelet", {"source": {"component": "kubelet"}}, True),
        ("", "Event", "involvedObject.kind=Pod", {"involvedObject": {"kind": "Pod"}}, True),
        ("events.k8s.io", "Event", "regarding.name=x", {"regarding": {"name": "x"}}, True),
        ("", "Node", "spec.unschedulable=false", {"spec": {}}, True),
        ("", "Node", "spec.unschedulable=true", {"spec": {}}, False),
        ("batch", "Job", "status.successful=1", {"status": {"succeeded": 1}}, True),
        ("batch", "Job", "status.successful=0", {"status": {}}, True),
    ],
)
def test_field_selector_matching(
    group: str, kind: str, selector: str, obj: dict[str, Any], matches: bool
) -> None:
    assert parse_field_selector(selector, supported_fields(group, kind, None))(obj) is matches


@pytest.mark.parametrize(
    ("group", "kind", "crd_fields", "label"),
    [
        ("", "Node", None, "metadata.namespace"),
        ("", "Namespace", None, "metadata.namespace"),
        ("example.com", "Gizmo", (), "spec.color"),
    ],
)
def test_field_selector_refused(
    group: str, kind: str, crd_fields: tuple[str, ...] | None, label: str
) -> None:
    with pytest.raises(SelectorError, match=f"field label not supported: {label}"):
        parse_field_selector(f"{label}=x", supported_fields(group, kind, crd_fields))


def test_crd_selectable_fields_are_supported() -> None:
    match = parse_field_selector("spec.color=red", supported_fields("example.com", "Gizmo", ("spec.color",)))
    assert match({"spec": {"color": "red"}}) and not match({"spec": {"color": "blue"}})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, {"completions": 1, "parallelism": 1, "backoffLimit": 6}),  # a non-parallel Job
        ({"parallelism": 3}, {"parallelism": 3, "backoffLimit": 6}),  # work queue: no completions
        ({"completions": 5}, {"completions": 5, "parallelism": 1, "backoffLimit": 6}),
        ({"backoffLimit": 0}, {"completions": 1, "parallelism": 1, "backoffLimit": 0}),
    ],
    ids=["non-parallel", "work-queue", "fixed-completions", "backoff-set"],
)
def test_a_job_is_defaulted_as_the_api_server_does(
    kubectl: Any, kube: Any, spec: dict[str, Any], expected: dict[str, Any]
) -> None:
    """batch/v1 SetDefaults_Job: what `kubectl get job -o yaml` shows on a real cluster (helm 3's
    --wait-for-jobs reads completions and backoffLimit, and panics on a Job without them)."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {
            **spec,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}
            },
        },
    }
    apply(kubectl, job)
    got = kube.get("job", "migrate")["spec"]
    assert {k: got.get(k) for k in ("completions", "parallelism", "backoffLimit")} == {
        "completions": expected.get("completions"),
        "parallelism": expected["parallelism"],
        "backoffLimit": expected["backoffLimit"],
    }
    assert (got["completionMode"], got["suspend"]) == ("NonIndexed", False)
