"""The post-renderer program (issue 16): the kustomization it writes for each run (table), kustomize's
errors as one line (table), and what the real `kubectl kustomize` makes of a chart's manifests
through it, with Flux's semantics: patches and images per postRenderers item, in order, then
commonMetadata on every object's own metadata only (never selectors or pod templates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from helmrelease_controller.postrender.__main__ import PostRenderError, render
from helmrelease_controller.postrender.kustomization import kustomize_error, runs
from helmrelease_controller.postrender.spec import PostRender
from tests.conftest import tool

PATCH = {"patch": "- {op: replace, path: /spec/replicas, value: 3}", "target": {"kind": "Deployment"}}
HEAD = {
    "apiVersion": "kustomize.config.k8s.io/v1beta1",
    "kind": "Kustomization",
    "resources": ["helm-output.yaml"],
}


def _files(pr: PostRender) -> list[tuple[str, dict[str, Any]]]:
    return [(what, {k: yaml.safe_load(v) for k, v in files.items()}) for what, files in runs(pr)]


LABELS = {
    "apiVersion": "builtin",
    "kind": "LabelTransformer",
    "metadata": {"name": "common-labels"},
    "labels": {"team": "a"},
    "fieldSpecs": [{"path": "metadata/labels", "create": True}],
}
ANNOTATIONS = {
    "apiVersion": "builtin",
    "kind": "AnnotationsTransformer",
    "metadata": {"name": "common-annotations"},
    "annotations": {"owner": "b"},
    "fieldSpecs": [{"path": "metadata/annotations", "create": True}],
}
RUNS: list[tuple[PostRender, list[tuple[str, dict[str, Any]]]]] = [
    (
        PostRender(({"patches": [PATCH]},)),
        [("postRenderers[0].kustomize", {"kustomization.yaml": {**HEAD, "patches": [PATCH]}})],
    ),
    (
        PostRender(({"images": [{"name": "nginx", "newTag": "1"}]}, {"patches": [PATCH], "images": []})),
        [
            (
                "postRenderers[0].kustomize",
                {"kustomization.yaml": {**HEAD, "images": [{"name": "nginx", "newTag": "1"}]}},
            ),
            ("postRenderers[1].kustomize", {"kustomization.yaml": {**HEAD, "patches": [PATCH]}}),
        ],
    ),
    (
        PostRender((), {"team": "a"}, {"owner": "b"}),
        [
            (
                "commonMetadata",
                {
                    "labels.yaml": LABELS,
                    "annotations.yaml": ANNOTATIONS,
                    "kustomization.yaml": {**HEAD, "transformers": ["labels.yaml", "annotations.yaml"]},
                },
            )
        ],
    ),
    (
        PostRender((), {}, {"owner": "b"}),
        [
            (
                "commonMetadata",
                {
                    "annotations.yaml": ANNOTATIONS,
                    "kustomization.yaml": {**HEAD, "transformers": ["annotations.yaml"]},
                },
            )
        ],
    ),
]


@pytest.mark.parametrize(("pr", "expected"), RUNS)
def test_each_run_is_one_kustomization(pr: PostRender, expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert _files(pr) == expected


ERRORS = [
    (
        "error: replace operation does not apply: doc is missing path: /spec/nope: missing value\n",
        "replace operation does not apply: doc is missing path: /spec/nope: missing value",
    ),
    (
        "error: trouble configuring builtin PatchTransformer with config: `\npatch: 'not: [valid'\n"
        'target:\n  kind: Deployment\n`: unable to parse SM or JSON patch from [patch: "not: [valid"]\n',
        'unable to parse SM or JSON patch from [patch: "not: [valid"]',
    ),
    (
        "error: must build at directory: '/tmp/w/0/x': file is not directory\n",
        "must build at directory: 'x': file is not directory",
    ),
    ("error: " + "x" * 1000, "x" * 397 + "..."),
]


@pytest.mark.parametrize(("stderr", "line"), ERRORS)
def test_kustomize_errors_are_one_line(stderr: str, line: str) -> None:
    assert kustomize_error(stderr, "/tmp/w/0") == line


# -- the real kubectl kustomize --------------------------------------------------------------------
MANIFESTS = """\
---
# Source: webapp/templates/app.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {team: chart}
spec:
  selector: {app: web}
---
# Source: webapp/templates/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - {name: app, image: "nginx:1.0"}
---
# Source: webapp/templates/test.yaml
apiVersion: v1
kind: Pod
metadata:
  name: web-test
  annotations: {helm.sh/hook: test}
spec:
  containers:
  - {name: t, image: busybox}
"""


def _objects(out: bytes) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all(out) if d}


def test_patches_images_then_common_metadata_through_kustomize() -> None:
    label_patch = {"patch": "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {team: patched}}\n"}
    pr = PostRender(
        ({"patches": [PATCH], "images": [{"name": "nginx", "newTag": "1.27"}]}, {"patches": [label_patch]}),
        {"team": "common", "env": "prod"},
        {"owner": "b"},
    )
    objs = _objects(render(MANIFESTS.encode(), pr, tool("kubectl")))
    deploy, svc = objs["Deployment"], objs["Service"]
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    for obj in objs.values():  # every object, hooks included, its own metadata: common wins
        assert obj["metadata"]["labels"]["team"] == "common" and obj["metadata"]["labels"]["env"] == "prod"
        assert obj["metadata"]["annotations"]["owner"] == "b"
    # selectors and pod templates are not touched (Flux's field specs)
    assert deploy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert deploy["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    assert svc["spec"]["selector"] == {"app": "web"}
    assert objs["Pod"]["metadata"]["annotations"]["helm.sh/hook"] == "test"


def test_a_patch_kustomize_refuses_names_its_post_renderer() -> None:
    bad = {"patch": "- {op: replace, path: /spec/nope/x, value: 3}", "target": {"kind": "Deployment"}}
    with pytest.raises(PostRenderError) as e:
        render(
            MANIFESTS.encode(), PostRender(({"images": [{"name": "x"}]}, {"patches": [bad]})), tool("kubectl")
        )
    assert str(e.value) == (
        "postRenderers[1].kustomize: replace operation does not apply: "
        "doc is missing path: /spec/nope/x: missing value"
    )


def test_nothing_rendered_stays_valid_for_helm() -> None:
    assert render(b"", PostRender((), {"a": "b"}), tool("kubectl")) == b"---\n"


def test_the_program_as_helm_runs_it(tmp_path: Path) -> None:
    """stdin to stdout; on failure exit 1, the reason on stderr and in the error file."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**PostRender((), {"team": "a"}).to_json(), "kubectl": tool("kubectl")}))
    env = {**os.environ, "HELMRELEASE_POSTRENDER_SPEC": str(spec)}
    argv = [sys.executable, "-m", "helmrelease_controller.postrender"]
    done = subprocess.run(argv, input=MANIFESTS.encode(), capture_output=True, env=env, check=True)
    assert {o["metadata"]["labels"]["team"] for o in _objects(done.stdout).values()} == {"a"}
    spec.write_text(json.dumps({**PostRender(({"patches": [{"patch": "x: [", "target": {}}]},)).to_json()}))
    done = subprocess.run(argv, input=MANIFESTS.encode(), capture_output=True, env=env, check=False)
    assert done.returncode == 1
    reason = (tmp_path / "error").read_text()
    assert reason.startswith("postRenderers[0].kustomize: ") and "\n" not in reason
    assert done.stderr.decode().strip() == f"error: {reason}"
