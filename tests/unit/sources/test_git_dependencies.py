"""Git charts: which dependencies need `helm dependency build`, and what a failed build says."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
import yaml

from helmrelease_controller.sources import gitmirror
from helmrelease_controller.sources.gitmirror import dependency_build_failure, missing_dependencies

CAPTURES = Path(__file__).parents[1] / "helm" / "stderr"
REPO = "http://127.0.0.1:1/charts"


def _chart(root: Path, deps: list[dict[str, str]], vendored: list[tuple[str, str, str]]) -> Path:
    """A chart with `deps` in Chart.yaml and `vendored` (kind "dir" | "tgz", name, version) under charts/."""
    root.mkdir(parents=True)
    meta = {"apiVersion": "v2", "name": "parent", "version": "0.1.0", "dependencies": deps}
    (root / "Chart.yaml").write_text(yaml.safe_dump(meta))
    charts = root / "charts"
    charts.mkdir()
    for kind, name, version in vendored:
        chart_yaml = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}).encode()
        if kind == "dir":
            (charts / name).mkdir()
            (charts / name / "Chart.yaml").write_bytes(chart_yaml)
        else:
            with tarfile.open(charts / f"{name}-{version}.tgz", "w:gz") as tar:
                info = tarfile.TarInfo(f"{name}/Chart.yaml")
                info.size = len(chart_yaml)
                tar.addfile(info, io.BytesIO(chart_yaml))
    return root


DEP = {"name": "child", "version": "1.x", "repository": REPO}


@pytest.mark.parametrize(
    ("deps", "vendored", "missing"),
    [
        ([DEP], [("tgz", "child", "1.2.3")], []),
        ([DEP], [("dir", "child", "1.2.3")], []),
        ([DEP], [], [("child", "1.x", REPO)]),
        ([DEP], [("tgz", "child", "2.0.0")], [("child", "1.x", REPO)]),  # out of the range
        ([DEP], [("tgz", "other", "1.2.3")], [("child", "1.x", REPO)]),
        ([{"name": "child", "repository": REPO}], [("dir", "child", "0.0.1")], []),  # no version: any
        ([{**DEP, "version": "1.2.3"}], [("tgz", "child", "1.2.3")], []),
        (
            [DEP, {"name": "db", "version": "~2.1", "repository": "file://../db"}],
            [("tgz", "child", "1.0.0")],
            [("db", "~2.1", "file://../db")],
        ),
    ],
)
def test_missing_dependencies(
    tmp_path: Path,
    deps: list[dict[str, str]],
    vendored: list[tuple[str, str, str]],
    missing: list[tuple[str, str, str]],
) -> None:
    assert missing_dependencies(_chart(tmp_path / "c", deps, vendored)) == missing


def test_requirements_yaml_dependencies(tmp_path: Path) -> None:
    root = _chart(tmp_path / "c", [], [])
    (root / "requirements.yaml").write_text(yaml.safe_dump({"dependencies": [DEP]}))
    assert missing_dependencies(root) == [("child", "1.x", REPO)]


@pytest.mark.parametrize("capture", ["helm4-dependency-build.txt", "helm3-dependency-build.txt"])
def test_a_failed_build_names_the_repository(capture: str) -> None:
    out = dependency_build_failure((CAPTURES / capture).read_text(), [REPO])
    assert out == (
        f"chart repository {REPO} could not be reached: dial tcp 127.0.0.1:1: connect: connection refused"
    )


def test_without_helms_progress_lines_the_cache_key_is_mapped_back_to_the_url() -> None:
    error = next(
        ln for ln in (CAPTURES / "helm4-dependency-build.txt").read_text().splitlines() if "Error" in ln
    )
    out = dependency_build_failure(error, ["https://elsewhere.example/charts", REPO])
    assert out == f"no index of chart repository {REPO} could be read"
    assert "helm repo update" not in dependency_build_failure(error, [])


def test_a_build_declares_only_the_missing_dependencies_then_puts_everything_back(tmp_path: Path) -> None:
    db = {"name": "db", "version": "~2.1", "repository": "https://charts.invalid/db"}
    root = _chart(tmp_path / "c", [DEP, db], [("tgz", "child", "1.2.3")])
    lock = yaml.safe_dump(
        {"dependencies": [{**DEP, "version": "1.2.3"}, {**db, "version": "2.1.3"}], "digest": "x"}
    )
    (root / "Chart.lock").write_text(lock)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with gitmirror._only_missing(root):
        declared = yaml.safe_load((root / "Chart.yaml").read_text())["dependencies"]
        assert declared == [{**db, "version": "2.1.3"}]  # pinned at its locked version
        assert list((root / "charts").iterdir()) == [] and not (root / "Chart.lock").exists()
        (root / "Chart.lock").write_text("written by helm")
        (root / "charts" / "db-2.1.3.tgz").write_bytes(b"fetched")
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == {**before, Path("charts/db-2.1.3.tgz"): b"fetched"}


def test_with_nothing_committed_the_build_is_left_alone(tmp_path: Path) -> None:
    root = _chart(tmp_path / "c", [DEP], [])
    before = (root / "Chart.yaml").read_text()
    with gitmirror._only_missing(root):
        assert (root / "Chart.yaml").read_text() == before
