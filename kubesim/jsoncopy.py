"""Deep copies of JSON values, several times faster than `copy.deepcopy`.

Every stored object is copied on its way in and out of the store (and patches copy their
target): `copy.deepcopy`'s memo and dispatch made those copies the largest single cost of a
write. `clone` copies dicts and lists and shares the immutable scalars JSON has (str, int,
float, bool, None); anything else (a YAML body's datetime, a set) goes through `copy.deepcopy`.
Unlike deepcopy it does not keep two references to one list shared (JSON has no such thing).
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

T = TypeVar("T")

_SCALARS = frozenset({str, int, float, bool, type(None)})


def clone(value: T) -> T:
    """A copy of `value` that shares no dict or list with it."""
    kind = type(value)
    if kind is dict:
        d: dict[Any, Any] = value  # type: ignore[assignment]
        return {k: (v if type(v) in _SCALARS else clone(v)) for k, v in d.items()}  # type: ignore[return-value]
    if kind is list:
        items: list[Any] = value  # type: ignore[assignment]
        return [v if type(v) in _SCALARS else clone(v) for v in items]  # type: ignore[return-value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)
