"""Pure formatting for the operations CLI: ages as kubectl prints them, tables, colour, one-line text.

Nothing here does I/O; every function is table-tested in tests/unit/ops/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

GREEN, RED, YELLOW, RESET = "\033[32m", "\033[31m", "\033[33m", "\033[0m"
READY_COLOURS = {"True": GREEN, "False": RED, "Unknown": YELLOW}


def human_duration(seconds: float) -> str:
    """A duration as kubectl's AGE column shows it (apimachinery's duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return _two(minutes, "m", s % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return _two(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _two(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _two(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" + (f"{small}{small_unit}" if small else "")


def age(timestamp: str | None, now: dt.datetime) -> str:
    """The age of an RFC 3339 timestamp at `now`; "<unknown>" when absent or unreadable."""
    if not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    return human_duration((now - then).total_seconds())


def one_line(text: str, limit: int = 0) -> str:
    """`text` on one line (whitespace runs become one space), cut to `limit` characters with '...'."""
    flat = " ".join(text.split())
    if limit and len(flat) > limit:
        return flat[: max(0, limit - 3)] + "..."
    return flat


def widths(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width: its widest cell or its header."""
    return [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]


def table(header: Sequence[str], rows: Sequence[Sequence[str]], colour: bool = False) -> list[str]:
    """kubectl's table: left-aligned columns, three spaces apart, no trailing blanks. With `colour`,
    a READY column's True/False/Unknown is coloured (the padding is computed without the colour)."""
    w = widths(header, rows)
    ready = header.index("READY") if colour and "READY" in header else -1
    return [format_row(header, w, -1)] + [format_row(row, w, ready) for row in rows]


def format_row(cells: Sequence[str], widths: Sequence[int], ready: int = -1) -> str:
    """One line of a table with these column widths (a wider cell pushes the rest right); the
    cell at index `ready` coloured when it is True/False/Unknown (-1: none)."""
    out = []
    for i, cell in enumerate(cells):
        padded = cell.ljust(widths[i]) if i < len(cells) - 1 and i < len(widths) else cell
        if i == ready and cell in READY_COLOURS:
            padded = READY_COLOURS[cell] + cell + RESET + padded[len(cell) :]
        out.append(padded)
    return "   ".join(out).rstrip()


def use_colour(isatty: bool, environ: dict[str, str]) -> bool:
    """Colour only on a terminal, never with NO_COLOR set (non-empty, no-color.org) or TERM=dumb."""
    return isatty and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"
