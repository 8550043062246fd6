"""The kustomization directory of each post-render run, and kustomize's error as one line. Pure.

One run per `postRenderers` item (its `patches` and `images` as a kustomization over the previous
run's output, `helm-output.yaml`, as Flux builds it), then one for `commonMetadata`: kustomize's
builtin LabelTransformer and AnnotationsTransformer with the one field spec Flux gives them
(`metadata/labels`, `metadata/annotations`): every object's own metadata, never selectors or pod
templates (kustomize's `commonLabels`/`commonAnnotations` would touch those too).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .spec import PostRender

INPUT = "helm-output.yaml"
KUSTOMIZATION = "kustomization.yaml"
_HEAD = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": [INPUT]}


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=1, sort_keys=True) + "\n"  # JSON is YAML: kustomize reads it


def _transformer(kind: str, name: str, key: str, pairs: dict[str, str], path: str) -> str:
    config = {
        "apiVersion": "builtin",
        "kind": kind,
        "metadata": {"name": name},
        key: pairs,
        "fieldSpecs": [{"path": path, "create": True}],
    }
    return _dump(config)


def common_metadata_files(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, str]:
    """The commonMetadata run's files (besides its input)."""
    files, transformers = {}, []
    if labels:
        files["labels.yaml"] = _transformer(
            "LabelTransformer", "common-labels", "labels", labels, "metadata/labels"
        )
        transformers.append("labels.yaml")
    if annotations:
        files["annotations.yaml"] = _transformer(
            "AnnotationsTransformer", "common-annotations", "annotations", annotations, "metadata/annotations"
        )
        transformers.append("annotations.yaml")
    files[KUSTOMIZATION] = _dump({**_HEAD, "transformers": transformers})
    return files


def runs(pr: PostRender) -> list[tuple[str, dict[str, str]]]:
    """(what it is, for errors; its files besides the input) of each kustomize run, in order."""
    out = []
    for i, k in enumerate(pr.kustomize):
        body = {key: k[key] for key in ("patches", "images") if k.get(key)}
        out.append((f"postRenderers[{i}].kustomize", {KUSTOMIZATION: _dump({**_HEAD, **body})}))
    if pr.labels or pr.annotations:
        out.append(("commonMetadata", common_metadata_files(pr.labels, pr.annotations)))
    return out


# kustomize repeats a transformer's whole config in its error: "trouble configuring builtin
# PatchTransformer with config: `<yaml>`: <the reason>"
_CONFIG_ECHO = re.compile(r"trouble configuring builtin \w+ with config: `.*?`: ", re.DOTALL)
ERROR_LIMIT = 400


def kustomize_error(stderr: str, root: str) -> str:
    """kubectl kustomize's error as one line, without our temp paths or the echoed config."""
    text = _CONFIG_ECHO.sub("", stderr.replace(root.rstrip("/") + "/", "").replace(root, "."))
    text = " ".join(text.split()).removeprefix("error: ")
    return text if len(text) <= ERROR_LIMIT else text[: ERROR_LIMIT - 3] + "..."
