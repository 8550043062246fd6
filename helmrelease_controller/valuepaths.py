"""Values as leaves at key paths (pure: no I/O): where in a values tree each value sits, and how a
path is written for people.

A path is the tuple of map keys from the top (`("image", "tag")`). Maps are descended; anything
else is a leaf at its path: a scalar, `null`, a list (lists are not descended: a list is one
value) and an empty map. :func:`dotted` writes a path as `helm --set` does (`image.tag`), with
`\\` before a `.`, `[`, `,`, `=` or `\\` that is part of a key
(`podAnnotations.prometheus\\.io/scrape`), the same syntax as `valuesFrom[].targetPath`.

Used by valuesfrom.py (which paths a Secret set) and reconcile/changes.py (the values diff of a
failed attempt).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

KeyPath = tuple[str, ...]

_ESCAPED = frozenset("\\.[,=")


def leaves(values: Mapping[str, Any]) -> dict[KeyPath, Any]:
    """Every leaf of `values` by its path (see the module docstring); `{}` has none."""
    out: dict[KeyPath, Any] = {}
    stack: list[tuple[KeyPath, Mapping[str, Any]]] = [((), values)]
    while stack:
        prefix, node = stack.pop()
        for key, value in node.items():
            path = (*prefix, str(key))
            if isinstance(value, Mapping) and value:
                stack.append((path, value))
            else:
                out[path] = value
    return out


def dotted(path: KeyPath) -> str:
    """`path` as `helm --set` writes it: keys joined by `.`, special characters escaped with `\\`.
    A key with a control character is written as a JSON string (the text stays on one line)."""
    return ".".join(_key(key) for key in path)


def _key(key: str) -> str:
    escaped = "".join("\\" + c if c in _ESCAPED else c for c in key)
    return escaped if escaped.isprintable() else json.dumps(escaped, ensure_ascii=False)


def overlaps(path: KeyPath, paths: Iterable[KeyPath]) -> bool:
    """Whether `path` is one of `paths`, lies under one of them or holds one of them: a leaf and
    a path overlap when one's value contains (or is) the other's."""
    return any(path[: len(other)] == other or other[: len(path)] == path for other in paths)


__all__ = ["KeyPath", "dotted", "leaves", "overlaps"]
