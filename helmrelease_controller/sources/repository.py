"""HTTP(S) chart repositories (`spec.chart.repository`): index.yaml, version selection, cached downloads.

`RepositorySource.resolve` fetches `<url>/index.yaml` (basic auth and/or client TLS when credentials are
given), picks the newest chart version in the requested range as Helm does (`semver.Range`), downloads
the archive named by the entry's first URL (relative to the repository URL, or absolute), verifies the
index's sha256 `digest` when present, and returns a `ResolvedChart` pointing at the cached archive.

Caching, so that a thousand releases of one chart cost one index fetch per TTL and one download:

- indexes are kept in memory per (repository URL, credentials) for `index_ttl` seconds; after that,
  or with `refresh=True`, they are revalidated with a conditional GET (If-None-Match /
  If-Modified-Since), and an unchanged body is not parsed again;
- archives live in an `ArchiveCache` on disk keyed by their sha256, bounded in bytes (LRU);
- concurrent resolves share one index fetch and one download per chart version (`SingleFlight`).

Counters on the source: `index_fetches` (index GETs sent), `index_not_modified` (304 answers),
`index_cache_hits` (resolves served by a fresh cached index), `chart_downloads` (archive GETs sent),
`cache_hits` (resolves served by an archive already on disk), `shared_downloads` (resolves that joined
a download already in flight). `stats()` returns them all.

A 429 or 503 answer asking (`Retry-After`) for a short pause is tried again after it, up to three
attempts (`httperrors.fetch_retrying`, on `retry_clock`); other failures are raised at once.

Credentials are only sent to the repository's own origin (scheme, host, port): a chart URL on another
host gets neither basic auth nor the client certificate (Helm's default without --pass-credentials).

With a keyring (`spec.chart.verify`, provider helm), the archive's provenance file (`<archive URL>.prov`,
fetched with the same credentials and TLS) must verify against it before the chart is returned:
`provenance.Verifier` runs the real `helm verify`, once per (archive digest, keyring).

The index format and version selection (`parse_index`, `RepositoryIndex`) live in `repoindex`, the
descriptions of transport and HTTP failures in `httperrors`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import logging
import os
import ssl
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp

from ..clock import SYSTEM, Clock
from .archive import ArchiveError, ChartMeta, read_chart_archive
from .base import (
    ClosingSource,
    Credentials,
    ResolvedChart,
    SourceError,
    SourceSpec,
    redact_url,
    spec_field,
)
from .cache import DEFAULT_MAX_BYTES, ArchiveCache, CachedIndex, IndexCache, SingleFlight
from .httperrors import TLS_REJECTION_SIGNS, fetch_retrying, network_reason, status_error, throttled
from .provenance import MAX_PROVENANCE_BYTES, Keyring, Verifier, archive_file_name, provenance_url
from .repoindex import IndexEntry, RepositoryIndex, chart_download_url, index_url, parse_index
from .semver import Range, VersionError

__all__ = ["RepositoryChartSpec", "RepositorySource"]

log = logging.getLogger(__name__)

DEFAULT_INDEX_TTL = 60.0
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
# No byte for this long: the server is hung (a repository that accepts and never answers).
DEFAULT_READ_TIMEOUT = 15.0
MAX_INDEX_BYTES = 128 * 1024 * 1024
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
_USER_AGENT = "helmrelease-controller"


# --- spec ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryChartSpec(SourceSpec):
    """What `spec.chart.repository` asks for."""

    KIND: ClassVar[str] = "repository"
    url: str
    name: str
    version: str = "*"

    @classmethod
    def _read(cls, src: Any) -> RepositoryChartSpec:
        url = spec_field(src, "url")
        name = spec_field(src, "name", "chart")
        version = spec_field(src, "version", default="*")
        if not url or not name:
            raise SourceError("spec.chart.repository needs both url and name")
        return cls(str(url).strip().rstrip("/"), str(name).strip(), str(version).strip() or "*")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


# --- the source ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fetched:
    status: int
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


class RepositorySource(ClosingSource):
    """Resolves `spec.chart.repository` against HTTP(S) chart repositories (see the module docstring).

    One instance serves every HelmRelease; use it as an async context manager or call `close()`.
    """

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        *,
        index_ttl: float = DEFAULT_INDEX_TTL,
        max_cache_bytes: int = DEFAULT_MAX_BYTES,
        eviction_min_age: float = 30.0,
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_index_bytes: int = MAX_INDEX_BYTES,
        max_archive_bytes: int = MAX_ARCHIVE_BYTES,
        trust_env: bool = False,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
        retry_clock: Clock = SYSTEM,
        helm: str = "helm",
    ) -> None:
        root = (
            Path(cache_dir)
            if cache_dir is not None
            else Path(tempfile.gettempdir()) / "helmrelease-controller"
        )
        self.cache = ArchiveCache(root / "charts", max_cache_bytes, min_age=eviction_min_age)
        self.indexes: IndexCache[RepositoryIndex] = IndexCache(index_ttl, clock=clock)
        self.timeout, self.connect_timeout, self.read_timeout = timeout, connect_timeout, read_timeout
        self.max_index_bytes, self.max_archive_bytes = max_index_bytes, max_archive_bytes
        self.trust_env, self.retry_clock = trust_env, retry_clock
        self._session, self._own_session = session, session is None
        self._index_flight: SingleFlight[RepositoryIndex] = SingleFlight()
        self._download_flight: SingleFlight[tuple[Path, str, ChartMeta]] = SingleFlight()
        self._meta: OrderedDict[str, ChartMeta] = OrderedDict()  # sha256 hex -> parsed archive, LRU
        self._meta_max = 64
        self._url_digests: OrderedDict[str, str] = OrderedDict()  # archives the index gives no digest for
        self._ssl: dict[str, ssl.SSLContext] = {}
        self.provenance = Verifier(helm)  # chart.verify: helm verify, once per (archive, keyring)
        self.index_fetches = 0
        self.index_not_modified = 0
        self.index_cache_hits = 0
        self.chart_downloads = 0
        self.cache_hits = 0
        self.shared_downloads = 0

    # lifecycle ---------------------------------------------------------------------------------

    async def close(self) -> None:
        self._index_flight.cancel_all()
        self._download_flight.cancel_all()
        self.provenance.cancel_all()
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def stats(self) -> dict[str, int]:
        return {
            "index_fetches": self.index_fetches,
            "index_not_modified": self.index_not_modified,
            "index_cache_hits": self.index_cache_hits,
            "chart_downloads": self.chart_downloads,
            "cache_hits": self.cache_hits,
            "shared_downloads": self.shared_downloads,
            "cache_evictions": self.cache.evictions,
            "cache_bytes": self.cache.total_bytes,
        }

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self.timeout, connect=self.connect_timeout, sock_read=self.read_timeout
                ),
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=8),
                headers={"User-Agent": _USER_AGENT},
                trust_env=self.trust_env,
            )
            self._own_session = True
        return self._session

    # resolve -----------------------------------------------------------------------------------

    async def resolve(
        self,
        spec_chart: Any,
        credentials: Credentials | None = None,
        *,
        refresh: bool = False,
        keyring: Keyring | None = None,
    ) -> ResolvedChart:
        """Resolve `spec.chart.repository` (or `spec.chart` holding it) to a cached chart archive;
        with a `keyring` (spec.chart.verify), only a chart whose provenance verifies against it."""
        try:
            spec = RepositoryChartSpec.from_spec(spec_chart)
            return await self._resolve(spec, credentials, refresh, keyring)
        except SourceError as exc:
            if credentials is not None:
                scrubbed = credentials.scrub(str(exc))
                if scrubbed != str(exc):
                    raise SourceError(scrubbed, transient=exc.transient) from None
            raise

    async def _resolve(
        self, spec: RepositoryChartSpec, creds: Credentials | None, refresh: bool, keyring: Keyring | None
    ) -> ResolvedChart:
        parts = urlsplit(spec.url)
        where = redact_url(spec.url)
        if parts.scheme == "oci":
            raise SourceError(
                f"{where} is an OCI registry: use spec.chart.oci instead of spec.chart.repository"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"chart repository URL {where!r} is not an http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise SourceError(
                f"chart repository URL {where} carries credentials: put them in a Secret named by "
                "spec.chart.repository.secretRef instead"
            )
        if creds is not None:
            creds.validate()
        try:
            rng = Range.parse(spec.version)
        except VersionError:
            raise SourceError(f"chart {spec.name}: invalid version or range {spec.version!r}") from None

        index = await self._index(spec.url, creds, refresh)
        entry = index.select(spec.name, rng, where=redact_url(index_url(spec.url)))
        if not entry.urls:
            raise SourceError(f"chart {spec.name} {entry.version} has no download URL in {where}/index.yaml")
        url = chart_download_url(spec.url, entry.urls[0])
        if urlsplit(url).scheme not in ("http", "https"):
            raise SourceError(
                f"chart {spec.name} {entry.version}: download URL {redact_url(url)} is not http(s)"
            )
        path, hexdigest, meta = await self._archive(entry, url, spec.url, creds, refresh)
        if keyring is not None:
            await self._verify(entry, url, spec.url, creds, path, hexdigest, keyring)
        return ResolvedChart(
            path=path,
            name=meta.name,
            version=meta.version,
            revision=f"{meta.version}@sha256:{hexdigest}",
            digest=f"sha256:{hexdigest}",
            app_version=meta.app_version,
            default_values=copy.deepcopy(meta.values),
            source=where,
        )

    # index -------------------------------------------------------------------------------------

    async def _index(self, repo_url: str, creds: Credentials | None, refresh: bool) -> RepositoryIndex:
        url = index_url(repo_url)
        key = (url, creds.fingerprint() if creds is not None else "")
        if not refresh:
            cached = self.indexes.fresh(key)
            if cached is not None:
                self.index_cache_hits += 1
                return cached.index
        return await self._index_flight.do(key, lambda: self._fetch_index(key, url, repo_url, creds))

    async def _fetch_index(
        self, key: tuple[str, str], url: str, repo_url: str, creds: Credentials | None
    ) -> RepositoryIndex:
        cached = self.indexes.get(key)
        headers: dict[str, str] = {}
        if cached is not None:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        self.index_fetches += 1
        fetched = await self._get(
            url, repo_url, creds, what="index.yaml", headers=headers, limit=self.max_index_bytes
        )
        if fetched.status == 304:
            if cached is None:
                raise SourceError(
                    f"chart repository {redact_url(repo_url)} answered 304 to an unconditional GET"
                )
            self.index_not_modified += 1
            self.indexes.touch(key)
            return cached.index
        body_sha = hashlib.sha256(fetched.body).hexdigest()
        if cached is not None and cached.body_sha256 == body_sha:
            index = cached.index
        else:
            index = await asyncio.to_thread(parse_index, fetched.body, redact_url(url))
        self.indexes.put(
            key,
            CachedIndex(
                index, self.indexes.clock(), body_sha, etag=fetched.etag, last_modified=fetched.last_modified
            ),
        )
        log.debug("fetched %s (%d bytes, %d charts)", redact_url(url), len(fetched.body), len(index.entries))
        return index

    # archives ----------------------------------------------------------------------------------

    async def _archive(
        self, entry: IndexEntry, url: str, repo_url: str, creds: Credentials | None, refresh: bool
    ) -> tuple[Path, str, ChartMeta]:
        known = entry.digest or (None if refresh else self._url_digests.get(url))
        if known:
            path = self.cache.lookup(known)
            if path is not None:
                meta = await self._cached_meta(known, path)
                if meta is not None:
                    self.cache_hits += 1
                    return path, known, meta
        key = ("sha256", entry.digest) if entry.digest else ("url", url)
        if self._download_flight.joined(key):
            self.shared_downloads += 1
        return await self._download_flight.do(key, lambda: self._download(entry, url, repo_url, creds))

    async def _cached_meta(self, hexdigest: str, path: Path) -> ChartMeta | None:
        """Metadata of a cached archive; re-verified against its digest when not in memory.
        None (and the file removed) when the file on disk is damaged."""
        meta = self._meta.get(hexdigest)
        if meta is not None:
            self._meta.move_to_end(hexdigest)
            return meta

        def verify_and_read() -> ChartMeta | None:
            try:
                data = path.read_bytes()
            except OSError:
                return None
            if hashlib.sha256(data).hexdigest() != hexdigest:
                return None
            try:
                return read_chart_archive(data)
            except ArchiveError:
                return None

        meta = await asyncio.to_thread(verify_and_read)
        if meta is None:
            log.warning("cached chart archive %s is damaged; downloading it again", path.name)
            self.cache.discard(hexdigest)
            return None
        self._remember_meta(hexdigest, meta)
        return meta

    def _remember_meta(self, hexdigest: str, meta: ChartMeta) -> None:
        self._meta[hexdigest] = meta
        self._meta.move_to_end(hexdigest)
        while len(self._meta) > self._meta_max:
            self._meta.popitem(last=False)

    async def _download(
        self, entry: IndexEntry, url: str, repo_url: str, creds: Credentials | None
    ) -> tuple[Path, str, ChartMeta]:
        what = f"chart {entry.name} {entry.version}"
        self.chart_downloads += 1
        fetched = await self._get(
            url,
            repo_url,
            creds,
            what=f"{what} ({redact_url(url)})",
            limit=self.max_archive_bytes,
            archive=True,
        )
        actual = hashlib.sha256(fetched.body).hexdigest()
        if entry.digest and actual != entry.digest:
            raise SourceError(
                f"{what} from {redact_url(url)}: digest mismatch: "
                f"the index says sha256:{entry.digest[:16]}…, the download is sha256:{actual[:16]}…"
            )
        try:
            meta = await asyncio.to_thread(read_chart_archive, fetched.body)
        except ArchiveError as exc:
            raise SourceError(f"{what} from {redact_url(url)}: {exc}") from None
        path = await asyncio.to_thread(self.cache.write, actual, fetched.body)
        evicted = self.cache.add(actual, len(fetched.body))
        for gone in evicted:
            self._meta.pop(gone, None)
        self._remember_meta(actual, meta)
        if not entry.digest:
            self._url_digests[url] = actual
            while len(self._url_digests) > 1024:
                self._url_digests.popitem(last=False)
        log.debug("downloaded %s (%d bytes, sha256:%s)", what, len(fetched.body), actual[:16])
        return path, actual, meta

    # provenance (spec.chart.verify) -------------------------------------------------------------

    async def _verify(
        self,
        entry: IndexEntry,
        url: str,
        repo_url: str,
        creds: Credentials | None,
        path: Path,
        hexdigest: str,
        keyring: Keyring,
    ) -> None:
        """The archive's provenance (`<url>.prov`, fetched as the archive is, same credentials) checked
        by helm verify against `keyring`, once per (archive, keyring): see `provenance`."""
        chart, prov_url = f"{entry.name} {entry.version}", provenance_url(url)
        file_name = archive_file_name(url, entry.name, entry.version)

        async def fetch() -> bytes:
            what = f"provenance file {file_name}.prov"
            got = await self._get(prov_url, repo_url, creds, what=what, limit=MAX_PROVENANCE_BYTES,
                                  archive=True, absent_ok=True)  # fmt: skip
            if got.status == 404:
                raise SourceError(
                    f"chart {chart} is not signed: no provenance file at {redact_url(prov_url)} (HTTP 404)"
                )
            return got.body

        await self.provenance.verify(path, hexdigest, file_name, chart, keyring, fetch)

    # HTTP --------------------------------------------------------------------------------------

    async def _ssl_context(self, creds: Credentials) -> ssl.SSLContext:
        key = creds.fingerprint()
        ctx = self._ssl.get(key)
        if ctx is None:
            ctx = await asyncio.to_thread(_make_ssl_context, creds)
            if len(self._ssl) >= 64:
                self._ssl.pop(next(iter(self._ssl)))
            self._ssl[key] = ctx
        return ctx

    async def _get(
        self,
        url: str,
        repo_url: str,
        creds: Credentials | None,
        *,
        what: str,
        limit: int,
        headers: Mapping[str, str] | None = None,
        archive: bool = False,
        absent_ok: bool = False,
    ) -> _Fetched:
        """GET `url`: SourceError for transport failures and HTTP errors; 304 (and with `absent_ok`
        404) is returned to the caller.
        A throttled answer (429/503 with a short Retry-After) is tried again after the pause it asked."""
        same_origin = _origin(url) == _origin(repo_url)
        where = redact_url(repo_url) if same_origin else redact_url(url)
        req_headers = dict(headers or {})
        if archive:
            req_headers["Accept-Encoding"] = "identity"  # the digest is of the bytes as stored
        ssl_arg: ssl.SSLContext | bool = True
        if creds is not None and same_origin:
            auth = creds.basic_auth
            if auth is not None:
                token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
                req_headers["Authorization"] = f"Basic {token}"
            if creds.has_tls and urlsplit(url).scheme == "https":
                try:
                    ssl_arg = await self._ssl_context(creds)
                except (ValueError, OSError) as exc:
                    reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
                    raise SourceError(f"TLS credentials for {where} are not usable: {reason}") from None
        async for attempt in fetch_retrying(self.retry_clock):
            with attempt:
                try:
                    return await self._get_once(
                        url, req_headers, ssl_arg, what, where, limit, creds, absent_ok
                    )
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    raise self._unreachable(exc, url, creds, what, where, same_origin) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get_once(
        self,
        url: str,
        headers: dict[str, str],
        ssl_arg: ssl.SSLContext | bool,
        what: str,
        where: str,
        limit: int,
        creds: Credentials | None,
        absent_ok: bool = False,
    ) -> _Fetched:
        """One GET of `url` (see `_get`); transport errors are raised as they come."""
        async with self._http().get(url, headers=headers, ssl=ssl_arg) as resp:
            if resp.status == 304 or (resp.status == 404 and absent_ok):
                return _Fetched(resp.status, b"")
            if resp.status != 200:
                err = status_error(resp.status, resp.reason, what=what, where=where, creds=creds)
                raise throttled(err, resp.status, resp.headers.get("Retry-After"), self.retry_clock.time())
            too_large = SourceError(f"chart repository {where}: {what} is larger than {limit >> 20} MiB")
            if resp.content_length is not None and resp.content_length > limit:
                raise too_large
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
            return _Fetched(
                200, b"".join(chunks), resp.headers.get("ETag"), resp.headers.get("Last-Modified")
            )

    def _unreachable(
        self,
        exc: BaseException,
        url: str,
        creds: Credentials | None,
        what: str,
        where: str,
        same_origin: bool,
    ) -> SourceError:
        """The transient SourceError for a transport failure, with a hint when TLS wants a client cert."""
        reason = network_reason(
            exc, self.timeout, connect_timeout=self.connect_timeout, read_timeout=self.read_timeout
        )
        no_client_cert = creds is None or creds.cert is None
        if urlsplit(url).scheme == "https" and no_client_cert and reason in TLS_REJECTION_SIGNS:
            reason += " (does the server require a client certificate? set tls.crt and tls.key)"
        if same_origin:
            return SourceError(f"chart repository {where} unreachable: {reason}", transient=True)
        return SourceError(f"{what}: download unreachable: {reason}", transient=True)


def _make_ssl_context(creds: Credentials) -> ssl.SSLContext:
    """A client TLS context from PEM bytes: the given CA replaces the system roots; client cert if given.

    Raises ValueError with a credential-free reason when the material cannot be loaded.
    """
    try:
        ctx = ssl.create_default_context(cadata=creds.ca.decode(errors="replace") if creds.ca else None)
    except (ssl.SSLError, ValueError):
        raise ValueError("the CA certificate (ca.crt) is not a PEM certificate") from None
    if creds.cert is not None and creds.key is not None:
        # The ssl module only loads certificates from files: a private, short-lived directory.
        with tempfile.TemporaryDirectory(prefix="hrc-tls-") as tmp:
            cert_file = Path(tmp) / "tls.crt"
            key_file = Path(tmp) / "tls.key"
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(creds.key)
            cert_file.write_bytes(creds.cert)
            try:
                ctx.load_cert_chain(cert_file, key_file)
            except ssl.SSLError:
                raise ValueError(
                    "the client certificate and key (tls.crt, tls.key) are not a matching PEM pair"
                ) from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    key_file.unlink()
    return ctx
