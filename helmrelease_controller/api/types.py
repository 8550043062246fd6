"""Validated scalar types of the HelmRelease API and the helpers that build their CRD rules. Pure.

Owns the annotated string and number types (names, durations, paths, JSON pointers, URLs,
digests, retries), their validators, the CEL helpers (`cel`, `_string_schema`) that put the same
checks in the CRD, and `_Spec`/`_Status`, the bases of spec and status models.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from helmrelease_controller.api.durations import DURATION_PATTERN, parse_duration
from helmrelease_controller.api.names import RELEASE_NAME_MAX_LENGTH

# --- Validated scalar types -----------------------------------------------------------------------

_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry of the CRD: a CEL `rule` and the controller's `message`.

    A rule sits next to the validator that enforces the same thing (in the type's or the model's
    JSON schema), and its message is the validator's words without the interpolated value (a CRD
    message is a static string), so `kubectl apply` and the controller refuse alike.
    """
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def _cel_string(text: str) -> str:
    """`text` as a single-quoted CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _string_schema(*rules: dict[str, Any], max_length: int | None = None) -> WithJsonSchema:
    """The CRD schema of a string type: its CEL rules, and a maxLength when the type has one (which
    also bounds what the API server estimates a rule on it may cost)."""
    schema: dict[str, Any] = {"type": "string"}
    if max_length is not None:
        schema["maxLength"] = max_length
    schema["x-kubernetes-validations"] = list(rules)
    return WithJsonSchema(schema)


def _name_message(what: str, pattern: str) -> str:
    allowed = "lowercase letters, digits and '-'" + (" or '.'" if "\\." in pattern else "")
    return f"is not a valid {what}: use {allowed}, starting and ending with a letter or digit"


def _name_check(what: str, pattern: str, max_length: int) -> Callable[[str], str]:
    """A validator for Kubernetes-style names, with a message saying what is allowed."""
    compiled = re.compile(pattern)
    message = _name_message(what, pattern)

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(
                f"{value!r} is too long for a {what}: may not be more than {max_length} characters "
                f"(it has {len(value)})"
            )
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} {message}")
        return value

    return check


def _name_schema(what: str, pattern: str, max_length: int) -> WithJsonSchema:
    """The CRD schema of a name type: maxLength, and a CEL rule with _name_check's words."""
    return _string_schema(
        cel(f"self.matches({_cel_string(pattern)})", _name_message(what, pattern)), max_length=max_length
    )


_DURATION_MAX_LENGTH = 64
_NEGATIVE = "must not be negative"
_NOT_A_DURATION = 'invalid duration: use a Go duration such as "30s", "5m", "1h30m" or "750ms"'
_NOT_ABOVE_ZERO = "must be greater than 0s"
_IS_DURATION = f"self.matches({_cel_string(DURATION_PATTERN)})"


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_positive_duration(value: str) -> str:
    if parse_duration(value) <= 0:
        raise ValueError(f"invalid duration {value!r}: {_NOT_ABOVE_ZERO}")
    return value


_RETRIES = "must be -1 (retry forever) or a number of retries >= 0"


def _check_retries(value: int) -> int:
    if value < -1:
        raise ValueError(f"{_RETRIES}, got {value}")
    return value


_PATH_MAX_LENGTH = 4096
_NOT_RELATIVE = "must be a path relative to the repository root, without '..'"


def _check_relative_path(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or ".." in parts:
        raise ValueError(f"{value!r} {_NOT_RELATIVE}")
    return value


_NOT_A_POINTER = "is not a JSON pointer: it must start with '/', e.g. /spec/replicas"


def _check_json_pointer(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} {_NOT_A_POINTER}")
    return value


def _matching(pattern: str, requirement: str) -> AfterValidator:
    """A validator: the value must match `pattern`, else `'<value>' <requirement>`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} {requirement}")
        return value

    return AfterValidator(check)


def _matching_schema(pattern: str, requirement: str) -> WithJsonSchema:
    """The CRD schema of a _matching type: a CEL rule with the same words."""
    return _string_schema(cel(f"self.matches({_cel_string(pattern)})", requirement))


def _none_to_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


#: Lists whose items carry CEL rules are bounded: the API server refuses a CRD whose rules it
#: estimates could cost too much, and an unbounded list multiplies its items' cost without end.
LIST_MAX_ITEMS = 100

# Field constraints (min_length, ge, ...) become CEL rules with the controller's words in crd.py.
NonEmptyStr = Annotated[str, Field(min_length=1)]
# The grammar of a duration, as two rules: a negative one is one error, not a grammar error too.
_DURATION_RULES = (
    cel("!self.startsWith('-')", _NEGATIVE),
    cel(f"self.startsWith('-') || {_IS_DURATION}", _NOT_A_DURATION),
)
Duration = Annotated[
    str,
    Field(max_length=_DURATION_MAX_LENGTH),
    AfterValidator(_check_duration),
    _string_schema(*_DURATION_RULES, max_length=_DURATION_MAX_LENGTH),
]
# A duration above zero: the grammar's rules guard the comparison, so an invalid string is one
# error (the grammar's), not an evaluation error too.
PositiveDuration = Annotated[
    str,
    Field(max_length=_DURATION_MAX_LENGTH),
    AfterValidator(_check_positive_duration),
    _string_schema(
        *_DURATION_RULES,
        cel(f"!{_IS_DURATION} || duration(self) > duration('0s')", _NOT_ABOVE_ZERO),
        max_length=_DURATION_MAX_LENGTH,
    ),
]
RelativePath = Annotated[
    str,
    Field(max_length=_PATH_MAX_LENGTH),
    AfterValidator(_check_relative_path),
    _string_schema(
        cel(
            r"!self.startsWith('/') && !self.replace('\\', '/').split('/').exists(p, p == '..')",
            _NOT_RELATIVE,
        ),
        max_length=_PATH_MAX_LENGTH,
    ),
]
JsonPointer = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_check_json_pointer),
    _string_schema(cel("size(self) >= 1", "must not be empty"), cel("self.startsWith('/')", _NOT_A_POINTER)),
]
Retries = Annotated[
    int,
    AfterValidator(_check_retries),
    WithJsonSchema({"type": "integer", "x-kubernetes-validations": [cel("self >= -1", _RETRIES)]}),
]
_NAMESPACE = ("namespace name", _DNS1123_LABEL, 63)
_OBJECT = ("object name", _DNS1123_SUBDOMAIN, 253)
_RELEASE = ("Helm release name", _DNS1123_SUBDOMAIN, RELEASE_NAME_MAX_LENGTH)
NamespaceName = Annotated[str, AfterValidator(_name_check(*_NAMESPACE)), _name_schema(*_NAMESPACE)]
ObjectName = Annotated[str, AfterValidator(_name_check(*_OBJECT)), _name_schema(*_OBJECT)]
ReleaseName = Annotated[str, AfterValidator(_name_check(*_RELEASE)), _name_schema(*_RELEASE)]
_COMMIT = (r"^[0-9a-f]{7,64}$", "is not a commit SHA (7 to 64 lowercase hex digits)")
_HTTP_URL = (r"^https?://\S+$", "is not an http:// or https:// URL")
_OCI_URL = (r"^oci://\S+$", "is not an OCI chart reference: it must start with oci://")
_OCI_DIGEST = (r"^sha256:[0-9a-f]{64}$", "is not a digest: expected sha256: and 64 lowercase hex digits")
CommitSha = Annotated[str, _matching(*_COMMIT), _matching_schema(*_COMMIT)]
HttpUrl = Annotated[str, _matching(*_HTTP_URL), _matching_schema(*_HTTP_URL)]
OciUrl = Annotated[str, _matching(*_OCI_URL), _matching_schema(*_OCI_URL)]
OciDigest = Annotated[str, _matching(*_OCI_DIGEST), _matching_schema(*_OCI_DIGEST)]
FreeForm = Annotated[dict[str, Any], BeforeValidator(_none_to_empty_dict)]


class _Spec(BaseModel):
    """Base of spec models: camelCase in YAML, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


class _Status(BaseModel):
    """Base of status models: camelCase in YAML, snake_case in Python, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )
