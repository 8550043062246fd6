"""postRenderers and commonMetadata on the helm command line (issue 16): the arguments helm 3 and
helm 4 get for install, upgrade and `template` (ops diff), what reaches the post-renderer through
helm's environment (never the command line), and the reason a failing post-renderer leaves.

A helm stand-in (sh) answers `helm version` as helm 3 or 4 and records its argv, the two
environment variables and the spec file they name; the rows compare with the same run without
post-rendering.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from helmrelease_controller.api.models import HelmRelease
from helmrelease_controller.helm import postrender as helm_postrender
from helmrelease_controller.helm.runner import Helm, HelmError, UpgradeOptions
from helmrelease_controller.postrender import PostRender

VERSIONS = {3: "v3.17.3", 4: "v4.3.1"}
BASE = {"chart": {"repository": {"url": "https://charts.example", "name": "webapp"}}}
PATCH = {"patch": "- {op: replace, path: /spec/replicas, value: 3}", "target": {"kind": "Deployment"}}
HELM3 = ["--post-renderer", sys.executable, "--post-renderer-args=-m"]
HELM3 += ["--post-renderer-args=helmrelease_controller.postrender"]
HELM4 = ["--post-renderer", "helmrelease-postrender"]


def fake_helm(tmp_path: Path, major: int, fail: bool = False) -> Helm:
    """A helm that says it is `major` and records argv, env and spec file; `fail`: it fails as
    helm 4 does when the plugin failed, after the program left its reason beside the spec."""
    helm = tmp_path / "helm"
    version = f'if [ "$1" = version ]; then printf {VERSIONS[major]}; exit 0; fi'
    record = (
        f'echo "$@" > {tmp_path}/argv\n'
        f'echo "$HELM_PLUGINS" > {tmp_path}/plugins\n'
        f'[ -n "$HELMRELEASE_POSTRENDER_SPEC" ] && cat "$HELMRELEASE_POSTRENDER_SPEC" > {tmp_path}/spec\n'
        f'echo "$HELMRELEASE_POSTRENDER_SPEC" > {tmp_path}/specpath\n'
    )
    failing = (
        'echo "patch failed" > "$(dirname "$HELMRELEASE_POSTRENDER_SPEC")/error"\n'
        'echo \'Error: error while running post render on files: failed to invoke post-renderer plugin "x": '
        'plugin "x" exited with error\' >&2; exit 1\n'
    )
    helm.write_text(f"#!/bin/sh\n{version}\n{record}{failing if fail else ''}echo {{}}\n")
    helm.chmod(0o755)
    return Helm(str(helm))


def post_render(spec: dict[str, Any]) -> PostRender | None:
    hr = HelmRelease.from_obj({"metadata": {"name": "web", "namespace": "apps"}, "spec": BASE | spec})
    return PostRender.from_spec(hr.spec)


async def run(tmp_path: Path, major: int, spec: dict[str, Any], command: str) -> list[str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    helm, pr = fake_helm(tmp_path, major), post_render(spec)
    if command == "template":
        await helm.template("web", "apps", Path("/c"), {}, post_render=pr)
    else:
        o = UpgradeOptions(
            "web", "apps", Path("/c"), {}, 5, "5m", install=command == "install", post_render=pr
        )
        await helm.upgrade(o)
    return (tmp_path / "argv").read_text().split()


SPECS: list[dict[str, Any]] = [
    {"postRenderers": [{"kustomize": {"patches": [PATCH]}}]},
    {"postRenderers": [{"kustomize": {"images": [{"name": "nginx", "newTag": "1.27"}]}}]},
    {"commonMetadata": {"labels": {"team": "a"}}},
    {"commonMetadata": {"annotations": {"owner": "b"}}},
]
# (spec, helm major, command, arguments added to the same command without post-rendering)
ROWS = [(spec, major, cmd, HELM4 if major == 4 else HELM3) for spec in SPECS for major in (3, 4)
        for cmd in ("install", "upgrade", "template")]  # fmt: skip
ROWS += [
    (spec, major, "upgrade", [])
    for major in (3, 4)
    for spec in (
        {},
        {"postRenderers": []},
        {"postRenderers": [{}]},
        {"postRenderers": [{"kustomize": {}}]},
        {"commonMetadata": {}},
    )
]


@pytest.mark.parametrize(("spec", "major", "command", "added"), ROWS)
async def test_post_rendering_adds_the_post_renderer(
    tmp_path: Path, spec: dict[str, Any], major: int, command: str, added: list[str]
) -> None:
    plain = await run(tmp_path / "plain", major, {}, command)
    argv = await run(tmp_path / "with", major, spec, command)
    assert argv == plain + added


@pytest.mark.parametrize("major", [3, 4])
async def test_the_spec_reaches_the_post_renderer_by_a_file_named_in_helms_env(
    tmp_path: Path, major: int
) -> None:
    spec = {
        "postRenderers": [
            {"kustomize": {"patches": [PATCH], "images": [{"name": "nginx", "digest": "sha256:1"}]}}
        ],
        "commonMetadata": {"labels": {"team": "a"}, "annotations": {"owner": "b"}},
    }
    await run(tmp_path, major, spec, "upgrade")
    written = json.loads((tmp_path / "spec").read_text())
    assert written["kustomize"] == [copy.deepcopy(spec["postRenderers"][0]["kustomize"])]
    assert written["commonMetadata"] == spec["commonMetadata"]
    assert not Path((tmp_path / "specpath").read_text().strip()).parent.exists()  # removed after helm
    plugins = (tmp_path / "plugins").read_text().strip()
    if major == 4:  # our plugin directory first, holding the postrenderer/v1 plugin
        first = Path(plugins.split(":")[0])
        assert (first / "helmrelease-postrender" / "plugin.yaml").is_file()
        plugin = json.loads((first / "helmrelease-postrender" / "plugin.yaml").read_text())
        assert plugin["type"] == "postrenderer/v1" and plugin["runtime"] == "subprocess"
    else:
        assert plugins == ""


async def test_a_failing_post_renderer_says_why(tmp_path: Path) -> None:
    """helm 4 only says the plugin exited with an error: the reason is the one the program left."""
    helm = fake_helm(tmp_path, 4, fail=True)
    o = UpgradeOptions("web", "apps", Path("/c"), {}, 5, "5m", action="install")
    o.post_render = post_render({"commonMetadata": {"labels": {"a": "b"}}})
    with pytest.raises(HelmError) as e:
        await helm.upgrade(o)
    assert e.value.summary == "install failed: post-renderer patch failed"


def test_users_helm_plugins_stay_found() -> None:
    theirs = "/home/u/.local/share/helm/plugins"
    assert helm_postrender.helm_plugins({"HELM_PLUGINS": theirs}).split(":")[1:] == [theirs]
