"""Retry-After parsing (seconds or HTTP date); the waits between attempts: tests/unit/test_backoff.py."""

from __future__ import annotations

import email.utils

import pytest

from helmrelease_controller.notify.dispatcher import parse_retry_after

NOW = 1795168800.0


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("1", 1.0),
        ("0", 0.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        ("Fri, 20 Nov 2026 10:00:30 GMT", 30.0),
        ("Fri, 20 Nov 2026 09:59:00 GMT", 0.0),  # in the past: now
        ("Friday, 20-Nov-26 10:00:30 GMT", 30.0),  # obsolete RFC 850 form (RFC 9110: accept it)
        (None, None),
        ("", None),
        ("-1", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("Fri, 20 Nov 2026 10:00:30", None),  # no zone
    ],
)
def test_parse_retry_after(header: str | None, want: float | None) -> None:
    got = parse_retry_after(header, now=NOW)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, abs=0.01)
