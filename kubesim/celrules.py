"""`x-kubernetes-validations`: the CEL rules of a CRD's structural schema, evaluated on writes.

Walks the schema with the new object (and the old one on updates): every node that has rules
and a value gets each rule evaluated with `self` bound to the value and, for transition rules
(those that use `oldSelf`), `oldSelf` bound to the value at the same place in the old object.
Transition rules are skipped where there is no old value (creates, new fields, list items).
A false rule is a `field.Invalid(path, <schema type>, message)` as kube-apiserver reports it:
`message`, else the string `messageExpression` evaluates to, else `failed rule: <rule>`; at
`path` + `fieldPath` when set; `reason` picks Required / Forbidden / Duplicate instead.
Evaluation uses the `common-expression-language` package (CEL in Rust); a few Kubernetes CEL
library functions (string case, `url`, quantities ...) are not there: a rule that calls one
fails with the evaluation error, as a rule that errs does on a real server.
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
    if transition and old is None:
        return None
    env: dict[str, Any] = {"self": value}
    if transition:
        env["oldSelf"] = old
    where = path
    if rule.get("fieldPath"):
        where = f"{path}{rule['fieldPath']}" if path else str(rule["fieldPath"]).lstrip(".")
    try:
        ok = _program(expr).execute(env)
    except (ValueError, RuntimeError, KeyError, TypeError) as e:
        what = f"no such key: {e.args[0]}" if isinstance(e, KeyError) else str(e).splitlines()[0]
        return FieldError("Invalid", where, _type_name(schema), f"{what} evaluating rule: {expr}")
    if ok is True:
        return None
    message = rule.get("message")
    if not message and rule.get("messageExpression"):
        try:
            out = _program(str(rule["messageExpression"])).execute(env)
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
