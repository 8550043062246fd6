"""OCI registries (`spec.chart.oci`): the spec, lookup caching, and charts pulled by helm.

`OCISource.resolve` turns `oci://host[:port]/path/chart` plus a `version` (exact or semver range) or a
`digest` into a cached chart archive, in two steps:

1. Lookup (registry HTTP API, aiohttp: `ociregistry.RegistryClient`): an exact version is one
   `GET /v2/<repo>/manifests/<tag>`; a range (or no version: the newest stable tag) lists
   `GET /v2/<repo>/tags/list` (paginated) and picks the newest match with `semver` (Helm stores `+` as
   `_` in tags); a digest pin is `GET .../manifests/<digest>`.
   The manifest must be a Helm chart (config `application/vnd.cncf.helm.config.v1+json`, one chart layer).
   Its digest (sha256 of the manifest bytes, checked against `Docker-Content-Digest`) pins the result.
   Lookups are cached per (URL, version or digest, credentials) for `tag_ttl` seconds; `refresh=True`
   bypasses that. Basic auth and bearer-token challenges (`WWW-Authenticate`) are both answered.
2. Pull (the real helm): always by digest, `helm pull oci://host/repo/chart@sha256:<manifest digest>`, so
   what is installed is what the lookup pinned even if the tag moves meanwhile. helm's `Digest:` line and
   the archive's sha256 (against the manifest's chart layer) are verified. Each pull runs in a private
   temporary HELM_REGISTRY_CONFIG / HELM_*_HOME / DOCKER_CONFIG / HOME and an empty PATH (no credential
   helpers), so no login leaks into, or is read from, the user's or another release's configuration;
   with credentials, `helm registry login --password-stdin` runs first (the password only on stdin).
3. Verify (`spec.chart.verify`, a keyring): the manifest's provenance layer (what `helm push` uploads
   from `<chart>.tgz.prov`) is fetched as a blob and checked with the archive by the real `helm verify`
   (`provenance.Verifier`, once per archive and keyring); a chart without one is not signed.

Archives are cached on disk (`ArchiveCache`) keyed by manifest digest: one pull per digest, concurrent
resolves share it (`SingleFlight`). `ResolvedChart.revision` is `<chart version>@sha256:<manifest digest>`,
`ResolvedChart.digest` the sha256 of the chart archive.

Plain HTTP is opt-in per registry (`plain_http_hosts`: "host" or "host:port"); nothing falls back from
HTTPS to HTTP by itself, loopback included, so a registry can never be downgraded by a network attacker.
TLS material in the credentials (client certificates, CA bundles) is refused with a clear reason for now.

Counters: `tag_lists` (tags/list requests), `manifest_lookups` (manifest GETs), `lookup_cache_hits`,
`pulls` (helm pull processes), `logins`, `cache_hits` (resolves served by an archive on disk),
`shared_pulls` (resolves that joined a pull in flight). `stats()` returns them all.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .. import procs
from .archive import ArchiveError, ChartMeta, read_chart_archive
from .base import ClosingSource, Credentials, ResolvedChart, SourceError, source_section, spec_field
from .cache import DEFAULT_MAX_BYTES, ArchiveCache, CachedIndex, IndexCache, SingleFlight
from .ociregistry import SHA256_DIGEST, Pin, RegistryClient
from .provenance import MAX_PROVENANCE_BYTES, Keyring, Verifier
from .semver import Range, Version, VersionError, newest_matching

__all__ = [
    "OCIChartSpec",
    "OCISource",
    "pulled_digest",
    "tag_hint",
]

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_PULLED_DIGEST = re.compile(r"^Digest:\s*(sha256:[0-9a-f]{64})\s*$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^Error:\s*(.*)$", re.MULTILINE)
_ENV_PASSTHROUGH = (
    *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
    *("SSL_CERT_FILE", "SSL_CERT_DIR"),
)
_COUNTERS: tuple[str, ...] = ("tag_lists", "manifest_lookups", "lookup_cache_hits", "pulls", "logins")
_COUNTERS += ("cache_hits", "shared_pulls")


@dataclass(frozen=True)
class OCIChartSpec:
    """What `spec.chart.oci` asks for: a chart repository in a registry, and a version or digest."""

    host: str  # host[:port], lowercase
    repository: str  # path/chart inside the registry
    version: str = ""  # exact version or range; "" means the newest stable tag (or a digest pin)
    digest: str = ""  # sha256:<hex> manifest digest pin

    @property
    def url(self) -> str:
        return f"oci://{self.host}/{self.repository}"

    @classmethod
    def from_spec(cls, spec_chart: Any) -> OCIChartSpec:
        """From `spec.chart` or `spec.chart.oci`, as a model object or a mapping."""
        if isinstance(spec_chart, OCIChartSpec):
            return spec_chart
        src = source_section(spec_chart, "oci")
        url = str(spec_field(src, "url", default="")).strip()
        version = str(spec_field(src, "version", default="")).strip()
        digest = str(spec_field(src, "digest", default="")).strip()
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise SourceError("spec.chart.oci.url is not a valid URL") from None
        if parts.scheme != "oci" or not parts.hostname:
            raise SourceError("spec.chart.oci.url must look like oci://host[:port]/path/chart")
        if parts.username is not None or parts.password is not None:
            raise SourceError("spec.chart.oci.url carries credentials: put them in spec.chart.oci.secretRef")
        repository = parts.path.strip("/")
        if "@" in repository or ":" in repository.rsplit("/", 1)[-1] or parts.query or parts.fragment:
            raise SourceError(
                f"spec.chart.oci.url oci://{parts.netloc}/{repository} must not name a tag or digest: "
                "use spec.chart.oci.version or digest"
            )
        if not _REPOSITORY.match(repository):
            raise SourceError(f"spec.chart.oci.url: {repository!r} is not a valid OCI repository path")
        if version and digest:
            raise SourceError("spec.chart.oci: set version or digest, not both")
        if digest and not SHA256_DIGEST.match(digest):
            raise SourceError("spec.chart.oci.digest must be sha256: and 64 lowercase hex digits")
        try:
            Range.parse(version)
        except VersionError:
            raise SourceError(f"spec.chart.oci: invalid version or range {version!r}") from None
        return cls(parts.netloc.lower(), repository, version, digest)


def pulled_digest(output: str) -> str | None:
    """The manifest digest helm reports after a pull (`Digest: sha256:...`, stdout in v4, stderr in v3)."""
    found = _PULLED_DIGEST.findall(output)
    return found[-1] if found else None


def tag_hint(tags: Iterable[str]) -> str:
    """A short description of what a repository offers, for 'not found' reasons."""
    versions = sorted(v for v in (Version.try_parse(t.replace("_", "+")) for t in tags) if v is not None)
    stable = [v for v in versions if not v.prerelease]
    if stable:
        return f"newest: {stable[-1]}"
    return f"only pre-releases, newest: {versions[-1]}" if versions else "no semantic version tags"


def _helm_error(output: str) -> str:
    lines = _ERROR_LINE.findall(output)
    msg = lines[-1].strip() if lines else (output.strip().splitlines() or ["no output"])[-1].strip()
    return msg if len(msg) <= 240 else msg[:237] + "..."


class OCISource(ClosingSource):
    """Resolves `spec.chart.oci` (see the module docstring). One instance serves every HelmRelease;
    use it as an async context manager or call `close()`."""

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        *,
        helm: str = "helm",
        plain_http_hosts: Iterable[str] = (),
        tag_ttl: float = 60.0,
        max_cache_bytes: int = DEFAULT_MAX_BYTES,
        eviction_min_age: float = 30.0,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_concurrent_pulls: int = 4,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        root = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "helmrelease-oci"
        self.root = root
        self.cache = ArchiveCache(root / "charts", max_cache_bytes, min_age=eviction_min_age)
        self.lookups: IndexCache[Pin] = IndexCache(tag_ttl, max_entries=4096, clock=clock)
        self.helm = helm if os.sep in helm else (shutil.which(helm) or helm)
        self.registry = RegistryClient(
            plain_http_hosts=plain_http_hosts,
            timeout=timeout,
            connect_timeout=connect_timeout,
            session=session,
            clock=clock,
        )
        self.plain_http_hosts = self.registry.plain_http_hosts
        self.timeout, self.connect_timeout, self.clock = timeout, connect_timeout, clock
        self._pull_slots = asyncio.Semaphore(max_concurrent_pulls)
        self._lookup_flight: SingleFlight[Pin] = SingleFlight()
        self._pull_flight: SingleFlight[tuple[Path, ChartMeta]] = SingleFlight()
        self._meta: OrderedDict[str, ChartMeta] = OrderedDict()  # manifest hex -> chart, LRU
        self.provenance = Verifier(self.helm)  # chart.verify: the provenance layer, by helm verify
        self.tag_lists = self.manifest_lookups = self.lookup_cache_hits = 0
        self.pulls = self.logins = self.cache_hits = self.shared_pulls = 0

    async def close(self) -> None:
        self._lookup_flight.cancel_all()
        self._pull_flight.cancel_all()
        self.provenance.cancel_all()
        await self.registry.close()

    def stats(self) -> dict[str, int]:
        return {**{n: getattr(self, n) for n in _COUNTERS}, "cache_bytes": self.cache.total_bytes}

    def plain_http(self, host: str) -> bool:
        """Whether `host` (host[:port]) was declared a plain-HTTP registry."""
        return self.registry.plain_http(host)

    # resolve -----------------------------------------------------------------------------------

    async def resolve(
        self,
        spec_chart: Any,
        credentials: Credentials | None = None,
        *,
        refresh: bool = False,
        keyring: Keyring | None = None,
    ) -> ResolvedChart:
        """Resolve `spec.chart.oci` (or `spec.chart` holding it) to a cached chart archive; with a
        `keyring` (spec.chart.verify), only a chart whose provenance layer verifies against it."""
        try:
            spec = OCIChartSpec.from_spec(spec_chart)
            if credentials is not None:
                credentials.validate()
                if credentials.cert is not None or credentials.ca is not None:
                    raise SourceError(
                        "spec.chart.oci.secretRef: TLS certificates (tls.crt, tls.key, ca.crt) are not "
                        "supported for OCI registries yet; use username and password"
                    )
            pin = await self._lookup(spec, credentials, refresh)
            path, meta = await self._archive(spec, pin, credentials)
            if keyring is not None:
                await self._verify(spec, pin, path, meta, credentials, keyring)
        except SourceError as exc:
            scrubbed = credentials.scrub(str(exc)) if credentials is not None else str(exc)
            if scrubbed != str(exc):
                raise SourceError(scrubbed, transient=exc.transient) from None
            raise
        return ResolvedChart(
            path=path,
            name=meta.name,
            version=meta.version,
            revision=f"{meta.version}@{pin.manifest_digest}",
            digest=pin.layer_digest,
            app_version=meta.app_version,
            default_values=copy.deepcopy(meta.values),
            source=spec.url,
        )

    async def _lookup(self, spec: OCIChartSpec, creds: Credentials | None, refresh: bool) -> Pin:
        key = (spec.url, spec.digest or f"v:{spec.version}", creds.fingerprint() if creds else "")
        cached = None if refresh else self.lookups.fresh(key)
        if cached is not None:
            self.lookup_cache_hits += 1
            return cached.index

        async def lookup() -> Pin:
            pin = await self._do_lookup(spec, creds)
            self.lookups.put(key, CachedIndex(pin, self.clock(), pin.manifest_digest))
            return pin

        return await self._lookup_flight.do(key, lookup)

    async def _do_lookup(self, spec: OCIChartSpec, creds: Credentials | None) -> Pin:
        if spec.digest:
            pin = await self._manifest(spec, spec.digest, creds)
            if pin is None:
                raise SourceError(f"chart {spec.url}: digest {spec.digest} not found in the registry")
            return pin
        rng = Range.parse(spec.version)
        if spec.version and rng.is_exact:
            tag = spec.version.lstrip("=").strip().replace("+", "_")
            pin = await self._manifest(spec, tag, creds)
            if pin is None:
                hint = tag_hint(await self._tags(spec, creds))
                raise SourceError(
                    f"chart {spec.url}: version {spec.version} not found (no tag {tag}; {hint})"
                )
            return pin
        tags = await self._tags(spec, creds)
        by_version = {t.replace("_", "+"): t for t in tags}
        best = newest_matching(by_version, rng)
        if best is None:
            raise SourceError(f"chart {spec.url}: no tag matches version {rng} ({tag_hint(tags)})")
        pin = await self._manifest(spec, by_version[best], creds)
        if pin is None:
            raise SourceError(
                f"chart {spec.url}: tag {by_version[best]} vanished while resolving", transient=True
            )
        return pin

    # registry API (counted here, spoken by `self.registry`) ------------------------------------

    async def _tags(self, spec: OCIChartSpec, creds: Credentials | None) -> list[str]:
        self.tag_lists += 1
        return await self.registry.tags(spec, creds)

    async def _manifest(self, spec: OCIChartSpec, ref: str, creds: Credentials | None) -> Pin | None:
        """The manifest `ref` (tag or digest) names, checked to be a Helm chart; None when not found."""
        self.manifest_lookups += 1
        return await self.registry.manifest(spec, ref, creds)

    # archives ----------------------------------------------------------------------------------

    async def _archive(
        self, spec: OCIChartSpec, pin: Pin, creds: Credentials | None
    ) -> tuple[Path, ChartMeta]:
        hexd = pin.manifest_digest.removeprefix("sha256:")
        path = self.cache.lookup(hexd)
        if path is not None:
            meta = self._meta.get(hexd) or await asyncio.to_thread(_verified_meta, path, pin.layer_digest)
            if meta is not None:
                self._remember(hexd, meta)
                self.cache_hits += 1
                return path, meta
            self.cache.discard(hexd)  # damaged on disk: pull again
        if self._pull_flight.joined(hexd):
            self.shared_pulls += 1
        return await self._pull_flight.do(hexd, lambda: self._pull(spec, pin, creds))

    async def _verify(
        self,
        spec: OCIChartSpec,
        pin: Pin,
        path: Path,
        meta: ChartMeta,
        creds: Credentials | None,
        keyring: Keyring,
    ) -> None:
        """The provenance layer `helm push` uploads with a signed chart, checked by helm verify against
        `keyring`, once per (archive, keyring): see `provenance`."""
        chart, prov = f"{meta.name} {meta.version}", pin.prov_digest
        if prov is None:
            raise SourceError(
                f"chart {chart} is not signed: {spec.url}@{pin.manifest_digest} has no provenance layer"
            )

        async def fetch() -> bytes:
            body = await self.registry.blob(spec, prov, creds, MAX_PROVENANCE_BYTES)
            if body is None:
                raise SourceError(f"chart {chart}: the registry has no blob {prov} (its provenance layer)")
            return body

        hexd = pin.layer_digest.removeprefix("sha256:")
        await self.provenance.verify(path, hexd, f"{meta.name}-{meta.version}.tgz", chart, keyring, fetch)

    def _remember(self, hexd: str, meta: ChartMeta) -> None:
        self._meta[hexd] = meta
        self._meta.move_to_end(hexd)
        while len(self._meta) > 64:
            self._meta.popitem(last=False)

    async def _pull(self, spec: OCIChartSpec, pin: Pin, creds: Credentials | None) -> tuple[Path, ChartMeta]:
        ref = f"{spec.url}@{pin.manifest_digest}"
        plain = ["--plain-http"] if self.plain_http(spec.host) else []
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        async with self._pull_slots:
            with tempfile.TemporaryDirectory(prefix="pull-", dir=self.root / "tmp") as tmp:
                env = _helm_env(Path(tmp))
                basic = creds.basic_auth if creds is not None else None
                if basic is not None:
                    args = ["registry", "login", spec.host, "--username", basic[0], "--password-stdin"]
                    if plain:  # helm 3's login has no --plain-http; its --insecure falls back to HTTP
                        args.append("--plain-http" if await self._major() >= 4 else "--insecure")
                    self.logins += 1
                    await self._run(args, env, creds, basic[1].encode())
                self.pulls += 1
                out = Path(tmp) / "out"
                out.mkdir()
                output = await self._run(["pull", ref, "--destination", str(out), *plain], env, creds)
                got = pulled_digest(output)
                files = sorted(out.glob("*.tgz")) if out.is_dir() else []
                if (got is not None and got != pin.manifest_digest) or len(files) != 1:
                    raise SourceError(f"helm pull {ref}: helm pulled something else ({got or 'no archive'})")
                data = await asyncio.to_thread(files[0].read_bytes)
        if "sha256:" + hashlib.sha256(data).hexdigest() != pin.layer_digest:
            raise SourceError(f"helm pull {ref}: the archive does not match the manifest's chart layer")
        try:
            meta = await asyncio.to_thread(read_chart_archive, data)
        except ArchiveError as exc:
            raise SourceError(f"{ref} is not a Helm chart: {exc}") from None
        hexd = pin.manifest_digest.removeprefix("sha256:")
        path = await asyncio.to_thread(self.cache.write, hexd, data)
        for gone in self.cache.add(hexd, len(data)):
            self._meta.pop(gone, None)
        self._remember(hexd, meta)
        return path, meta

    async def _major(self) -> int:
        """helm's major version, from the one shared probe (procs.helm_version); 3 when unreadable."""
        try:
            return await procs.helm_major(self.helm)
        except procs.ProcessError as exc:
            raise SourceError(exc.summary, transient=True) from None
        except ValueError:
            return 3

    async def _run(
        self, args: list[str], env: dict[str, str], creds: Credentials | None, stdin: bytes | None = None
    ) -> str:
        """Run helm (procs.run); stdout + stderr as text. SourceError (scrubbed, one line) on failure."""
        scrub = creds.scrub if creds is not None else None
        what = f"helm {' '.join(args[:2])}"
        try:
            done = await procs.run([self.helm, *args], stdin=stdin, env=env, timeout=self.timeout,
                                   redact=scrub, tool="helm", what=what)  # fmt: skip
        except procs.ProcessError as exc:
            if exc.rc is None and not exc.timed_out:
                raise SourceError(f"cannot run helm ({self.helm}): {exc.why}") from None
            raise SourceError(exc.summary, transient=True) from None
        out = done.stdout.decode(errors="replace")
        text = (scrub(out) if scrub is not None else out) + done.stderr
        if done.rc != 0:
            raise SourceError(f"{what} failed: {_helm_error(text)}", transient=True)
        return text


def _verified_meta(path: Path, layer_digest: str) -> ChartMeta | None:
    """A cached archive's chart metadata, if the file still matches the layer digest (else None)."""
    try:
        data = path.read_bytes()
        if "sha256:" + hashlib.sha256(data).hexdigest() != layer_digest:
            return None
        return read_chart_archive(data)
    except (OSError, ArchiveError):
        return None


def _helm_env(home: Path) -> dict[str, str]:
    """A private helm environment under `home`: no user config, no Docker config, no credential helpers."""
    env = {k: os.environ[k] for k in _ENV_PASSTHROUGH if k in os.environ}
    env.update(
        HOME=str(home),
        PATH=str(home / "no-bin"),  # docker-credential-* helpers are found on PATH; there are none here
        HELM_REGISTRY_CONFIG=str(home / "registry.json"),
        HELM_CONFIG_HOME=str(home / "config"),
        HELM_CACHE_HOME=str(home / "cache"),
        HELM_DATA_HOME=str(home / "data"),
        DOCKER_CONFIG=str(home / "docker"),
    )
    return env
