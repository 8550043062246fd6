"""Objects: the parse cache (one parse per resourceVersion, bounded) and our writes kept until seen."""

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


def test_a_write_is_kept_until_the_informer_shows_it_then_dropped() -> None:
    """`current` returns our last write while the informer lags; once the informer delivers that
    write (the `seen` handler), the kept copy goes at once, without managedFields meanwhile."""
    cache = {("apps", "a"): hr("a", "1")}

    class Cache:
        def get(self, ns: str, name: str) -> dict[str, Any] | None:
            return cache.get((ns, name))

    objs = Objects(client=None, cache=Cache())  # type: ignore[arg-type]
    written = hr("a", "2")
    written["metadata"]["managedFields"] = [{"manager": "helmrelease-controller"}]
    objs.remember(written)
    assert objs.current("apps", "a")["metadata"]["resourceVersion"] == "2"  # the informer lags
    assert "managedFields" not in objs.current("apps", "a")["metadata"]
    objs.seen("update", hr("a", "1"))  # an older copy delivered: still behind
    assert ("apps", "a") in objs._written
    cache[("apps", "a")] = hr("a", "2")
    objs.seen("update", cache[("apps", "a")])
    assert ("apps", "a") not in objs._written
    assert objs.current("apps", "a") is cache[("apps", "a")]
