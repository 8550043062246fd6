"""The pure parts of `diff` (ops/manifestdiff.py, ops/capabilities.py): objects of a manifest,
pairing, Secret masking, the unified diff per object, and helm's version set from discovery."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.ops.capabilities import group_versions, version_set
from helmrelease_controller.ops.manifestdiff import (
    CHANGED,
    MASK,
    manifest_diff,
    mask_secrets,
    object_diff,
    pair,
    split_objects,
)

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {message: hello}\n"
HOOK = "apiVersion: v1\nkind: Pod\nmetadata: {name: t, annotations: {helm.sh/hook: test}}\n"
OTHER_NS = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: other}\n"
ROLE = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n"


@pytest.mark.parametrize(
    ("manifest", "keys"),
    [
        ("", []),
        ("---\n# Source: x\n---\n", []),
        (CM, [("ConfigMap", "apps", "web")]),
        (f"{CM}---\n{HOOK}", [("ConfigMap", "apps", "web")]),  # hooks are not in the release manifest
        (f"{OTHER_NS}---\n{CM}", [("Service", "other", "web"), ("ConfigMap", "apps", "web")]),
        ("kind: ConfigMap\nmetadata: {}\n", []),  # no name
        (ROLE, [("ClusterRole", "apps", "reader")]),
    ],
)
def test_split_objects(manifest: str, keys: list[tuple[str, str, str]]) -> None:
    assert list(split_objects(manifest, "apps")) == keys


def test_pair_keeps_deployed_order_then_additions() -> None:
    a, b, c = ("K", "ns", "a"), ("K", "ns", "b"), ("K", "ns", "c")
    deployed, desired = {a: {"x": 1}, b: {"x": 2}}, {c: {"x": 3}, a: {"x": 1}}
    assert pair(deployed, desired) == [(a, {"x": 1}, {"x": 1}), (b, {"x": 2}, None), (c, None, {"x": 3})]


def _secret(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, **fields}


@pytest.mark.parametrize(
    ("before", "after", "masked_before", "masked_after"),
    [
        (  # same value: both masked alike; a changed value: marked on the desired side
            _secret(data={"a": "MQ==", "b": "Mg=="}),
            _secret(data={"a": "MQ==", "b": "Mw=="}),
            _secret(data={"a": MASK, "b": MASK}),
            _secret(data={"a": MASK, "b": CHANGED}),
        ),
        (  # stringData too; a key only on one side is masked plainly
            _secret(stringData={"k": "old"}),
            _secret(stringData={"k": "new", "n": "x"}),
            _secret(stringData={"k": MASK}),
            _secret(stringData={"k": CHANGED, "n": MASK}),
        ),
        (None, _secret(data={"a": "MQ=="}), None, _secret(data={"a": MASK})),  # an addition
        (_secret(data={"a": "MQ=="}), None, _secret(data={"a": MASK}), None),  # a removal
        (_secret(data=None), _secret(data=None), _secret(data=None), _secret(data=None)),
        (  # other kinds are not touched
            {"kind": "ConfigMap", "data": {"a": "1"}},
            {"kind": "ConfigMap", "data": {"a": "2"}},
            {"kind": "ConfigMap", "data": {"a": "1"}},
            {"kind": "ConfigMap", "data": {"a": "2"}},
        ),
    ],
)
def test_mask_secrets(before: Any, after: Any, masked_before: Any, masked_after: Any) -> None:
    assert mask_secrets(before, after) == (masked_before, masked_after)


KEY = ("ConfigMap", "apps", "web")
HEADERS = ["--- deployed/ConfigMap/apps/web", "+++ desired/ConfigMap/apps/web"]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"kind": "ConfigMap", "data": {"m": "a"}}, {"kind": "ConfigMap", "data": {"m": "a"}}, []),
        (
            {"kind": "ConfigMap", "data": {"m": "a"}},
            {"kind": "ConfigMap", "data": {"m": "b"}},
            [
                "--- deployed/ConfigMap/apps/web",
                "+++ desired/ConfigMap/apps/web",
                "@@ -1,3 +1,3 @@",
                " data:",
                "-  m: a",
                "+  m: b",
                " kind: ConfigMap",
            ],
        ),
        (
            None,
            {"kind": "ConfigMap"},
            [
                "--- deployed/ConfigMap/apps/web",
                "+++ desired/ConfigMap/apps/web",
                "@@ -0,0 +1 @@",
                "+kind: ConfigMap",
            ],
        ),
        (
            {"kind": "ConfigMap"},
            None,
            [
                "--- deployed/ConfigMap/apps/web",
                "+++ desired/ConfigMap/apps/web",
                "@@ -1 +0,0 @@",
                "-kind: ConfigMap",
            ],
        ),
    ],
)
def test_object_diff(before: Any, after: Any, expected: list[str]) -> None:
    assert object_diff(KEY, before, after) == expected


def test_secret_values_never_appear_in_the_diff() -> None:
    before = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: aHVudGVyMg==}\n"
    after = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {password: bmV3}\n"
    lines = manifest_diff(before, after, "apps")
    assert f"-  password: '{MASK}'" in lines and f"+  password: '{CHANGED}'" in lines
    assert not any("aHVudGVyMg" in ln or "bmV3" in ln for ln in lines)


@pytest.mark.parametrize(
    ("deployed", "desired", "changed"),
    [
        (CM, CM, []),
        (None, CM, ["+++ desired/ConfigMap/apps/web"]),  # no release yet: everything is an addition
        (CM, "", ["--- deployed/ConfigMap/apps/web"]),
        (CM, CM + "---\n" + HOOK, []),  # a hook in the rendering is not a difference
    ],
)
def test_manifest_diff(deployed: str | None, desired: str, changed: list[str]) -> None:
    lines = manifest_diff(deployed, desired, "apps")
    assert all(c in lines for c in changed) and bool(lines) == bool(changed)


@pytest.mark.parametrize(
    ("apis", "expected"),
    [
        ({}, []),
        (
            {"groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}]}]},
            ["apps/v1"],
        ),
        (
            {"groups": [{"versions": [{"groupVersion": "a.io/v1"}, {"groupVersion": "a.io/v1beta1"}]}, {}]},
            ["a.io/v1", "a.io/v1beta1"],
        ),
    ],
)
def test_group_versions(apis: dict[str, Any], expected: list[str]) -> None:
    assert group_versions(apis) == expected


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ({}, []),
        ({"v1": {"resources": [{"kind": "Pod"}, {"kind": "Service"}]}}, ["v1", "v1/Pod", "v1/Service"]),
        (
            {"helmrelease.dev/v1": {"resources": [{"kind": "HelmRelease"}, {"name": "x"}]}, "b/v1": {}},
            ["b/v1", "helmrelease.dev/v1", "helmrelease.dev/v1/HelmRelease"],
        ),
    ],
)
def test_version_set(lists: dict[str, dict[str, Any]], expected: list[str]) -> None:
    assert version_set(lists) == expected
