"""Field errors as apimachinery's `field.Error` prints them, and the 422 / 400 they make.

`FieldError` is one `<path>: <Type>[: <value>][: <detail>]` error (its `body` is what a
Status cause's message holds). `invalid` joins them the way kube-apiserver does into a
422 `Invalid` whose message names the object as `Kind.group "name"`; `strict_decoding`
is the 400 a `fieldValidation=Strict` request with unknown fields gets. Pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType
from .store import ApiError

OMIT = object()  # no value printed (Required, Forbidden, Too long)

_TYPES = {
    "Required": ("Required value", "FieldValueRequired"),
    "Invalid": ("Invalid value", "FieldValueInvalid"),
    "TypeInvalid": ("Invalid value", "FieldValueTypeInvalid"),
    "NotSupported": ("Unsupported value", "FieldValueNotSupported"),
    "Forbidden": ("Forbidden", "FieldValueForbidden"),
    "Duplicate": ("Duplicate value", "FieldValueDuplicate"),
    "TooLong": ("Too long", "FieldValueTooLong"),
    "TooMany": ("Too many", "FieldValueTooMany"),
}


class GoLiteral(str):
    """A value already in the form Go prints it (`%#v` of a map, for instance)."""


def go_map(m: dict[str, Any]) -> GoLiteral:
    """`%#v` of a map[string]interface{}: `map[string]interface {}{"name":"a", "port":80}`."""
    items = ", ".join(f"{json.dumps(k)}:{go_value(v)}" for k, v in sorted(m.items()))
    return GoLiteral("map[string]interface {}{" + items + "}")


def go_value(value: Any) -> str:
    """A value as Go's field errors print it: strings quoted, numbers and booleans bare."""
    if isinstance(value, GoLiteral):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    type: str  # a key of _TYPES
    field: str
    value: Any = OMIT
    detail: str = ""

    @property
    def body(self) -> str:
        text = _TYPES[self.type][0]
        if self.value is not OMIT and self.type not in ("Required", "Forbidden", "TooLong"):
            text += f": {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body}" if self.field else self.body

    def cause(self) -> dict[str, str]:
        return {"reason": _TYPES[self.type][1], "message": self.body, "field": self.field}


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("Required", path, OMIT, detail)


def not_supported(path: str, value: Any, allowed: list[Any]) -> FieldError:
    shown = [a if isinstance(a, str) else json.dumps(a) for a in allowed]
    return FieldError(
        "NotSupported", path, value, "supported values: " + ", ".join(json.dumps(s) for s in shown)
    )


def qualified_kind(rt: ResourceType) -> str:
    return f"{rt.kind}.{rt.group}" if rt.group else rt.kind


def invalid(rt: ResourceType, name: str, errs: list[FieldError]) -> ApiError:
    """422 Invalid: `Kind.group "name" is invalid: <err>` or `... is invalid: [<err>, <err>]`."""
    joined = str(errs[0]) if len(errs) == 1 else "[" + ", ".join(str(e) for e in errs) + "]"
    details = {"name": name, "group": rt.group, "kind": rt.kind, "causes": [e.cause() for e in errs]}
    return ApiError(422, "Invalid", f'{qualified_kind(rt)} "{name}" is invalid: {joined}', details)


def cannot_handle(rt: ResourceType, why: str) -> ApiError:
    """400 BadRequest from decoding the body: `Kind in version "v" cannot be handled as a Kind: why`."""
    return ApiError(
        400, "BadRequest", f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {why}'
    )


def strict_decoding(rt: ResourceType, unknown: list[str]) -> ApiError:
    fields = ", ".join(f'unknown field "{p}"' for p in unknown)
    return cannot_handle(rt, f"strict decoding error: {fields}")
