"""The rule machinery of the Flux converter, shared by its v1, v2 and source tables. Pure.

Owns the rule kinds (`Move`, `Drop`, `HANDLED`), the result types (`Converted`, `Result`), the
`Unconvertible` error, `apply_rules` (an object through a table: our fields set, one warning line
per dropped field) and the small helpers the tables use (dotted-path get/set, `ident`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

NO_EQUIVALENT = "has no equivalent in helmrelease.dev/v1"


class Unconvertible(Exception):
    """An object that cannot be converted; str() is the one-line reason."""


@dataclass(frozen=True)
class Move:
    """Copy the value to `to` (a dotted path of our spec) and to the paths in `also`, through `fn`;
    `fn` returning None sets nothing."""

    to: str
    fn: Callable[[Any], Any] = lambda v: v
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Drop:
    """No equivalent: dropped with a warning, unless the value is one of `same` (what we do anyway)."""

    why: str = ""
    same: tuple[Any, ...] = ()


HANDLED = object()  # built by a function of the converter, not by the table
Rule = Move | Drop | object


@dataclass
class Converted:
    """One output document and the comment lines written above it."""

    obj: dict[str, Any]
    comments: list[str] = field(default_factory=list)


@dataclass
class Result:
    """What `convert` returns: documents to emit, warning lines, objects that could not be converted."""

    documents: list[Converted] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: int = 0


# --- small helpers ------------------------------------------------------------------------------


def crds_skip(value: Any) -> str | None:
    """A `skipCRDs: true` as our `crds: Skip`."""
    return "Skip" if value else None


def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set the dotted `path` of `target`, creating the dicts on the way."""
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def get_path(source: dict[str, Any], path: str, default: Any = None) -> Any:
    """The value at the dotted `path` of `source`, or `default`."""
    for part in path.split("."):
        if not isinstance(source, dict) or part not in source:
            return default
        source = source[part]
    return source


def _walk(obj: dict[str, Any], rules: dict[str, Rule], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of each field of `obj`: a field with a rule whole, else its sub-fields."""
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if path not in rules and isinstance(value, dict) and value:
            yield from _walk(value, rules, path + ".")
        else:
            yield path, value


def apply_rules(
    obj: dict[str, Any], rules: dict[str, Rule], what: str, field_prefix: str = "spec."
) -> tuple[dict[str, Any], list[str]]:
    """`obj` through the `rules` table: our spec fields set by Move rules, and one warning line per
    dropped field (Drop rules whose value is not harmless, and fields no rule knows)."""
    out: dict[str, Any] = {}
    warnings: list[str] = []
    for path, value in _walk(obj, rules):
        rule = rules.get(path)
        if rule is HANDLED or value is None or (rule is None and value in ({}, [])):
            continue  # handled elsewhere, or nothing said
        if isinstance(rule, Move):
            mapped = rule.fn(value)
            for to in (rule.to, *rule.also) if mapped is not None else ():
                set_path(out, to, copy.deepcopy(mapped))
        elif isinstance(rule, Drop):
            if value not in rule.same:
                reason = f"dropped: {rule.why}" if rule.why else "dropped"
                warnings.append(f"{what}: {field_prefix}{path} {NO_EQUIVALENT} ({reason})")
        else:
            warnings.append(f"{what}: {field_prefix}{path} is not known to the converter (dropped)")
    return out, warnings


def ident(obj: dict[str, Any], short: str = "hr") -> str:
    """`hr/<namespace>/<name>` (kubectl's namespace "default" when none is written)."""
    meta = obj.get("metadata") or {}
    return f"{short}/{meta.get('namespace') or 'default'}/{meta.get('name', '?')}"
