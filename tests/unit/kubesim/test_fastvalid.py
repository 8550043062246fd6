"""schemas' fast validity check (fastvalid.checker) never calls a value valid that jsonschema
finds an error in, and it passes the valid HelmRelease the controller writes (so it is used)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesim import fastvalid, schemas

ROOT = Path(__file__).resolve().parents[3]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from(["", "a", "ab", "abc", "1"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
    max_leaves=8,
)
types = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])
numbers_ = st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False))


def _schemas(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    keyword = st.one_of(
        st.tuples(st.just("type"), types | st.lists(types, max_size=3)),
        st.tuples(st.just("properties"), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
        st.tuples(st.just("additionalProperties"), inner | st.booleans()),
        st.tuples(st.just("required"), st.lists(st.sampled_from("abc"), max_size=3)),
        st.tuples(st.just("items"), inner),
        st.tuples(st.just("enum"), st.lists(values, min_size=1, max_size=3)),
        st.tuples(
            st.sampled_from(
                ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"]
            ),
            st.integers(0, 3),
        ),
        st.tuples(st.sampled_from(["minimum", "maximum"]), numbers_),
        st.tuples(st.sampled_from(["exclusiveMinimum", "exclusiveMaximum"]), st.booleans()),
        st.tuples(st.just("pattern"), st.sampled_from(["^a", "b$", "[0-9]", "^$"])),
        st.tuples(st.sampled_from(["allOf", "anyOf", "oneOf"]), st.lists(inner, min_size=1, max_size=2)),
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["uniqueItems"]), st.booleans()),
        st.tuples(st.just("multipleOf"), st.sampled_from([1, 2, 0.5])),
        st.tuples(
            st.just("patternProperties"), st.dictionaries(st.sampled_from(["^a", "b"]), inner, max_size=1)
        ),
        st.tuples(st.sampled_from(["description", "format", "x-kubernetes-embedded-resource"]), st.just("x")),
    )
    return st.lists(keyword, max_size=4).map(dict)


schemas_ = st.recursive(st.just({}), _schemas, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(schemas_, values)
def test_certainly_valid_means_jsonschema_finds_no_error(schema: dict[str, Any], value: Any) -> None:
    if fastvalid.checker(schema)(value):
        assert list(jsonschema.Draft4Validator(schema).iter_errors(value)) == []


@settings(max_examples=300, deadline=None)
@given(schemas_, values)
def test_without_unmodelled_keywords_it_agrees_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    text = json.dumps(schema)
    if any(
        k in text
        for k in ('"oneOf"', '"not"', '"uniqueItems"', '"multipleOf"', '"patternProperties"', '"anyOf"')
    ):
        return
    assert fastvalid.checker(schema)(value) == (
        list(jsonschema.Draft4Validator(schema).iter_errors(value)) == []
    )


def test_the_helmrelease_the_controller_writes_is_certainly_valid() -> None:
    crd = yaml.safe_load((ROOT / "crds" / "helmrelease.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    hr = json.loads((Path(__file__).parent / "helmrelease-sample.json").read_text())
    check = fastvalid.checker(schemas._to_jsonschema(schema, root=True))
    assert check(hr)
    hr["spec"]["interval"] = 5
    assert not check(hr)


@pytest.mark.parametrize(
    "schema,value",
    [
        ({"type": "integer"}, 1.0),  # draft 4: a float is never an integer
        ({"type": "integer"}, True),
        ({"enum": [1]}, True),  # jsonschema's equal: true is not 1
        ({"minimum": 1, "exclusiveMinimum": True}, 1),
        ({"maximum": 1, "exclusiveMaximum": True}, 1),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"b": 1}),
        ({"$ref": "#/definitions/x", "definitions": {"x": {}}}, 1),  # not modelled: jsonschema decides
    ],
)
def test_edge_cases_are_left_to_jsonschema(schema: dict[str, Any], value: Any) -> None:
    assert not fastvalid.checker(schema)(value)


def _with_refs(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    ref = st.sampled_from(["#/$defs/a", "#/$defs/b", "#/$defs/missing", "other.json#/x"]).map(
        lambda r: {"$ref": r}
    )
    return _schemas(inner | ref)


schemas_2020 = st.recursive(st.just({}), _with_refs, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(schemas_2020, schemas_2020, schemas_2020, values)
def test_draft_2020_12_with_local_refs(
    a: dict[str, Any], b: dict[str, Any], root: dict[str, Any], value: Any
) -> None:
    schema = {**root, "$defs": {"a": a, "b": b}}
    check = fastvalid.checker(schema, jsonschema.Draft202012Validator)
    try:
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
    except Exception:  # an unresolvable reference, a reference loop: never called valid either
        assert not check(value)
        return
    if check(value):
        assert errors == []


@pytest.mark.parametrize(
    "kind,obj,valid",
    [
        (
            "ConfigMap",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "x", "labels": {"a": "b"}},
                "data": {"k": "v"},
            },
            True,
        ),
        (
            "ConfigMap",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": 1}},
            False,
        ),
        (
            "Secret",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "x"},
                "data": {"release": "eA=="},
                "type": "helm.sh/release.v1",
            },
            True,
        ),
        (
            "Deployment",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "x"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "c",
                                    "image": "i",
                                    "ports": [{"containerPort": 80}],
                                    "resources": {"limits": {"cpu": "1", "memory": 5}},
                                }
                            ]
                        },
                    },
                },
            },
            True,
        ),
        (
            "Deployment",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "x"},
                "spec": {"selector": {}, "template": {"spec": {"containers": [{"image": "i"}]}}},
            },
            False,
        ),
    ],
)
def test_built_in_kinds(kind: str, obj: dict[str, Any], valid: bool) -> None:
    group, _, version = obj["apiVersion"].rpartition("/")
    name = schemas.builtin_definition_name(group, version, kind)
    assert name is not None
    assert schemas._builtin_check(name)(obj) is valid
    assert (list(schemas._builtin_validator(name).iter_errors(obj)) == []) is valid
