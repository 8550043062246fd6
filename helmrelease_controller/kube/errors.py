"""The API server's errors as exceptions: `ApiError` and its kinds (NotFound, Conflict, Gone, a
transport failure, a broken watch stream), and `error_from_status` reading a `Status` body. Pure.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

Obj = dict[str, Any]


class ApiError(Exception):
    """The API server answered with an error `Status` (or could not be reached: status 0)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: a stale resourceVersion, or (reason "AlreadyExists") a create of an existing name."""


class Gone(ApiError):
    """410: the requested resourceVersion is older than the server's history; re-list."""


class TransportError(ApiError):
    """The request did not complete: connection refused or reset, timeout, truncated stream."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "TransportError", message)


class StreamBroken(TransportError):
    """A watch stream that had started (HTTP 200) broke off: resume it from the last resourceVersion."""


_ERRORS: dict[int, type[ApiError]] = {404: NotFound, 409: Conflict, 410: Gone}


def error_from_status(status: int, body: bytes | Obj | None, http_reason: str = "") -> ApiError:
    """An :class:`ApiError` from an HTTP status and a (possibly non-JSON) `Status` body."""
    data: Any = body
    if isinstance(body, bytes):
        with contextlib.suppress(ValueError):
            data = json.loads(body)
    data = data if isinstance(data, dict) else {}
    status = int(data.get("code") or status)
    reason, message = str(data.get("reason") or http_reason or "Error"), str(data.get("message") or "")
    return _ERRORS.get(status, ApiError)(status, reason, message)
