"""Charts from git repositories (`spec.chart.git`): one shared bare mirror per URL, charts exported per tree.

`GitSource.resolve` keeps one bare mirror per repository URL (`<cache>/git/<sha256(url)[:16]>.git`),
shared by every HelmRelease using that URL and never cloned per reconcile. A mirror is fetched (branches,
tags and the remote HEAD, pruned) at most once per `fetch_interval` per set of credentials (each
distinct Secret content proves its access once per interval; the common case of one Secret is one
fetch), or at once with `refresh=True`; concurrent resolves share one fetch. The ref is resolved from
the fetched refs (branch, tag, newest tag in a semver range, a commit, or the default branch), then
the git tree at `path` is exported (`git archive`) into `<cache>/git-charts/t-<tree sha>/`, once per
tree. Charts with a dependency missing from their committed `charts/` (as Flux does: committed ones are
used as they are, offline) get `helm dependency build` in a per-(tree, file:// dependency trees)
directory `b-<key>/`, with `file://` dependencies copied from their own place in the repository.

`GitSource.pinned(spec, credentials)` is the same fetch and ref resolution for whoever needs the
commit itself rather than a chart (GitSync's checkout): the commit, its label and the mirror's
git directory, the mirror held (never evicted) while the block runs.

Identity: `revision` is `<branch or tag>@sha1:<commit>` (`sha1:<commit>` for a commit ref); `digest`
is the sha256 of the chart path's git tree hash plus the content of built dependencies, never of the
commit, so a commit that only touches other paths leaves the digest, and so the release, alone.

Failures are one-line `SourceError`s (unreachable, authentication, ssh host key, ref not found, no tag
in range, path not found, not a chart, dependency build failed). A damaged or missing mirror is
rebuilt. Disk use is bounded: mirrors beyond `max_mirror_bytes` and exports beyond `max_export_bytes`
are removed least recently used first (never one in use or used within `eviction_min_age` seconds).

Counters: `fetches` (network fetches), `fetch_seconds` (their total time), `exports` (trees exported),
`cache_hits` (resolves needing no export), plus `fresh_hits`, `shared_fetches`, `fetch_failures`,
`dependency_builds`, `mirror_rebuilds`, `mirror_evictions`, `export_evictions`; see `stats()`.

This module decides and caches (on the event loop); `gitauth` reads the spec and URL, turns credentials
into git's environment and runs git; `gitmirror` does the disk and process work. Every git and helm
process goes through `procs.run` (async, its own process group, killed on timeout or cancellation):
a slow git server or `helm dependency build` holds no thread; blocking disk work runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import hashlib
import json
import logging
import posixpath
import tempfile
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from .base import ClosingSource, Credentials, ResolvedChart, SourceError
from .cache import SingleFlight
from .gitauth import GitChartSpec, GitFailed, GitURL, check_credentials, parse_git_url, run_git, scrub
from .gitmirror import (
    HEAD_REF,
    DirLRU,
    Exported,
    NotAChart,
    build_chart,
    du,
    export_tree,
    fetch_mirror,
    load_export,
    looks_damaged,
    missing_dependencies,
    read_refs,
    remove_tree,
    trash,
    tree_entry,
)
from .semver import Range, VersionError, newest_matching

__all__ = ["GitChartSpec", "GitSource", "Pinned"]

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_FETCH_INTERVAL = 60.0
DEFAULT_MAX_MIRROR_BYTES = 2 << 30
DEFAULT_MAX_EXPORT_BYTES = 256 << 20
DEFAULT_TIMEOUT = 300.0


@dataclass
class _Mirror:
    url: GitURL
    path: Path
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one fetch (or rebuild) at a time
    fetched: dict[str, float] = field(default_factory=dict)  # credentials fingerprint -> last good fetch
    refs: dict[str, str] | None = None  # ref name -> commit, as of the last fetch
    head: str | None = None  # the remote's default branch
    users: int = 0
    rebuild: bool = False


@dataclass(frozen=True)
class Pinned:
    """The commit a ref names, in the shared mirror (see `GitSource.pinned`)."""

    git_dir: Path  # the bare mirror: read it (git archive, git log) only inside the `pinned` block
    commit: str
    label: str  # the branch or tag ("" for a commit ref)
    display: str  # the URL, credential-free, for messages


class _Use(Counter[str]):
    """The export keys one resolve uses (never evicted meanwhile); `worked`: it waited for an export."""

    worked = False


class _Damaged(Exception):
    """The mirror cannot read objects its refs point at: rebuild it."""


class GitSource(ClosingSource):
    """Resolves `spec.chart.git` (see the module docstring). One instance serves every HelmRelease."""

    def __init__(
        self,
        cache_dir: Path | str | None = None,
        *,
        helm: str = "helm",
        fetch_interval: float = DEFAULT_FETCH_INTERVAL,
        max_mirror_bytes: int = DEFAULT_MAX_MIRROR_BYTES,
        max_export_bytes: int = DEFAULT_MAX_EXPORT_BYTES,
        eviction_min_age: float = 30.0,
        fetch_timeout: float = DEFAULT_TIMEOUT,
        helm_timeout: float = DEFAULT_TIMEOUT,
        workers: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        root = (
            Path(cache_dir)
            if cache_dir is not None
            else Path(tempfile.gettempdir()) / "helmrelease-controller"
        )
        self.mirror_root, self.export_root = root / "git", root / "git-charts"
        self.tmp_root, self.helm_home = root / "git-tmp", root / "git-helm"
        self.helm, self.fetch_interval, self._clock = helm, fetch_interval, clock
        self.fetch_timeout, self.helm_timeout = fetch_timeout, helm_timeout
        self.mirrors = DirLRU(self.mirror_root, max_mirror_bytes, eviction_min_age)
        self.charts = DirLRU(self.export_root, max_export_bytes, eviction_min_age)
        self._mirrors: dict[str, _Mirror] = {}
        self._fetch_flight: SingleFlight[None] = SingleFlight()
        self._export_flight: SingleFlight[Exported] = SingleFlight()
        self._tree_flight: SingleFlight[tuple[str, str]] = SingleFlight()
        # (commit, path) -> (object type, sha): facts about commits never change
        self._trees: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
        self._loaded: OrderedDict[str, Exported] = OrderedDict()  # export key -> chart, LRU
        self._bad: OrderedDict[str, str] = OrderedDict()  # export key -> why it is not a chart
        self._active: Counter[str] = Counter()  # export keys in use by resolves (never evicted)
        self._helm_lock = asyncio.Lock()
        # Own threads for the blocking disk work (scans, sizes, removals of whole mirrors). git and
        # helm processes hold no thread: they run through procs.run on the event loop.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="git-source")
        self._started: asyncio.Future[None] | None = None
        self.fetches = self.exports = self.cache_hits = self.fresh_hits = self.shared_fetches = 0
        self.fetch_failures = self.dependency_builds = self.mirror_rebuilds = 0
        self.fetch_seconds = 0.0

    async def close(self) -> None:
        self._fetch_flight.cancel_all()
        self._export_flight.cancel_all()
        self._tree_flight.cancel_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _io(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in the source's own thread pool."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(fn, *args, **kwargs)
        )

    def stats(self) -> dict[str, float]:
        names = ("fetches", "fetch_seconds", "exports", "cache_hits", "fresh_hits", "shared_fetches",
                 "fetch_failures", "dependency_builds", "mirror_rebuilds")  # fmt: skip
        out: dict[str, float] = {n: getattr(self, n) for n in names}
        out.update(mirror_evictions=self.mirrors.evictions, export_evictions=self.charts.evictions)
        return out

    def mirror_path(self, url: str) -> Path:
        return self.mirror_root / f"{hashlib.sha256(url.strip().encode()).hexdigest()[:16]}.git"

    # resolving -----------------------------------------------------------------------------------

    async def resolve(
        self, spec_chart: Any, credentials: Credentials | None = None, *, refresh: bool = False
    ) -> ResolvedChart:
        spec = GitChartSpec.from_spec(spec_chart)
        url = parse_git_url(spec.url)
        check_credentials(url, credentials)  # ssh without a key or known_hosts fails before any work
        active = _Use()
        try:
            async with self._using(url) as m:
                chart, revision = await self._resolve_or_rebuild(m, spec, credentials, refresh, active)
        finally:
            self._active.subtract(active)
            self._active += Counter()  # drops the zeros
        self.cache_hits += not active.worked
        return ResolvedChart(path=chart.dir, name=chart.name, version=chart.version, revision=revision,
                             digest=f"sha256:{chart.digest}", app_version=chart.app_version,
                             default_values=copy.deepcopy(chart.values), source=url.display)  # fmt: skip

    @contextlib.asynccontextmanager
    async def pinned(
        self,
        spec: GitChartSpec,
        credentials: Credentials | None = None,
        *,
        refresh: bool = False,
        ref_field: str = "spec.chart.git.ref",
    ) -> AsyncIterator[Pinned]:
        """The commit `spec`'s ref names (`spec.path` is not read), fetched as `resolve` fetches; the
        mirror stays in use (never evicted) until the block ends. SourceError as `resolve`'s, naming
        `ref_field` where the ref is at fault."""
        url = parse_git_url(spec.url)
        check_credentials(url, credentials)
        async with self._using(url) as m:
            commit, label = await self._commit(m, spec, credentials, refresh, ref_field)
            yield Pinned(m.path, commit, label, url.display)

    @contextlib.asynccontextmanager
    async def _using(self, url: GitURL) -> AsyncIterator[_Mirror]:
        """The mirror of `url`, in use (never evicted) until the block ends."""
        await self._start()
        name = self.mirror_path(url.url).name
        m = self._mirrors.get(name) or self._mirrors.setdefault(name, _Mirror(url, self.mirror_root / name))
        m.users += 1
        try:
            yield m
        finally:
            m.users -= 1
            if m.path.is_dir():
                self.mirrors.touch(name)

    async def _resolve_or_rebuild(
        self, m: _Mirror, spec: GitChartSpec, creds: Credentials | None, refresh: bool, active: _Use
    ) -> tuple[Exported, str]:
        """`_resolve_in`; once more from a rebuilt mirror when the mirror turns out damaged."""
        try:
            return await self._resolve_in(m, spec, creds, refresh, active)
        except _Damaged as exc:
            log.warning("git mirror of %s is damaged (%s); rebuilding it", m.url.display, scrub(str(exc)))
            m.rebuild, m.refs = True, None
            m.fetched.clear()
        try:
            return await self._resolve_in(m, spec, creds, True, active)
        except _Damaged as again:
            reason = scrub(str(again), creds).splitlines()[-1:] or ["unreadable"]
            raise SourceError(
                f"git mirror of {m.url.display} is damaged: {reason[0]}", transient=True
            ) from None

    async def _resolve_in(
        self, m: _Mirror, spec: GitChartSpec, creds: Credentials | None, refresh: bool, active: _Use
    ) -> tuple[Exported, str]:
        commit, label = await self._commit(m, spec, creds, refresh, "spec.chart.git.ref")
        at = f"{m.url.display} at {label or 'commit'} {commit[:12]}"
        chart = await self._chart(m, commit, spec.path, at, active)
        return chart, f"{label}@sha1:{commit}" if label else f"sha1:{commit}"

    async def _commit(
        self, m: _Mirror, spec: GitChartSpec, creds: Credentials | None, refresh: bool, ref_field: str
    ) -> tuple[str, str]:
        """The commit `spec`'s ref names and its branch/tag label; fetched again once when the ref is
        not in the last fetch. SourceError when it is nowhere."""
        fetched = await self._ensure_fresh(m, creds, refresh)
        commit, label = await self._pick(m, spec, ref_field)
        if commit is None and not fetched:  # perhaps newer than our last fetch
            await self._ensure_fresh(m, creds, True)
            commit, label = await self._pick(m, spec, ref_field)
        if commit is not None:
            return commit, label
        where = m.url.display
        if spec.ref_kind == "semver":
            raise SourceError(f"no tag in {where} matches semver range {spec.ref!r}")
        if not spec.ref_kind:
            raise SourceError(f"{where} has no default branch (HEAD); set {ref_field}")
        what = spec.ref if spec.ref_kind == "commit" else repr(spec.ref)
        raise SourceError(f"{spec.ref_kind} {what} not found in {where}")

    async def _pick(self, m: _Mirror, spec: GitChartSpec, ref_field: str) -> tuple[str | None, str]:
        """The commit `spec`'s ref names in the fetched refs (None if absent), and its branch/tag label."""
        refs, kind, ref = m.refs or {}, spec.ref_kind, spec.ref
        if kind in ("branch", "tag"):
            short = ref.removeprefix("refs/heads/" if kind == "branch" else "refs/tags/")
            return refs.get(f"refs/{'heads' if kind == 'branch' else 'tags'}/{short}"), short
        if kind == "semver":
            try:
                rng = Range.parse(ref)
            except VersionError:
                raise SourceError(f"{ref_field}.semver: invalid version range {ref!r}") from None
            best = newest_matching([r[10:] for r in refs if r.startswith("refs/tags/")], rng)
            return (refs[f"refs/tags/{best}"], best) if best is not None else (None, "")
        if kind == "commit":
            ref = ref.lower()
            if ref in refs.values():
                return ref, ""
            try:
                out = await run_git(m.path, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}")
            except GitFailed:
                return None, ""
            return (out.strip(), "") if out.strip().startswith(ref) else (None, "")
        return refs.get(HEAD_REF), m.head or "HEAD"

    # fetching ------------------------------------------------------------------------------------

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self._io(self._start_sync))
        await asyncio.shield(self._started)

    def _start_sync(self) -> None:
        for d in (self.mirror_root, self.export_root, self.tmp_root, self.helm_home):
            d.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp_root.iterdir():  # credentials files of a process that crashed
            remove_tree(leftover)
        self.mirrors.scan(lambda n: n.endswith(".git"))
        self.charts.scan(lambda n: n.startswith(("t-", "b-")))

    async def _ensure_fresh(self, m: _Mirror, creds: Credentials | None, refresh: bool) -> bool:
        """Fetch unless these credentials fetched within the interval; True if a fetch ran (or was joined)."""
        fp = creds.fingerprint() if creds is not None else ""
        last = m.fetched.get(fp)
        fresh = last is not None and self._clock() - last < self.fetch_interval
        if fresh and not refresh and m.refs is not None and m.path.is_dir():
            self.fresh_hits += 1
            return False
        key = (m.path.name, fp)
        if self._fetch_flight.joined(key):
            self.shared_fetches += 1
        await self._fetch_flight.do(key, lambda: self._fetch(m, creds, fp))
        return True

    async def _fetch(self, m: _Mirror, creds: Credentials | None, fp: str) -> None:
        async with m.lock:
            rebuild, m.rebuild = m.rebuild, False
            self.fetches += 1
            started = time.monotonic()
            try:
                rebuilt = await fetch_mirror(
                    m.url, m.path, creds, self.tmp_root, timeout=self.fetch_timeout, rebuild=rebuild
                )
                m.refs, m.head = await read_refs(m.path)
            except SourceError:
                self.fetch_failures += 1
                raise
            finally:
                self.fetch_seconds += time.monotonic() - started
            log.debug("fetched %s in %.2fs", m.url.display, time.monotonic() - started)
            m.fetched[fp] = self._clock()
            self.mirror_rebuilds += rebuilt
            self.mirrors.touch(m.path.name, await self._io(du, m.path))
        await self._evict(self.mirrors, lambda n: n == m.path.name or self._mirror_busy(n))

    def _mirror_busy(self, name: str) -> bool:
        other = self._mirrors.get(name)
        return other is not None and (other.users > 0 or other.lock.locked())

    # charts --------------------------------------------------------------------------------------

    async def _tree(self, m: _Mirror, commit: str, path: str, at: str) -> str:
        """The tree hash of `path` in `commit` (SourceError if it is missing or a file)."""
        key = (commit, path)
        found = self._trees.get(key)
        if found is None:
            found = await self._tree_flight.do(key, lambda: self._lookup_tree(m, commit, path))
        self._trees.move_to_end(key)
        if found[0] != "tree":
            problem = "not found in" if found[0] == "missing" else "is not a directory in"
            raise SourceError(f"path {path or '.'!r} {problem} {at}")
        return found[1]

    async def _lookup_tree(self, m: _Mirror, commit: str, path: str) -> tuple[str, str]:
        try:
            found = self._trees[(commit, path)] = await tree_entry(m.path, commit, path)
        except GitFailed as exc:
            raise _Damaged(exc.stderr) from None
        while len(self._trees) > 4096:
            self._trees.popitem(last=False)
        return found

    async def _chart(self, m: _Mirror, commit: str, path: str, at: str, active: _Use) -> Exported:
        tree = await self._tree(m, commit, path, at)
        chart = await self._export(m, tree, path, at, active)
        if not chart.deps or not await self._io(missing_dependencies, chart.dir):
            return chart  # no dependencies, or all committed under charts/: no `helm dependency build`
        files: dict[str, str] = {}
        todo = [(path, chart)]
        while todo:  # file:// dependencies, and theirs, come from the same commit
            cpath, c = todo.pop()
            for dep, repo in c.deps:
                rel = repo.removeprefix("file://")
                if rel == repo:
                    continue
                dpath = posixpath.normpath(posixpath.join(cpath or ".", rel))
                if rel.startswith("/") or dpath == ".." or dpath.startswith("../"):
                    raise SourceError(
                        f"chart {path or '.'} in {at}: dependency {dep} ({repo}) is outside the repository"
                    )
                dpath = "" if dpath == "." else dpath
                if dpath not in files and dpath != path:
                    files[dpath] = await self._tree(m, commit, dpath, at)
                    todo.append((dpath, await self._export(m, files[dpath], dpath, at, active)))
        layout = sorted(files.items())
        digest = hashlib.sha256(json.dumps([tree, path if layout else "", layout]).encode()).hexdigest()
        key = f"b-{digest[:40]}"
        parts = [(p, self.export_root / f"t-{t}" / "chart") for p, t in [(path, tree), *layout]]
        return await self._cached(key, path, at, active, lambda: self._build(key, parts, path, tree, at))

    async def _export(self, m: _Mirror, tree: str, path: str, at: str, active: _Use) -> Exported:
        async def make() -> Exported:
            self.exports += 1
            try:
                return await export_tree(m.path, tree, self.export_root / f"t-{tree}")
            except GitFailed as exc:
                raise (_Damaged if looks_damaged(exc.stderr) else SourceError)(
                    f"git archive of {path or '.'!r} in {at} failed: {scrub(exc.stderr)}"
                ) from None

        return await self._cached(f"t-{tree}", path, at, active, make)

    async def _build(
        self, key: str, parts: list[tuple[str, Path]], path: str, tree: str, at: str
    ) -> Exported:
        async with self._helm_lock:  # helm's repository cache is shared: one dependency build at a time
            self.dependency_builds += 1
            return await build_chart(
                parts, path, tree, self.export_root / key, helm=self.helm,
                helm_home=self.helm_home, timeout=self.helm_timeout, at=at,
            )  # fmt: skip

    async def _cached(
        self, key: str, path: str, at: str, active: _Use, make: Callable[[], Awaitable[Exported]]
    ) -> Exported:
        """The export `key`: from memory, from disk, or made by `make` (once, however many ask)."""
        active[key] += 1
        self._active[key] += 1
        if key in self._bad:
            raise SourceError(f"path {path or '.'!r} in {at} {self._bad[key]}")
        chart = self._loaded.get(key)
        if chart is None or not chart.dir.is_dir():
            chart = await self._io(load_export, self.export_root / key)
            if chart is None:
                try:
                    active.worked = True
                    chart = await self._export_flight.do(key, make)
                except NotAChart as exc:
                    self._bad[key] = str(exc)
                    while len(self._bad) > 1024:
                        self._bad.popitem(last=False)
                    raise SourceError(f"path {path or '.'!r} in {at} {exc}") from None
                self.charts.touch(key, chart.size)
                await self._evict(self.charts, lambda n: self._active[n] > 0)
            self._loaded[key] = chart
            while len(self._loaded) > 256:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(key)
        self.charts.touch(key)
        return chart

    async def _evict(self, lru: DirLRU, protect: Callable[[str], bool]) -> None:
        """Remove least recently used entries beyond the bound: renamed away at once, deleted in a thread."""
        for name in lru.over(protect):
            log.info("git cache: removing least recently used %s", name)
            self._loaded.pop(name, None)
            if lru is self.mirrors:
                self._mirrors.pop(name, None)
            moved = trash(lru.root / name)
            if moved is not None:
                await self._io(remove_tree, moved)
