"""`x-kubernetes-validations`: the CEL rules of a CRD's structural schema, evaluated on writes.

Walks the schema with the new object (and the old one on updates): every node that has rules
and a value gets each rule evaluated with `self` bound to the value and, for transition rules
(those that use `oldSelf`), `oldSelf` bound to the value at the same place in the old object.
Transition rules are skipped where there is no old value (creates, new fields, list items);
other rules are skipped for a value an update left unchanged (validation ratcheting, GA in 1.33).
No rule runs when the schema already found a type, required, enum or size error (`blocked`).
A false rule is a `field.Invalid(path, <schema type>, message)` as kube-apiserver reports it:
`message`, else the string `messageExpression` evaluates to, else `failed rule: <rule>`; at
`path` + `fieldPath` when set; `reason` picks Required / Forbidden / Duplicate instead.
Evaluation uses the `common-expression-language` package (CEL in Rust) plus the common string
and list functions of Kubernetes' CEL libraries (_LIBRARY); others (`url`, `quantity`, `ip`,
`format` ...) are not there: a rule that calls one fails with the evaluation error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cel

from .fielderrors import OMIT, FieldError

_programs: dict[str, Any] = {}

_REASONS = {
    "FieldValueRequired": "Required",
    "FieldValueForbidden": "Forbidden",
    "FieldValueDuplicate": "Duplicate",
}


# Kubernetes' CEL libraries (strings, lists) that the CEL standard library lacks: the common ones.
_LIBRARY: dict[str, Any] = {
    "lowerAscii": lambda s: "".join(c.lower() if c.isascii() else c for c in s),
    "upperAscii": lambda s: "".join(c.upper() if c.isascii() else c for c in s),
    "trim": lambda s: s.strip(),
    "split": lambda s, sep: s.split(sep),
    "join": lambda items, sep="": sep.join(items),
    "replace": lambda s, old, new: s.replace(old, new),
    "indexOf": lambda s, x: s.index(x) if x in s else -1,
    "lastIndexOf": lambda s, x: s.rindex(x) if x in s else -1,
    "isSorted": lambda items: list(items) == sorted(items),
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}


def _context(env: dict[str, Any]) -> Any:
    ctx = cel.Context()
    for name, fn in _LIBRARY.items():
        ctx.add_function(name, fn)
    for name, value in env.items():
        ctx.add_variable(name, value)
    return ctx


def _program(expr: str) -> Any:
    prog = _programs.get(expr)
    if prog is None:
        if len(_programs) > 4096:
            _programs.clear()
        prog = _programs[expr] = cel.compile(expr)
    return prog


def _type_name(schema: dict[str, Any]) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return "integer-or-string"
    return str(schema.get("type") or "object")


def _evaluate(
    rule: dict[str, Any], schema: dict[str, Any], value: Any, old: Any, path: str
) -> FieldError | None:
    expr = str(rule.get("rule", ""))
    transition = "oldSelf" in expr
    if (transition and old is None) or (not transition and old is not None and old == value):
        return None  # no old value to compare; or unchanged since the last write (ratcheting)
    env: dict[str, Any] = {"self": value}
    if transition:
        env["oldSelf"] = old
    where = path
    if rule.get("fieldPath"):
        where = f"{path}{rule['fieldPath']}" if path else str(rule["fieldPath"]).lstrip(".")
    try:
        ok = _program(expr).execute(_context(env))
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        what = f"no such key: {e.args[0]}" if isinstance(e, KeyError) else str(e).splitlines()[0]
        return FieldError("Invalid", where, _type_name(schema), f"{what} evaluating rule: {expr}")
    if ok is True:
        return None
    message = rule.get("message")
    if not message and rule.get("messageExpression"):
        try:
            out = _program(str(rule["messageExpression"])).execute(_context(env))
            message = out if isinstance(out, str) and out.strip() else None
        except (ValueError, RuntimeError, KeyError, TypeError):
            message = None
    message = message or f"failed rule: {expr}"
    kind = _REASONS.get(str(rule.get("reason", "")), "Invalid")
    value_shown = _type_name(schema) if kind in ("Invalid", "Duplicate") else OMIT
    return FieldError(kind, where, value_shown, message)


def _children(schema: dict[str, Any], value: Any, old: Any) -> Iterator[tuple[str, dict[str, Any], Any, Any]]:
    """(path suffix, child schema, child value, old child value) of the values present."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        old_map = old if isinstance(old, dict) else {}
        for key, child in value.items():
            sub = props.get(key) if key in props else (extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield f".{key}", sub, child, old_map.get(key)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, child in enumerate(value):
            yield f"[{i}]", schema["items"], child, None


# Schema errors after which kube-apiserver evaluates no rule (customresource strategy.go's
# hasBlockingErr: the object lacks the shape its rules were written for); it says so instead.
_BLOCKING = {"NotSupported", "Required", "TooLong", "TooMany", "TypeInvalid"}
NOT_CHECKED = FieldError(
    "Invalid",
    "<nil>",
    "null",
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation",
)


def blocked(schema_errors: list[FieldError]) -> bool:
    """True when `schema_errors` stop the rules from being evaluated (NOT_CHECKED is reported)."""
    return any(e.type in _BLOCKING for e in schema_errors)


def has_rules(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    if schema.get("x-kubernetes-validations"):
        return True
    subs = list((schema.get("properties") or {}).values())
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            subs.append(schema[k])
    return any(has_rules(s) for s in subs)


def errors(schema: dict[str, Any], value: Any, old: Any, path: str = "") -> list[FieldError]:
    """The failed rules under `schema` for `value` (old: the previous object, None on create)."""
    out: list[FieldError] = []
    if value is None:
        return out
    for rule in schema.get("x-kubernetes-validations") or []:
        err = _evaluate(rule, schema, value, old, path)
        if err is not None:
            out.append(err)
    for suffix, sub, child, old_child in _children(schema, value, old):
        out += errors(sub, child, old_child, f"{path}{suffix}" if path else suffix.lstrip("."))
    return out
