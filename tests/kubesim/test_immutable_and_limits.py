"""kubesim conformance: immutable fields, size limits and per-kind name rules, as real clients see them.

Driven by the real kubectl (apply, patch, replace, create) and helm 3/4: each refusal
must read as it does against a real v1.37 cluster, because kubectl formats it from
the Status object (`The Deployment "web" is invalid: <field>: <message>` from
details.causes, `Error from server (...)` from the message) and helm prints the
message. Pure rules (value rendering, name rules, the PVC and StatefulSet spec
comparisons) get table tests on kubesim's modules.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import immutable, limits, validation
from kubesim.resources import BUILTINS, ResourceType


def manifest(*objs: dict[str, Any]) -> str:
    return yaml.safe_dump_all(objs)


def deployment(name: str, selector: dict[str, str], env: str = "") -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if env:
        container["env"] = [{"name": "BIG", "value": env}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector}, "spec": {"containers": [container]}},
        },
    }


def statefulset(storage_class: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": storage_class,
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }


def failed(kubectl: Any, *args: str, input: str | None = None) -> str:
    """kubectl's stderr for a command that must fail."""
    proc = kubectl.run(*args, check=False, input=input)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr.strip()


def patch(kubectl: Any, kind: str, name: str, body: dict[str, Any], kind_of_patch: str = "merge") -> str:
    return failed(kubectl, "patch", kind, name, "--type", kind_of_patch, "-p", json.dumps(body))


# -- immutable fields through kubectl ----------------------------------------------------------------


def test_deployment_selector_is_immutable(kubectl: Any, kube: Any) -> None:
    kubectl("apply", "-f", "-", input=manifest(deployment("web", {"app": "web"})))
    err = failed(kubectl, "apply", "-f", "-", input=manifest(deployment("web", {"app": "web", "tier": "fe"})))
    assert err == (
        'The Deployment "web" is invalid: spec.selector: Invalid value: '
        '{"matchLabels":{"app":"web","tier":"fe"}}: field is immutable'
    )
    assert kube.get("deployment", "web")["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    # The rest of the spec stays mutable.
    kubectl("patch", "deployment", "web", "--type", "merge", "-p", '{"spec":{"replicas":3}}')


def test_statefulset_spec_is_immutable_but_for_replicas_template_and_strategy(
    kubectl: Any, kube: Any
) -> None:
    kubectl("apply", "-f", "-", input=manifest(statefulset("standard")))
    err = failed(kubectl, "apply", "-f", "-", input=manifest(statefulset("fast")))
    assert err == (
        'The StatefulSet "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than '
        "'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    )
    kubectl("apply", "-f", "-", input=manifest(statefulset("standard", replicas=3)))
    assert kube.get("statefulset", "db")["spec"]["replicas"] == 3


def test_job_template_and_service_cluster_ip_are_immutable(kubectl: Any, kube: Any) -> None:
    kubectl("create", "job", "migrate", "--image", "busybox:1.37")
    err = patch(kubectl, "job", "migrate", {"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}}})
    assert err.startswith('The Job "migrate" is invalid: spec.template: Invalid value: {"')
    assert err.endswith("}: field is immutable")

    kubectl("create", "service", "clusterip", "web", "--tcp", "80:8080")
    ip = kube.get("service", "web")["spec"]["clusterIP"]
    err = patch(kubectl, "service", "web", {"spec": {"clusterIP": "10.96.250.250"}})
    assert err == (
        'The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.250.250"]: '
        "may not change once set"
    )
    assert kube.get("service", "web")["spec"]["clusterIPs"] == [ip]
    # Leaving the allocated address out of a replace keeps it (not a change).
    svc = kube.get("service", "web")
    svc["spec"].pop("clusterIP")
    svc["spec"].pop("clusterIPs")
    kubectl("replace", "-f", "-", input=json.dumps(svc))


def test_immutable_configmap_and_secret(kubectl: Any, kube: Any) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"}, "data": {"a": "1"}}
    kubectl("apply", "-f", "-", input=manifest({**cm, "immutable": True}))
    err = patch(kubectl, "configmap", "frozen", {"data": {"a": "2"}})
    assert (
        err
        == 'The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )
    err = patch(kubectl, "configmap", "frozen", {"immutable": False})
    assert err == (
        'The ConfigMap "frozen" is invalid: immutable: Forbidden: field is immutable when `immutable` is set'
    )
    assert kube.get("configmap", "frozen")["data"] == {"a": "1"}
    # Labels and annotations stay mutable; so does a ConfigMap that is not immutable.
    kubectl("label", "configmap", "frozen", "team=a")
    kubectl("create", "configmap", "free", "--from-literal", "a=1")
    kubectl("patch", "configmap", "free", "--type", "merge", "-p", '{"data":{"a":"2"}}')

    kubectl("create", "secret", "generic", "creds", "--from-literal", "k=v")
    tls = {"type": "kubernetes.io/tls"}
    err = patch(kubectl, "secret", "creds", tls)
    assert (
        err == 'The Secret "creds" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable'
    )


def test_pvc_spec_is_immutable_but_requests_of_a_bound_claim_grow(
    kubectl: Any, kube: Any, eventually: Any
) -> None:
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "standard",
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    kubectl("apply", "-f", "-", input=manifest(pvc))
    eventually(lambda: (kube.get("pvc", "data").get("status") or {}).get("phase") == "Bound")
    err = patch(kubectl, "pvc", "data", {"spec": {"storageClassName": "fast"}})
    assert err.startswith(
        'The PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation '
        "except resources.requests and volumeAttributesClassName for bound claims"
    )
    err = patch(kubectl, "pvc", "data", {"spec": {"resources": {"requests": {"storage": "512Mi"}}}})
    assert err == (
        'The PersistentVolumeClaim "data" is invalid: spec.resources.requests.storage: Forbidden: '
        "field can not be less than previous value"
    )
    kubectl(
        "patch",
        "pvc",
        "data",
        "--type",
        "merge",
        "-p",
        '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}',
    )
    assert kube.get("pvc", "data")["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_role_binding_role_ref_is_immutable(kubectl: Any) -> None:
    kubectl("create", "rolebinding", "readers", "--clusterrole", "view", "--user", "ann")
    err = patch(kubectl, "rolebinding", "readers", {"roleRef": {"name": "edit"}})
    assert err == (
        'The RoleBinding "readers" is invalid: roleRef: Invalid value: '
        '{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"}: cannot change roleRef'
    )


def status_of_patch(url: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A merge patch sent as any client would; the answer's code and Status."""
    req = urllib.request.Request(
        url + path,
        json.dumps(body).encode(),
        {"Content-Type": "application/merge-patch+json"},
        method="PATCH",
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_invalid_status_carries_qualified_kind_and_causes(kubectl: Any, kubesim: Any) -> None:
    """The Status itself (what helm prints and kubectl formats): Kind.group in the message, one cause
    per error with its reason and field."""
    kubectl("apply", "-f", "-", input=manifest(deployment("web", {"app": "web"})))
    selector = {"spec": {"selector": {"matchLabels": {"x": "y"}}}}
    code, status = status_of_patch(kubesim.url, "/apis/apps/v1/namespaces/default/deployments/web", selector)
    message = 'spec.selector: Invalid value: {"matchLabels":{"app":"web","x":"y"}}: field is immutable'
    assert (code, status["reason"], status["message"]) == (
        422,
        "Invalid",
        f'Deployment.apps "web" is invalid: {message}',
    )
    assert status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {"reason": "FieldValueInvalid", "field": "spec.selector", "message": message.split(": ", 1)[1]}
        ],
    }
    kubectl("create", "configmap", "frozen", "--from-literal", "a=1")
    kubectl("patch", "configmap", "frozen", "--type", "merge", "-p", '{"immutable":true}')
    code, status = status_of_patch(
        kubesim.url, "/api/v1/namespaces/default/configmaps/frozen", {"data": {"a": "2"}}
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "field": "data",
            "message": "Forbidden: field is immutable when `immutable` is set",
        }
    ]


# -- size limits --------------------------------------------------------------------------------------


def test_secret_and_configmap_data_over_one_mib_are_refused(kubectl: Any, kube: Any, tmp_path: Path) -> None:
    big = tmp_path / "blob"
    big.write_bytes(os.urandom(1536 * 1024))
    err = failed(kubectl, "create", "secret", "generic", "huge", f"--from-file=blob={big}")
    # `kubectl create secret` prints its own prefix before the Status message.
    assert err == (
        'error: failed to create secret Secret "huge" is invalid: data: Too long: '
        "may not be more than 1048576 bytes"
    )
    text = tmp_path / "text"
    text.write_text("x" * (1024 * 1024 + 1))
    err = failed(kubectl, "create", "configmap", "huge", f"--from-file=text={text}")
    assert err == (
        'error: failed to create configmap: ConfigMap "huge" is invalid: []: Too long: '
        "may not be more than 1048576 bytes"
    )
    text.write_text("x" * (1024 * 1024 - 16))  # the data alone counts: a key and metadata do not
    kubectl("create", "configmap", "just-fits", f"--from-file=text={text}")
    assert kube.absent("secret", "huge") and kube.absent("configmap", "huge")


def test_client_side_apply_of_a_300_kib_object_overflows_annotations(kubectl: Any, kube: Any) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "dashboards"},
        "data": {"d": "x" * 300 * 1024},
    }
    err = failed(kubectl, "apply", "-f", "-", input=manifest(cm))
    assert err == (
        'The ConfigMap "dashboards" is invalid: metadata.annotations: Too long: '
        "may not be more than 262144 bytes"
    )
    assert kube.absent("configmap", "dashboards")
    # Server-side apply keeps no last-applied copy: the same object fits.
    kubectl("apply", "--server-side", "-f", "-", input=manifest(cm))
    assert len(kube.get("configmap", "dashboards")["data"]["d"]) == 300 * 1024


def test_request_body_over_3_mib_and_object_over_etcd_limit(kubectl: Any, kube: Any) -> None:
    err = failed(
        kubectl,
        "create",
        "-f",
        "-",
        input=json.dumps(deployment("huge", {"app": "huge"}, env="x" * (3 << 20))),
    )
    assert err == (
        'Error from server (RequestEntityTooLarge): error when creating "STDIN": '
        "Request entity too large: limit is 3145728"
    )
    err = failed(
        kubectl, "create", "-f", "-", input=json.dumps(deployment("big", {"app": "big"}, env="x" * (2 << 20)))
    )
    assert err == 'Error from server: error when creating "STDIN": etcdserver: request is too large'
    assert kube.absent("deployment", "huge") and kube.absent("deployment", "big")
    kubectl("create", "-f", "-", input=json.dumps(deployment("fits", {"app": "fits"}, env="x" * (1 << 20))))


# -- names -------------------------------------------------------------------------------------------


def test_rbac_names_are_path_segments(kubectl: Any, kube: Any) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "cert-manager-controller-approve:cert-manager-io"},
        "rules": [{"apiGroups": ["cert-manager.io"], "resources": ["signers"], "verbs": ["approve"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "cert-manager-controller-approve:cert-manager-io"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role["metadata"]["name"],
        },
        "subjects": [{"kind": "ServiceAccount", "name": "cert-manager", "namespace": "default"}],
    }
    kubectl("apply", "-f", "-", input=manifest(role, binding))
    assert kube.get("clusterrole", "cert-manager-controller-approve:cert-manager-io")["rules"]
    kubectl("create", "role", "Read_Pods", "--verb", "get", "--resource", "pods")
    err = failed(kubectl, "create", "role", "100%", "--verb", "get", "--resource", "pods")
    assert err == 'The Role "100%" is invalid: metadata.name: Invalid value: "100%": may not contain \'%\''
    # Other kinds keep their rule: a ConfigMap named like that is refused.
    err = failed(kubectl, "create", "configmap", "a:b")
    assert 'metadata.name: Invalid value: "a:b": a lowercase RFC 1123 subdomain' in err


def test_statefulset_and_cronjob_name_rules(kubectl: Any) -> None:
    sts = statefulset("standard")
    sts["metadata"]["name"] = "db.primary"
    err = failed(kubectl, "apply", "-f", "-", input=manifest(sts))
    assert err.startswith(
        'The StatefulSet "db.primary" is invalid: metadata.name: Invalid value: "db.primary": '
        "a lowercase RFC 1123 label must consist of"
    )
    name = "c" * 53
    err = failed(kubectl, "create", "cronjob", name, "--image", "busybox", "--schedule", "* * * * *")
    why = "must be no more than 52 characters"
    assert err == (
        f'error: failed to create cronjob: CronJob.batch "{name}" is invalid: '
        f'metadata.name: Invalid value: "{name}": {why}'
    )
    kubectl("create", "cronjob", "c" * 52, "--image", "busybox", "--schedule", "* * * * *")


# -- helm ----------------------------------------------------------------------------------------------


def write_chart(root: Path, templates: dict[str, str], version: str = "0.1.0") -> Path:
    chart = root / "chart"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: app\nversion: {version}\n")
    for old in (chart / "templates").iterdir():
        old.unlink()
    for name, text in templates.items():
        (chart / "templates" / name).write_text(text)
    return chart


def test_helm_upgrade_changing_a_selector_fails_as_on_a_cluster(helm: Any, kube: Any, tmp_path: Path) -> None:
    chart = write_chart(tmp_path, {"dep.yaml": manifest(deployment("web", {"app": "web"}))})
    helm("install", "app", str(chart))
    write_chart(tmp_path, {"dep.yaml": manifest(deployment("web", {"app": "web", "v": "2"}))}, "0.2.0")
    proc = helm.run("upgrade", "app", str(chart), check=False)
    assert proc.returncode != 0
    assert (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        '{"matchLabels":{"app":"web","v":"2"}}: field is immutable' in proc.stderr
    )
    assert kube.get("deployment", "web")["spec"]["selector"] == {"matchLabels": {"app": "web"}}


def test_helm_release_over_one_mib_cannot_be_stored(helm: Any, kube: Any, tmp_path: Path) -> None:
    # Incompressible data just under the ConfigMap limit: the release record (chart template plus
    # rendered manifest, gzipped) goes over the 1 MiB a Secret's data may hold.
    blob = base64.b64encode(os.urandom(700 * 1024)).decode()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "blob"}, "data": {"b": blob}}
    chart = write_chart(tmp_path, {"cm.yaml": manifest(cm)})
    proc = helm.run("install", "big", str(chart), check=False)
    assert proc.returncode != 0
    assert (
        'Secret "sh.helm.release.v1.big.v1" is invalid: data: Too long: may not be more than 1048576 bytes'
        in proc.stderr
    )
    assert kube.absent("configmap", "blob")


# -- pure rules ------------------------------------------------------------------------------------------


def rt(group: str, kind: str) -> ResourceType:
    return next(r for r in BUILTINS if r.group == group and r.kind == kind)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("10.0.0.1", '"10.0.0.1"'),
        (3, "3"),
        (True, "true"),
        (None, '"null"'),
        (["a", "b"], '["a","b"]'),
        ({"matchExpressions": [{"values": ["x"], "operator": "In", "key": "k"}],
          "matchLabels": {"b": "1", "a": "2"}},
         '{"matchLabels":{"a":"2","b":"1"},"matchExpressions":[{"key":"k","operator":"In","values":["x"]}]}'),
        ({"name": "edit", "kind": "Role", "apiGroup": "rbac.authorization.k8s.io"},
         '{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"edit"}'),
        ({"matchLabels": {"a": "1"}, "matchExpressions": []}, '{"matchLabels":{"a":"1"}}'),
    ],
)  # fmt: skip
def test_render_values_as_v134_field_errors(value: Any, shown: str) -> None:
    assert immutable.render(value) == shown


@pytest.mark.parametrize(
    ("group", "kind", "name", "ok"),
    [
        ("rbac.authorization.k8s.io", "ClusterRole", "cert-manager-controller-approve:cert-manager-io", True),
        ("rbac.authorization.k8s.io", "RoleBinding", "Upper_Case:ok", True),
        ("rbac.authorization.k8s.io", "Role", "..", False),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding", "a%2Fb", False),
        ("", "ConfigMap", "a:b", False),
        ("", "ConfigMap", "a.b-c", True),
        ("", "Namespace", "a.b", False),
        ("", "Service", "1web", False),
        ("", "Service", "web-1", True),
        ("apps", "StatefulSet", "db.primary", False),
        ("apps", "Deployment", "web.v2", True),
        ("batch", "CronJob", "c" * 52, True),
        ("batch", "CronJob", "c" * 53, False),
    ],
)
def test_name_rules_per_kind(group: str, kind: str, name: str, ok: bool) -> None:
    obj = {"metadata": {"name": name}}
    assert (validation.errors(rt(group, kind), obj, creating=True) == []) is ok


@pytest.mark.parametrize(
    ("old", "new", "errors"),
    [
        ({"immutable": True, "data": {"a": "1"}}, {"immutable": True, "data": {"a": "1"}}, 0),
        ({"immutable": True, "data": {"a": "1"}}, {"immutable": True, "data": {"a": "2"}}, 1),
        ({"immutable": True, "data": {"a": "1"}}, {"data": {"a": "2"}}, 2),
        ({"data": {"a": "1"}}, {"immutable": True, "data": {"a": "2"}}, 0),
    ],
)
def test_configmap_immutability(old: dict[str, Any], new: dict[str, Any], errors: int) -> None:
    assert len(immutable.errors(rt("", "ConfigMap"), old, new)) == errors


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({"replicas": 5}, False),
        ({"podManagementPolicy": "OrderedReady"}, False),  # the default, spelled out
        ({"podManagementPolicy": "Parallel"}, True),
        ({"serviceName": "other"}, True),
        ({"minReadySeconds": 10, "revisionHistoryLimit": 2}, False),
    ],
)
def test_statefulset_updatable_fields(change: dict[str, Any], refused: bool) -> None:
    old = statefulset("standard")
    new = json.loads(json.dumps(old))
    new["spec"].update(change)
    assert bool(immutable.errors(rt("apps", "StatefulSet"), old, new)) is refused


@pytest.mark.parametrize(
    ("obj", "errors"),
    [
        ({"metadata": {"annotations": {"a": "x" * (256 * 1024 - 1)}}}, []),
        ({"metadata": {"annotations": {"ab": "x" * (256 * 1024 - 1)}}}, ["metadata.annotations: Too long"]),
        ({"kind": "Secret", "stringData": {"a": "x" * (1 << 20)}}, []),
        ({"kind": "Secret", "stringData": {"a": "x" * (1 << 20)}, "data": {"b": "eA=="}}, ["data: Too long"]),
        ({"kind": "ConfigMap", "binaryData": {"a": base64.b64encode(b"x" * ((1 << 20) + 1)).decode()}},
         ["[]: Too long"]),
    ],
)  # fmt: skip
def test_size_limits(obj: dict[str, Any], errors: list[str]) -> None:
    found = limits.errors("", obj.get("kind", "Deployment"), obj)
    assert [e.split(": may")[0] for e in found] == errors
