"""Pydantic validation errors turned into the one-line reasons users read. Pure.

`describe(err, root)` words one error the way the API server words the same schema rule
(`spec.interval: must be a string, got a number`, `spec.intervall: unknown field; did you mean
"interval"?`), the suggestion taken from the fields of the model at that path under `root`
(HelmRelease or GitSync). `SpecError` (models.py) collects one line per error.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel

__all__ = ["describe"]


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + part
    return path or "object"


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _known_fields(loc: tuple[int | str, ...], root: type[BaseModel]) -> list[str]:
    """The camelCase field names allowed at the object holding `loc`'s last element, `root`
    being the model validated."""
    tp: Any = root
    for part in loc[:-1]:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if typing.get_origin(tp) is not list:
                return []
            tp = typing.get_args(tp)[0]
        else:
            if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
                return []
            field = next(
                (f for n, f in tp.model_fields.items() if part in (n, f.alias)),
                None,
            )
            if field is None:
                return []
            tp = field.annotation
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


_SIMPLE_MESSAGES = {
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def describe(err: Any, root: type[BaseModel]) -> str:
    """One pydantic error of validating `root` as `<path>: <what is wrong>`."""
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    path = _loc_to_path(loc)
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        message = "unknown field"
        name = loc[-1] if loc else ""
        if isinstance(name, str):
            close = difflib.get_close_matches(name, _known_fields(loc, root), n=1, cutoff=0.6)
            if close:
                message += f'; did you mean "{close[0]}"?'
    elif kind == "value_error" and "error" in ctx:
        message = str(ctx["error"])
    elif kind == "literal_error":
        message = f"must be {ctx.get('expected')}, got {value!r}"
    elif kind in _SIMPLE_MESSAGES:
        message = f"{_SIMPLE_MESSAGES[kind]}, got {_describe_value(value)}"
    elif kind == "string_too_short" and ctx.get("min_length") == 1:
        message = "must not be empty"
    elif kind == "too_short":
        message = f"must have at least {ctx.get('min_length')} item(s)"
    elif kind == "too_long":  # the API server's words for maxItems
        message = f"must have at most {ctx.get('max_length')} items"
    elif kind == "string_too_long":  # the API server's words for maxLength ("... bytes")
        message = f"may not be more than {ctx.get('max_length')} characters"
    elif kind == "string_pattern_mismatch":
        message = f"{value!r} does not match the pattern {ctx.get('pattern')}"
    elif kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        message = f"must be {op} {bound}, got {value!r}"
    else:
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
    return f"{path}: {message}"
