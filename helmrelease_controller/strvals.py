"""A port of Helm's ``--set`` parser, strvals (``pkg/strvals/parser.go``, non-JSON flavour). Pure: no I/O.

Owns the ``name1=value1,name2=value2`` grammar (``a.b``, ``a[0]``, ``{x,y}``, ``\\`` escapes), Helm's
limits and its typing of values (:func:`typed_value`). :func:`parse_into` is ``strvals.ParseInto``
with a pluggable value reader; ``values.set_path`` (``valuesFrom[].targetPath``, Flux's
``ReplacePathValue``) is built on it. Errors (:class:`StrvalsError`) carry no fragment of the
input: the value may be a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["StrvalsError", "parse_into", "typed_value"]

#: Helm's limits (strvals.MaxIndex, strvals.MaxNestedNameLevel).
_MAX_INDEX = 65536
_MAX_NESTED_NAME_LEVEL = 30
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _Eof(Exception):
    """io.EOF: the end of the input (not an error at the top level)."""


class StrvalsError(Exception):
    """Any other strvals error. The message holds no fragment of the input."""


_EOF = _Eof()


def _fold_equal(text: str, word: str) -> bool:
    """Go's strings.EqualFold for the ASCII words true/false/null (simple, one-to-one case folding)."""
    if len(text) != len(word):
        return False
    for char, expected in zip(text, word, strict=True):
        folded = char.casefold()
        if char != expected and (len(folded) != 1 or folded != expected):
            return False
    return True


def typed_value(text: str, as_string: bool) -> Any:
    """strvals.typedVal: true/false/null (any case), int64 without a leading zero, else the string."""
    if as_string:
        return text
    if _fold_equal(text, "true"):
        return True
    if _fold_equal(text, "false"):
        return False
    if _fold_equal(text, "null"):
        return None
    if text == "0":
        return 0
    if text and text[0] != "0" and _INT_RE.match(text):
        number = int(text)
        if _INT64_MIN <= number <= _INT64_MAX:
            return number
    return text


def _go_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "map"


class _StrvalsParser:
    """strvals' ``parser``: ``name1=value1,name2=value2``, with ``a.b``, ``a[0]``, ``{x,y}``, ``\\`` escapes.

    Errors carry no fragment of the input: the value may be a secret.
    """

    def __init__(self, text: str, data: dict[str, Any], reader: Callable[[str], Any]) -> None:
        self._text = text
        self._pos = 0
        self._data = data
        self._reader = reader

    def parse(self) -> None:
        while True:
            err = self._key(self._data, 0)
            if err is None:
                continue
            if err is _EOF:
                return
            raise err

    # scanner ---------------------------------------------------------------------------------
    def _read(self) -> str | None:
        if self._pos >= len(self._text):
            return None
        char = self._text[self._pos]
        self._pos += 1
        return char

    def _unread(self) -> None:
        self._pos -= 1

    def _runes_until(self, stop: str) -> tuple[str, str | None]:
        """Read up to a stop character (returned as ``last``; ``None`` at EOF); ``\\x`` reads ``x``."""
        out: list[str] = []
        while True:
            char = self._read()
            if char is None:
                return "".join(out), None
            if char in stop:
                return "".join(out), char
            if char == "\\":
                escaped = self._read()
                if escaped is None:
                    return "".join(out), None
                out.append(escaped)
            else:
                out.append(char)

    # grammar ---------------------------------------------------------------------------------
    def _key(self, data: dict[str, Any], level: int) -> Exception | None:
        try:
            return self._key_inner(data, level)
        except _Panic as panic:  # Go recovers type-assertion panics in key() into an error
            return StrvalsError(f"unable to parse key: {panic}")

    def _key_inner(self, data: dict[str, Any], level: int) -> Exception | None:
        key, last = self._runes_until("=[,.")
        if last is None:
            return _EOF if not key else StrvalsError("a key has no value")
        if last == "[":
            index, err = self._key_index()
            if err is not None:
                return StrvalsError(f"error parsing index: {err}")
            items: list[Any] = []
            if key in data:
                items = _as_list(data[key])
            items, err = self._list_item(items, index, level)
            _set(data, key, items)
            return err
        if last == "=":
            value_list, err = self._val_list()
            if err is None:
                _set(data, key, value_list)
                return None
            if err is _EOF:
                _set(data, key, "")
                return _EOF
            if isinstance(err, _NotList):
                text, err = self._val()
                if err is not None and err is not _EOF:
                    return err
                _set(data, key, self._reader(text))
                return None
            return err
        if last == ",":
            _set(data, key, "")
            return StrvalsError("a key has no value (cannot end with ,)")
        # last == "."
        level += 1
        if level > _MAX_NESTED_NAME_LEVEL:
            return StrvalsError(
                f"value name nested level is greater than maximum supported nested level of "
                f"{_MAX_NESTED_NAME_LEVEL}"
            )
        inner: dict[str, Any] = {}
        if key in data:
            inner = _as_map(data[key])
        err = self._key(inner, level)
        if err is None and not inner:
            return StrvalsError("a key map has no value")
        if inner:
            _set(data, key, inner)
        return err

    def _key_index(self) -> tuple[int, Exception | None]:
        text, last = self._runes_until("]")
        if last is None:
            return 0, StrvalsError("unterminated list index")
        if not _INT_RE.match(text) or not _INT64_MIN <= int(text) <= _INT64_MAX:
            return 0, StrvalsError("invalid list index")
        return int(text), None

    def _list_item(self, items: list[Any], index: int, level: int) -> tuple[list[Any], Exception | None]:
        if index < 0:
            return items, StrvalsError("negative index not allowed")
        rest, last = self._runes_until("[.=")
        if rest:
            return items, StrvalsError("unexpected data at end of array index")
        if last is None:
            return items, _EOF
        if last == "=":
            value_list, err = self._val_list()
            if err is None:
                return _set_index(items, index, value_list)
            if err is _EOF:
                return _set_index(items, index, "")
            if isinstance(err, _NotList):
                text, err = self._val()
                if err is not None and err is not _EOF:
                    return items, err
                return _set_index(items, index, self._reader(text))
            return items, err
        if last == "[":
            next_index, err = self._key_index()
            if err is not None:
                return items, StrvalsError(f"error parsing index: {err}")
            current: list[Any] = []
            if len(items) > index and items[index] is not None:
                current = _as_list(items[index])
            nested, err = self._list_item(current, next_index, level)
            if err is not None:
                return items, err
            return _set_index(items, index, nested)
        # last == "."
        inner: dict[str, Any] = {}
        if len(items) > index:
            if isinstance(items[index], dict):
                inner = items[index]
            else:  # indices out of order: start an empty map
                items[index] = inner
        err = self._key(inner, level)
        if err is not None:
            return items, err
        return _set_index(items, index, inner)

    def _val(self) -> tuple[str, Exception | None]:
        text, last = self._runes_until(",")
        return text, (_EOF if last is None else None)

    def _val_list(self) -> tuple[list[Any], Exception | None]:
        char = self._read()
        if char is None:
            return [], _EOF
        if char != "{":
            self._unread()
            return [], _NotList()
        out: list[Any] = []
        while True:
            text, last = self._runes_until(",}")
            if last is None:
                return out, StrvalsError("list must terminate with '}'")
            if last == "}":
                follow = self._read()
                if follow is not None and follow != ",":
                    self._unread()
                out.append(self._reader(text))
                return out, None
            out.append(self._reader(text))


class _NotList(Exception):
    """strvals.ErrNotList: the value does not start with ``{``."""


class _Panic(Exception):
    """A Go type-assertion panic inside strvals (recovered into an error by ``key()``)."""


def _as_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Panic(f"cannot descend into a {_go_type(value)} value as a map")
    return value


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _Panic(f"cannot index a {_go_type(value)} value as a list")
    return value


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    if key:  # strvals ignores an empty key
        data[key] = value


def _set_index(items: list[Any], index: int, value: Any) -> tuple[list[Any], Exception | None]:
    if index < 0:
        return items, StrvalsError("negative index not allowed")
    if index > _MAX_INDEX:
        return items, StrvalsError(f"index is greater than maximum supported index of {_MAX_INDEX}")
    if len(items) <= index:
        items = items + [None] * (index + 1 - len(items))
    items[index] = value
    return items, None


def parse_into(text: str, data: dict[str, Any], reader: Callable[[str], Any]) -> None:
    """``strvals.ParseInto``: parse ``text`` (``name=value,...``) into ``data``, in place.

    ``reader`` turns each value's runes into the value set (for example :func:`typed_value`).
    Raises :class:`StrvalsError` (the message holds no fragment of ``text``).
    """
    _StrvalsParser(text, data, reader).parse()
