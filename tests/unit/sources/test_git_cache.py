"""GitSource pieces that need no server: the spec, the LRU bookkeeping, refs of a local mirror, digests."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from helmrelease_controller.api.models import GitChartSource
from helmrelease_controller.sources.base import SourceError
from helmrelease_controller.sources.git import GitChartSpec
from helmrelease_controller.sources.gitmirror import HEAD_REF, DirLRU, _tgz_content_digest, read_refs

ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_AUTHOR_NAME": "t",
       "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout


# --- spec ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"url": "https://h/r.git"}, GitChartSpec("https://h/r.git", "", "", "")),
        ({"git": {"url": "https://h/r.git", "path": "./charts/app/"}},
         GitChartSpec("https://h/r.git", path="charts/app")),
        ({"url": "u:x", "ref": {"branch": "main"}, "path": "."}, GitChartSpec("u:x", "branch", "main", "")),
        ({"url": "u:x", "ref": {"semver": ">=1.0 <2"}}, GitChartSpec("u:x", "semver", ">=1.0 <2", "")),
        ({"url": "u:x", "ref": {"commit": "abc1234"}, "path": "a//b/../c"},
         GitChartSpec("u:x", "commit", "abc1234", "a/c")),
    ],
)  # fmt: skip
def test_spec(given: dict[str, object], expected: GitChartSpec) -> None:
    assert GitChartSpec.from_spec(given) == expected


def test_spec_from_the_api_model() -> None:
    model = GitChartSource.model_validate(
        {"url": "ssh://git@h/r.git", "ref": {"tag": "v1.2.3"}, "path": "charts/x", "secretRef": {"name": "s"}}
    )
    assert GitChartSpec.from_spec(model) == GitChartSpec("ssh://git@h/r.git", "tag", "v1.2.3", "charts/x")


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"path": "x"}, "spec.chart.git needs a url"),
        ({"url": "u:x", "ref": {"branch": "a", "tag": "b"}}, "set only one of branch, tag, semver or commit"),
        ({"url": "u:x", "path": "../x"}, "must be relative to the repository root"),
        ({"url": "u:x", "path": "a/../../x"}, "must be relative to the repository root"),
        ({"url": "u:x", "path": "/etc"}, "must be relative to the repository root"),
    ],
)
def test_bad_spec(given: dict[str, object], reason: str) -> None:
    with pytest.raises(SourceError, match=reason):
        GitChartSpec.from_spec(given)


# --- LRU -----------------------------------------------------------------------------------------


def test_lru_evicts_least_recently_used_and_spares_protected_and_young(tmp_path: Path) -> None:
    lru = DirLRU(tmp_path, max_bytes=250, min_age=0)
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
        lru.touch(name, 100)
    lru.touch("a")  # used again: now the most recent
    assert lru.over(protect=lambda n: n == "b") == ["c", "d"]  # b is protected, a is recent
    assert list(lru.entries) == ["b", "a"] and lru.total_bytes == 200 and lru.evictions == 2
    young = DirLRU(tmp_path, max_bytes=0, min_age=60)
    young.touch("a", 10)
    assert young.over(protect=lambda n: False) == []  # used within min_age: kept even over the bound


def test_lru_scan_adopts_by_last_use_and_clears_leftovers(tmp_path: Path) -> None:
    for i, name in enumerate(("new.git", "old.git", ".tmp-123", ".trash-9", "notes")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f").write_bytes(b"x" * 10)
        os.utime(tmp_path / name, (1000 - i, 1000 - i))
    lru = DirLRU(tmp_path, max_bytes=1 << 20, min_age=0)
    lru.scan(lambda n: n.endswith(".git"))
    assert list(lru.entries) == ["old.git", "new.git"] and lru.total_bytes == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.git", "notes", "old.git"]


# --- refs of a mirror ----------------------------------------------------------------------------


async def test_read_refs_peels_tags_and_names_the_default_branch(tmp_path: Path) -> None:
    work, mirror = tmp_path / "work", tmp_path / "m.git"
    work.mkdir()
    git(work, "init", "-q", "-b", "trunk")
    git(work, "commit", "-q", "--allow-empty", "-m", "one")
    git(work, "tag", "-a", "-m", "annotated", "v1.0.0")
    git(work, "tag", "light")
    git(work, "branch", "also-here")
    head = git(work, "rev-parse", "HEAD").strip()
    git(tmp_path, "init", "-q", "--bare", str(mirror))
    git(mirror, "fetch", "-q", str(work), "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
        f"+HEAD:{HEAD_REF}")  # fmt: skip
    refs, default = await read_refs(mirror)
    assert refs["refs/tags/v1.0.0"] == refs["refs/tags/light"] == refs["refs/heads/trunk"] == head
    assert refs[HEAD_REF] == head
    assert default == "also-here"  # two branches at HEAD's commit, neither main nor master: the first
    assert (mirror / "HEAD").read_text().strip() == "ref: refs/heads/also-here"  # sticky from now on
    git(mirror, "symbolic-ref", "HEAD", "refs/heads/trunk")
    assert (await read_refs(mirror))[1] == "trunk"  # the mirror's own choice wins while it still matches


# --- dependency digests --------------------------------------------------------------------------


def test_dependency_archive_digest_ignores_timestamps_and_order(tmp_path: Path) -> None:
    def archive(name: str, files: list[tuple[str, bytes]], mtime: float) -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w:gz") as tar:
            for member, data in files:
                info = tarfile.TarInfo(member)
                info.size, info.mtime = len(data), mtime
                tar.addfile(info, io.BytesIO(data))
        return path

    files = [("dep/Chart.yaml", b"name: dep\nversion: 1.0.0\n"), ("dep/values.yaml", b"a: 1\n")]
    one = archive("one.tgz", files, time.time())
    two = archive("two.tgz", files[::-1], 0)
    other = archive("three.tgz", [files[0], ("dep/values.yaml", b"a: 2\n")], 0)
    assert _tgz_content_digest(one) == _tgz_content_digest(two) != _tgz_content_digest(other)
