"""Schema admission: what a write's body must look like, for custom and built-in kinds.

Custom resources (a CRD's served version's `openAPIV3Schema`, as kube-apiserver's
apiextensions handler does it): unknown fields are pruned (unless
`x-kubernetes-preserve-unknown-fields`; `apiVersion`, `kind` and `metadata` of the root and
of `x-kubernetes-embedded-resource` objects are kept; metadata keeps the ObjectMeta fields),
`default`s applied (on writes and on
reads), then the object is validated against the schema with `jsonschema` (type, nullable,
x-kubernetes-int-or-string, enum, pattern, min/max Length/Items/Properties, minimum/maximum,
multipleOf, required; list-type set/map uniqueness) and its `x-kubernetes-validations` CEL
rules (celrules.py). Errors are field errors worded as go-openapi and apimachinery word them,
in one 422 Invalid.

Built-in kinds: the Kubernetes 1.37 JSON schemas shipped by the `kubernetes-validate`
package. Unknown fields are dropped (as decoding into the Go types does), a value of the
wrong type is the decoder's 400 (`json: cannot unmarshal ...`), a missing required field or
a value outside an enum is a 422. Only writes that come through the HTTP API are checked
(the simulated controllers' own writes are trusted).

`fieldValidation` (request_scope): `Strict` answers unknown fields with the 400 strict
decoding error, `Warn` (the default) drops them with a `Warning` header each, `Ignore`
drops them silently.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from . import celrules, fastvalid
from .fielderrors import (
    FieldError,
    cannot_handle,
    go_map,
    invalid,
    not_supported,
    required,
    strict_decoding,
)
from .jsoncopy import clone
from .resources import ResourceType

Obj = dict[str, Any]

K8S_SCHEMA_VERSION = "v1.37.0"
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_ROOT_KEEP = ("apiVersion", "kind", "metadata")


# -- fieldValidation: per request ------------------------------------------------------------
class _Scope:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.warnings: list[str] = []
        self.open = True


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "kubesim_field_validation", default=None
)


def _current() -> _Scope | None:
    scope = _scope.get()
    return scope if scope is not None and scope.open else None


@contextlib.contextmanager
def request_scope(field_validation: str | None) -> Iterator[list[str]]:
    """The writes inside come from one API request; yields the warnings they produce."""
    mode = field_validation if field_validation in ("Strict", "Warn", "Ignore") else "Warn"
    scope = _Scope(mode)
    token = _scope.set(scope)
    try:
        yield scope.warnings
    finally:
        scope.open = False  # callbacks scheduled during the request copied the context: not theirs
        _scope.reset(token)


def warning_header(text: str) -> str:
    """A `Warning` response header value (RFC 7234 form, as kube-apiserver sends it)."""
    return "299 - " + json.dumps(text)


def _unknown_fields(rt: ResourceType, unknown: list[str]) -> None:
    scope = _current()
    if not unknown or scope is None:
        return
    if scope.mode == "Strict":
        raise strict_decoding(rt, unknown)
    if scope.mode == "Warn":
        scope.warnings.extend(f'unknown field "{p}"' for p in unknown)


# -- the store's hooks ---------------------------------------------------------------------------
def admit(rt: ResourceType, obj: Obj, old: Obj | None) -> None:
    """Prune, default and validate `obj` (a create when `old` is None) in place; raises ApiError."""
    name = str((obj.get("metadata") or {}).get("name", ""))
    if rt.crd_name is not None:
        if rt.schema is not None:
            _admit_custom(rt, _compiled(rt.schema), obj, old, name)
    elif _current() is not None:
        _admit_builtin(rt, obj, name)


def default_on_read(rt: ResourceType, obj: Obj) -> None:
    """Defaults of a custom resource's schema, applied when it is read (as the real server does)."""
    if rt.schema is not None and _compiled(rt.schema).has_defaults:
        _default(rt.schema, obj)


# -- custom resources ---------------------------------------------------------------------------
class _Compiled:
    def __init__(self, schema: Obj) -> None:
        self.schema = schema
        draft4 = _to_jsonschema(schema, root=True)
        self.validator = jsonschema.Draft4Validator(draft4)
        self.certainly_valid = fastvalid.checker(draft4)  # True: the validator would find nothing
        self.has_defaults = '"default"' in json.dumps(schema)
        self.has_rules = celrules.has_rules(schema)


_compiled_cache: dict[int, _Compiled] = {}


def _compiled(schema: Obj) -> _Compiled:
    c = _compiled_cache.get(id(schema))
    if c is None or c.schema is not schema:
        if len(_compiled_cache) > 512:
            _compiled_cache.clear()
        c = _compiled_cache[id(schema)] = _Compiled(schema)
    return c


def _admit_custom(rt: ResourceType, c: _Compiled, obj: Obj, old: Obj | None, name: str) -> None:
    unknown: list[str] = []
    _prune(c.schema, obj, "", unknown, keep=_ROOT_KEEP)
    _prune_builtin({"$ref": f"#/$defs/{_OBJECT_META}"}, obj.get("metadata"), "metadata", unknown)
    _unknown_fields(rt, sorted(unknown))
    if c.has_defaults:
        _default(c.schema, obj)
    errs = [] if c.certainly_valid(obj) else schema_errors(c.validator, obj)
    errs = [e for e in errs if not _unchanged(e.field, obj, old)]
    errs += _embedded_errors(c.schema, obj, "")
    if c.has_rules:
        errs += [celrules.NOT_CHECKED] if celrules.blocked(errs) else celrules.errors(c.schema, obj, old)
    if errs:
        raise invalid(rt, name, errs)


_MISSING = object()
_STEP = re.compile(r"\.?([^.\[]+)|\[(\d+)\]")


def _at(obj: Any, path: str) -> Any:
    for key, index in _STEP.findall(path):
        if index:
            obj = obj[int(index)] if isinstance(obj, list) and int(index) < len(obj) else _MISSING
        else:
            obj = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
        if obj is _MISSING:
            return obj
    return obj


def _unchanged(path: str, new: Obj, old: Obj | None) -> bool:
    """Validation ratcheting (GA in 1.33): an update may keep an invalid value it did not change."""
    if old is None:
        return False
    value = _at(new, path)
    return value is not _MISSING and value == _at(old, path)


def _to_jsonschema(s: Any, root: bool = False) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema (draft 4): nullable and int-or-string spelled out."""
    if not isinstance(s, dict):
        return s
    out = {
        k: v for k, v in s.items() if not k.startswith("x-kubernetes-") and k not in ("nullable", "default")
    }
    if s.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if s.get("nullable") and "type" in out:
        out["type"] = [*(out["type"] if isinstance(out["type"], list) else [out["type"]]), "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    for k in ("properties", "patternProperties"):
        if isinstance(s.get(k), dict):
            props = {n: _to_jsonschema(v) for n, v in s[k].items()}
            if root and k == "properties":
                props.pop("metadata", None)  # ObjectMeta is validated as metadata, not by the schema
            out[k] = props
    for k in ("items", "additionalProperties", "not"):
        if isinstance(s.get(k), dict):
            out[k] = _to_jsonschema(s[k])
    for k in ("allOf", "anyOf", "oneOf"):
        if isinstance(s.get(k), list):
            out[k] = [_to_jsonschema(v) for v in s[k]]
    return out


def _prune(schema: Any, value: Any, path: str, unknown: list[str], keep: tuple[str, ...] = ()) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        if schema.get("x-kubernetes-embedded-resource"):
            keep = _ROOT_KEEP
        for key in list(value):
            child_path = f"{path}.{key}" if path else key
            if key in keep:
                continue
            if key in props:
                _prune(props[key], value[key], child_path, unknown)
            elif isinstance(extra, dict):
                _prune(extra, value[key], child_path, unknown)
            elif not preserve and extra is not True:
                unknown.append(child_path)
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune(schema["items"], item, f"{path}[{i}]", unknown)


def _default(schema: Any, value: Any) -> None:
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if "default" in sub and (key not in value or (value[key] is None and not sub.get("nullable"))):
                value[key] = clone(sub["default"])
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                _default(sub, child)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(schema["items"], item)


def _duplicates(schema: Obj, items: list[Any], path: str) -> list[FieldError]:
    """`x-kubernetes-list-type` set / map: the second of equal elements (keys) is a Duplicate value."""
    kind, keys = schema.get("x-kubernetes-list-type"), schema.get("x-kubernetes-list-map-keys") or []
    if kind not in ("set", "map") or len(items) < 2:
        return []
    seen: dict[str, int] = {}
    out: list[FieldError] = []
    for i, item in enumerate(items):
        if kind == "map":
            key = {k: item[k] for k in keys if isinstance(item, dict) and k in item}
            value: Any = go_map(key)
        else:
            key = value = item
        text = json.dumps(key, sort_keys=True)
        seen[text] = seen.get(text, 0) + 1
        if seen[text] == 2:
            out.append(FieldError("Duplicate", f"{path}[{i}]", value))
    return out


def _embedded_errors(schema: Any, value: Any, path: str) -> list[FieldError]:
    """An `x-kubernetes-embedded-resource` object needs its apiVersion and kind; list-type
    set and map items must be unique."""
    if not isinstance(schema, dict) or value is None:
        return []
    out: list[FieldError] = []
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            out += [
                required(f"{path}.{k}" if path else k) for k in ("apiVersion", "kind") if not value.get(k)
            ]
        props, extra = schema.get("properties") or {}, schema.get("additionalProperties")
        for key, child in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                out += _embedded_errors(sub, child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        out += _duplicates(schema, value, path)
        for i, item in enumerate(value):
            out += _embedded_errors(schema.get("items"), item, f"{path}[{i}]")
    return out


# -- jsonschema errors as Kubernetes field errors -----------------------------------------------
def _path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _num(n: Any) -> str:
    return str(int(n)) if isinstance(n, float) and n.is_integer() else str(n)


def _field_error(e: jsonschema.ValidationError) -> list[FieldError]:
    """One jsonschema error as go-openapi reports it, converted as apiextensions converts it."""
    path, v, x, inst = _path(e.absolute_path), e.validator, e.validator_value, e.instance
    body = f"{path} in body"
    schema = e.schema if isinstance(e.schema, dict) else {}
    if v == "type":
        want = [t for t in (x if isinstance(x, list) else [x]) if t != "null"]
        want_s = ",".join(want) if len(want) > 1 else (want[0] if want else "null")
        return [
            FieldError(
                "TypeInvalid", path, json_type(inst), f'{body} must be of type {want_s}: "{json_type(inst)}"'
            )
        ]
    if v == "enum":
        return [not_supported(path, inst, [a for a in x if a is not None])]
    if v == "maxLength":
        return [FieldError("TooLong", path, inst, f"may not be more than {x} bytes")]
    if v == "maxItems" or v == "maxProperties":
        return [FieldError("TooMany", path, len(inst), f"must have at most {x} items")]
    messages = {
        "pattern": f"{body} should match '{x}'",
        "minLength": f"{body} should be at least {x} chars long",
        "minItems": f"{body} should have at least {x} items",
        "minProperties": f"{body} should have at least {x} properties",
        "uniqueItems": f"{body} shouldn't contain duplicates",
        "multipleOf": f"{body} should be a multiple of {_num(x)}",
        "maximum": f"{body} should be less than {'' if schema.get('exclusiveMaximum') else 'or equal to '}"
        f"{_num(x)}",
        "minimum": f"{body} should be greater than {'' if schema.get('exclusiveMinimum') else 'or equal to '}"
        f"{_num(x)}",
        "anyOf": f"{body} must validate at least one schema (anyOf)",
        "oneOf": f"{body} must validate one and only one schema (oneOf)",
        "not": f"{body} shouldn't validate the schema (not)",
    }
    shown = len(inst) if v in ("minItems", "minProperties") else inst
    return [FieldError("Invalid", path, shown, messages.get(v, f"{body}: {e.message}"))]


def schema_errors(validator: jsonschema.protocols.Validator, obj: Any) -> list[FieldError]:
    out: list[FieldError] = []
    seen: set[str] = set()
    errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
    for e in errors:
        if e.validator == "required":
            for m in e.validator_value:
                if isinstance(e.instance, dict) and m not in e.instance:
                    fe = required(_path([*e.absolute_path, m]))
                    if str(fe) not in seen:
                        seen.add(str(fe))
                        out.append(fe)
            continue
        for fe in _field_error(e):
            if str(fe) not in seen:
                seen.add(str(fe))
                out.append(fe)
    return sorted(out, key=lambda fe: fe.field)


# -- built-in kinds -------------------------------------------------------------------------------
@cache
def builtin_definitions() -> dict[str, Any]:
    """The `$defs` of kubernetes-validate's Kubernetes 1.37 schemas (loaded once)."""
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"{K8S_SCHEMA_VERSION}-local"
    defs: dict[str, Any] = json.loads((base / "_definitions.json").read_text())["$defs"]
    return defs


@cache
def builtin_definition_name(group: str, version: str, kind: str) -> str | None:
    for name, d in builtin_definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, kind):
                return name
    return None


def _any_of(s: Any) -> Any:
    """oneOf -> anyOf: int-or-string and quantities list `null` in both branches."""
    if isinstance(s, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in s.items()}
    if isinstance(s, list):
        return [_any_of(v) for v in s]
    return s


@cache
def _builtin_defs() -> dict[str, Any]:
    defs: dict[str, Any] = _any_of(builtin_definitions())
    return defs


@cache
def _builtin_validator(def_name: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator({"$defs": _builtin_defs(), "$ref": f"#/$defs/{def_name}"})


@cache
def _builtin_check(def_name: str) -> fastvalid.Check:
    """True only when _builtin_validator(def_name) finds no error (fastvalid.py)."""
    root = {"$defs": _builtin_defs(), "$ref": f"#/$defs/{def_name}"}
    return fastvalid.checker(root, jsonschema.Draft202012Validator)


def _resolve(s: Any) -> Any:
    while isinstance(s, dict) and "$ref" in s:
        s = builtin_definitions()[str(s["$ref"]).rsplit("/", 1)[-1]]
    return s


def _prune_builtin(schema: Any, value: Any, path: str, unknown: list[str]) -> None:
    """Fields the Go types do not have are dropped when the body is decoded."""
    s = _resolve(schema)
    if not isinstance(s, dict):
        return
    if isinstance(value, dict) and "properties" in s and not s.get("x-kubernetes-preserve-unknown-fields"):
        props, extra = s["properties"], s.get("additionalProperties")
        for key in list(value):
            child_path = f"{path}.{key}" if path else key
            if key in props:
                _prune_builtin(props[key], value[key], child_path, unknown)
            elif isinstance(extra, dict):
                _prune_builtin(extra, value[key], child_path, unknown)
            elif extra is not True:
                unknown.append(child_path)
                del value[key]
    elif isinstance(value, dict) and isinstance(s.get("additionalProperties"), dict):
        for key, child in value.items():
            _prune_builtin(s["additionalProperties"], child, f"{path}.{key}" if path else key, unknown)
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        for i, item in enumerate(value):
            _prune_builtin(s["items"], item, f"{path}[{i}]", unknown)


_GO_KINDS = {"string": "string", "integer": "number", "number": "number", "boolean": "bool"}


def _go_type(schema: Any) -> str:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if ref:
        name = str(ref).rsplit("/", 1)[-1]
        parts = name.split(".")
        return (
            f"{parts[-2]}.{parts[-1]}"
            if name != "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
            else "string"
        )
    s = schema if isinstance(schema, dict) else {}
    t = s.get("type")
    t = next((x for x in t if x != "null"), "") if isinstance(t, list) else t
    if t == "integer":
        return str(s.get("format") or "int64")
    if t == "array":
        return "[]" + _go_type(s.get("items") or {})
    if t == "object":
        return "map[string]" + _go_type(s.get("additionalProperties") or {"type": "string"})
    return {"boolean": "bool", "number": "float64"}.get(str(t), str(t or "interface {}"))


def _decode_error(def_name: str, e: jsonschema.ValidationError) -> str:
    """encoding/json's message for a value of the wrong type: `json: cannot unmarshal ...`."""
    inst = e.instance
    kind = (
        "array"
        if isinstance(inst, list)
        else "object"
        if isinstance(inst, dict)
        else "bool"
        if isinstance(inst, bool)
        else _GO_KINDS.get(json_type(inst), "string")
    )
    struct = def_name.rsplit(".", 1)[-1]
    parent: Any = builtin_definitions()[def_name]
    for p in list(e.absolute_path)[:-1]:
        s = _resolve(parent)
        parent = (
            s.get("items")
            if isinstance(p, int)
            else (s.get("properties") or {}).get(p, s.get("additionalProperties"))
        ) or {}
        ref = parent.get("$ref") if isinstance(parent, dict) else None
        if ref:
            struct = str(ref).rsplit(".", 1)[-1]
        elif (
            isinstance(parent, dict)
            and "items" in parent
            and isinstance(parent["items"], dict)
            and "$ref" in parent["items"]
        ):
            struct = str(parent["items"]["$ref"]).rsplit(".", 1)[-1]
    dotted = ".".join(str(p) for p in e.absolute_path if not isinstance(p, int))
    return (
        f"json: cannot unmarshal {kind} into Go struct field {struct}.{dotted} of type {_go_type(e.schema)}"
    )


# Lists Go validation requires non-empty (JSON Schema's `required` only asks for the key).
_NON_EMPTY = {("io.k8s.api.core.v1.PodSpec", "containers")}


def _admit_builtin(rt: ResourceType, obj: Obj, name: str) -> None:
    def_name = builtin_definition_name(rt.group, rt.version, rt.kind)
    if def_name is None:
        return
    unknown: list[str] = []
    _prune_builtin({"$ref": f"#/$defs/{def_name}"}, obj, "", unknown)
    _unknown_fields(rt, sorted(unknown))
    errs: list[FieldError] = []
    # A missing spec decodes as an empty one (Go zero value): what it lacks is reported instead.
    checked = obj if "spec" in obj else {**obj, "spec": {}}
    found = [] if _builtin_check(def_name)(checked) else _builtin_validator(def_name).iter_errors(checked)
    for e in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
        if e.validator in ("type", "anyOf") and e.instance is not None:
            raise cannot_handle(rt, _decode_error(def_name, e))
        if list(e.absolute_path)[:1] == ["status"]:
            continue  # status fields the schema calls required decode as zero values (Go)
        if e.validator == "required" and isinstance(e.instance, dict):
            errs += [required(_path([*e.absolute_path, m])) for m in e.validator_value if m not in e.instance]
        elif e.validator == "enum" and e.instance is not None:
            errs.append(
                not_supported(
                    _path(e.absolute_path), e.instance, [a for a in e.validator_value if a is not None]
                )
            )
    errs += _empty_required(obj)
    if errs:
        raise invalid(rt, name, list({str(e): e for e in errs}.values()))


def _empty_required(obj: Obj) -> list[FieldError]:
    """`spec.template.spec.containers: Required value` for an empty container list too."""
    out = []
    for path, pod in _pod_specs(obj):
        for def_name, key in _NON_EMPTY:
            if def_name.endswith("PodSpec") and isinstance(pod, dict) and pod.get(key) == []:
                out.append(required(f"{path}.{key}"))
    return out


def _pod_specs(obj: Obj) -> Iterator[tuple[str, Any]]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if obj.get("kind") == "Pod":
        yield "spec", spec
    tmpl = spec.get("template") if isinstance(spec.get("template"), dict) else None
    if tmpl is not None and isinstance(tmpl.get("spec"), dict):
        yield "spec.template.spec", tmpl["spec"]
    job = spec.get("jobTemplate")
    if isinstance(job, dict):
        t = ((job.get("spec") or {}).get("template") or {}) if isinstance(job.get("spec"), dict) else {}
        if isinstance(t, dict) and isinstance(t.get("spec"), dict):
            yield "spec.jobTemplate.spec.template.spec", t["spec"]


# -- OpenAPI v3 components for discovery (kubectl explain) ----------------------------------------
def _openapi(s: Any) -> Any:
    """A JSON Schema definition as an OpenAPI v3 component: refs into components, nullable types."""
    if isinstance(s, list):
        return [_openapi(v) for v in s]
    if not isinstance(s, dict):
        return s
    if s.get("oneOf") and "properties" not in s:  # IntOrString, Quantity
        out = {k: v for k, v in s.items() if k != "oneOf"}
        types = {t for b in s["oneOf"] for t in (b.get("type") or []) if t != "null"}
        out["type"] = "string"
        if types == {"string", "integer"}:
            out["format"] = "int-or-string"
            out["x-kubernetes-int-or-string"] = True
        return out
    out = {}
    for k, v in s.items():
        if k == "$ref":
            out[k] = "#/components/schemas/" + str(v).rsplit("/", 1)[-1]
        elif k == "type" and isinstance(v, list):
            out[k] = next((t for t in v if t != "null"), "object")
        elif k in ("properties", "patternProperties"):
            out[k] = {n: _openapi(p) for n, p in v.items()}
        else:
            out[k] = _openapi(v)
    return out


def builtin_components(group: str, version: str, kind: str) -> dict[str, Any]:
    """The OpenAPI v3 component schemas of a built-in kind: its definition and all it refers to."""
    root = builtin_definition_name(group, version, kind)
    if root is None:
        return {}
    defs, out, todo = builtin_definitions(), {}, [root]
    while todo:
        name = todo.pop()
        if name in out or name not in defs:
            continue
        out[name] = _openapi(defs[name])
        todo += re.findall(r'"#/\$defs/([^"]+)"', json.dumps(defs[name]))
    return out
