"""Label selectors written as strings (`app=web,tier!=db`, `env in (a,b)`, `!legacy`). Pure.

The grammar of kubectl's `-l` and of kustomize's `labelSelector`/`annotationSelector`:
requirements separated by commas, all of which must hold: `key=value`, `key==value`,
`key!=value` (also true when the key is absent), `key in (v1,v2)`, `key notin (v1,v2)`
(also true when absent), `key` (exists) and `!key` (absent). An empty selector matches
everything. A malformed one is a `ValueError` naming the requirement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Matcher = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*(!?)([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQ = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _requirements(selector: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in selector:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def _requirement(text: str) -> Matcher:
    if m := _SET.match(text):
        if m.group(1):
            raise ValueError(f"invalid label selector requirement {text.strip()!r}")
        key, op = m.group(2), m.group(3)
        values = frozenset(v.strip() for v in m.group(4).split(",") if v.strip())
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ.match(text):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.match(text):
        negated, key = m.groups()
        return (lambda labels: key not in labels) if negated else (lambda labels: key in labels)
    raise ValueError(f"invalid label selector requirement {text.strip()!r}")


def parse(selector: str | None) -> Matcher:
    """A function telling whether a set of labels satisfies `selector` (None or "": all do)."""
    reqs = [_requirement(r) for r in _requirements(selector or "")]
    return lambda labels: all(r(labels) for r in reqs)
