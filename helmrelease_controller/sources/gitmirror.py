"""The on-disk side of the git chart source: bare mirrors, chart exports, dependency builds.

The functions that run git or helm are async (every process goes through `procs.run`, via
`gitauth.run_git` for git) and do their heavier disk work (unpacking, copying, digesting,
removing) in threads; the others are blocking, for the caller to run in a thread.

- `fetch_mirror` creates (or re-creates) a bare mirror and fetches branches, tags and the remote HEAD
  into it, pruned; `read_refs` lists them (annotated tags peeled) with the remote's default branch.
- `export_tree` writes one git tree (`git archive`) into `<exports>/<key>/chart`; `build_chart` lays out
  a chart and its `file://` dependencies as in the repository and runs `helm dependency build`;
  `load_export` reads a finished one back. Each export has a `meta.json` (name, version, digest, ...)
  and appears atomically (built under `.tmp-*`, then renamed).
- `DirLRU` keeps directory sizes and use times for size-bounded, least-recently-used eviction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import posixpath
import re
import shutil
import tarfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .. import procs
from .archive import StringLoader, load_yaml, yaml_problem
from .base import Credentials, SourceError
from .gitauth import GitFailed, GitURL, git_auth_env, git_error, run_git, scrub
from .semver import Range, VersionError

__all__ = ["HEAD_REF", "DirLRU", "Exported", "NotAChart", "build_chart", "dependency_build_failure",
           "export_tree", "fetch_mirror", "load_export", "looks_damaged", "missing_dependencies",
           "read_refs", "remove_tree", "trash", "tree_entry"]  # fmt: skip

HEAD_REF = "refs/hrc/HEAD"  # where a mirror keeps the remote's HEAD commit
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_DAMAGE_SIGNS = ("not a git repository", "bad object", "corrupt", "unable to read", "missing", "bad config",
                 "not a valid object", "did not send all necessary objects", "not a tree object",
                 "loose object", "packfile", "index-pack", "unpack-objects", "invalid object")  # fmt: skip


class NotAChart(Exception):
    """The exported tree is not a usable chart; the message completes "path 'x' in <where> ..."."""


@dataclass(frozen=True)
class Exported:
    """A chart directory ready for helm and what was read from it."""

    dir: Path
    name: str
    version: str
    app_version: str
    digest: str  # sha256 hex
    deps: tuple[tuple[str, str], ...]  # (name, repository) from Chart.yaml or requirements.yaml
    values: dict[str, Any] = field(repr=False)
    size: int = 0


def looks_damaged(stderr: str) -> bool:
    low = stderr.lower()
    return any(sign in low for sign in _DAMAGE_SIGNS)


# --- mirrors -------------------------------------------------------------------------------------


def trash(path: Path) -> Path | None:
    """Move a directory out of the way at once (one rename); the caller deletes what is returned."""
    target = path.parent / f".trash-{uuid.uuid4().hex}"
    try:
        path.rename(target)
    except FileNotFoundError:
        return None
    return target


def remove_tree(path: Path) -> None:
    moved = trash(path)
    if moved is not None:
        shutil.rmtree(moved, ignore_errors=True)


async def _init_mirror(url: GitURL, path: Path) -> None:
    await asyncio.to_thread(remove_tree, path)
    await run_git(path, "init", "--quiet", "--bare", str(path))
    await run_git(path, "config", "hrc.url", url.display)  # for people looking at the cache


async def _fetch(url: GitURL, path: Path, env: Mapping[str, str], timeout: float) -> None:
    args = ["fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", url.url, *_REFSPECS]
    try:
        await run_git(path, *args, f"+HEAD:{HEAD_REF}", env=env, timeout=timeout)
    except GitFailed as exc:
        if "couldn't find remote ref HEAD" not in exc.stderr:
            raise
        await run_git(path, *args, env=env, timeout=timeout)  # an empty remote, or its HEAD dangles
        with contextlib.suppress(GitFailed):
            await run_git(path, "update-ref", "-d", HEAD_REF)


async def fetch_mirror(
    url: GitURL,
    path: Path,
    creds: Credentials | None,
    tmp_root: Path,
    *,
    timeout: float,
    rebuild: bool = False,
) -> bool:
    """Bring the mirror at `path` up to date with `url` (creating it when missing or unusable, once more
    from scratch when a fetch finds it damaged). True when it was (re)built. SourceError on failure."""
    rebuilt = False
    if rebuild or not ((path / "HEAD").is_file() and (path / "objects").is_dir()):
        rebuilt = path.exists()
        await _init_mirror(url, path)
    with git_auth_env(url, creds, tmp_root) as env:  # a few small private files
        try:
            await _fetch(url, path, env, timeout)
        except GitFailed as exc:
            if rebuilt or not looks_damaged(exc.stderr):
                raise git_error(exc.stderr, url, creds, timeout=timeout) from None
            await _init_mirror(url, path)
            rebuilt = True
            try:
                await _fetch(url, path, env, timeout)
            except GitFailed as again:
                raise git_error(again.stderr, url, creds, timeout=timeout) from None
    return rebuilt


async def tree_entry(path: Path, commit: str, rel: str) -> tuple[str, str]:
    """(object type, sha) of `rel` in `commit` ("" is the root), or ("missing", "")."""
    if not rel:
        return "tree", (await run_git(path, "rev-parse", "--verify", f"{commit}^{{tree}}")).strip()
    parts = (await run_git(path, "ls-tree", commit, "--", rel)).split(None, 3)
    return (parts[1], parts[2]) if len(parts) == 4 else ("missing", "")


async def read_refs(path: Path) -> tuple[dict[str, str], str | None]:
    """Ref name -> commit (annotated tags peeled) and the branch the remote HEAD is on (None if unknown).

    git fetch does not tell which branch HEAD names, only its commit: the branch is the mirror's own
    HEAD when it still points there, else main, master, or the first branch at that commit (and the
    mirror's HEAD is updated to it, so the choice is stable).
    """
    fmt = "--format=%(refname)%09%(objecttype)%09%(objectname)%09%(*objecttype)%09%(*objectname)"
    try:
        out = await run_git(path, "for-each-ref", fmt)
    except GitFailed as exc:
        raise SourceError(f"git mirror {path.name} unreadable: {scrub(exc.stderr)}") from None
    refs: dict[str, str] = {}
    for line in out.splitlines():
        name, kind, sha, peeled_kind, peeled = (line.split("\t") + [""] * 5)[:5]
        if kind == "commit":
            refs[name] = sha
        elif kind == "tag" and peeled_kind == "commit":
            refs[name] = peeled
    head_commit = refs.get(HEAD_REF)
    branches = sorted(r[11:] for r, c in refs.items() if r.startswith("refs/heads/") and c == head_commit)
    try:
        current = (path / "HEAD").read_text().strip().removeprefix("ref: refs/heads/")
    except OSError:
        current = ""
    head = next((b for b in (current, "main", "master") if b in branches), branches[0] if branches else None)
    if head is not None and head != current:
        with contextlib.suppress(GitFailed):
            await run_git(path, "symbolic-ref", "HEAD", f"refs/heads/{head}")
    return refs, head


# --- exports -------------------------------------------------------------------------------------


def du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def _read_chart_dir(chart_dir: Path) -> dict[str, Any]:
    """name, version, appVersion and dependencies (Chart.yaml, or requirements.yaml); raises NotAChart."""
    try:
        text = (chart_dir / "Chart.yaml").read_bytes()
    except FileNotFoundError:
        raise NotAChart("is not a chart: no Chart.yaml") from None
    try:
        chart = yaml.load(text, Loader=StringLoader)
        reqs_file = chart_dir / "requirements.yaml"
        reqs = yaml.load(reqs_file.read_bytes(), Loader=StringLoader) if reqs_file.is_file() else None
    except yaml.YAMLError as exc:
        raise NotAChart(f"has invalid YAML in Chart.yaml or requirements.yaml: {yaml_problem(exc)}") from None
    if not isinstance(chart, dict) or not chart.get("name") or not chart.get("version"):
        raise NotAChart("is not a chart: Chart.yaml has no name or version")
    deps = chart.get("dependencies") or (reqs.get("dependencies") if isinstance(reqs, dict) else None) or []
    pairs = [[str(d.get("name", "")), str(d.get("repository") or "")] for d in deps if isinstance(d, dict)]
    return {"name": str(chart["name"]), "version": str(chart["version"]),
            "app_version": str(chart.get("appVersion") or ""), "deps": pairs}  # fmt: skip


def _read_values(chart_dir: Path) -> dict[str, Any]:
    try:
        values = load_yaml((chart_dir / "values.yaml").read_bytes())
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise NotAChart(f"has an invalid values.yaml: {yaml_problem(exc)}") from None
    if values is not None and not isinstance(values, dict):
        raise NotAChart(f"has a values.yaml that is a {type(values).__name__}, not a map")
    return values or {}


def _exported(root: Path, meta: Mapping[str, Any], size: int = 0) -> Exported:
    chart_dir = root / meta["dir"]
    deps = tuple((str(a), str(b)) for a, b in meta["deps"])
    return Exported(chart_dir, meta["name"], meta["version"], meta["app_version"], meta["digest"], deps,
                    _read_values(chart_dir), size)  # fmt: skip


def load_export(root: Path) -> Exported | None:
    """A finished export (after a restart or when no longer in memory); None when absent or unreadable."""
    try:
        return _exported(root, json.loads((root / "meta.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError, NotAChart):
        return None


def _finish(tmp: Path, final: Path, meta: dict[str, Any]) -> Exported:
    """Write meta.json and rename the finished directory into place (an identical one may have won)."""
    (tmp / "meta.json").write_text(json.dumps(meta))
    size = du(tmp)
    try:
        tmp.rename(final)
    except OSError:
        if not (final / "meta.json").is_file():
            raise
    return _exported(final, meta, size)


async def export_tree(git_dir: Path, tree: str, final: Path) -> Exported:
    """Export git tree `tree` of the mirror as the chart directory `final/chart`.

    Raises GitFailed when the mirror cannot produce it, NotAChart when it is not a chart.
    """
    tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
    try:
        (tmp / "chart").mkdir(parents=True)
        await run_git(git_dir, "archive", "--format=tar", "-o", str(tmp / "tree.tar"), tree)
        return await asyncio.to_thread(_unpack_export, tmp, tree, final)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)


def _unpack_export(tmp: Path, tree: str, final: Path) -> Exported:
    """`tmp/tree.tar` unpacked into `tmp/chart`, read, and moved into place as `final` (blocking)."""
    try:
        with tarfile.open(tmp / "tree.tar") as tar:
            tar.extractall(tmp / "chart", filter="data")
    except tarfile.FilterError as exc:
        raise NotAChart(f"cannot be exported safely: {exc}") from None
    (tmp / "tree.tar").unlink()
    meta = _read_chart_dir(tmp / "chart")
    meta.update(dir="chart", digest=hashlib.sha256(f"tree {tree}\n".encode()).hexdigest())
    return _finish(tmp, final, meta)


def _tgz_content_digest(archive: Path) -> str:
    """sha256 of a chart archive's file names and contents, not its timestamps (helm packages anew)."""
    h = hashlib.sha256()
    with tarfile.open(archive, "r:gz") as tar:
        for m in sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name):
            f = tar.extractfile(m)
            h.update(f"{m.name}\0{hashlib.sha256(f.read() if f else b'').hexdigest()}\n".encode())
    return h.hexdigest()


def _vendored(charts_dir: Path) -> list[tuple[str, str, Path]]:
    """(name, version, path) of each chart under `charts/`: a directory with a Chart.yaml, or a .tgz."""
    found: list[tuple[str, str, Path]] = []
    for entry in sorted(charts_dir.iterdir()) if charts_dir.is_dir() else []:
        meta: Any = None
        try:
            if entry.is_dir():
                meta = yaml.load((entry / "Chart.yaml").read_bytes(), Loader=StringLoader)
            elif entry.name.endswith(".tgz"):
                with tarfile.open(entry, "r:gz") as tar:
                    member = next(
                        (m for m in tar.getmembers() if m.isfile() and m.name.count("/") == 1
                         and m.name.endswith("/Chart.yaml")), None)  # fmt: skip
                    f = tar.extractfile(member) if member is not None else None
                    meta = yaml.load(f.read(), Loader=StringLoader) if f is not None else None
        except (OSError, tarfile.TarError, yaml.YAMLError):
            continue  # not a chart helm could load either: the dependency counts as missing
        if isinstance(meta, dict) and meta.get("name"):
            found.append((str(meta["name"]), str(meta.get("version") or ""), entry))
    return found


def _satisfies(version: str, wanted: str) -> bool:
    if not wanted.strip():
        return True
    try:
        return Range.parse(wanted).allows(version)
    except VersionError:
        return version == wanted.strip()


def missing_dependencies(chart_dir: Path) -> list[tuple[str, str, str]]:
    """The dependencies in Chart.yaml (or requirements.yaml) that `charts/` does not hold, as
    (name, version range, repository); [] when the chart needs no `helm dependency build`.

    As Flux's source-controller does: a dependency committed under `charts/` (a directory or a
    .tgz with its name and a version in its range) is used as it is, so a chart whose dependencies
    are vendored installs without reaching their repositories (air-gapped)."""
    try:
        _, deps = _declared(chart_dir)
    except (OSError, yaml.YAMLError):
        return [("Chart.yaml", "", "unreadable")]
    vendored = _vendored(chart_dir / "charts")
    return [
        (str(d.get("name") or ""), str(d.get("version") or "*"), str(d.get("repository") or ""))
        for d in deps
        if _match(d, vendored) is None
    ]


def _declared(chart_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    """The file declaring the dependencies (Chart.yaml, or requirements.yaml for apiVersion v1
    charts) and its dependency entries."""
    chart = yaml.load((chart_dir / "Chart.yaml").read_bytes(), Loader=StringLoader)
    deps = chart.get("dependencies") if isinstance(chart, dict) else None
    if deps:
        return "Chart.yaml", [d for d in deps if isinstance(d, dict)]
    reqs_file = chart_dir / "requirements.yaml"
    reqs = yaml.load(reqs_file.read_bytes(), Loader=StringLoader) if reqs_file.is_file() else None
    deps = (reqs.get("dependencies") if isinstance(reqs, dict) else None) or []
    return "requirements.yaml", [d for d in deps if isinstance(d, dict)]


def _match(dep: dict[str, Any], vendored: list[tuple[str, str, Path]]) -> Path | None:
    name, wanted = str(dep.get("name") or ""), str(dep.get("version") or "")
    return next((p for n, v, p in vendored if n == name and _satisfies(v, wanted)), None)


@contextlib.contextmanager
def _only_missing(chart_dir: Path) -> Iterator[None]:
    """While inside: the chart declares only its missing dependencies (at their Chart.lock versions,
    when locked) and the committed ones are moved out of `charts/`, so `helm dependency build`
    fetches just the missing ones (helm would fetch every declared one again, and delete committed
    archives it did not fetch). Everything is put back on the way out."""
    declaring, deps = _declared(chart_dir)
    vendored = _vendored(chart_dir / "charts")
    kept = {id(d): _match(d, vendored) for d in deps}
    if not any(kept.values()):
        yield  # nothing committed: the plain build
        return
    files = [chart_dir / n for n in (declaring, "Chart.lock", "requirements.lock")]
    saved = {f: f.read_bytes() for f in files if f.is_file()}
    aside = chart_dir.parent / f".committed-{uuid.uuid4().hex}"
    aside.mkdir()
    moved = []
    try:
        locked: dict[str, str] = {}
        for lock in files[1:]:
            if lock in saved:
                data = yaml.load(saved[lock], Loader=StringLoader)
                for d in (data.get("dependencies") if isinstance(data, dict) else None) or []:
                    if isinstance(d, dict):
                        locked[str(d.get("name"))] = str(d.get("version"))
                lock.unlink()
        doc = yaml.load(saved[files[0]], Loader=StringLoader)
        doc["dependencies"] = [
            {**d, **({"version": locked[str(d.get("name"))]} if str(d.get("name")) in locked else {})}
            for d in deps
            if kept[id(d)] is None
        ]
        files[0].write_text(yaml.safe_dump(doc, sort_keys=False))
        for p in {p for p in kept.values() if p is not None}:
            moved.append((p, aside / p.name))
            p.rename(aside / p.name)
        yield
    finally:
        for original, away in moved:
            if original.exists():  # helm fetched one of the same name after all: ours wins
                shutil.rmtree(original) if original.is_dir() else original.unlink()
            away.rename(original)
        shutil.rmtree(aside, ignore_errors=True)
        for lock in files[1:]:
            lock.unlink(missing_ok=True)
        for f, data in saved.items():
            f.write_bytes(data)


_UNREACHABLE = re.compile(r'Unable to get an update from the "([^"]+)" chart repository:\s*\n\s*(.+)')
_MANAGER_KEY = re.compile(r"helm-manager-([0-9a-f]{64})")


def dependency_build_failure(output: str, repositories: list[str]) -> str:
    """One line out of a failed `helm dependency build` (its stdout and stderr): the chart repository
    it could not reach, by URL, instead of helm's "no cached repository for helm-manager-<sha256>
    found (try 'helm repo update')", which names none and suggests a command that cannot help."""
    m = _UNREACHABLE.search(output)
    if m:
        reason = re.sub(r'^Get "[^"]*": ', "", m.group(2).strip())  # the URL once is enough
        return f"chart repository {m.group(1)} could not be reached: {reason}"
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    line = next((ln for ln in lines if ln.startswith("Error:")), lines[-1] if lines else "no output")
    line = line.removeprefix("Error: ")
    key = _MANAGER_KEY.search(line)
    if key:
        by_key = {hashlib.sha256(r.encode()).hexdigest(): r for r in repositories}
        url = by_key.get(key.group(1))
        return f"no index of chart repository {url or 'helm-manager-' + key.group(1)[:12]} could be read"
    return line.replace(" (try 'helm repo update')", "")


async def build_chart(
    parts: list[tuple[str, Path]], path: str, tree: str, final: Path, *, helm: str, helm_home: Path,
    timeout: float, at: str,
) -> Exported:  # fmt: skip
    """Copy the exported chart directories `parts` ((repository path, directory), the chart at `path`
    among them) to their places in a fresh tree under `final/src`, run `helm dependency build` on the
    chart and digest its git tree plus the content of every archive in `charts/`.

    The caller runs it only when `missing_dependencies` finds some, and helm fetches only those: the
    ones committed under `charts/` are used as they are (`_only_missing`). helm runs through
    `procs.run`: the event loop goes on meanwhile, and a timeout kills helm and what it started."""
    tmp = final.parent / f".tmp-{uuid.uuid4().hex}"
    where = f"chart {path or '.'} in {at}"
    try:
        await asyncio.to_thread(_copy_parts, parts, tmp / "src")
        chart_dir = tmp / "src" / path
        env = {**os.environ, "HOME": str(helm_home)}
        env.update({f"HELM_{d.upper()}_HOME": str(helm_home / d) for d in ("cache", "config", "data")})
        argv = [helm, "dependency", "build", str(chart_dir)]
        try:
            with _only_missing(chart_dir):  # small YAML files, read and put back
                done = await procs.run(argv, env=env, timeout=timeout, redact=scrub, tool="helm")
        except procs.ProcessError as exc:
            if exc.timed_out:
                raise SourceError(
                    f"{where}: dependency build timed out after {timeout:g}s", transient=True
                ) from None
            raise SourceError(f"{where}: dependency build: cannot run helm ({exc.why})") from None
        except (OSError, yaml.YAMLError) as exc:
            raise SourceError(f"{where}: dependency build: cannot prepare the chart ({exc})") from None
        if done.rc != 0:
            _build_failed(where, chart_dir, f"{scrub(done.stdout.decode(errors='replace'))}\n{done.stderr}")
        return await asyncio.to_thread(_finish_build, tmp, final, chart_dir, path, tree)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True)


def _copy_parts(parts: list[tuple[str, Path]], root: Path) -> None:
    for part, src in parts:
        shutil.copytree(src, root / part, symlinks=True, dirs_exist_ok=True)


def _build_failed(where: str, chart_dir: Path, output: str) -> NoReturn:
    """Raise the one-line SourceError of a failed `helm dependency build` (its stdout and stderr)."""
    missing = missing_dependencies(chart_dir)
    reason = scrub(dependency_build_failure(output, [r for _, _, r in missing]))
    names = ", ".join(f"{n} {v}" for n, v, _ in missing)
    needed = f" (needed for {names} missing from charts/)" if missing else ""
    raise SourceError(f"{where}: dependency build failed: {reason}{needed}", transient=True)


def _finish_build(tmp: Path, final: Path, chart_dir: Path, path: str, tree: str) -> Exported:
    """Digest a built chart (its tree, and the content of each archive in `charts/`) and move it
    into place (blocking)."""
    h = hashlib.sha256(f"tree {tree}\n".encode())
    for archive in sorted((chart_dir / "charts").glob("*.tgz")):
        h.update(f"dep {archive.name} {_tgz_content_digest(archive)}\n".encode())
    meta = _read_chart_dir(chart_dir)
    meta.update(dir=posixpath.join("src", path) if path else "src", digest=h.hexdigest())
    return _finish(tmp, final, meta)


class DirLRU:
    """Directories under `root` with their sizes, least recently used first, bounded by total bytes.

    Use times are kept as directory mtimes, so the order survives a restart (`scan`). Call on the
    event loop, except `scan` (blocking, once at start).
    """

    def __init__(self, root: Path, max_bytes: int, min_age: float) -> None:
        self.root, self.max_bytes, self.min_age = root, max_bytes, min_age
        self.entries: OrderedDict[str, tuple[int, float]] = OrderedDict()  # name -> (bytes, last use)
        self.evictions = 0

    def scan(self, accept: Callable[[str], bool]) -> None:
        found = []
        for entry in os.scandir(self.root):
            if entry.name.startswith((".tmp-", ".trash-")):  # left by a crash
                shutil.rmtree(entry.path, ignore_errors=True)
            elif entry.is_dir() and accept(entry.name):
                found.append((entry.stat().st_mtime, entry.name, du(Path(entry.path))))
        for mtime, name, size in sorted(found):
            self.entries[name] = (size, mtime)

    @property
    def total_bytes(self) -> int:
        return sum(size for size, _ in self.entries.values())

    def touch(self, name: str, size: int | None = None) -> None:
        old = self.entries.pop(name, None)
        now = time.time()
        self.entries[name] = (size if size is not None else old[0] if old else 0, now)
        with contextlib.suppress(OSError):
            os.utime(self.root / name, (now, now))

    def over(self, protect: Callable[[str], bool]) -> list[str]:
        """Forget and return least recently used names until the total fits; protected names, and
        names used within `min_age` seconds, stay."""
        total, now, out = self.total_bytes, time.time(), []
        for name, (size, used) in list(self.entries.items()):
            if total <= self.max_bytes:
                break
            if not protect(name) and now - used >= self.min_age:
                del self.entries[name]
                total -= size
                out.append(name)
        self.evictions += len(out)
        return out
