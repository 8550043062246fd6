"""Log context: every log line written during one reconcile carries that reconcile's `reconcileID`.

The controller's worker sets a fresh ID (`new_reconcile`) before each reconcile; a log record
factory copies the current ID (a context variable, so concurrent reconciles on the one event loop
keep theirs apart, and tasks started by a reconcile inherit it) onto every record as the
`reconcileID` field, which both log formats print. `grep reconcileID=…` then shows one
reconcile's whole story: decisions, helm actions, failures.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
from typing import Any

_reconcile_id: contextvars.ContextVar[str] = contextvars.ContextVar("reconcile_id", default="")
_installed = False


def new_reconcile() -> contextvars.Token[str]:
    """Start a reconcile's context: a new short random ID (8 hex digits). Reset with the token."""
    return _reconcile_id.set(secrets.token_hex(4))


def end_reconcile(token: contextvars.Token[str]) -> None:
    _reconcile_id.reset(token)


def current() -> str:
    return _reconcile_id.get()


def install() -> None:
    """Add `reconcileID` to every log record made while a reconcile runs (idempotent)."""
    global _installed
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        rid = _reconcile_id.get()
        if rid:
            record.reconcileID = rid
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


__all__ = ["current", "end_reconcile", "install", "new_reconcile"]
