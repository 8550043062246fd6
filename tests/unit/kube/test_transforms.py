"""The informer's cache transforms: what a cached object keeps, and that nothing else changes."""

from __future__ import annotations

import copy
import json

from helmrelease_controller.kube.informer import INTERN_MAX, compact, skeleton

HR = {
    "apiVersion": "helmrelease.dev/v1",
    "kind": "HelmRelease",
    "metadata": {
        "name": "web",
        "namespace": "apps",
        "uid": "u-1",
        "resourceVersion": "7",
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        "labels": {"team": "a"},
    },
    "spec": {"values": {"message": "x" * (INTERN_MAX + 1), "replicas": 2, "on": True, "list": [1, "a"]}},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}


def test_compact_keeps_everything_but_managed_fields() -> None:
    original = copy.deepcopy(HR)
    out = compact(json.loads(json.dumps(HR)))
    expected = copy.deepcopy(original)
    del expected["metadata"]["managedFields"]
    assert out == expected


def test_compact_shares_one_copy_of_keys_and_short_strings_across_objects() -> None:
    a = compact(json.loads(json.dumps(HR)))
    b = compact(json.loads(json.dumps(HR)))
    ka = next(k for k in a["status"]["conditions"][0] if k == "type")
    kb = next(k for k in b["status"]["conditions"][0] if k == "type")
    assert ka is kb
    assert a["status"]["conditions"][0]["status"] is b["status"]["conditions"][0]["status"]
    # Long strings (values, messages) are kept as they are, not interned.
    assert a["spec"]["values"]["message"] == b["spec"]["values"]["message"]
    assert a["spec"]["values"]["message"] is not b["spec"]["values"]["message"]


def test_skeleton_keeps_what_a_change_signal_and_a_relist_read() -> None:
    obj = {
        "metadata": {
            "name": "cfg",
            "namespace": "apps",
            "uid": "u-2",
            "resourceVersion": "9",
            "annotations": {"big": "y" * 1000},
            "managedFields": [{}],
        },
        "data": {"k": "v"},
    }
    assert skeleton(obj) == {
        "metadata": {"name": "cfg", "namespace": "apps", "resourceVersion": "9", "uid": "u-2"}
    }
