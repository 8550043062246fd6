"""The controller image carries every program the controller runs (a missing one fails only in a
cluster: GitSync folders and post-renderers run `kubectl kustomize`, releases run helm, git
sources run git and ssh)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def final_stage(dockerfile: str) -> str:
    """The Dockerfile's last stage (what the image is)."""
    return dockerfile.rsplit("\nFROM ", 1)[1]


def test_the_final_stage_copies_helm_and_kubectl_onto_the_path() -> None:
    final = final_stage((ROOT / "deploy" / "Dockerfile").read_text())
    for tool in ("helm", "kubectl"):
        assert f"COPY --from=build /opt/bin/{tool} /usr/local/bin/{tool}" in final, tool


def test_the_image_packages_give_git_and_ssh() -> None:
    lines = (ROOT / "deploy" / "image-packages.txt").read_text().splitlines()
    packages = {word for line in lines for word in line.split("#", 1)[0].split()}
    assert {"git", "openssh-client"} <= packages, packages


def test_the_rootfs_check_keeps_and_runs_the_same_binaries() -> None:
    rootfs = (ROOT / "hack" / "rootfs.py").read_text()
    assert 'for tool in ("helm", "kubectl"):' in rootfs
    assert '["kubectl", "version", "--client"]' in rootfs
