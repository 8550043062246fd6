"""Which copy of a HelmRelease a reconcile starts from: the informer's, or the one our own last write
returned while the informer has not caught up. resourceVersions are opaque strings: never compared
as numbers (a real API server may use any string)."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.reconcile.objects import Objects


class Cache:
    def __init__(self) -> None:
        self.obj: dict[str, Any] | None = None

    def get(self, ns: str, name: str) -> dict[str, Any] | None:
        return self.obj


def obj(rv: str, uid: str = "u1") -> dict[str, Any]:
    return {"metadata": {"namespace": "apps", "name": "web", "uid": uid, "resourceVersion": rv}}


# Opaque versions on purpose: "b9" then "a1" (a numeric comparison would pick the wrong one).
@pytest.mark.parametrize(
    ("cached_before", "writes", "cached_now", "expected"),
    [
        ("x", ["b9"], "x", "b9"),  # informer behind: our write wins
        ("x", ["b9"], "b9", "b9"),  # informer caught up
        ("x", ["b9"], "zz", "zz"),  # someone wrote after us: theirs wins
        ("x", ["b9", "a1"], "x", "a1"),  # two writes, informer saw neither
        ("x", ["b9", "a1"], "b9", "a1"),  # informer saw the first of two
        ("x", ["b9", "a1"], "a1", "a1"),
        ("x", ["b9", "a1"], "q", "q"),
    ],
)
def test_current(cached_before: str, writes: list[str], cached_now: str, expected: str) -> None:
    cache = Cache()
    r = Objects(None, cache)  # type: ignore[arg-type]
    cache.obj = obj(cached_before)
    for rv in writes:
        r.remember(obj(rv))
    cache.obj = obj(cached_now)
    current = r.current("apps", "web")
    assert current is not None and current["metadata"]["resourceVersion"] == expected


def test_a_recreated_object_is_never_mixed_with_the_old_ones_write() -> None:
    cache = Cache()
    r = Objects(None, cache)  # type: ignore[arg-type]
    cache.obj = obj("x")
    r.remember(obj("b9"))
    cache.obj = obj("x", uid="u2")  # same name, new object
    current = r.current("apps", "web")
    assert current is not None and current["metadata"]["uid"] == "u2"
    cache.obj = None
    assert r.current("apps", "web") is None
