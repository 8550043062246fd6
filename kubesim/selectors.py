"""Label and field selectors: parsing Kubernetes' selector strings and matching objects.

Label selectors support the full string syntax (``=``, ``==``, ``!=``, ``in``,
``notin``, existence and ``!key``). Field selectors accept ``=``, ``==`` and ``!=``
on any dotted path of the object; a real API server allows only a few fields per
kind (``metadata.name``, ``metadata.namespace``, ``status.phase`` ...), so kubesim
is a superset here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\((.*)\)\s*$")


class SelectorError(ValueError):
    pass


def _split_top_level(s: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


LabelReq = Callable[[dict[str, str]], bool]


def _label_req(op: str, key: str, values: frozenset[str] = frozenset()) -> LabelReq:
    """One label requirement: in, notin, =, !=, exists, !exists (values hold the operand)."""

    def req(lb: dict[str, str]) -> bool:
        if op == "in" or op == "=":
            return lb.get(key) in values
        if op == "notin" or op == "!=":
            return lb.get(key) not in values
        if op == "exists":
            return key in lb
        return key not in lb

    return req


def parse_label_selector(selector: str | None) -> Matcher:
    if not selector:
        return lambda _obj: True
    reqs: list[LabelReq] = []
    for term in _split_top_level(selector):
        m = _SET_RE.match(term)
        if m:
            vals = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(_label_req(m.group(2), m.group(1), vals))
            continue
        if "!=" in term:
            key, val = (x.strip() for x in term.split("!=", 1))
            reqs.append(_label_req("!=", key, frozenset({val})))
        elif "=" in term:
            key, val = (x.strip() for x in term.replace("==", "=").split("=", 1))
            reqs.append(_label_req("=", key, frozenset({val})))
        elif term.startswith("!"):
            reqs.append(_label_req("!exists", term[1:].strip()))
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", term):
            reqs.append(_label_req("exists", term))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in reqs)

    return match


def field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _field_req(path: str, value: str, equal: bool) -> Matcher:
    return lambda obj: (field_value(obj, path) == value) == equal


def parse_field_selector(selector: str | None) -> Matcher:
    if not selector:
        return lambda _obj: True
    reqs: list[Matcher] = []
    for term in _split_top_level(selector):
        if "!=" in term:
            path, val = (x.strip() for x in term.split("!=", 1))
            reqs.append(_field_req(path, val, False))
        elif "=" in term:
            path, val = (x.strip() for x in term.replace("==", "=").split("=", 1))
            reqs.append(_field_req(path, val, True))
        else:
            raise SelectorError(f"invalid field selector: {term!r}")
    return lambda obj: all(r(obj) for r in reqs)
