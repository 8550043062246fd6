"""The interface every chart source (repository, git, OCI) implements, and what they share.

A source turns the `spec.chart` of a HelmRelease into a `ResolvedChart`: a local chart helm can
install from, plus the identity of what was resolved (version, revision, content digest) and the
chart's default values. Failures are a `SourceError` with a one-line reason fit for a status condition.
Credentials arrive already read from their Secret (`Credentials`); sources never read Kubernetes and
never put credentials into messages, logs or reprs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "ChartSource",
    "Credentials",
    "ResolvedChart",
    "SourceError",
    "SourceSpec",
    "redact_url",
    "spec_field",
]


@dataclass(frozen=True)
class ResolvedChart:
    """A chart ready for helm, and the identity of what was resolved."""

    path: Path  # a local chart archive (.tgz) or directory helm can install from
    name: str  # chart name (Chart.yaml)
    version: str  # chart version (Chart.yaml)
    revision: str  # source revision; repositories: "<version>@sha256:<archive digest>"
    digest: str  # "sha256:<hex>" of the chart content; drives change detection
    app_version: str = ""
    default_values: dict[str, Any] = field(default_factory=dict, repr=False)  # values.yaml, parsed
    source: str = ""  # where it came from, credential-free (e.g. the repository URL), for messages


class SourceError(Exception):
    """A chart could not be resolved. `str()` is one human line that never contains credentials.

    `transient` is True for failures that may go away by themselves (unreachable, HTTP 5xx, timeouts)
    and False for those that need a change somewhere (bad credentials, no such chart or version,
    digest mismatch).
    """

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(" ".join(reason.split()))  # always one line
        self.transient = transient

    @property
    def reason(self) -> str:
        return str(self)


_SECRET_KEYS = {
    "username": ("username",),
    "password": ("password",),
    "cert": ("tls.crt", "certFile"),
    "key": ("tls.key", "keyFile"),
    "ca": ("ca.crt", "caFile"),
    "identity": ("identity",),
    "known_hosts": ("known_hosts",),
}


@dataclass(frozen=True, repr=False)
class Credentials:
    """Credentials for a chart source: basic auth and/or TLS (PEM client cert + key, CA bundle), and for
    git over SSH a private key (`identity`, Flux's Secret key; `identity.pub` is not needed) with the
    `known_hosts` lines to verify the server's host key against.

    The caller reads them from the Secret named by `secretRef` (see `from_secret_data`). The repr
    names which fields are set, never their values.
    """

    username: str | None = None
    password: str | None = None
    cert: bytes | None = None  # PEM client certificate (chain)
    key: bytes | None = None  # PEM private key of `cert`
    ca: bytes | None = None  # PEM CA bundle to trust instead of the system roots
    identity: bytes | None = None  # SSH private key (OpenSSH/PEM), for git over ssh
    known_hosts: bytes | None = None  # known_hosts lines, for git over ssh

    @classmethod
    def from_secret_data(cls, data: Mapping[str, bytes | str]) -> Credentials:
        """From decoded Secret data, with Flux's keys: username, password, tls.crt/certFile,
        tls.key/keyFile, ca.crt/caFile, identity, known_hosts. Raises SourceError when a pair is
        incomplete."""

        def get(name: str) -> bytes | None:
            for key in _SECRET_KEYS[name]:
                value = data.get(key)
                if value is not None and value != b"" and value != "":
                    return value.encode() if isinstance(value, str) else bytes(value)
            return None

        user, password = get("username"), get("password")
        creds = cls(
            username=user.decode() if user is not None else None,
            password=password.decode() if password is not None else None,
            cert=get("cert"),
            key=get("key"),
            ca=get("ca"),
            identity=get("identity"),
            known_hosts=get("known_hosts"),
        )
        creds.validate()
        return creds

    def validate(self) -> None:
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise SourceError(f"credentials secret has a username or password but no {missing}")
        if (self.cert is None) != (self.key is None):
            missing = "key (tls.key)" if self.key is None else "certificate (tls.crt)"
            raise SourceError(f"credentials secret has a client certificate or key but no {missing}")

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    @property
    def has_tls(self) -> bool:
        return self.cert is not None or self.ca is not None

    def fingerprint(self) -> str:
        """A stable hash of all fields, for cache keys (never reversible to the secrets)."""
        h = hashlib.sha256()
        for value in (self.username, self.password, self.cert, self.key, self.ca):
            raw = value.encode() if isinstance(value, str) else value
            h.update(b"\x00" if raw is None else b"\x01" + len(raw).to_bytes(8, "big") + raw)
        if self.identity is not None or self.known_hosts is not None:  # unchanged for the fields above
            for raw in (self.identity, self.known_hosts):
                h.update(b"\x00" if raw is None else b"\x01" + len(raw).to_bytes(8, "big") + raw)
        return h.hexdigest()

    def scrub(self, text: str) -> str:
        """`text` with any password or key material replaced by "***" (belt and braces for messages)."""
        for secret in (self.password, self.key.decode(errors="replace") if self.key else None):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        if self.identity:  # the whole SSH key, and each of its lines on its own
            identity = self.identity.decode(errors="replace").strip()
            for secret in (identity, *(ln.strip() for ln in identity.splitlines() if len(ln.strip()) >= 16)):
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        set_fields = [
            n
            for n in ("username", "password", "cert", "key", "ca", "identity", "known_hosts")
            if getattr(self, n) is not None
        ]
        return f"Credentials(<redacted: {', '.join(set_fields) or 'empty'}>)"

    __str__ = __repr__


@runtime_checkable
class ChartSource(Protocol):
    """Resolves a `spec.chart` (the whole chart spec, or the source's own sub-spec) to a local chart.

    `refresh=True` bypasses freshness caches (index TTL, mirror fetch interval), for a forced
    reconcile; content-addressed caches are still used.
    """

    async def resolve(
        self, spec_chart: Any, credentials: Credentials | None = None, *, refresh: bool = False
    ) -> ResolvedChart: ...


class ClosingSource:
    """`async with source:` closes it on exit; subclasses implement `close()`."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        raise NotImplementedError


def redact_url(url: str) -> str:
    """`url` without user info, query or fragment, for messages (`https://u:p@h/x?t=1` -> `https://h/x`)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
    except ValueError:
        return "<invalid URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def spec_field(spec: Any, *names: str, default: Any = None) -> Any:
    """The first present of `names` on `spec`, read as an attribute or a mapping key.

    Lets sources accept the pydantic models of `helmrelease_controller.api` as well as plain dicts
    (camelCase or snake_case).
    """
    for name in names:
        if isinstance(spec, Mapping):
            if name in spec and spec[name] is not None:
                return spec[name]
        else:
            value = getattr(spec, name, None)
            if value is not None:
                return value
    return default


def source_section(spec_chart: Any, kind: str) -> Any:
    """`spec.chart.<kind>` when `spec_chart` is the whole chart spec, else `spec_chart` itself."""
    inner = spec_field(spec_chart, kind)
    return inner if inner is not None else spec_chart


class SourceSpec:
    """A source's own part of `spec.chart` (`spec.chart.<KIND>`), parsed. `from_spec` takes the
    whole `spec.chart` or the section itself (an API model or a mapping, camelCase or snake_case),
    or an already parsed spec; each source reads its fields in `_read` (SourceError when invalid)."""

    KIND: ClassVar[str]

    @classmethod
    def from_spec(cls, spec_chart: Any) -> Self:
        """From `spec.chart` or `spec.chart.<KIND>`, as a model object or a mapping."""
        if isinstance(spec_chart, cls):
            return spec_chart
        return cls._read(source_section(spec_chart, cls.KIND))

    @classmethod
    def _read(cls, src: Any) -> Self:
        raise NotImplementedError
