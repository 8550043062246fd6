"""Checking out a GitSync's commit through the git mirror of chart.git sources (sources/git.py).

`checkout(source, spec, credentials, work_dir)` uses the very mirror `GitSource` keeps for the URL
(one per URL, shared with HelmReleases' chart.git; fetched at most once per fetch interval per set
of credentials, or at once with `refresh=True`; credentials only through gitauth's private files,
never in argv, environment or logs), resolves `spec.ref` as chart.git does (branch, tag, semver,
commit, or the remote's default branch), and exports the whole commit (`git archive`, so
kustomize overlays can reach `../base`) into `<work_dir>/c-<commit>/tree`, once per commit.

It reaches into GitSource's mirror bookkeeping (`_mirrors`, `_ensure_fresh`, `_pick`): those
belong in a public GitSource method once sources/git.py is free to change (reported to the lead).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from helmrelease_controller.api.gitsync import GitSyncSpec
from helmrelease_controller.sources.base import Credentials, SourceError
from helmrelease_controller.sources.git import GitSource, _Mirror
from helmrelease_controller.sources.gitauth import (
    GitChartSpec,
    GitFailed,
    check_credentials,
    parse_git_url,
    run_git,
    scrub,
)
from helmrelease_controller.sources.semver import Range, VersionError

__all__ = ["Checkout", "checkout", "drop_checkouts"]


@dataclass(frozen=True)
class Checkout:
    revision: str  # <branch or tag>@sha1:<commit>, or sha1:<commit>
    commit: str
    subject: str  # the commit message's first line
    root: Path  # the commit's files


async def _export(git_dir: Path, commit: str, final: Path) -> str:
    """Export `commit` into `final/tree` (once; atomically) and return its subject line."""
    if not (final / "subject").is_file():
        tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
        try:
            (tmp / "tree").mkdir(parents=True)
            await run_git(git_dir, "archive", "--format=tar", "-o", str(tmp / "commit.tar"), commit)
            subject = (await run_git(git_dir, "log", "-1", "--format=%s", commit)).strip()
            await asyncio.to_thread(_unpack, tmp, subject, final)
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)
    return (final / "subject").read_text(encoding="utf-8")


def _unpack(tmp: Path, subject: str, final: Path) -> None:
    """`tmp/commit.tar` unpacked into `tmp/tree` and moved into place as `final` (blocking)."""
    with tarfile.open(tmp / "commit.tar") as tar:
        tar.extractall(tmp / "tree", filter="data")
    (tmp / "commit.tar").unlink()
    (tmp / "subject").write_text(subject, encoding="utf-8")
    try:
        tmp.rename(final)
    except OSError:
        if not (final / "subject").is_file():
            raise


# A `.tmp-*` export younger than this may be another GitSync's export in progress; older, a crash's.
STALE_EXPORT_SECONDS = 600.0


def drop_checkouts(work_dir: Path, keep: set[str]) -> None:
    """Remove exported commits other than `keep` and exports left half-done by a crash, once they
    are older than STALE_EXPORT_SECONDS (blocking).

    A recent `.tmp-*` is another GitSync's export in progress (two GitSyncs on one repository move
    to a pushed commit at once): it stays, or that sync would fail until its next interval."""
    if not work_dir.is_dir():
        return
    stale = time.time() - STALE_EXPORT_SECONDS
    for entry in work_dir.iterdir():
        if entry.name.startswith(".tmp-"):
            with contextlib.suppress(OSError):  # gone already: renamed into place, or removed
                if entry.stat().st_mtime < stale:
                    shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith("c-") and entry.name.removeprefix("c-") not in keep:
            # A fresh one may be another GitSync's new commit, exported but not recorded yet.
            with contextlib.suppress(OSError):
                if entry.stat().st_mtime < stale:
                    shutil.rmtree(entry, ignore_errors=True)


async def checkout(
    source: GitSource,
    spec: GitSyncSpec,
    credentials: Credentials | None,
    work_dir: Path,
    *,
    refresh: bool = False,
) -> Checkout:
    """The commit `spec.ref` names in `spec.url`, exported (see the module docstring)."""
    kind, ref = (spec.ref.kind, spec.ref.value) if spec.ref is not None else ("", "")
    if kind == "semver":
        try:
            Range.parse(ref)
        except VersionError:
            raise SourceError(f"spec.ref.semver: invalid version range {ref!r}") from None
    gspec = GitChartSpec(spec.url.strip(), kind, ref, "")
    url = parse_git_url(gspec.url)
    check_credentials(url, credentials)
    await source._start()
    name = source.mirror_path(url.url).name
    m = source._mirrors.get(name) or source._mirrors.setdefault(name, _Mirror(url, source.mirror_root / name))
    m.users += 1
    try:
        fetched = await source._ensure_fresh(m, credentials, refresh)
        commit, label = await source._pick(m, gspec)
        if commit is None and not fetched:  # perhaps newer than the last fetch
            await source._ensure_fresh(m, credentials, True)
            commit, label = await source._pick(m, gspec)
        if commit is None:
            if kind == "semver":
                raise SourceError(f"no tag in {url.display} matches semver range {ref!r}")
            if not kind:
                raise SourceError(f"{url.display} has no default branch (HEAD); set spec.ref")
            raise SourceError(f"{kind} {ref if kind == 'commit' else repr(ref)} not found in {url.display}")
        final = work_dir / f"c-{commit}"
        work_dir.mkdir(parents=True, exist_ok=True)
        try:
            subject = await _export(m.path, commit, final)
        except (GitFailed, tarfile.TarError, OSError) as exc:
            detail = scrub(exc.stderr if isinstance(exc, GitFailed) else str(exc), credentials)
            raise SourceError(f"cannot export commit {commit[:12]} of {url.display}: {detail}") from None
    finally:
        m.users -= 1
        if m.path.is_dir():
            source.mirrors.touch(name)
    revision = f"{label}@sha1:{commit}" if label else f"sha1:{commit}"
    return Checkout(revision, commit, subject, final / "tree")
