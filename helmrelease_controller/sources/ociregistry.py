"""The OCI registry HTTP API (distribution v2) that `oci.OCISource` looks charts up with: no helm, no cache.

`RegistryClient.tags` lists `GET /v2/<repo>/tags/list` (paginated by `Link` headers, followed on the same
registry only); `RegistryClient.manifest` is `GET /v2/<repo>/manifests/<tag or digest>`: the manifest must
be a Helm chart (`chart_layer`: config `application/vnd.cncf.helm.config.v1+json`, one chart layer) and
its sha256 must match `Docker-Content-Digest` (and the digest asked for); the result is a `Pin`.

A 401 is answered once per request from its `WWW-Authenticate` challenge (`parse_challenge`): Basic with
the credentials, or Bearer with a token fetched from the challenge's realm (sending the credentials as
Basic auth, if any). The resulting Authorization header is kept per (host, repository, credentials) until
the token expires. Other statuses and transport failures become one-line `SourceError`s (transient for
429, 5xx and network errors); a 429 or 503 asking (`Retry-After`) for a short pause is tried again after
it, up to three attempts (`httperrors.fetch_retrying`, on `retry_clock`); answers are read with a size
limit (`_read`).

Plain HTTP is used only for the hosts in `plain_http_hosts` ("host" or "host:port"), never as a fallback.
`docker_config_credentials` picks a registry's credentials out of a `.dockerconfigjson` Secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import aiohttp

from ..clock import SYSTEM, Clock
from .base import Credentials, SourceError
from .httperrors import fetch_retrying, network_reason, throttled

__all__ = [
    "HELM_CONFIG_MEDIA_TYPE",
    "HELM_LAYER_MEDIA_TYPES",
    "MAX_MANIFEST_BYTES",
    "MAX_TAGS_BYTES",
    "Pin",
    "RegistryClient",
    "RegistryRepository",
    "chart_layer",
    "docker_config_credentials",
    "parse_challenge",
    "provenance_layer",
]

HELM_CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER_MEDIA_TYPES = ("application/vnd.cncf.helm.chart.content.v1.tar+gzip", "application/tar+gzip")
HELM_PROV_MEDIA_TYPE = "application/vnd.cncf.helm.chart.provenance.v1.prov"
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_MANIFEST_ACCEPT = ", ".join((*_MANIFEST_TYPES, *_INDEX_TYPES))
SHA256_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_TAGS_BYTES = 16 * 1024 * 1024


class RegistryRepository(Protocol):
    """The chart repository a request is about; `oci.OCIChartSpec` is one."""

    @property
    def host(self) -> str: ...  # host[:port], lowercase

    @property
    def repository(self) -> str: ...  # path/chart inside the registry

    @property
    def url(self) -> str: ...  # oci://host/path/chart, for messages


@dataclass(frozen=True)
class Pin:
    """A lookup's result: the manifest a tag or digest names, and its chart layer."""

    tag: str
    manifest_digest: str  # sha256:<hex>
    layer_digest: str  # sha256:<hex> of the chart archive
    prov_digest: str | None = None  # sha256:<hex> of its provenance layer (`helm push` of a signed chart)


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="https://a/token",service="r"` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), {k: v.replace('\\"', '"') for k, v in params.items()}


def chart_layer(body: bytes, where: str) -> str:
    """The chart layer digest of a manifest; SourceError when the manifest is not a Helm chart."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise SourceError(f"{where}: the registry returned a manifest that is not JSON") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{where}: the registry returned a manifest that is not a JSON object")
    if doc.get("mediaType") in _INDEX_TYPES or "manifests" in doc:
        raise SourceError(f"{where} is not a Helm chart (it is an image index)")
    config = doc.get("config")
    config = config if isinstance(config, dict) else {}
    if config.get("mediaType") != HELM_CONFIG_MEDIA_TYPE:
        raise SourceError(f"{where} is not a Helm chart (config media type {config.get('mediaType')!r})")
    layers = [ly for ly in doc.get("layers") or [] if isinstance(ly, dict)]
    charts = [ly for ly in layers if ly.get("mediaType") in HELM_LAYER_MEDIA_TYPES]
    if len(charts) != 1 or not SHA256_DIGEST.match(str(charts[0].get("digest"))):
        raise SourceError(f"{where} is not a Helm chart (expected one chart layer, found {len(charts)})")
    return str(charts[0]["digest"])


def provenance_layer(body: bytes) -> str | None:
    """The provenance layer digest of a Helm chart manifest (one `chart_layer` accepted), if it has one."""
    layers = json.loads(body).get("layers") or []
    provs = [ly for ly in layers if isinstance(ly, dict) and ly.get("mediaType") == HELM_PROV_MEDIA_TYPE]
    digest = str(provs[0].get("digest")) if len(provs) == 1 else ""
    return digest if SHA256_DIGEST.match(digest) else None


class RegistryClient:
    """The registry HTTP API for `OCISource` (see the module docstring): one aiohttp session (its own
    unless one is given) and the Authorization headers won so far. Call `close()` when done."""

    def __init__(
        self,
        *,
        plain_http_hosts: Iterable[str] = (),
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_clock: Clock = SYSTEM,
    ) -> None:
        self.retry_clock = retry_clock
        self.plain_http_hosts = frozenset(h.strip().lower() for h in plain_http_hosts if h.strip())
        self.timeout, self.connect_timeout, self.clock = timeout, connect_timeout, clock
        self._session, self._own_session = session, session is None
        self._authz: dict[tuple[str, str, str], tuple[str, float]] = {}  # (host, repo, creds) -> header

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def plain_http(self, host: str) -> bool:
        """Whether `host` (host[:port]) was declared a plain-HTTP registry."""
        bare = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0]
        return host.lower() in self.plain_http_hosts or bare.lower() in self.plain_http_hosts

    async def tags(self, spec: RegistryRepository, creds: Credentials | None) -> list[str]:
        """Every tag of the repository, all pages; SourceError when the repository is not found."""
        tags: list[str] = []
        path = f"{spec.repository}/tags/list?n=1000"
        for _ in range(100):  # pages
            status, headers, body = await self._get(spec, path, creds, limit=MAX_TAGS_BYTES)
            if status == 404:
                raise SourceError(f"chart {spec.url}: repository not found in the registry")
            try:
                page = json.loads(body).get("tags") or []
            except (ValueError, AttributeError):
                raise SourceError(f"chart {spec.url}: the registry's tag list is not valid JSON") from None
            tags += [t for t in page if isinstance(t, str)]
            m = re.search(r"<([^>]+)>", headers.get("Link", ""))
            if m is None:
                break
            link = urlsplit(m.group(1))  # the next page, on this registry only (credentials go with it)
            path = link.path + (f"?{link.query}" if link.query else "")
        return tags

    async def manifest(self, spec: RegistryRepository, ref: str, creds: Credentials | None) -> Pin | None:
        """The manifest `ref` (tag or digest) names, checked to be a Helm chart; None when not found."""
        path = f"{spec.repository}/manifests/{ref}"
        status, headers, body = await self._get(spec, path, creds, accept=_MANIFEST_ACCEPT)
        if status == 404:
            return None
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = headers.get("Docker-Content-Digest", "")
        if (claimed.startswith("sha256:") and digest != claimed) or (
            ref.startswith("sha256:") and digest != ref
        ):
            raise SourceError(f"chart {spec.url}@{ref}: the manifest does not match its digest")
        where = f"{spec.url}@{digest}" if ref.startswith("sha256:") else f"{spec.url}:{ref}"
        return Pin(ref, digest, chart_layer(body, where), provenance_layer(body))

    async def blob(
        self, spec: RegistryRepository, digest: str, creds: Credentials | None, limit: int
    ) -> bytes | None:
        """The blob (a layer) `digest` names, checked against it; None when not found."""
        status, _, body = await self._get(spec, f"{spec.repository}/blobs/{digest}", creds, limit=limit)
        if status == 404:
            return None
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise SourceError(f"chart {spec.url}: the registry's blob {digest} does not match its digest")
        return body

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=self.connect_timeout),
                headers={"User-Agent": "helmrelease-controller"},
            )
            self._own_session = True
        return self._session

    async def _get(
        self,
        spec: RegistryRepository,
        path: str,
        creds: Credentials | None,
        *,
        accept: str = "",
        limit: int = MAX_MANIFEST_BYTES,
    ) -> tuple[int, Any, bytes]:
        """GET a registry API path (relative to /v2/, or absolute); answers auth challenges once.
        Returns (status, headers, body) for 200 and 404; SourceError for everything else."""
        scheme = "http" if self.plain_http(spec.host) else "https"
        url = urljoin(f"{scheme}://{spec.host}/v2/", path)
        key = (spec.host, spec.repository, creds.fingerprint() if creds else "")
        try:
            async for attempt in fetch_retrying(self.retry_clock):
                with attempt:
                    return await self._get_authorized(spec, url, creds, key, accept, limit)
        except SourceError:
            raise
        except aiohttp.ClientSSLError as exc:
            detail = getattr(getattr(exc, "os_error", None), "reason", None)
            tls = f"TLS handshake failed ({detail})" if detail else "TLS handshake failed"
            hint = "" if self.plain_http(spec.host) else " (plain HTTP? declare it a plain-HTTP registry)"
            raise SourceError(f"OCI registry {spec.host} unreachable: {tls}{hint}", transient=True) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = network_reason(exc, self.timeout)
            raise SourceError(f"OCI registry {spec.host} unreachable: {reason}", transient=True) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_authorized(
        self,
        spec: RegistryRepository,
        url: str,
        creds: Credentials | None,
        key: tuple[str, str, str],
        accept: str,
        limit: int,
    ) -> tuple[int, Any, bytes]:
        """One GET of `url`, answering a 401 challenge once (see `_get`)."""
        for attempt in (1, 2):
            headers = {"Accept": accept} if accept else {}
            authz = self._authz.get(key)
            if authz is not None and authz[1] > self.clock():
                headers["Authorization"] = authz[0]
            async with self._http().get(url, headers=headers) as resp:
                if resp.status == 401 and attempt == 1:
                    challenge = resp.headers.get("WWW-Authenticate", "")
                    if await self._authorize(spec, creds, challenge, key):
                        continue
                if resp.status not in (200, 404):
                    err = self._status_error(spec, resp.status, creds)
                    raise throttled(
                        err, resp.status, resp.headers.get("Retry-After"), self.retry_clock.time()
                    )
                body = await _read(resp, limit, f"chart {spec.url}: registry answer")
                return resp.status, resp.headers, body
        raise AssertionError("unreachable")  # pragma: no cover

    async def _authorize(
        self, spec: RegistryRepository, creds: Credentials | None, challenge: str, key: tuple[str, str, str]
    ) -> bool:
        """Answer a 401 challenge: Basic with the credentials, or fetch a bearer token. False if we cannot."""
        scheme, params = parse_challenge(challenge)
        basic = creds.basic_auth if creds is not None else None
        basic_header = (
            "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode() if basic else ""
        )
        if len(self._authz) > 4096:
            self._authz.clear()
        if scheme == "basic":
            if not basic_header:
                return False
            self._authz[key] = (basic_header, float("inf"))
            return True
        if scheme != "bearer" or not params.get("realm"):
            return False
        query = {"scope": params.get("scope") or f"repository:{spec.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        headers = {"Authorization": basic_header} if basic_header else {}
        async with self._http().get(params["realm"], params=query, headers=headers) as resp:
            if resp.status != 200:
                raise self._status_error(spec, resp.status, creds)
            try:
                doc = json.loads(await _read(resp, MAX_MANIFEST_BYTES, "token"))
                token = str(doc.get("token") or doc.get("access_token") or "")
                expires = float(doc.get("expires_in") or 60)
            except (ValueError, AttributeError, TypeError):
                token, expires = "", 0.0
        if not token:
            raise SourceError(f"OCI registry {spec.host}: the token service gave no token")
        self._authz[key] = (f"Bearer {token}", self.clock() + max(expires - 10, 5))
        return True

    def _status_error(self, spec: RegistryRepository, status: int, creds: Credentials | None) -> SourceError:
        if status in (401, 403):
            hint = (
                "check the credentials in spec.chart.oci.secretRef"
                if creds is not None and creds.basic_auth
                else "it needs credentials: set spec.chart.oci.secretRef"
            )
            return SourceError(
                f"OCI registry {spec.host} denied access to {spec.repository}: HTTP {status} ({hint})"
            )
        transient = status == 429 or status >= 500
        return SourceError(
            f"OCI registry {spec.host} answered HTTP {status} for {spec.repository}", transient=transient
        )


def docker_config_credentials(data: Mapping[str, bytes | str], host: str) -> Credentials | None:
    """Credentials for registry `host` from Secret data holding `.dockerconfigjson` (a Secret of type
    kubernetes.io/dockerconfigjson); None when there is no such key. SourceError when it cannot be used."""
    raw = data.get(".dockerconfigjson")
    if raw is None:
        return None
    try:
        auths = json.loads(raw).get("auths") or {}
        entries = {urlsplit(k if "//" in k else f"//{k}").netloc.lower(): v for k, v in auths.items()}
        entry = entries.get(host.lower())
        if not isinstance(entry, dict):
            raise SourceError(f"secretRef: .dockerconfigjson has no entry for {host}")
        user, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except (ValueError, AttributeError, TypeError):
        raise SourceError("secretRef: .dockerconfigjson is not a valid Docker config") from None
    creds = Credentials(username=user or None, password=password or None)
    creds.validate()
    return creds


async def _read(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise SourceError(f"{what} is larger than {limit >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)
