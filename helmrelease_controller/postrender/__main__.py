"""The post-renderer program helm runs (`python -m helmrelease_controller.postrender`).

Helm writes every rendered manifest to its stdin and applies what it prints. It reads what to
do from the JSON file named by `$HELMRELEASE_POSTRENDER_SPEC` (spec.py: `PostRender` plus the
kubectl to run and a timeout), runs `kubectl kustomize` once per run of kustomization.py in a
private temp dir (removed when it ends), each over the previous output, and prints the last.
Arguments (helm's `--post-renderer-args`) are ignored.

On failure: exit 1, the reason as one line on stderr (helm 3 shows it) and in the `error` file
beside the spec file (helm 4 drops a plugin's stderr; the controller reads the file).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .kustomization import INPUT, kustomize_error, runs
from .spec import ENV_SPEC, ERROR_FILE, PostRender


class PostRenderError(Exception):
    """A run failed; str() is one line naming the field (postRenderers[i].kustomize, commonMetadata)."""


def _kustomize(kubectl: str, directory: Path, what: str, timeout: float) -> bytes:
    argv = [kubectl, "kustomize", str(directory)]
    env = {**os.environ, "KUBECONFIG": os.devnull}  # kustomize needs no cluster
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise PostRenderError(f"{what}: kubectl kustomize timed out after {timeout:g}s") from None
    except OSError as e:
        raise PostRenderError(f"{what}: cannot run {kubectl} ({e.strerror or e})") from None
    if done.returncode != 0:
        why = kustomize_error(done.stderr.decode(errors="replace"), str(directory))
        raise PostRenderError(f"{what}: {why or 'kubectl kustomize failed'}")
    return done.stdout


def render(manifests: bytes, pr: PostRender, kubectl: str = "kubectl", timeout: float = 60.0) -> bytes:
    """`manifests` through every kustomize run of `pr`, in order."""
    current = manifests
    with tempfile.TemporaryDirectory(prefix="hr-postrender-") as work:
        for i, (what, files) in enumerate(runs(pr)):
            directory = Path(work) / str(i)
            directory.mkdir()
            (directory / INPUT).write_bytes(current)
            for name, text in files.items():
                (directory / name).write_text(text)
            current = _kustomize(kubectl, directory, what, timeout)
    # helm 4 refuses empty output ("produced empty output"); a chart that renders nothing is valid.
    return current if current.strip() else b"---\n"


def main() -> int:
    path = os.environ.get(ENV_SPEC)
    if not path:
        print(
            f"error: {ENV_SPEC} is not set: this program is run by helm for the controller", file=sys.stderr
        )
        return 2
    spec_file = Path(path)
    try:
        try:
            data = json.loads(spec_file.read_text())
        except (OSError, ValueError) as e:
            raise PostRenderError(f"cannot read the post-render spec: {e}") from None
        kubectl, timeout = str(data.get("kubectl") or "kubectl"), float(data.get("timeout") or 60)
        out = render(sys.stdin.buffer.read(), PostRender.from_json(data), kubectl, timeout)
    except PostRenderError as e:
        try:
            (spec_file.parent / ERROR_FILE).write_text(str(e))
        except OSError:
            pass  # stderr still says it (helm 3)
        print(f"error: {e}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
