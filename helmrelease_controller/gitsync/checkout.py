"""Checking out a GitSync's commit through the git mirror of chart.git sources (sources/git.py).

`checkout(source, spec, credentials, work_dir)` uses the very mirror `GitSource` keeps for the URL
(one per URL, shared with HelmReleases' chart.git; fetched at most once per fetch interval per set
of credentials, or at once with `refresh=True`; credentials only through gitauth's private files,
never in argv, environment or logs), resolves `spec.ref` as chart.git does (branch, tag, semver,
commit, or the remote's default branch; `GitSource.pinned`), and exports the whole commit (`git
archive`, so kustomize overlays can reach `../base`) into `<work_dir>/c-<commit>/tree`, once per
commit, while the mirror is pinned.
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
from helmrelease_controller.sources.git import GitSource
from helmrelease_controller.sources.gitauth import GitChartSpec, GitFailed, run_git, scrub
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
    async with source.pinned(gspec, credentials, refresh=refresh, ref_field="spec.ref") as pin:
        final = work_dir / f"c-{pin.commit}"
        work_dir.mkdir(parents=True, exist_ok=True)
        try:
            subject = await _export(pin.git_dir, pin.commit, final)
        except (GitFailed, tarfile.TarError, OSError) as exc:
            detail = scrub(exc.stderr if isinstance(exc, GitFailed) else str(exc), credentials)
            raise SourceError(f"cannot export commit {pin.commit[:12]} of {pin.display}: {detail}") from None
    revision = f"{pin.label}@sha1:{pin.commit}" if pin.label else f"sha1:{pin.commit}"
    return Checkout(revision, pin.commit, subject, final / "tree")
