"""Go-style durations ("5m", "1h30m", "750ms"): parsing to seconds and formatting back. Pure.

Owns the duration grammar of the HelmRelease API (`interval`, `timeout`, `backoff.*`, ...):
Go's `time.ParseDuration` without the sign, i.e. one or more `<number><unit>` terms with
units ns, us (or µs), ms, s, m, h, or the bare "0". Negative durations are rejected.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["DURATION_PATTERN", "format_duration", "parse_duration"]

_UNITS_NS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # µs, MICRO SIGN (what Go prints)
    "\u03bcs": 1_000,  # μs, GREEK SMALL LETTER MU (Go accepts it too)
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
# Not a raw string: the pattern holds the characters themselves, which Go (RE2) regexps accept too.
_UNIT = "(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h)"

#: The whole-string grammar (also used as the CRD `pattern` of duration fields).
DURATION_PATTERN = rf"^(?:0|(?:{_NUMBER}{_UNIT})+)$"

_WHOLE = re.compile(DURATION_PATTERN)
_TERM = re.compile(rf"({_NUMBER})({_UNIT})")

_EXAMPLES = 'use a Go duration such as "30s", "5m", "1h30m" or "750ms"'


def parse_duration(s: str) -> float:
    """Seconds in the Go duration `s` ("5m" -> 300.0, "1h30m" -> 5400.0, "750ms" -> 0.75, "0s" -> 0.0).

    Raises ValueError with a one-line message naming the bad input otherwise.
    """
    if not isinstance(s, str):
        raise ValueError(f"invalid duration {s!r}: must be a string; {_EXAMPLES}")
    if s.startswith("-"):
        raise ValueError(f"invalid duration {s!r}: must not be negative")
    if not _WHOLE.fullmatch(s):
        if s == "":
            raise ValueError(f"invalid duration '': empty; {_EXAMPLES}")
        if re.fullmatch(r"[0-9.]+", s):
            raise ValueError(f"invalid duration {s!r}: missing unit; {_EXAMPLES}")
        if re.fullmatch(r"(?:[0-9.]+[^0-9.\s]+)+", s):
            unknown = next((u for u in re.findall(r"[0-9.]+([^0-9.\s]+)", s) if u not in _UNITS_NS), None)
            if unknown is not None:
                raise ValueError(
                    f"invalid duration {s!r}: unknown unit {unknown!r} (use ns, us, ms, s, m or h)"
                )
        raise ValueError(f"invalid duration {s!r}: {_EXAMPLES}")
    if s == "0":
        return 0.0
    total_ns = Decimal(0)
    for number, unit in _TERM.findall(s):
        total_ns += Decimal(number) * _UNITS_NS[unit]
    return float(total_ns / Decimal(1_000_000_000))


def _trim(whole: int, frac: int, digits: int) -> str:
    """`whole` plus the decimal fraction `frac` / 10**digits, trailing zeros dropped."""
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def format_duration(seconds: float) -> str:
    """The shortest Go duration string for `seconds` (5400 -> "1h30m", 0.75 -> "750ms", 0 -> "0s").

    Round-trips through parse_duration at nanosecond precision. Raises ValueError for negative
    or non-finite input.
    """
    value = Decimal(str(seconds))
    if not value.is_finite():
        raise ValueError(f"cannot format {seconds!r} as a duration: not finite")
    if value < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration: negative")
    ns = int((value * 1_000_000_000).to_integral_value())
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _trim(ns // 1_000, ns % 1_000, 3) + "us"
    if ns < 1_000_000_000:
        return _trim(ns // 1_000_000, ns % 1_000_000, 6) + "ms"
    hours, rest = divmod(ns, _UNITS_NS["h"])
    minutes, rest = divmod(rest, _UNITS_NS["m"])
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if rest:
        out += _trim(rest // 1_000_000_000, rest % 1_000_000_000, 9) + "s"
    return out
