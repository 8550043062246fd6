"""kubesim conformance: managedFields and server-side apply conflicts, through real helm and kubectl.

What a user of a real cluster sees: `kubectl scale` / `kubectl patch` / `kubectl create`
leave an `Update` entry for their manager; helm 4 (server-side apply) then fails to upgrade
a field someone else changed, with the API server's conflict message, unless
`--force-conflicts`; helm 3 (three-way merge patches) just writes; the same value is shared
ownership, not a conflict. Pure helpers get table tests.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kubesim import KubeSim, managedfields
from tests.conftest import Cli, _env, tool


@pytest.fixture
def helm4(kubesim: KubeSim, tmp_path: Path) -> Cli:
    """helm 4 only, for what only server-side apply does."""
    return Cli(tool("helm"), _env(tmp_path, kubesim), major=4)


CHART = str(Path(__file__).resolve().parent.parent / "charts" / "demo")
NO_HOOK = ("--set", "hook=false")


def managed(kubectl: Any, *what: str) -> list[dict[str, Any]]:
    obj = json.loads(kubectl("get", *what, "-o", "json", "--show-managed-fields"))
    entries: list[dict[str, Any]] = obj["metadata"].get("managedFields", [])
    return entries


def entry(entries: list[dict[str, Any]], manager: str) -> dict[str, Any]:
    (found,) = [e for e in entries if e["manager"] == manager]
    return found


def replicas(kube: Any) -> int:
    return int(kube.get("deployment", "demo")["spec"]["replicas"])


def test_helm_upgrade_of_a_field_kubectl_scaled(helm: Any, kubectl: Any, kube: Any) -> None:
    helm("install", "demo", CHART, *NO_HOOK)
    kubectl("scale", "deployment/demo", "--replicas=5")
    scaled = entry(managed(kubectl, "deployment", "demo"), "kubectl")
    assert (scaled["operation"], scaled["apiVersion"], scaled["subresource"]) == (
        "Update",
        "apps/v1",
        "scale",
    )
    assert scaled["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    # kubectl took .spec.replicas away from helm's entry
    assert "f:replicas" not in entry(managed(kubectl, "deployment", "demo"), "helm")["fieldsV1"]["f:spec"]

    proc = helm.run("upgrade", "demo", CHART, *NO_HOOK, "--set", "replicas=2", check=False)
    if helm.major == 4:  # server-side apply, force=false: the real API server answers 409
        assert proc.returncode == 1
        assert (
            "conflict occurred while applying object default/demo apps/v1, Kind=Deployment: "
            'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" '
            "using apps/v1: .spec.replicas"
        ) in proc.stderr
        assert replicas(kube) == 5
        helm("upgrade", "demo", CHART, *NO_HOOK, "--set", "replicas=2", "--force-conflicts")
    else:  # helm 3: a strategic merge patch is an Update, never a conflict
        assert proc.returncode == 0, proc.stderr
    assert replicas(kube) == 2
    entries = managed(kubectl, "deployment", "demo")
    assert [e["manager"] for e in entries] == ["helm"]  # kubectl's only field went back to helm
    assert entries[0]["operation"] == ("Apply" if helm.major == 4 else "Update")
    assert "f:replicas" in entries[0]["fieldsV1"]["f:spec"]


def test_helm_upgrade_to_the_value_kubectl_set_is_shared_ownership(
    helm: Any, kubectl: Any, kube: Any
) -> None:
    helm("install", "demo", CHART, *NO_HOOK)
    kubectl("scale", "deployment/demo", "--replicas=3")
    helm("upgrade", "demo", CHART, *NO_HOOK, "--set", "replicas=3")
    entries = managed(kubectl, "deployment", "demo")
    assert entry(entries, "kubectl")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    if helm.major == 4:  # both own it now
        assert "f:replicas" in entry(entries, "helm")["fieldsV1"]["f:spec"]
    assert replicas(kube) == 3


def test_helm4_conflicts_with_kubectl_patch_list_every_field(helm4: Any, kubectl: Any) -> None:
    helm = helm4  # helm 3 applies client-side: there is no conflict to see
    helm("install", "demo", CHART, *NO_HOOK)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.28",
                            "env": [{"name": "MESSAGE", "value": "edited"}],
                        }
                    ]
                }
            }
        }
    }
    kubectl("patch", "deployment", "demo", "-p", json.dumps(patch))
    patched = entry(managed(kubectl, "deployment", "demo"), "kubectl-patch")
    app = patched["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert app == {"f:env": {'k:{"name":"MESSAGE"}': {"f:value": {}}}, "f:image": {}}

    proc = helm.run(
        "upgrade", "demo", CHART, *NO_HOOK, "--set", "message=new", "--set", "image=nginx:1.29", check=False
    )
    assert proc.returncode == 1
    assert (
        'Apply failed with 2 conflicts: conflicts with "kubectl-patch" using apps/v1:\n'
        '- .spec.template.spec.containers[name="app"].image\n'
        '- .spec.template.spec.containers[name="app"].env[name="MESSAGE"].value'
    ) in proc.stderr
    # an upgrade that leaves those fields alone conflicts with nobody
    helm("upgrade", "demo", CHART, *NO_HOOK, "--set", "message=edited", "--set", "image=nginx:1.28")


def test_kubectl_server_side_apply_conflict_force_and_shared(kubectl: Any, kube: Any) -> None:
    kubectl("create", "configmap", "c", "--from-literal=a=1", "--from-literal=b=2")
    created = entry(managed(kubectl, "configmap", "c"), "kubectl-create")
    assert (created["operation"], created["apiVersion"]) == ("Update", "v1")
    assert created["fieldsV1"] == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}

    same = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n"
    kubectl("apply", "--server-side", "-f", "-", input=same)  # same value: shared, no conflict
    assert entry(managed(kubectl, "configmap", "c"), "kubectl")["fieldsV1"] == {"f:data": {"f:a": {}}}

    other = same.replace("a: '1'", "a: '9'")
    proc = kubectl.run("apply", "--server-side", "-f", "-", input=other, check=False)
    assert proc.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.a' in proc.stderr
    assert "Please review the fields above--they currently have other managers" in proc.stderr
    assert kube.get("configmap", "c")["data"] == {"a": "1", "b": "2"}

    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=other)
    assert kube.get("configmap", "c")["data"] == {"a": "9", "b": "2"}
    assert entry(managed(kubectl, "configmap", "c"), "kubectl-create")["fieldsV1"] == {
        "f:data": {".": {}, "f:b": {}}
    }


def test_conflict_status_has_field_manager_conflict_causes(kubectl: Any) -> None:
    kubectl("create", "configmap", "c", "--from-literal=a=1")
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '9'}\n"
    proc = kubectl.run("apply", "--server-side", "-f", "-", "-v=8", input=other, check=False)
    # kubectl -v=8 logs the response: body="<the Status as a JSON string>"
    logged = next(
        line for line in proc.stderr.splitlines() if '"Response Body"' in line and "Conflict" in line
    )
    status = json.loads(json.loads(logged.split(" body=", 1)[1]))
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["details"]["causes"] == [
        {
            "type": "FieldManagerConflict",
            "message": 'conflict with "kubectl-create" using v1',
            "field": ".data.a",
        }
    ]


def test_helm_storage_secret_manager_comes_from_the_user_agent(helm: Any, kubectl: Any) -> None:
    helm("install", "demo", CHART, *NO_HOOK)
    # helm writes its release Secrets without a fieldManager: the User-Agent "Helm/x.y.z" names it
    entries = managed(kubectl, "secret", "sh.helm.release.v1.demo.v1")
    assert [(e["manager"], e["operation"]) for e in entries] == [("Helm", "Update")]


@pytest.mark.parametrize(
    ("field_manager", "agent", "want"),
    [
        ("kubectl-edit", "kubectl/v1.37.1 (linux/amd64) kubernetes/f78e722", "kubectl-edit"),
        (None, "kubectl/v1.37.1 (linux/amd64) kubernetes/f78e722", "kubectl"),
        (None, "Helm/4.3.1", "Helm"),
        ("", "OpenAPI-Generator/31.0.0/python", "OpenAPI-Generator"),
        (None, "tab\there/1", "tabhere"),
        (None, "x" * 200, "x" * 128),
    ],
)
def test_manager_name(field_manager: str | None, agent: str, want: str) -> None:
    assert managedfields.manager_name(field_manager, agent) == want


@pytest.mark.parametrize(
    ("path", "want"),
    [
        (("f:spec", "f:replicas"), ".spec.replicas"),
        (("f:spec", "f:containers", 'k:{"name":"app"}', "f:image"), '.spec.containers[name="app"].image'),
        (
            ("f:spec", "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'),
            '.spec.ports[containerPort=80,protocol="TCP"]',
        ),
        (("f:metadata", "f:finalizers", 'v:"a/b"'), '.metadata.finalizers[="a/b"]'),
    ],
)
def test_path_string(path: tuple[str, ...], want: str) -> None:
    assert managedfields.path_string(path) == want


def test_managed_fields_reset_with_an_empty_entry(kubectl: Any) -> None:
    # the documented way to strip managedFields: overwrite them with a list of one empty entry
    kubectl("create", "configmap", "c", "--from-literal=a=1")
    kubectl("label", "configmap", "c", "team=x")
    assert [e["manager"] for e in managed(kubectl, "configmap", "c")] == ["kubectl-create", "kubectl-label"]
    kubectl("patch", "configmap", "c", "--type=merge", "-p", '{"metadata":{"managedFields":[{}]}}')
    assert managed(kubectl, "configmap", "c") == []


def test_helm4_upgrade_after_kubectl_edit(helm4: Any, kubectl: Any, kube: Any) -> None:
    helm = helm4  # helm 3 applies client-side: there is no conflict to see
    helm("install", "demo", CHART, *NO_HOOK)
    editor = {**kubectl.env, "KUBE_EDITOR": "sed -i s/replicas:\\ 1$/replicas:\\ 4/"}
    subprocess.run(
        [kubectl.binary, "edit", "deployment", "demo"], env=editor, check=True, capture_output=True
    )
    assert replicas(kube) == 4
    edited = entry(managed(kubectl, "deployment", "demo"), "kubectl-edit")
    assert (edited["operation"], edited["fieldsV1"]) == ("Update", {"f:spec": {"f:replicas": {}}})

    proc = helm.run("upgrade", "demo", CHART, *NO_HOOK, check=False)
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
        in proc.stderr
    )
    helm("upgrade", "demo", CHART, *NO_HOOK, "--set", "replicas=4")  # the value kubectl-edit set: shared
