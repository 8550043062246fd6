"""Secret redaction: keep secret strings (from values) out of messages (pure: no I/O).

:func:`redact` and :func:`secret_strings` keep values out of Helm's stderr
before it reaches logs, events, status or notifications.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MIN_SECRET_LENGTH", "redact", "secret_strings"]

#: Secrets shorter than this are not redacted (they would mangle every message).
MIN_SECRET_LENGTH = 4

_REDACTED = "***"


def _variants(secret: str) -> set[str]:
    """A secret as it may appear in a message: raw, stripped, and JSON/Go-quoted escaped forms."""
    out = {secret, secret.strip()}
    for item in list(out):
        out.add(json.dumps(item, ensure_ascii=False)[1:-1])
        out.add(json.dumps(item)[1:-1])
    return out


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (at least 4 characters long) in ``text`` with ``***``.

    Overlapping or adjacent occurrences (of one or several secrets) collapse into a single ``***``,
    so no part of a secret survives. Besides the raw string, its whitespace-stripped form and its
    JSON/Go-escaped form (quotes, backslashes, newlines as ``\\"``, ``\\\\``, ``\\n``) are redacted too.
    """
    needles = {v for secret in secrets if secret for v in _variants(secret) if len(v) >= MIN_SECRET_LENGTH}
    if not needles or not text:
        return text
    covered = bytearray(len(text))
    found = False
    for needle in needles:
        start = text.find(needle)
        while start != -1:
            found = True
            covered[start : start + len(needle)] = b"\x01" * len(needle)
            start = text.find(needle, start + 1)
    if not found:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if covered[i]:
            out.append(_REDACTED)
            while i < len(text) and covered[i]:
                i += 1
        else:
            j = i
            while j < len(text) and not covered[j]:
                j += 1
            out.append(text[i:j])
            i = j
    return "".join(out)


def secret_strings(values: Any) -> set[str]:
    """Every scalar leaf of ``values`` rendered as a string, for :func:`redact`.

    Strings as is; ints as decimal; floats as Python renders them, plus the integral form
    (``5.0`` also gives ``"5"``, as Go prints it). Booleans and ``null`` are left out: they carry
    no secret and redacting ``true``/``null`` would mangle every message. Keys are not included.
    Lists and maps are walked recursively. :func:`redact` ignores strings shorter than 4.
    """
    out: set[str] = set()
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, str):
            out.add(item)
        elif isinstance(item, int):
            out.add(str(item))
        elif isinstance(item, float):
            out.add(repr(item))
            if item.is_integer():
                out.add(str(int(item)))
        else:
            out.add(str(item))
    return out
