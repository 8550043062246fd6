"""The store's per-namespace index (store.Bucket) stays in step with every change: a namespaced
list answers exactly what filtering the whole resource by namespace answers, sorted by name."""

from __future__ import annotations

from typing import Any

import pytest

from kubesim.resources import Registry, ResourceType, types_from_crd
from kubesim.store import Bucket, Store

NAMESPACES = ("a", "b", "c")
CRD: dict[str, Any] = {
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}


def _rt(reg: Registry, group: str, version: str, plural: str) -> ResourceType:
    rt = reg.get(group, version, plural)
    assert rt is not None
    return rt


@pytest.fixture
def store() -> Store:
    reg = Registry()
    for rt in types_from_crd(CRD):
        reg.add(rt)
    st = Store(reg)
    for ns in NAMESPACES:
        st.create(_rt(reg, "", "v1", "namespaces"), "", {"metadata": {"name": ns}})
    return st


def _names(objs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objs]


def _check(st: Store, rt: ResourceType) -> None:
    everything = st.list(rt)
    assert _names(everything) == sorted(_names(everything))
    for ns in (*NAMESPACES, "nowhere"):
        assert _names(st.list(rt, ns)) == [k for k in _names(everything) if k[0] == ns]
    bucket = st._bucket(rt)
    rebuilt: dict[str, dict[str, Any]] = {}
    for (ns, name), obj in bucket.items():
        rebuilt.setdefault(ns, {})[name] = obj
    assert bucket.by_ns == rebuilt  # same objects, no empty namespaces left behind


@pytest.mark.parametrize("group,version,plural", [("", "v1", "configmaps"), ("example.com", "v1", "widgets")])
def test_namespaced_list_follows_create_update_delete(
    store: Store, group: str, version: str, plural: str
) -> None:
    rt = _rt(store.registry, group, version, plural)
    for i, ns in enumerate(["b", "a", "c", "a", "b", "a"]):
        store.create(rt, ns, {"metadata": {"name": f"o{9 - i}"}})
    _check(store, rt)
    obj = store.get(rt, "a", "o6")
    store.update(rt, "a", "o6", {**obj, "metadata": {**obj["metadata"], "labels": {"x": "y"}}})
    assert (
        store.list(rt, "a", lambda o: (o["metadata"].get("labels") or {}).get("x") == "y")[0]["metadata"][
            "name"
        ]
        == "o6"
    )
    store.create(rt, "c", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    store.delete(rt, "c", "held")  # graceful: stays, with a deletionTimestamp
    _check(store, rt)
    held = store.get(rt, "c", "held")
    store.update(rt, "c", "held", {**held, "metadata": {**held["metadata"], "finalizers": []}})  # now gone
    store.delete(rt, "c", "o7")  # c is empty now
    store.delete(rt, "b", "o9")
    _check(store, rt)
    assert "c" not in store._bucket(rt).by_ns
    assert _names(store.list(rt, "a")) == [("a", "o4"), ("a", "o6"), ("a", "o8")]


def test_dropping_a_custom_resource_empties_its_index(store: Store) -> None:
    rt = _rt(store.registry, "example.com", "v1", "widgets")
    for ns in NAMESPACES:
        store.create(rt, ns, {"metadata": {"name": "w"}})
    store.drop_group_resource("example.com", "widgets")
    assert store.list(rt, "a") == [] and store._bucket(rt).by_ns == {}


@pytest.mark.parametrize("method", ["pop", "popitem", "clear", "update", "setdefault"])
def test_a_bucket_changes_only_through_the_index(method: str) -> None:
    bucket = Bucket()
    bucket[("a", "x")] = {}
    with pytest.raises(TypeError):
        getattr(bucket, method)(("a", "x"))
    assert bucket.by_ns == {"a": {"x": {}}}
