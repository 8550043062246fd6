"""Reading a values YAML document exactly as Helm reads one: the one YAML loader for all values.

Helm reads every values file (``values.yaml``, ``-f``) with ``sigs.k8s.io/yaml``: go-yaml v2
(YAML 1.1 scalar resolution) into Go values, then converted to JSON. :func:`load_values` gives the
same data, so what the controller digests, merges and hands to helm (as JSON) is what ``helm -f``
would have seen. Checked against the real helm v4.3.1 and v3.17.3 binaries
(``tests/integration/test_values_yaml_vs_helm.py``). Compared with PyYAML's ``safe_load``:

* timestamps (``2024-01-01``) stay the string as written: Helm never makes a date;
* booleans are go-yaml v2's: ``y Y yes Yes YES on On ON true True TRUE`` and their negations
  (``n``/``no``/``off``/``false`` ...); ``tRue`` is a string;
* integers are Go's ``ParseInt(s, 0, 64)`` after removing ``_``: ``0x1F``, ``0o17``, ``017``
  (octal), ``0b101``, ``+12``; beyond 64 bits they become floats; ``08`` is the float 8.0;
  no base 60 (``22:22`` is a string, not 1342);
* floats follow go-yaml's ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` (``1e3`` is
  1000.0; PyYAML says string); a float that overflows (``1e400``) stays a string;
* ``.nan``/``.inf`` and map keys JSON cannot hold (``null``, a map, a list, a uint64) are errors,
  as in Helm ("error converting YAML to JSON");
* map keys become strings as ``sigs.k8s.io/yaml`` writes them: ``1`` -> ``"1"``, ``true`` ->
  ``"true"``, a float with Go's 32-bit ``%g`` (``2.5`` -> ``"2.5"``, ``1e6`` -> ``"1e+06"``);
  the last of two keys that become the same string wins;
* unknown tags (``!foo``) are ignored, ``!!binary`` is decoded to text, ``!!set`` is a map of nulls.

One deliberate difference: numbers keep Python's ``int``/``float`` distinction (Helm turns both into
a float64). Helm re-reads the JSON we pass it, so the rendered result is the same; the digests keep
telling ``1`` from ``1.0`` (see ``values.digest``).

Syntax errors are ``yaml.YAMLError``; JSON incompatibilities are :class:`ValuesYAMLError` (also a
``yaml.YAMLError``, with a line number and a value-free problem).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["ValuesYAMLError", "go_float32_key", "json_problem", "load_values", "resolve_plain"]

if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present

_BOOLS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")  # what Go's ParseFloat takes after a leading '.'
_INT_DIGITS = {16: "0123456789abcdefABCDEF", 8: "01234567", 2: "01", 10: "0123456789"}
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64_MAX = (1 << 64) - 1
_PLAIN_TAG = "tag:helmrelease.dev,2026:go-yaml-v2-plain"
_STR, _BOOL, _INT, _FLOAT, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "bool", "int", "float", "null"))
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class ValuesYAMLError(ConstructorError):
    """Valid YAML that JSON (and so Helm) cannot hold. ``problem`` is value-free."""


def json_problem(err: ValuesYAMLError) -> str:
    """The end of a one-line reason: "cannot be converted to JSON as Helm does (line N: why)"."""
    mark = err.problem_mark
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return f"cannot be converted to JSON as Helm does ({where}{err.problem})"


def _go_parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)`` / ``ParseUint``: the int, or None when Go refuses it."""
    sign, body = 1, text
    if body[:1] in "+-" and body:
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    lower = body[:2].lower()
    if lower in ("0x", "0o", "0b"):
        base, digits = {"0x": 16, "0o": 8, "0b": 2}[lower], body[2:]
    elif body.startswith("0") and len(body) > 1:
        base, digits = 8, body[1:]
    else:
        base, digits = 10, body
    if not digits or any(c not in _INT_DIGITS[base] for c in digits):
        return None
    value = sign * int(digits, base)
    if _INT64[0] <= value <= _INT64[1]:
        return value
    if text[:1] not in "+-" and value <= _UINT64_MAX:
        return value  # ParseUint: no sign allowed
    return None


def resolve_plain(text: str) -> tuple[str, Any]:
    """go-yaml v2's ``resolve("", text)`` for an untagged plain scalar: (YAML tag, value).

    A timestamp resolves to the text itself (go-yaml hands a timestamp to an ``interface{}`` as the
    string it was written as), so it is reported as a string.
    """
    if text in _NULLS:
        return _NULL, None
    if text in _BOOLS:
        return _BOOL, _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _FLOAT, _SPECIAL_FLOATS[text]
    first = text[0]
    if first == ".":
        if _DOT_FLOAT.fullmatch(text):
            value = float(text)
            if not math.isinf(value):
                return _FLOAT, value
    elif first in "+-0123456789":
        plain = text.replace("_", "")
        as_int = _go_parse_int(plain)
        if as_int is not None:
            return _INT, as_int
        if _GO_FLOAT.fullmatch(plain):
            value = float(plain)
            if not math.isinf(value):  # Go: ErrRange, so not a float: the string stays
                return _FLOAT, value
        if plain.startswith("-0b"):  # go-yaml's own fallback (ParseInt already covers the rest)
            as_int = _go_parse_int("-" + plain[1:])
            if as_int is not None:
                return _INT, as_int
    return _STR, text


def _resolve_tagged(tag: str, text: str, node: Node) -> Any:
    """An explicitly tagged scalar (``!!int 12``): go-yaml resolves it and insists the kind matches."""
    if tag == _TIMESTAMP:
        return text
    rtag, value = resolve_plain(text) if text else (_NULL, None)
    if rtag == tag:
        return value
    if tag == _FLOAT and rtag == _INT:
        return float(int(value or 0))
    raise ValuesYAMLError(None, None, f"cannot decode a {rtag.rsplit(':', 1)[1]} as {tag}", node.start_mark)


def go_float32_key(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'g', -1, 32)`` (how ``sigs.k8s.io/yaml`` writes a float key)."""
    if math.isnan(value):
        return ".nan"
    try:
        f32 = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        f32 = math.copysign(math.inf, value)
    if math.isinf(f32):
        return ".inf" if f32 > 0 else "-.inf"
    if f32 == 0:
        return "-0" if math.copysign(1.0, f32) < 0 else "0"
    for precision in range(1, 10):  # the shortest decimal that reads back as the same float32
        mantissa, exp_text = f"{f32:.{precision - 1}e}".split("e")
        if struct.unpack("f", struct.pack("f", float(f"{mantissa}e{exp_text}")))[0] == f32:
            break
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exp_text)
    if exp < -4 or exp >= 6:  # Go's %g with the shortest precision: an exponent outside [-4, 6)
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= 0:
        whole, frac = digits[: exp + 1].ljust(exp + 1, "0"), digits[exp + 1 :]
        return f"{sign}{whole}{'.' + frac if frac else ''}"
    return f"{sign}0.{'0' * (-exp - 1)}{digits}"


def _key_string(key: Any, node: Node) -> str:
    """A map key as ``sigs.k8s.io/yaml`` converts it for JSON, or an error where it gives one."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        if key > _INT64[1]:
            raise ValuesYAMLError(
                None, None, "a map key larger than int64 cannot be a JSON key", node.start_mark
            )
        return str(key)
    if isinstance(key, float):
        return go_float32_key(key)
    what = "null" if key is None else type(key).__name__
    raise ValuesYAMLError(None, None, f"a {what} map key cannot be a JSON key", node.start_mark)


class _Loader(_Base):
    """go-yaml v2 scalar resolution, JSON-shaped results (string keys, no NaN, no dates)."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, Any]:  # type: ignore[override]
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, "expected a mapping node", node.start_mark)
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, dict | list):
                raise ValuesYAMLError(
                    None, None, "a map or list map key cannot be a JSON key", key_node.start_mark
                )
            out[_key_string(key, key_node)] = self.construct_object(value_node, deep=deep)
        return out

    def construct_plain(self, node: ScalarNode) -> Any:
        value = resolve_plain(node.value)[1]
        if isinstance(value, float) and not math.isfinite(value):
            raise ValuesYAMLError(None, None, ".nan and .inf cannot be JSON values", node.start_mark)
        return value

    def construct_tagged_scalar(self, node: ScalarNode) -> Any:
        value = _resolve_tagged(node.tag, node.value, node)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValuesYAMLError(None, None, ".nan and .inf cannot be JSON values", node.start_mark)
        return value

    def construct_binary_text(self, node: ScalarNode) -> str:
        try:
            raw = base64.b64decode(node.value.encode("ascii"), validate=False)
        except (binascii.Error, UnicodeEncodeError):
            raise ValuesYAMLError(None, None, "!!binary value is not base64", node.start_mark) from None
        return raw.decode("utf-8", "replace")  # Go's JSON encoder replaces invalid UTF-8 the same way

    def construct_set_as_map(self, node: Node) -> Any:
        data: dict[str, Any] = {}
        yield data
        data.update(self.construct_mapping(node))

    def construct_by_kind(self, node: Node) -> Any:
        """Unknown tags (``!foo``) and ``!!omap``/``!!pairs``: go-yaml decodes the node as if untagged."""
        if isinstance(node, ScalarNode):
            return node.value
        if isinstance(node, SequenceNode):
            return self.construct_yaml_seq_list(node)
        return self.construct_mapping(node, deep=True)

    def construct_yaml_seq_list(self, node: SequenceNode) -> list[Any]:
        return [self.construct_object(child, deep=True) for child in node.value]


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
_Loader.add_implicit_resolver(_PLAIN_TAG, re.compile(r"(?s).*"), [None])
_Loader.add_constructor(_PLAIN_TAG, _Loader.construct_plain)
for _tag in (_BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP):
    _Loader.add_constructor(_tag, _Loader.construct_tagged_scalar)
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_binary_text)
_Loader.add_constructor("tag:yaml.org,2002:set", _Loader.construct_set_as_map)
_Loader.add_constructor("tag:yaml.org,2002:omap", _Loader.construct_by_kind)
_Loader.add_constructor("tag:yaml.org,2002:pairs", _Loader.construct_by_kind)
_Loader.add_constructor(None, _Loader.construct_by_kind)


def load_values(text: str | bytes) -> Any:
    """One YAML values document, as Helm reads it (see the module docstring). Empty -> None."""
    return yaml.load(text, Loader=_Loader)


def load_documents(text: str | bytes) -> list[Any]:
    """Every document of a multi-document YAML stream (a rendered manifest), read as Helm and
    kubectl read one (sigs.k8s.io/yaml: the rules above). Empty documents are None."""
    return list(yaml.load_all(text, Loader=_Loader))
