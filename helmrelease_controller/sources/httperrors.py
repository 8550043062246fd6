"""Failure descriptions for the HTTP chart sources: short, one-line, credential-free reasons.

`network_reason` (shared with the OCI source) describes a transport failure (DNS, timeout, TLS, reset...),
`tls_reason` digs the OpenSSL reason out of one, `TLS_REJECTION_SIGNS` lists the reasons that likely
mean a missing client certificate, and `status_error` turns a chart repository's HTTP error status into
a `SourceError` (transient for 429 and 5xx). Shared by the package's HTTP sources; no I/O.

Retries within a fetch: a 429 or 503 answer whose `Retry-After` asks for at most
`MAX_RETRY_AFTER` seconds becomes `Throttled`, and `fetch_retrying` (tenacity, see retrying.py)
tries such a request again after that wait, `FETCH_ATTEMPTS` times in all. Every other failure
is raised at once, as before: the HelmRelease's own backoff (`spec.backoff`) retries it.
"""

from __future__ import annotations

import os
import re
import ssl

import aiohttp
import tenacity

from ..clock import SYSTEM, Clock
from ..reconcile.backoff import Backoff
from ..retrying import backoff_wait, parse_retry_after, retrying
from .base import Credentials, SourceError

MAX_RETRY_AFTER = 10.0  # seconds; a server asking for a longer pause is left to the HelmRelease's backoff
FETCH_ATTEMPTS = 3
# Only Throttled answers are retried and they bring their own wait; the policy is the fallback of the wait.
FETCH_BACKOFF = Backoff(initial=1.0, max=MAX_RETRY_AFTER, factor=2.0, jitter=0.1)

# How a TLS server that wants a client certificate we did not send tends to hang up (TLS 1.3 reports
# it after the handshake, so it surfaces as a reset or a closed connection).
TLS_REJECTION_SIGNS = frozenset(
    {
        "connection reset by peer",
        "the server closed the connection",
        "TLS handshake failed (TLSV13_ALERT_CERTIFICATE_REQUIRED)",
        "TLS handshake failed (SSLV3_ALERT_HANDSHAKE_FAILURE)",
    }
)


def network_reason(
    exc: BaseException, timeout: float, *, connect_timeout: float = 0.0, read_timeout: float = 0.0
) -> str:
    """A short, credential-free description of a transport failure."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError) and connect_timeout:
        return f"no connection within {connect_timeout:g}s"
    if isinstance(exc, aiohttp.SocketTimeoutError) and read_timeout:
        return f"connected, but no response for {read_timeout:g}s"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        err = exc.certificate_error
        detail = getattr(err, "verify_message", None) or getattr(err, "reason", None) or "untrusted"
        return f"TLS certificate verification failed ({detail})"
    dns_error = getattr(aiohttp, "ClientConnectorDNSError", None)
    if dns_error is not None and isinstance(exc, dns_error):
        return "cannot resolve host name"
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError and asyncio.TimeoutError
        return f"timed out after {timeout:g}s"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the transfer was interrupted"
    os_error: BaseException | None = getattr(exc, "os_error", None) or (
        exc if isinstance(exc, OSError) else None
    )
    tls = tls_reason(exc)
    if tls is not None:
        return f"TLS handshake failed ({tls})" if tls else "TLS handshake failed"
    if isinstance(os_error, OSError) and os_error.errno:
        return os.strerror(os_error.errno).lower()
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    return type(exc).__name__


_SSL_REASON = re.compile(r"\[SSL: ([A-Z0-9_]+)\]")


def tls_reason(exc: BaseException) -> str | None:
    """The OpenSSL reason code when `exc` is (or wraps, or re-raises as an OSError) a TLS failure, else None.

    aiohttp sometimes turns an ssl.SSLError into a ClientOSError with the SSL error code as errno (1, which
    os.strerror would misreport as "operation not permitted"), keeping only the text.
    """
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return getattr(seen, "reason", None) or ""
        m = _SSL_REASON.search(str(seen))
        if m is not None:
            return m.group(1)
        seen = getattr(seen, "os_error", None) or seen.__cause__ or seen.__context__
    return None


def status_error(
    status: int, reason: str | None, *, what: str, where: str, creds: Credentials | None
) -> SourceError:
    line = f"HTTP {status}" + (f" {reason[:60]}" if reason else "")
    if status in (401, 403):
        if creds is not None and (creds.basic_auth or creds.cert):
            hint = "check the credentials in spec.chart.repository.secretRef"
        else:
            hint = "it needs credentials: set spec.chart.repository.secretRef"
        return SourceError(f"chart repository {where} denied access to {what}: {line} ({hint})")
    if status == 404:
        hint = "; is this a Helm chart repository URL?" if what == "index.yaml" else ""
        return SourceError(f"chart repository {where}: {what} not found ({line}){hint}")
    if status == 429 or status >= 500:
        return SourceError(f"chart repository {where} failed to serve {what}: {line}", transient=True)
    return SourceError(f"chart repository {where} answered {line} for {what}")


class Throttled(SourceError):
    """A 429 or 503 answer that asked to come back within MAX_RETRY_AFTER seconds (`retry_after`)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason, transient=True)
        self.retry_after = retry_after


def throttled(err: SourceError, status: int, retry_after: str | None, now: float) -> SourceError:
    """`err` as `Throttled` when the answer was a 429 or 503 asking to come back soon; else `err`."""
    wait = parse_retry_after(retry_after, now) if status in (429, 503) else None
    if wait is None or wait > MAX_RETRY_AFTER:
        return err
    return Throttled(str(err), wait)


def fetch_retrying(clock: Clock = SYSTEM) -> tenacity.AsyncRetrying:
    """The attempts of one source request (`async for attempt in ...: with attempt:`): a Throttled
    answer is tried again after its Retry-After; any other failure, or the last one, is raised."""
    return retrying(
        attempts=FETCH_ATTEMPTS,
        wait=backoff_wait(FETCH_BACKOFF, cap=MAX_RETRY_AFTER),
        retry_on=lambda exc: isinstance(exc, Throttled),
        clock=clock,
    )
