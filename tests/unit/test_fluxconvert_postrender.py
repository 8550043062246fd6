"""`convert` maps Flux's postRenderers and commonMetadata (issue 16): v2's patches and images as
they are, v2beta1/v2beta2's patchesStrategicMerge and patchesJson6902 as patches in kustomize's
order, other fields warned; the result is a spec our controller accepts (HelmRelease.from_obj)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.test_fluxconvert import REPO, one, v2

PATCH = {
    "target": {"kind": "Deployment", "labelSelector": "app=web"},
    "patch": "- op: add\n  path: /metadata/labels/team\n  value: web\n",
}
IMAGE = {"name": "nginx", "newName": "registry.example/nginx", "digest": "sha256:" + "a" * 64}
COMMON = {"labels": {"team": "web"}, "annotations": {"owner": "web@example.com"}}


def test_a_flux_v2_helmrelease_with_post_renderers_and_common_metadata() -> None:
    flux = {
        "postRenderers": [
            {"kustomize": {"patches": [PATCH], "images": [IMAGE]}},
            {"kustomize": {"images": [IMAGE]}},
        ],
        "commonMetadata": COMMON,
    }
    spec, warnings = one([REPO, v2(flux)])
    assert spec["postRenderers"] == flux["postRenderers"]
    assert spec["commonMetadata"] == COMMON
    assert [w for w in warnings if w.startswith("hr/")] == []


SM = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
OPS = [{"op": "replace", "path": "/spec/replicas", "value": 3}]
J6902 = {"target": {"kind": "Deployment", "name": "web"}, "patch": OPS}


@pytest.mark.parametrize("api", ["helm.toolkit.fluxcd.io/v2beta1", "helm.toolkit.fluxcd.io/v2beta2"])
def test_removed_patch_fields_become_patches_in_kustomizes_order(api: str) -> None:
    kustomize = {
        "patchesJson6902": [J6902],
        "patches": [PATCH],
        "patchesStrategicMerge": [SM],
        "images": [IMAGE],
    }
    spec, warnings = one([REPO, v2({"postRenderers": [{"kustomize": kustomize}]}, api)])
    [ours] = spec["postRenderers"]
    sm, patch, json6902 = ours["kustomize"]["patches"]
    assert yaml.safe_load(sm["patch"]) == SM and "target" not in sm
    assert patch == PATCH
    assert yaml.safe_load(json6902["patch"]) == OPS and json6902["target"] == J6902["target"]
    assert ours["kustomize"]["images"] == [IMAGE]
    assert [w for w in warnings if w.startswith("hr/")] == []


WARNED: list[tuple[dict[str, Any], list[dict[str, Any]], list[str]]] = [
    ({"postRenderers": [{}, {"kustomize": {}}]}, [], []),
    (
        {"postRenderers": [{"kustomize": {"images": [IMAGE], "replicas": [{"name": "web", "count": 2}]}}]},
        [{"kustomize": {"images": [IMAGE]}}],
        [
            "hr/apps/web: spec.postRenderers[0].kustomize.replicas has no equivalent in "
            "helmrelease.dev/v1 (dropped)"
        ],
    ),
    (
        {"postRenderStrategy": "separate"},
        [],
        [
            "hr/apps/web: spec.postRenderStrategy has no equivalent in helmrelease.dev/v1 "
            "(dropped: hooks reach"
        ],
    ),
]


@pytest.mark.parametrize(("flux", "ours", "warned"), WARNED)
def test_what_has_no_equivalent_is_warned(
    flux: dict[str, Any], ours: list[dict[str, Any]], warned: list[str]
) -> None:
    spec, warnings = one([REPO, v2(flux)])
    assert spec.get("postRenderers", []) == ours
    hr_warnings = [w for w in warnings if w.startswith("hr/")]
    assert len(hr_warnings) == len(warned), hr_warnings
    for text, line in zip(warned, hr_warnings, strict=True):
        assert line.startswith(text), line
