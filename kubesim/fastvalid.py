"""A fast "certainly valid" check for the JSON Schemas schemas.py validates writes with.

`jsonschema` finds every error with its path and wording, which schemas.py turns into field
errors, but walking a schema with it costs about a millisecond per write. Most writes are
valid, so schemas.py first asks `checker(schema, draft)(obj)`: a closure tree compiled once per
schema that answers True only when `draft(schema).iter_errors(obj)` would yield nothing (draft 4
for custom resources, 2020-12 with local `$ref`s for the built-in kinds). It follows
jsonschema's own keyword code (the draft's type checker, `equal` for enum, `re.search` for
pattern, draft 4's boolean exclusiveMinimum/Maximum) and answers False, leaving the answer to
jsonschema, for anything it does not model (oneOf, not, patternProperties, uniqueItems,
multipleOf, tuple items, draft 4 $ref, $id ...) and for an anyOf no branch of which is
certainly valid. Keywords jsonschema ignores (description, format without a format checker,
x-kubernetes-*) it ignores too.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Sized
from typing import Any

import jsonschema
from jsonschema._utils import equal

Check = Callable[[Any], bool]
Draft = type[jsonschema.Draft4Validator] | type[jsonschema.Draft202012Validator]

_DEFS_REF = "#/$defs/"


def _never(_value: Any) -> bool:
    return False


def _always(_value: Any) -> bool:
    return True


def checker(schema: Any, draft: Draft = jsonschema.Draft4Validator) -> Check:
    """A check that is True only for values `draft(schema)` finds no error in."""
    return _Compiler(schema, draft).compile(schema)


class _Compiler:
    def __init__(self, root: Any, draft: Draft) -> None:
        self.draft4 = draft is jsonschema.Draft4Validator
        self.keywords = frozenset(draft.VALIDATORS)
        self.types = draft.TYPE_CHECKER
        defs = root.get("$defs") if isinstance(root, dict) and not self.draft4 else None
        self.defs: dict[str, Any] = defs if isinstance(defs, dict) else {}
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if not isinstance(schema, dict) or "$id" in schema or "id" in schema:
            return _never  # (boolean schemas, and base URIs that would move $ref: not modelled)
        checks: list[Check] = []
        for key, arg in schema.items():
            if key not in self.keywords or key == "format":
                continue  # not an assertion (format: no format checker is configured)
            if self.draft4 and key in ("exclusiveMinimum", "exclusiveMaximum"):
                continue  # read with minimum/maximum
            check = self._keyword(key, arg, schema)
            if check is _never:
                return _never
            checks.append(check)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    def _keyword(self, key: str, arg: Any, schema: dict[str, Any]) -> Check:
        simple = _SIMPLE.get(key)
        if simple is not None:
            return simple(arg)
        if key == "type":
            return self._type(arg)
        if key == "$ref":
            return self._ref(arg)
        if key in ("minimum", "maximum") and self.draft4:
            return _bound(key == "minimum", arg, bool(schema.get(f"exclusive{key.title()}", False)))
        if key in ("properties", "items", "allOf", "anyOf"):
            return self._applicator(key, arg)
        if key == "additionalProperties":
            return self._additional(arg, schema)
        return _never

    def _type(self, arg: Any) -> Check:
        names = arg if isinstance(arg, list) else [arg]
        is_type = self.types.is_type
        if not names or not all(isinstance(n, str) for n in names):
            return _never
        try:
            for n in names:
                is_type(None, n)  # a type the draft does not know raises
        except jsonschema.exceptions.UnknownType:
            return _never
        if len(names) == 1:
            name = names[0]
            return lambda v: is_type(v, name)
        return lambda v: any(is_type(v, n) for n in names)

    def _ref(self, arg: Any) -> Check:
        if self.draft4 or not isinstance(arg, str) or not arg.startswith(_DEFS_REF):
            return _never  # draft 4's $ref hides its siblings; remote refs: jsonschema decides
        name = arg[len(_DEFS_REF) :]
        if any(c in name for c in "/~%") or name not in self.defs:
            return _never
        known = self.refs.get(name)
        if known is None:
            cell: list[Check] = [_never]  # filled below; a recursive reference reads it when called
            known = self.refs[name] = lambda v: cell[0](v)
            cell[0] = self.compile(self.defs[name])
        return known

    def _applicator(self, key: str, arg: Any) -> Check:
        if key == "properties":
            if not isinstance(arg, dict):
                return _never
            subs = [(name, self.compile(sub)) for name, sub in arg.items()]
            return lambda v: not isinstance(v, dict) or all(n not in v or c(v[n]) for n, c in subs)
        if key == "items":
            if not isinstance(arg, dict):
                return _never  # tuple items, boolean items
            sub = self.compile(arg)
            return lambda v: not isinstance(v, list) or all(sub(x) for x in v)
        if not isinstance(arg, list):
            return _never
        branches = [self.compile(s) for s in arg]
        if key == "allOf":
            return lambda v: all(c(v) for c in branches)
        return lambda v: any(c(v) for c in branches)  # anyOf: no branch certainly valid -> jsonschema

    def _additional(self, arg: Any, schema: dict[str, Any]) -> Check:
        if "patternProperties" in schema:
            return _never
        known = schema.get("properties", {})
        if isinstance(arg, dict):
            sub = self.compile(arg)
            return lambda v: not isinstance(v, dict) or all(k in known or sub(x) for k, x in v.items())
        if not arg:
            return lambda v: not isinstance(v, dict) or all(k in known for k in v)
        return _always


def _is_number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, numbers.Number)


def _bound(low: bool, arg: Any, exclusive: bool) -> Check:
    """Draft 4 minimum/maximum (numbers only; the comparison is jsonschema's)."""
    if not _is_number(arg):
        return _never
    if low:
        if exclusive:
            return lambda v: not _is_number(v) or not v <= arg
        return lambda v: not _is_number(v) or not v < arg
    if exclusive:
        return lambda v: not _is_number(v) or not v >= arg
    return lambda v: not _is_number(v) or not v > arg


def _required(arg: Any) -> Check:
    if not isinstance(arg, list):
        return _never
    return lambda v: not isinstance(v, dict) or all(p in v for p in arg)


def _enum(arg: Any) -> Check:
    if not isinstance(arg, list):
        return _never
    return lambda v: any(equal(e, v) for e in arg)


def _size(kind: type[Sized], low: bool) -> Callable[[Any], Check]:
    def build(arg: Any) -> Check:
        if not _is_number(arg):
            return _never
        if low:
            return lambda v: not isinstance(v, kind) or len(v) >= arg
        return lambda v: not isinstance(v, kind) or len(v) <= arg

    return build


def _pattern(arg: Any) -> Check:
    try:
        search = re.compile(arg).search
    except (re.error, TypeError):
        return _never
    return lambda v: not isinstance(v, str) or search(v) is not None


_SIMPLE: dict[str, Callable[[Any], Check]] = {
    "required": _required,
    "enum": _enum,
    "minLength": _size(str, True),
    "maxLength": _size(str, False),
    "minItems": _size(list, True),
    "maxItems": _size(list, False),
    "minProperties": _size(dict, True),
    "maxProperties": _size(dict, False),
    "pattern": _pattern,
}
