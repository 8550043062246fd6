"""kubesim conformance: objects are checked against their kind's schema, as kube-apiserver does.

Custom resources against their CRD's structural schema (types, enum, pattern, lengths, items,
minimum, required, nullable, int-or-string, preserve-unknown-fields, embedded resources, CEL
`x-kubernetes-validations` with `oldSelf`), unknown fields pruned, `default`s applied;
`fieldValidation` Strict / Warn / Ignore; built-in kinds against the Kubernetes 1.37 schemas;
`kubectl explain` for built-in kinds. Requests go over HTTP (the Status body and the Warning
header are what is asserted) or through the real kubectl.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import celrules
from kubesim.fielderrors import FieldError

ROOT = Path(__file__).resolve().parent.parent.parent

GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["name"],
                                "x-kubernetes-validations": [
                                    {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                                    {
                                        "rule": "self.name == oldSelf.name",
                                        "message": "name is immutable",
                                        "fieldPath": ".name",
                                    },
                                    {
                                        "rule": "!has(self.banned)",
                                        "messageExpression": "'banned: ' + self.banned",
                                    },
                                ],
                                "properties": {
                                    "name": {"type": "string", "maxLength": 8, "pattern": "^[a-z]+$"},
                                    "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
                                    "min": {"type": "integer", "minimum": 0, "default": 0},
                                    "max": {"type": "integer", "maximum": 10, "default": 10},
                                    "tags": {
                                        "type": "array",
                                        "maxItems": 2,
                                        "items": {"type": "string"},
                                        "x-kubernetes-list-type": "set",
                                    },
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "properties": {"name": {"type": "string"}},
                                        },
                                    },
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "note": {"type": "string", "nullable": True},
                                    "banned": {"type": "string"},
                                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                    "template": {
                                        "type": "object",
                                        "x-kubernetes-embedded-resource": True,
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def _call(
    url: str, method: str, path: str, body: Any = None, ctype: str = "application/json"
) -> tuple[int, Any, list[str]]:
    """(status, decoded body, Warning headers) of one API request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers.get_all("Warning") or []
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers.get_all("Warning") or []


GADGETS = "/apis/example.com/v1/namespaces/default/gadgets"


def gadget(obj_name: str = "g", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": obj_name},
        "spec": {"name": "abc", **spec},
    }


@pytest.fixture
def gadgets(kubesim: Any, kubectl: Any) -> str:
    """The Gadget CRD installed; returns the server URL."""
    kubectl("apply", "-f", "-", input=yaml.safe_dump(GADGET_CRD))
    kubectl("wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=10s")
    return str(kubesim.url)


@pytest.mark.parametrize(
    ("spec", "field", "reason", "message"),
    [
        (
            {"name": "ABC"},
            "spec.name",
            "FieldValueInvalid",
            "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'",
        ),
        ({"name": "abcdefghij"}, "spec.name", "FieldValueTooLong", "Too long: may not be more than 8 bytes"),
        (
            {"mode": "medium"},
            "spec.mode",
            "FieldValueNotSupported",
            'Unsupported value: "medium": supported values: "fast", "slow"',
        ),
        (
            {"min": "one"},
            "spec.min",
            "FieldValueTypeInvalid",
            'Invalid value: "string": spec.min in body must be of type integer: "string"',
        ),
        (
            {"min": -1},
            "spec.min",
            "FieldValueInvalid",
            "Invalid value: -1: spec.min in body should be greater than or equal to 0",
        ),
        (
            {"max": 11},
            "spec.max",
            "FieldValueInvalid",
            "Invalid value: 11: spec.max in body should be less than or equal to 10",
        ),
        (
            {"tags": ["a", "b", "c"]},
            "spec.tags",
            "FieldValueTooMany",
            "Too many: 3: must have at most 2 items",
        ),
        (
            {"port": True},
            "spec.port",
            "FieldValueTypeInvalid",
            'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        ),
        (
            {"note": 5},
            "spec.note",
            "FieldValueTypeInvalid",
            'Invalid value: "integer": spec.note in body must be of type string: "integer"',
        ),
        (
            {"min": 5, "max": 3},
            "spec",
            "FieldValueInvalid",
            'Invalid value: "object": min must not exceed max',
        ),
        ({"banned": "x"}, "spec", "FieldValueInvalid", 'Invalid value: "object": banned: x'),
        ({"tags": ["a", "a"]}, "spec.tags[1]", "FieldValueDuplicate", 'Duplicate value: "a"'),
        (
            {"ports": [{"name": "http"}, {"name": "http"}]},
            "spec.ports[1]",
            "FieldValueDuplicate",
            'Duplicate value: map[string]interface {}{"name":"http"}',
        ),
        (
            {"template": {"metadata": {"name": "t"}}},
            "spec.template.apiVersion",
            "FieldValueRequired",
            "Required value",
        ),
    ],
)
def test_custom_resource_invalid_values_are_422(
    gadgets: str, spec: dict[str, Any], field: str, reason: str, message: str
) -> None:
    code, status, _ = _call(gadgets, "POST", GADGETS, gadget("g", **spec))
    assert code == 422, status
    assert status["reason"] == "Invalid"
    assert status["message"].startswith('Gadget.example.com "g" is invalid: ')
    assert {"reason": reason, "message": message, "field": field} in status["details"]["causes"]
    assert f"{field}: {message}" in status["message"]
    assert status["details"]["kind"] == "Gadget" and status["details"]["group"] == "example.com"


def test_required_field_and_several_errors_in_one_message(gadgets: str) -> None:
    body = gadget()
    del body["spec"]["name"]
    body["spec"]["mode"] = "x"
    code, status, _ = _call(gadgets, "POST", GADGETS, body)
    assert code == 422
    # The CRD has CEL rules: an enum, required, type or size error stops them (as the API server does).
    assert status["message"] == (
        'Gadget.example.com "g" is invalid: [spec.mode: Unsupported value: "x": supported values: '
        '"fast", "slow", spec.name: Required value, <nil>: Invalid value: "null": some validation rules '
        "were not checked because the object was invalid; correct the existing errors to complete validation]"
    )


def test_valid_values_accepted_with_defaults_and_pruning(gadgets: str) -> None:
    body = gadget(port="http", note=None, free={"any": {"thing": 1}}, extra="dropped")
    body["metadata"]["colour"] = "red"
    body["spec"]["template"] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "t"},
        "data": {"a": "b"},
    }
    code, obj, warnings = _call(gadgets, "POST", GADGETS, body)
    assert code == 201, obj
    assert warnings == [
        '299 - "unknown field \\"metadata.colour\\""',
        '299 - "unknown field \\"spec.extra\\""',
    ]
    assert "colour" not in obj["metadata"]
    spec = obj["spec"]
    assert "extra" not in spec
    assert (spec["mode"], spec["min"], spec["max"]) == ("slow", 0, 10)  # defaults
    assert spec["free"] == {"any": {"thing": 1}}  # preserve-unknown-fields
    assert spec["template"]["data"] == {"a": "b"} and spec["port"] == "http" and spec["note"] is None


def test_field_validation_strict_warn_ignore(gadgets: str, kubectl: Any) -> None:
    code, status, _ = _call(gadgets, "POST", GADGETS + "?fieldValidation=Strict", gadget(foo=1, bar={"x": 1}))
    assert code == 400 and status["reason"] == "BadRequest"
    assert status["message"] == (
        'Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: '
        'unknown field "spec.bar", unknown field "spec.foo"'
    )
    code, obj, warnings = _call(gadgets, "POST", GADGETS + "?fieldValidation=Ignore", gadget(foo=1))
    assert code == 201 and "foo" not in obj["spec"] and warnings == []
    # kubectl's default (--validate=strict) refuses; --validate=warn prints the server's warning.
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(gadget("k", foo=1)), check=False)
    assert proc.returncode == 1
    assert 'strict decoding error: unknown field "spec.foo"' in proc.stderr
    proc = kubectl.run("apply", "--validate=warn", "-f", "-", input=yaml.safe_dump(gadget("k", foo=1)))
    assert 'Warning: unknown field "spec.foo"' in proc.stderr


def test_transition_rule_sees_old_self(gadgets: str, kubectl: Any) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump(gadget("t")))
    proc = kubectl.run(
        "apply", "-f", "-", input=yaml.safe_dump(gadget("t", **{"name": "other"})), check=False
    )
    assert proc.returncode == 1
    assert 'The Gadget "t" is invalid: spec.name: Invalid value: "object": name is immutable' in proc.stderr
    kubectl("apply", "-f", "-", input=yaml.safe_dump(gadget("t", mode="fast")))  # other fields may change
    assert json.loads(kubectl("get", "gadget", "t", "-o", "json"))["spec"]["mode"] == "fast"


def test_defaults_added_to_the_schema_later_show_on_read(gadgets: str, kubectl: Any, eventually: Any) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump(gadget("d")))
    crd = json.loads(json.dumps(GADGET_CRD))
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    props["color"] = {"type": "string", "default": "blue"}
    kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))

    def color() -> Any:
        return json.loads(kubectl("get", "gadget", "d", "-o", "json"))["spec"].get("color")

    assert eventually(lambda: color() == "blue", what="the new default on read")


def test_our_crds_reject_two_chart_sources(kubectl: Any) -> None:
    kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
    kubectl("wait", "--for=condition=Established", "crd/helmreleases.helmrelease.dev", "--timeout=10s")
    hr = {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "two"},
        "spec": {
            "chart": {
                "git": {"url": "https://example.com/x.git", "ref": {"branch": "main"}},
                "oci": {"url": "oci://r/x"},
            }
        },
    }
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(hr), check=False)
    assert proc.returncode == 1
    assert (
        'The HelmRelease "two" is invalid: spec.chart: Invalid value: "object": '
        "exactly one of git, repository or oci must be set"
    ) in proc.stderr
    del hr["spec"]["chart"]["oci"]
    kubectl("apply", "-f", "-", input=yaml.safe_dump(hr))


# -- built-in kinds -------------------------------------------------------------------------------
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(**spec: Any) -> dict[str, Any]:
    pod = {"containers": [{"name": "app", "image": "nginx"}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod},
            **spec,
        },
    }


def test_deployment_without_containers_is_invalid(kubesim: Any, kubectl: Any) -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"] = []
    code, status, _ = _call(kubesim.url, "POST", DEPLOYMENTS, body)
    assert code == 422, status
    assert (
        status["message"] == 'Deployment.apps "web" is invalid: spec.template.spec.containers: Required value'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.template.spec.containers",
        }
    ]
    del body["spec"]["selector"]
    proc = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(body), check=False)
    assert proc.returncode == 1
    assert (
        "spec.selector: Required value" in proc.stderr
        and "spec.template.spec.containers: Required value" in proc.stderr
    )


def test_builtin_without_spec_and_with_partial_status(kubesim: Any) -> None:
    body = deployment()
    del body["spec"]
    code, status, _ = _call(kubesim.url, "POST", DEPLOYMENTS, body)
    assert code == 422
    assert status["message"] == (
        'Deployment.apps "web" is invalid: [spec.selector: Required value, spec.template: Required value]'
    )
    body = deployment()
    body["status"] = {"conditions": [{"type": "Available"}]}  # no status, lastTransitionTime ...
    code, obj, _ = _call(kubesim.url, "POST", DEPLOYMENTS, body)
    assert code == 201, obj


def test_builtin_wrong_type_is_a_decoding_error(kubesim: Any) -> None:
    code, status, _ = _call(kubesim.url, "POST", DEPLOYMENTS, deployment(replicas="two"))
    assert code == 400
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into '
        "Go struct field DeploymentSpec.spec.replicas of type int32"
    )


def test_builtin_unknown_fields(kubesim: Any) -> None:
    body = deployment(bogus=1)
    code, status, _ = _call(kubesim.url, "POST", DEPLOYMENTS + "?fieldValidation=Strict", body)
    assert code == 400
    assert status["message"].endswith('strict decoding error: unknown field "spec.bogus"')
    code, obj, warnings = _call(kubesim.url, "POST", DEPLOYMENTS, body)
    assert code == 201 and "bogus" not in obj["spec"]
    assert warnings == ['299 - "unknown field \\"spec.bogus\\""']


@pytest.mark.parametrize("chart", ["webapp", "demo", "loadbalancer"])
def test_test_charts_are_accepted_strictly(kubectl: Any, chart: str) -> None:
    """Every test chart's manifests (CRDs first) pass kubectl's default --validate=strict."""
    if not (ROOT / "tests" / "charts" / chart).is_dir():
        pytest.skip(f"no chart {chart}")
    crds = subprocess.run(
        [str(ROOT / ".bin" / "helm"), "show", "crds", str(ROOT / "tests" / "charts" / chart)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if crds.strip():
        kubectl("apply", "-f", "-", input=crds)
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=10s")
    out = kubectl.run("apply", "-f", "-", input=_render(chart), check=False)
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr


def _render(chart: str) -> str:
    helm = ROOT / ".bin" / "helm"
    return subprocess.run(
        [str(helm), "template", "x", str(ROOT / "tests" / "charts" / chart)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_kubectl_explain_builtin_kind(kubectl: Any) -> None:
    out = kubectl("explain", "deployment.spec.replicas")
    assert "FIELD: replicas <integer>" in out
    assert "Number of desired pods" in out


def test_update_keeps_a_value_a_tightened_schema_refuses(gadgets: str, kubectl: Any, eventually: Any) -> None:
    """Validation ratcheting: an unchanged invalid value does not block an update of other fields."""
    kubectl("apply", "-f", "-", input=yaml.safe_dump(gadget("r", **{"name": "abcdefg"})))
    crd = json.loads(json.dumps(GADGET_CRD))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["name"]["maxLength"] = 4
    spec["x-kubernetes-validations"].append(
        {"rule": "self.name.lowerAscii() == self.name", "message": "lower"}
    )
    kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))

    def refused() -> Any:
        code, status, _ = _call(
            gadgets, "POST", GADGETS + "?dryRun=All", gadget("new", **{"name": "abcdefg"})
        )
        return code == 422 and status

    status = eventually(refused, what="the tightened schema in force")
    assert (
        status["message"]
        == 'Gadget.example.com "new" is invalid: [spec.name: Too long: may not be more than 4 bytes, <nil>: '
        'Invalid value: "null": some validation rules were not checked because the object was invalid; '
        "correct the existing errors to complete validation]"
    )
    code, obj, _ = _call(gadgets, "PUT", GADGETS + "/r", gadget("r", **{"name": "abcdefg", "mode": "fast"}))
    assert code == 200, obj
    code, status, _ = _call(gadgets, "PUT", GADGETS + "/r", gadget("r", **{"name": "abcdefgh"}))
    assert code == 422 and "spec.name: Too long: may not be more than 4 bytes" in status["message"]


# -- pure pieces ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "text"),
    [
        (FieldError("Required", "spec.x"), "spec.x: Required value"),
        (FieldError("Invalid", "spec.x", "a b", "bad"), 'spec.x: Invalid value: "a b": bad'),
        (FieldError("Invalid", "spec.x", 1.0, "bad"), "spec.x: Invalid value: 1: bad"),
        (
            FieldError("TooLong", "spec.x", "abc", "may not be more than 2 bytes"),
            "spec.x: Too long: may not be more than 2 bytes",
        ),
        (
            FieldError("TooMany", "spec.x", 3, "must have at most 2 items"),
            "spec.x: Too many: 3: must have at most 2 items",
        ),
        (FieldError("Forbidden", "spec.x", "v", "no"), "spec.x: Forbidden: no"),
    ],
)
def test_field_error_wording(error: FieldError, text: str) -> None:
    assert str(error) == text


RULES = {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "size(self.items) <= 2", "reason": "FieldValueForbidden", "message": "too many"}
    ],
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('a')"}]},
        },
        "v": {
            "type": "string",
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}],
        },
    },
}


@pytest.mark.parametrize(
    ("value", "old", "errors"),
    [
        ({"items": ["ab"], "v": "x"}, None, []),
        (
            {"items": ["ab", "b"]},
            None,
            ["items[1]: Invalid value: \"string\": failed rule: self.startsWith('a')"],
        ),
        ({"items": ["a", "a", "a"]}, None, ["<root>: Forbidden: too many"]),
        ({"items": [], "v": "y"}, {"items": [], "v": "x"}, ['v: Invalid value: "string": immutable']),
        ({"items": [], "v": "y"}, {"items": []}, []),  # a new field has no old value to compare
        (
            {"items": ["x"], "v": "x"},
            {"items": ["x"], "v": "x"},
            ["items[0]: Invalid value: \"string\": failed rule: self.startsWith('a')"],
        ),  # list items are not correlated with old ones: checked again
    ],
)
def test_cel_rules(value: Any, old: Any, errors: list[str]) -> None:
    got = [str(e) if e.field else f"<root>: {e.body}" for e in celrules.errors(RULES, value, old)]
    assert got == errors
