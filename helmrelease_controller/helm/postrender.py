"""How helm runs our post-renderer (the program in postrender/) on helm 3 and on helm 4.

- helm 3: `--post-renderer <executable>` plus `--post-renderer-args`: helm execs the executable
  with the manifests on stdin. Ours is the Python running the controller with
  `-m helmrelease_controller.postrender`.
- helm 4: `--post-renderer <name>` names a plugin of type `postrenderer/v1`, looked up in
  `$HELM_PLUGINS` (a list of directories). helm starts its `platformCommand` (runtime
  `subprocess`) with the manifests on stdin and its own environment. The controller writes that
  plugin once per process into a private directory of its own (`plugins_dir`) and puts it first in
  `HELM_PLUGINS` for the runs that post-render. That is what `helm plugin install <local dir>`
  does (it links the directory), without a helm process; helm 4 verifies signatures only when
  installing a plugin archive, never a local directory or one it finds in place, so nothing needs
  `--verify=false`.

Each run gets a private temp dir (`session`) holding `spec.json` (the `PostRender`, kubectl, a
timeout), named by `$HELMRELEASE_POSTRENDER_SPEC` in helm's environment (never on the command
line), removed when helm returns. When the program fails it leaves its one-line reason in that
dir (`Session.failure`), since helm 4 reports only "plugin ... exited with error".
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..postrender.spec import ENV_SPEC, ERROR_FILE, PostRender

PLUGIN_NAME = "helmrelease-postrender"
MODULE = "helmrelease_controller.postrender"
KUSTOMIZE_TIMEOUT = 60.0  # seconds per kubectl kustomize run


def helm_args(major: int, python: str = sys.executable) -> list[str]:
    """The helm arguments that post-render with our program. Pure."""
    if major >= 4:
        return ["--post-renderer", PLUGIN_NAME]
    return ["--post-renderer", python, "--post-renderer-args=-m", f"--post-renderer-args={MODULE}"]


def plugin_yaml(python: str = sys.executable) -> str:
    """helm 4's plugin.yaml for our program (apiVersion v1, type postrenderer/v1). Pure."""
    doc = {
        "apiVersion": "v1",
        "name": PLUGIN_NAME,
        "version": "0.1.0",
        "type": "postrenderer/v1",
        "runtime": "subprocess",
        "runtimeConfig": {"platformCommand": [{"command": python, "args": ["-m", MODULE]}]},
    }
    return json.dumps(doc, indent=1) + "\n"  # JSON is YAML


_plugins: Path | None = None


def plugins_dir() -> Path:
    """This process's helm plugins directory, holding our post-renderer plugin (made once, 0700,
    removed at exit)."""
    global _plugins
    if _plugins is None or not (_plugins / PLUGIN_NAME / "plugin.yaml").is_file():
        root = Path(tempfile.mkdtemp(prefix="helmrelease-plugins-"))
        (root / PLUGIN_NAME).mkdir()
        (root / PLUGIN_NAME / "plugin.yaml").write_text(plugin_yaml())
        atexit.register(shutil.rmtree, root, True)
        _plugins = root
    return _plugins


def helm_plugins(env: Mapping[str, str]) -> str:
    """HELM_PLUGINS with ours first (a list, as helm reads it; the user's plugins stay found)."""
    theirs = env.get("HELM_PLUGINS")
    return os.pathsep.join([str(plugins_dir()), *([theirs] if theirs else [])])


@dataclass(frozen=True)
class Session:
    """One helm run's post-rendering: its extra arguments and environment, and its private dir."""

    args: list[str]
    env: dict[str, str]
    directory: Path

    def failure(self) -> str:
        """The program's one-line reason when it failed ("" when it did not, or did not run)."""
        try:
            return (self.directory / ERROR_FILE).read_text().strip()
        except OSError:
            return ""


@contextmanager
def session(pr: PostRender, major: int, env: Mapping[str, str]) -> Iterator[Session]:
    """Write `pr` for one helm run; the dir goes when the run is over."""
    directory = Path(tempfile.mkdtemp(prefix="hr-postrender-"))
    try:
        spec = {**pr.to_json(), "kubectl": shutil.which("kubectl", path=env.get("PATH")) or "kubectl"}
        spec["timeout"] = KUSTOMIZE_TIMEOUT
        (directory / "spec.json").write_text(json.dumps(spec))
        extra = {ENV_SPEC: str(directory / "spec.json")}
        if major >= 4:
            extra["HELM_PLUGINS"] = helm_plugins(env)
        yield Session(helm_args(major), extra, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
