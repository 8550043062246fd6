"""Objects.parse: one parse per resourceVersion for recently used objects, memory bounded."""

from __future__ import annotations

from typing import Any

from helmrelease_controller.reconcile import objects as objmod
from helmrelease_controller.reconcile.objects import PARSED_KEPT, Objects


def hr(name: str, rv: str) -> dict[str, Any]:
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "apps", "uid": f"uid-{name}", "resourceVersion": rv},
        "spec": {"interval": "5m", "chart": {"repository": {"url": "https://c.example", "name": "x"}}},
    }


def test_parse_is_cached_per_resource_version_and_bounded() -> None:
    objs = Objects(client=None, cache={})  # type: ignore[arg-type]
    first = objs.parse(hr("a", "1"))
    assert objs.parse(hr("a", "1")) is first  # same resourceVersion: the same model
    assert objs.parse(hr("a", "2")) is not first  # a new version is parsed again
    kept = objs.parse(hr("a", "2"))
    for i in range(PARSED_KEPT + 50):
        objs.parse(hr(f"r{i}", "1"))
        objs.parse(hr("a", "2"))  # used again and again: never the one dropped
    assert len(objs._parsed) == PARSED_KEPT
    assert objs.parse(hr("a", "2")) is kept
    assert ("apps", "r0") not in objs._parsed  # the least recently used went first
    assert objmod.PARSED_KEPT == PARSED_KEPT
