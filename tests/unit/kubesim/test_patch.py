"""Unit tests of kubesim.patch: RFC 7386, RFC 6902, strategic merge patch, server-side apply."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubesim.patch import (
    PatchError,
    PatchTestFailed,
    apply_patch,
    field_set,
    fields_v1,
    json_merge_patch,
    json_patch,
    merge_keys,
    smp_supported,
    strategic_merge_patch,
)

DEPLOY = ("apps", "v1", "Deployment")
POD = ("", "v1", "Pod")
SERVICE = ("", "v1", "Service")
CRONJOB = ("batch", "v1", "CronJob")
WIDGET = ("example.com", "v1", "Widget")


# ---------------------------------------------------------------- RFC 7386, appendix A
RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386)
def test_json_merge_patch_rfc7386(target: Any, patch: Any, expected: Any) -> None:
    before = copy.deepcopy((target, patch))
    assert json_merge_patch(target, patch) == expected
    assert (target, patch) == before  # inputs untouched


# ---------------------------------------------------------------- RFC 6902, appendix A
RFC6902_OK = [
    (
        "A.1 add object member",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
    ),
    (
        "A.2 add array element",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    (
        "A.3 remove object member",
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
    ),
    (
        "A.4 remove array element",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "A.5 replace",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6 move value",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7 move array element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8 test success",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "A.10 add nested member object",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11 ignore unrecognized elements",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "A.14 ~ escape ordering",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
    ),
    (
        "A.16 adding an array value",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    ("copy", {"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
    ("replace root", {"a": 1}, [{"op": "replace", "path": "", "value": [1]}], [1]),
    ("add replaces existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    (
        "escaped slash and tilde",
        {},
        [{"op": "add", "path": "/a~1b", "value": 1}, {"op": "add", "path": "/m~0n", "value": 2}],
        {"a/b": 1, "m~n": 2},
    ),
    ("remove escaped", {"a/b": 1, "c": 2}, [{"op": "remove", "path": "/a~1b"}], {"c": 2}),
    (
        "k8s label key",
        {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}},
        [{"op": "remove", "path": "/metadata/labels/app.kubernetes.io~1name"}],
        {"metadata": {"labels": {}}},
    ),
    ("test number 1 == 1.0", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
]


@pytest.mark.parametrize(("name", "doc", "ops", "expected"), RFC6902_OK, ids=[c[0] for c in RFC6902_OK])
def test_json_patch_rfc6902(name: str, doc: Any, ops: list[dict[str, Any]], expected: Any) -> None:
    before = copy.deepcopy(doc)
    assert json_patch(doc, ops) == expected
    assert doc == before


RFC6902_FAIL = [
    (
        "A.9 test error",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "bar"}],
        422,
    ),
    (
        "A.12 add to nonexistent target",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
        422,
    ),
    ("A.15 string is not number", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], 422),
    ("test true is not 1", {"a": 1}, [{"op": "test", "path": "/a", "value": True}], 422),
    ("remove missing", {"a": 1}, [{"op": "remove", "path": "/b"}], 422),
    ("replace missing", {"a": 1}, [{"op": "replace", "path": "/b", "value": 1}], 422),
    ("index out of bounds", {"a": [1]}, [{"op": "add", "path": "/a/2", "value": 1}], 422),
    ("leading zero index", {"a": [1, 2]}, [{"op": "replace", "path": "/a/01", "value": 1}], 422),
    ("dash only for add", {"a": [1]}, [{"op": "remove", "path": "/a/-"}], 422),
    ("move into own child", {"a": {"b": {}}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], 422),
    ("unknown op", {}, [{"op": "frob", "path": "/a"}], 422),
    ("missing value", {}, [{"op": "add", "path": "/a"}], 422),
    ("bad pointer", {}, [{"op": "add", "path": "a", "value": 1}], 422),
    ("ops not objects", {}, ["add"], 400),
]


@pytest.mark.parametrize(("name", "doc", "ops", "code"), RFC6902_FAIL, ids=[c[0] for c in RFC6902_FAIL])
def test_json_patch_errors(name: str, doc: Any, ops: Any, code: int) -> None:
    with pytest.raises(PatchError) as info:
        json_patch(doc, ops)
    assert info.value.code == code


def test_json_patch_is_atomic_and_test_failure_is_distinguishable() -> None:
    doc = {"a": 1}
    with pytest.raises(PatchTestFailed):
        json_patch(
            doc, [{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 3}]
        )
    assert doc == {"a": 1}
    with pytest.raises(PatchError):
        json_patch({"a": 1}, {"op": "add"})  # type: ignore[arg-type]


# ---------------------------------------------------------------- strategic merge patch
def has_directive(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.startswith("$") or has_directive(v) for k, v in value.items())
    return isinstance(value, list) and any(has_directive(v) for v in value)


def deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers, **spec}},
        },
    }


def pod_spec_patch(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = obj["spec"]["template"]["spec"]
    return result


def test_smp_maps_merge_and_null_deletes() -> None:
    live: dict[str, Any] = {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    patch: dict[str, Any] = {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"k2": "v2"}}
    out = strategic_merge_patch(live, patch, ("", "v1", "ConfigMap"))
    assert out == {"metadata": {"labels": {"b": "2", "c": "3"}}, "data": {"k": "v", "k2": "v2"}}
    assert live["metadata"]["labels"] == {"a": "1", "b": "2"}


def test_smp_containers_merge_by_name_with_env_merge() -> None:
    live = deployment(
        [
            {
                "name": "app",
                "image": "a:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "side", "image": "s:1"},
        ]
    )
    patch = pod_spec_patch(
        containers=[
            {
                "name": "app",
                "image": "a:2",
                "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
            }
        ]
    )
    out = pod_spec(strategic_merge_patch(live, patch, DEPLOY))
    assert [c["name"] for c in out["containers"]] == ["app", "side"]
    app = out["containers"][0]
    assert app["image"] == "a:2"
    assert {e["name"]: e["value"] for e in app["env"]} == {"A": "1", "B": "two", "C": "3"}
    assert out["containers"][1] == {"name": "side", "image": "s:1"}


def test_smp_new_list_item_goes_first_like_kubectl_patch_docs() -> None:
    live = deployment([{"name": "patch-demo-ctr", "image": "nginx"}])
    patch = pod_spec_patch(containers=[{"name": "patch-demo-ctr-2", "image": "redis"}])
    out = pod_spec(strategic_merge_patch(live, patch, DEPLOY))
    assert [c["name"] for c in out["containers"]] == ["patch-demo-ctr-2", "patch-demo-ctr"]


def test_smp_container_ports_by_container_port_and_mounts_by_path() -> None:
    live = deployment(
        [
            {
                "name": "app",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }
        ]
    )
    patch = pod_spec_patch(
        containers=[
            {
                "name": "app",
                "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 9090}],
                "volumeMounts": [{"name": "other", "mountPath": "/data"}],
            }
        ]
    )
    app = pod_spec(strategic_merge_patch(live, patch, DEPLOY))["containers"][0]
    assert app["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 9090}]
    assert app["volumeMounts"] == [{"name": "other", "mountPath": "/data"}]


def test_smp_service_ports_merge_by_port() -> None:
    live = {
        "spec": {
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}, {"port": 443}],
            "selector": {"app": "a"},
        }
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9000}], "selector": {"app": "b"}}}
    out = strategic_merge_patch(live, patch, SERVICE)
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9000, "protocol": "TCP"}, {"port": 443}]
    assert out["spec"]["selector"] == {"app": "b"}


def test_smp_finalizers_merge_as_set_and_delete_from_primitive_list() -> None:
    live = {"metadata": {"finalizers": ["a", "b"]}}
    out = strategic_merge_patch(live, {"metadata": {"finalizers": ["b", "c"]}}, ("", "v1", "ConfigMap"))
    assert sorted(out["metadata"]["finalizers"]) == ["a", "b", "c"]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["d"]}}
    out = strategic_merge_patch(live, patch, ("", "v1", "ConfigMap"))
    assert sorted(out["metadata"]["finalizers"]) == ["b", "d"]
    assert not has_directive(out)


def test_smp_unlisted_lists_replace() -> None:
    live = deployment(
        [{"name": "app", "args": ["a", "b"], "envFrom": [{"configMapRef": {"name": "x"}}]}],
        tolerations=[{"key": "k1"}],
    )
    patch = pod_spec_patch(
        containers=[{"name": "app", "args": ["c"], "envFrom": [{"secretRef": {"name": "y"}}]}],
        tolerations=[{"key": "k2"}],
    )
    out = pod_spec(strategic_merge_patch(live, patch, DEPLOY))
    assert out["tolerations"] == [{"key": "k2"}]
    assert out["containers"][0]["args"] == ["c"]
    assert out["containers"][0]["envFrom"] == [{"secretRef": {"name": "y"}}]


def test_smp_set_element_order_reorders_merged_list() -> None:
    live = deployment([{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = pod_spec_patch(**{"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]})
    out = pod_spec(strategic_merge_patch(live, patch, DEPLOY))
    assert [c["name"] for c in out["containers"]] == ["c", "a", "b"]
    patch = pod_spec_patch(
        **{
            "$setElementOrder/containers": [{"name": "b"}, {"name": "d"}],
            "containers": [{"name": "d", "image": "new"}],
        }
    )
    out = pod_spec(strategic_merge_patch(live, patch, DEPLOY))
    names = [c["name"] for c in out["containers"]]
    assert names.index("b") < names.index("d") and sorted(names) == ["a", "b", "c", "d"]
    assert not has_directive(out)


def test_smp_set_element_order_for_primitives() -> None:
    live = {"metadata": {"finalizers": ["x", "y"]}}
    patch = {"metadata": {"$setElementOrder/finalizers": ["z", "y", "x"], "finalizers": ["z"]}}
    assert strategic_merge_patch(live, patch, POD)["metadata"]["finalizers"] == ["z", "y", "x"]


def test_smp_retain_keys_clears_other_keys() -> None:
    live = deployment([{"name": "a"}])
    live["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchError) as info:
        strategic_merge_patch(live, {"spec": {"strategy": {"$retainKeys": [], "type": "Recreate"}}}, DEPLOY)
    assert info.value.code == 400


def test_smp_retain_keys_in_volume_item() -> None:
    live = deployment([{"name": "a"}], volumes=[{"name": "v", "emptyDir": {}}])
    patch = pod_spec_patch(
        volumes=[{"name": "v", "$retainKeys": ["name", "configMap"], "configMap": {"name": "cm"}}]
    )
    assert pod_spec(strategic_merge_patch(live, patch, DEPLOY))["volumes"] == [
        {"name": "v", "configMap": {"name": "cm"}}
    ]


def test_smp_patch_delete_and_replace_in_lists() -> None:
    live = deployment([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}])
    out = pod_spec(
        strategic_merge_patch(live, pod_spec_patch(containers=[{"$patch": "delete", "name": "a"}]), DEPLOY)
    )
    assert out["containers"] == [{"name": "b", "image": "2"}]
    patch = pod_spec_patch(containers=[{"name": "c", "image": "3"}, {"$patch": "replace"}])
    out = pod_spec(strategic_merge_patch(live, patch, DEPLOY))
    assert out["containers"] == [{"name": "c", "image": "3"}]


def test_smp_patch_directives_in_maps() -> None:
    live = {"metadata": {"labels": {"a": "1"}}, "data": {"x": "1", "y": "2"}}
    out = strategic_merge_patch(live, {"data": {"$patch": "replace", "z": "3"}}, ("", "v1", "ConfigMap"))
    assert out["data"] == {"z": "3"}
    out = strategic_merge_patch(live, {"data": {"$patch": "delete"}}, ("", "v1", "ConfigMap"))
    assert out["data"] == {}  # k8s returns an empty map here (handleDirectiveInMergeMap)
    out = strategic_merge_patch(live, {"data": {"$patch": "merge", "z": "3"}}, ("", "v1", "ConfigMap"))
    assert out["data"] == {"x": "1", "y": "2", "z": "3"}
    with pytest.raises(PatchError):
        strategic_merge_patch(live, {"data": {"$patch": "explode"}}, ("", "v1", "ConfigMap"))


def test_smp_missing_merge_key_is_an_error() -> None:
    live = deployment([{"name": "a"}])
    with pytest.raises(PatchError) as info:
        strategic_merge_patch(live, pod_spec_patch(containers=[{"image": "x"}]), DEPLOY)
    assert info.value.code == 422


def test_smp_owner_references_and_conditions() -> None:
    live = {
        "metadata": {"ownerReferences": [{"uid": "u1", "name": "rs1"}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}]
        },
    }
    patch = {
        "metadata": {"ownerReferences": [{"uid": "u2", "name": "rs2"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    out = strategic_merge_patch(live, patch, POD)
    assert {o["uid"] for o in out["metadata"]["ownerReferences"]} == {"u1", "u2"}
    assert {c["type"]: c["status"] for c in out["status"]["conditions"]} == {
        "Ready": "True",
        "Scheduled": "True",
    }


def test_smp_cronjob_pod_template_path() -> None:
    live = {
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "job", "env": [{"name": "A", "value": "1"}]}]}
                    }
                }
            }
        }
    }
    patch = {
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "job", "env": [{"name": "B", "value": "2"}]}]}
                    }
                }
            }
        }
    }
    out = strategic_merge_patch(live, patch, CRONJOB)
    env = out["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert sorted(e["name"] for e in env) == ["A", "B"]


def test_smp_unknown_kind_falls_back_to_merge_patch() -> None:
    assert smp_supported(DEPLOY) and smp_supported(("", "v1", "Secret"))
    assert not smp_supported(WIDGET)
    live = {"spec": {"items": [{"name": "a"}], "x": 1}}
    patch = {"spec": {"items": [{"name": "b"}], "x": None}}
    assert (
        strategic_merge_patch(live, patch, WIDGET)
        == json_merge_patch(live, patch)
        == {"spec": {"items": [{"name": "b"}]}}
    )


def test_merge_key_table() -> None:
    keys = merge_keys(DEPLOY)
    assert keys["spec.template.spec.containers"] == "name"
    assert keys["spec.template.spec.containers[].ports"] == "containerPort"
    assert keys["spec.template.spec.initContainers[].env"] == "name"
    assert keys["spec.template.spec.containers[].volumeDevices"] == "devicePath"
    assert keys["metadata.finalizers"] == "" and keys["metadata.ownerReferences"] == "uid"
    assert "spec.template.spec.tolerations" not in keys
    assert "spec.template.spec.containers[].envFrom" not in keys
    assert merge_keys(POD)["spec.topologySpreadConstraints"] == "topologyKey"
    assert merge_keys(POD)["spec.hostAliases"] == "ip"
    assert merge_keys(CRONJOB)["spec.jobTemplate.spec.template.spec.volumes"] == "name"
    assert merge_keys(SERVICE)["spec.ports"] == "port"
    assert merge_keys(WIDGET) == {"metadata.ownerReferences": "uid", "metadata.finalizers": ""}


def test_smp_kubectl_apply_three_way_patch_for_deployment() -> None:
    """The patch kubectl apply sends after a chart adds env B, drops port 9090 and swaps containers."""
    live = deployment(
        [
            {
                "name": "app",
                "image": "app:1",
                "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "A", "value": "1"}],
                "ports": [
                    {"containerPort": 80, "protocol": "TCP"},
                    {"containerPort": 9090, "name": "metrics", "protocol": "TCP"},
                ],
            },
            {"name": "sidecar", "image": "side:1", "imagePullPolicy": "IfNotPresent"},
        ]
    )
    live["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{old}"}
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{new}"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                    "containers": [
                        {
                            "name": "app",
                            "image": "app:2",
                            "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                            "env": [{"name": "B", "value": "2"}],
                            "$setElementOrder/ports": [{"containerPort": 80}],
                            "ports": [{"$patch": "delete", "containerPort": 9090}],
                        }
                    ],
                }
            }
        },
    }
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert not has_directive(out)
    assert out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == "{new}"
    sidecar, app = pod_spec(out)["containers"]
    assert sidecar["name"] == "sidecar" and sidecar["image"] == "side:1"
    assert app == {
        "name": "app",
        "image": "app:2",
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
    }
    assert out["spec"]["replicas"] == 1


def test_smp_directives_never_leak_into_new_fields() -> None:
    live = deployment([{"name": "a"}])
    patch = pod_spec_patch(
        containers=[
            {
                "name": "b",
                "env": [{"name": "X", "value": "1"}, {"$patch": "replace"}],
                "resources": {"$patch": "replace", "limits": {"cpu": "1"}},
            }
        ],
        volumes=[{"name": "v", "$retainKeys": ["name", "emptyDir"], "emptyDir": {}}],
        **{"$setElementOrder/volumes": [{"name": "v"}]},
    )
    out = strategic_merge_patch(live, patch, DEPLOY)
    assert not has_directive(out)
    assert pod_spec(out)["volumes"] == [{"name": "v", "emptyDir": {}}]


# ---------------------------------------------------------------- server-side apply
def chart(
    env: list[str], ports: list[int], labels: dict[str, str], replicas: int | None = 2
) -> dict[str, Any]:
    obj = deployment(
        [
            {
                "name": "app",
                "image": "app:1",
                "env": [{"name": n, "value": n.lower()} for n in env],
                "ports": [{"containerPort": p} for p in ports],
            }
        ]
    )
    obj["metadata"]["labels"] = labels
    if replicas is None:
        del obj["spec"]["replicas"]
    else:
        obj["spec"]["replicas"] = replicas
    return obj


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What kubesim would add on create."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(
        uid="u-1", resourceVersion="7", creationTimestamp="2024-01-01T00:00:00Z", generation=1
    )
    return obj


def entry_of(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    (entry,) = [e for e in obj["metadata"]["managedFields"] if e["manager"] == manager]
    assert isinstance(entry, dict)
    return entry


def test_ssa_create_records_managed_fields() -> None:
    applied = chart(["A"], [80], {"app": "web"})
    out = apply_patch(None, applied, DEPLOY, "helm", False, time="2024-01-01T00:00:00Z")
    assert {k: v for k, v in out.items() if k != "metadata"} == {
        k: v for k, v in applied.items() if k != "metadata"
    }
    entry = entry_of(out, "helm")
    assert (
        entry["operation"] == "Apply"
        and entry["apiVersion"] == "apps/v1"
        and entry["fieldsType"] == "FieldsV1"
    )
    assert entry["time"] == "2024-01-01T00:00:00Z"
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert "f:apiVersion" not in fields and "f:kind" not in fields
    app = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert app["."] == {} and app["f:image"] == {} and app["f:name"] == {}
    assert app["f:env"]['k:{"name":"A"}'] == {".": {}, "f:name": {}, "f:value": {}}
    assert app["f:ports"]['k:{"containerPort":80}'] == {".": {}, "f:containerPort": {}}
    assert fields["f:spec"]["f:replicas"] == {}


def test_ssa_reapply_removes_fields_the_manager_dropped() -> None:
    live = stored(
        apply_patch(None, chart(["A", "B"], [80, 9090], {"app": "web", "tier": "fe"}), DEPLOY, "helm", False)
    )
    out = apply_patch(live, chart(["A"], [80], {"app": "web"}, replicas=None), DEPLOY, "helm", False)
    app = pod_spec(out)["containers"][0]
    assert app["env"] == [{"name": "A", "value": "a"}]
    assert app["ports"] == [{"containerPort": 80}]
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "replicas" not in out["spec"]
    fields = entry_of(out, "helm")["fieldsV1"]
    assert "f:replicas" not in fields["f:spec"]
    assert len(out["metadata"]["managedFields"]) == 1


def test_ssa_keeps_fields_set_by_others_without_managed_fields() -> None:
    live = stored(apply_patch(None, chart(["A"], [80], {"app": "web"}), DEPLOY, "helm", False))
    # e.g. kubectl scale / a merge patch: kubesim records no managedFields entry for it
    live = json_merge_patch(
        live,
        {
            "metadata": {"annotations": {"note": "x"}},
            "spec": {"template": {"spec": {"serviceAccountName": "sa"}}},
        },
    )
    out = apply_patch(live, chart(["A"], [80], {"app": "web"}), DEPLOY, "helm", False)
    assert out["metadata"]["annotations"] == {"note": "x"}
    assert pod_spec(out)["serviceAccountName"] == "sa"


def test_ssa_shared_ownership_keeps_field_and_force_takes_over_differing_values() -> None:
    live = stored(apply_patch(None, chart(["A"], [80], {"app": "web", "team": "t"}), DEPLOY, "helm", False))
    live = apply_patch(
        live,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"team": "t"}},
            "spec": {"replicas": 5},
        },
        DEPLOY,
        "ops",
        False,
    )
    assert live["spec"]["replicas"] == 5
    assert entry_of(live, "ops")["fieldsV1"]["f:metadata"] == {"f:labels": {"f:team": {}}}
    # "ops" took replicas over from helm (different value); "team" is shared (same value)
    assert "f:replicas" not in entry_of(live, "helm")["fieldsV1"]["f:spec"]
    out = apply_patch(live, chart(["A"], [80], {"app": "web"}, replicas=None), DEPLOY, "helm", True)
    assert out["metadata"]["labels"] == {"app": "web", "team": "t"}
    assert out["spec"]["replicas"] == 5
    # once ops stops applying them, both go
    out = apply_patch(
        out,
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
        DEPLOY,
        "ops",
        False,
    )
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "replicas" not in out["spec"]
    assert [e["manager"] for e in out["metadata"]["managedFields"]] == ["helm", "ops"]


def test_ssa_keeps_server_owned_metadata() -> None:
    live = stored(apply_patch(None, chart(["A"], [80], {"app": "web"}), DEPLOY, "helm", False))
    applied = chart(["A"], [80], {"app": "web"})
    applied["metadata"].update(
        uid="forged", resourceVersion="1", generation=99, managedFields=[{"manager": "forged"}]
    )
    out = apply_patch(live, applied, DEPLOY, "helm", False)
    meta = out["metadata"]
    assert (meta["uid"], meta["resourceVersion"], meta["generation"]) == ("u-1", "7", 1)
    assert meta["creationTimestamp"] == "2024-01-01T00:00:00Z"
    assert [e["manager"] for e in meta["managedFields"]] == ["helm"]


def test_ssa_removes_dropped_container_and_merges_into_live_defaults() -> None:
    two = deployment([{"name": "app", "image": "a"}, {"name": "side", "image": "s"}])
    live = stored(apply_patch(None, two, DEPLOY, "helm", False))
    pod_spec(live)["containers"][0]["imagePullPolicy"] = "IfNotPresent"  # server default, unowned
    pod_spec(live)["containers"][1]["imagePullPolicy"] = "IfNotPresent"
    out = apply_patch(live, deployment([{"name": "app", "image": "a2"}]), DEPLOY, "helm", False)
    assert pod_spec(out)["containers"] == [{"name": "app", "image": "a2", "imagePullPolicy": "IfNotPresent"}]


def test_ssa_dropped_item_keeps_key_and_fields_owned_by_another_manager() -> None:
    live = stored(
        apply_patch(
            None,
            deployment(
                [
                    {"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}},
                    {"name": "b", "image": "y"},
                ]
            ),
            DEPLOY,
            "helm",
            False,
        )
    )
    pod_spec(live)["containers"][1]["securityContext"] = {"privileged": True}
    owned: dict[str, Any] = {"f:securityContext": {"f:privileged": {}}}
    live["metadata"]["managedFields"].append(
        {
            "manager": "kubectl-edit",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"b"}': owned}}}}},
        }
    )
    out = apply_patch(live, deployment([{"name": "a", "image": "x"}]), DEPLOY, "helm", False)
    assert pod_spec(out)["containers"] == [
        {"name": "a", "image": "x"},  # resources.limits.cpu dropped, emptied parents go too
        {"name": "b", "securityContext": {"privileged": True}},  # image pruned, key and others' field stay
    ]


def test_ssa_finalizers_and_custom_resources() -> None:
    cr: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "finalizers": ["example.com/a", "example.com/b"]},
        "spec": {"items": [{"name": "x"}, {"name": "y"}]},
    }
    live = stored(apply_patch(None, cr, WIDGET, "helm", False))
    fields = entry_of(live, "helm")["fieldsV1"]
    assert fields["f:metadata"]["f:finalizers"] == {'v:"example.com/a"': {}, 'v:"example.com/b"': {}}
    assert fields["f:spec"]["f:items"] == {}  # atomic list for unknown schemas
    live["metadata"]["finalizers"].append("other/c")
    cr2 = copy.deepcopy(cr)
    cr2["metadata"]["finalizers"] = ["example.com/a"]
    cr2["spec"]["items"] = [{"name": "z"}]
    out = apply_patch(live, cr2, WIDGET, "helm", False)
    assert out["metadata"]["finalizers"] == ["example.com/a", "other/c"]
    assert out["spec"]["items"] == [{"name": "z"}]


def test_field_set_helpers() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "labels": {"a": "b"}},
        "spec": {"ports": [{"port": 80, "name": "http"}], "selector": {}},
    }
    assert ("f:spec", "f:ports", 'k:{"port":80}', "f:name") in field_set(obj, SERVICE)
    assert ("f:spec", "f:selector") in field_set(obj, SERVICE)
    assert fields_v1(obj, SERVICE)["f:spec"]["f:ports"]['k:{"port":80}']["."] == {}
    with pytest.raises(PatchError):
        apply_patch(None, [], SERVICE, "m", False)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(alphabet="abc", max_size=2)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=3),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from("abcd"), json_values, max_size=4)
no_null_values = st.recursive(
    scalars.filter(lambda v: v is not None),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=3),
    max_leaves=12,
)
no_null_objects = st.dictionaries(st.sampled_from("abcd"), no_null_values, max_size=4)


def merge_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """A merge patch taking a to b (b holds no nulls in objects)."""
    out: dict[str, Any] = {k: None for k in a if k not in b}
    for k, v in b.items():
        if k in a and isinstance(a[k], dict) and isinstance(v, dict):
            sub = merge_diff(a[k], v)
            if sub:
                out[k] = sub
        elif k not in a or json.dumps(a[k], sort_keys=True) != json.dumps(v, sort_keys=True):
            out[k] = v
    return out


@given(json_values, json_values)
def test_merge_patch_is_idempotent(target: Any, patch: Any) -> None:
    once = json_merge_patch(target, patch)
    assert json_merge_patch(once, patch) == once


@given(json_objects)
def test_empty_merge_patch_is_identity(target: dict[str, Any]) -> None:
    assert json_merge_patch(target, {}) == target
    assert strategic_merge_patch(target, {}, DEPLOY) == target


@given(json_objects, no_null_objects)
def test_merge_patch_diff_round_trips(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert json_merge_patch(a, merge_diff(a, b)) == b


@given(json_objects, no_null_objects)
def test_smp_on_custom_resources_is_merge_patch(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert strategic_merge_patch(a, b, WIDGET) == json_merge_patch(a, b)


@given(json_objects, st.sampled_from("abcdxyz~/"), json_values)
def test_json_patch_add_then_test_then_remove(doc: dict[str, Any], key: str, value: Any) -> None:
    pointer = "/" + key.replace("~", "~0").replace("/", "~1")
    added = json_patch(
        doc, [{"op": "add", "path": pointer, "value": value}, {"op": "test", "path": pointer, "value": value}]
    )
    assert added[key] == value
    if key not in doc:
        assert json_patch(added, [{"op": "remove", "path": pointer}]) == doc
