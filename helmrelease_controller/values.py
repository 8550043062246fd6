"""The user-supplied values of a HelmRelease and their digests (pure: no I/O).

What the controller passes to helm with ``--values`` is the *user* part only::

    valuesFrom[0]  <-  valuesFrom[1] ...  <-  spec.values

layered by :func:`user_values` as a plain deep merge: maps merge, everything else (lists,
scalars, ``null``) replaces, and a ``null`` is *kept*. This is what ``helm -f a.yaml -f b.yaml``
does with several values files and what Flux does with ``valuesFrom`` + ``spec.values``
(``transform.MergeMaps``). Keeping the ``null`` matters: a ``null`` in ``spec.values`` must still
delete the chart default even when an earlier ``valuesFrom`` source set that key.

Coalescing those values over the chart's ``values.yaml`` (maps merge, lists and scalars replace,
a ``null`` deletes a chart default) is Helm's own ``CoalesceValues``, run by helm on every
install and upgrade; the controller does not model it. ``tests/integration/test_values_vs_helm.py``
checks against the real helm v4 and v3 that the one file we send renders exactly as the separate
files would.

This module owns that layering, ``targetPath`` (:func:`set_path`, Flux's ``ReplacePathValue``, on
top of the strvals port in ``strvals.py``) and the digests (:func:`digest`, :func:`config_digest`:
what goes into status; values never do). Redaction of secret strings (``redact``,
``secret_strings``) lives in ``redact.py``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .strvals import StrvalsError, parse_into, typed_value

__all__ = [
    "PathValue",
    "ValuesError",
    "config_digest",
    "digest",
    "set_path",
    "user_values",
]


class ValuesError(ValueError):
    """Values cannot be composed (for example a bad ``targetPath``). The message is one line, value-free."""


@dataclass(frozen=True)
class PathValue:
    """A ``valuesFrom`` entry with a ``targetPath``: set one value at a path (see :func:`set_path`).

    ``value`` is the raw data of the referenced ConfigMap/Secret key (a string, as Flux sees it).
    """

    path: str
    value: Any

    def __repr__(self) -> str:  # never print the value: it may come from a Secret
        return f"PathValue(path={self.path!r}, value=<redacted>)"


# --------------------------------------------------------------------------------------------------
# Layering the user values


def _is_table(value: Any) -> bool:
    return isinstance(value, Mapping)


def _copy(value: Any) -> Any:
    """Deep copy into plain JSON-like containers (dict / list), so results never alias inputs."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return copy.deepcopy(value)


def _overlay(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Plain deep merge that keeps ``null`` (Helm CLI's ``mergeMaps``, Flux's ``transform.MergeMaps``)."""
    out = _copy(base)
    for key, value in override.items():
        current = out.get(key)
        if _is_table(value) and _is_table(current):
            out[key] = _overlay(current, value)
        else:
            out[key] = _copy(value)
    return out


def user_values(
    sources: Sequence[Mapping[str, Any] | PathValue], inline: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The user-supplied values, what the controller passes to helm with ``--values``.

    ``sources`` are the resolved ``valuesFrom`` entries in spec order: a map (a parsed values
    document) is deep-merged over what came before; a :class:`PathValue` (an entry with
    ``targetPath``) is applied with :func:`set_path` to what came before, in place, as Flux does.
    ``inline`` (``spec.values``) is merged last. ``null`` values are kept (see the module docstring):
    Helm turns them into deletions of chart defaults. Raises :class:`ValuesError` for a bad
    ``targetPath``.
    """
    result: dict[str, Any] = {}
    for source in sources:
        if isinstance(source, PathValue):
            result = set_path(result, source.path, source.value)
        else:
            result = _overlay(result, source)
    return _overlay(result, inline or {})


# --------------------------------------------------------------------------------------------------
# targetPath: Flux's ReplacePathValue over the strvals port (strvals.py)


def set_path(values: Mapping[str, Any], dotted_path: str, value: Any) -> dict[str, Any]:
    """Return a copy of ``values`` with ``value`` set at ``dotted_path`` (``valuesFrom[].targetPath``).

    Flux semantics (``ReplacePathValue`` in fluxcd/helm-controller ``internal/chartutil``), i.e.
    ``helm --set`` applied to the values composed so far:

    * the path uses Helm ``--set`` syntax: ``.`` separates keys, ``\\.`` escapes a dot, ``a[0]``
      indexes a list (a list grows with ``null`` as needed; index at most 65536), ``a[0].b`` and
      ``a[0][1]`` nest. Existing maps and lists along the path are kept and updated in place;
      descending through an existing non-map (or indexing a non-list, ``null`` included) is an error;
    * a string value is parsed as ``helm --set`` parses it (Flux passes ``path + "=" + value`` to
      ``strvals.ParseInto``): ``true``/``false``/``null`` in any case become bool/``None``, a decimal
      int64 without a leading zero becomes an int (``"007"`` stays a string), ``{a,b}`` becomes a
      list, ``\\`` escapes the next character, and an unescaped ``,`` ends the value and starts
      another ``key=value`` assignment (so ``"x,y"`` is an error and ``"x,other=1"`` also sets
      ``other``: Flux's behaviour, kept for compatibility);
    * a string wrapped in single or double quotes is set as a string (``--set-string``) after
      stripping every leading and trailing quote character (Go ``strings.Trim(v, "'\\"")``);
    * ``bytes`` are decoded as UTF-8 first; any other non-string value is set as is, unparsed.

    Trailing newlines are part of the value (as in Flux): ``"5\\n"`` is the string ``"5\\n"``.

    The parser is Helm 3's strvals (v3.17.3, the one Flux links). Helm 4's ``--set`` differs in one
    corner: an unterminated index (``a[0``, ``[``) is silently ignored there (it wraps the EOF with
    ``%w``); here, as in Helm 3, it is an error, so a typo in a targetPath never goes unnoticed.
    Raises :class:`ValuesError` (the message names the path, never the value) on a parse error.
    """
    if not dotted_path:
        raise ValuesError("targetPath is empty")
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValuesError(f"value for targetPath {dotted_path!r} is not UTF-8") from None
    result = _copy(values)
    if isinstance(value, str):
        as_string = False
        if len(value) >= 1 and (
            (value.startswith("'") and value.endswith("'")) or (value.startswith('"') and value.endswith('"'))
        ):
            value = value.strip("'\"")
            as_string = True
        text = f"{dotted_path}={value}"

        def reader(runes: str) -> Any:
            return typed_value(runes, as_string)
    else:
        text = f"{dotted_path}=x"
        raw = _copy(value)

        def reader(runes: str) -> Any:
            return raw

    try:
        parse_into(text, result, reader)
    except StrvalsError as err:
        raise ValuesError(f"cannot set targetPath {dotted_path!r}: {err}") from None
    return result


# --------------------------------------------------------------------------------------------------
# Digests


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def digest(obj: Any) -> str:
    """``sha256:<hex>`` of canonical JSON (sorted keys, no whitespace, UTF-8, no NaN/Infinity).

    Map key order does not matter; types do: ``1``, ``1.0``, ``true`` and ``"1"`` all differ
    (YAML parsing decides which one a value is). Only JSON-like data (dict with
    string keys, list/tuple, str, int, float, bool, None) is accepted: anything else raises
    ``TypeError``. The canonical form is a contract: changing it would make every release look
    changed and upgrade it once.
    """
    return "sha256:" + hashlib.sha256(_canonical(obj)).hexdigest()


def config_digest(
    chart_digest: str, values: Mapping[str, Any], post_render: Mapping[str, Any] | None = None
) -> str:
    """Digest of what a release is configured with: the chart (by its digest) plus the user values,
    plus the post-rendering (postRenderers, commonMetadata) when there is any.

    ``values`` are the user-supplied values (:func:`user_values`); the chart digest covers the
    chart's own defaults. Same chart and same values give the same digest, whatever the key order.
    Without post-rendering the digest is what it was before post-renderers existed (no upgrade).
    """
    if post_render:
        return digest({"chart": chart_digest, "values": values, "postRender": post_render})
    return digest({"chart": chart_digest, "values": values})
