"""postRenderers and commonMetadata in the spec (issue 16): what is refused and why (table), what
the post-renderer is asked (`PostRender.from_spec`), and the config digest: a changed patch,
image or common label is a new config (so the release upgrades), and a spec without
post-rendering keeps the digest it had before post-renderers existed (so nothing upgrades)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from helmrelease_controller import values as valuesmod
from helmrelease_controller.api.models import HelmRelease, SpecError
from helmrelease_controller.postrender import PostRender
from helmrelease_controller.reconcile.helmstorage import ReleaseObservation
from helmrelease_controller.reconcile.plan import Resolved, release_plan
from helmrelease_controller.sources.base import ResolvedChart

BASE = {"chart": {"repository": {"url": "https://charts.example", "name": "webapp"}}}
PATCH = {"patch": "- {op: replace, path: /spec/replicas, value: 3}", "target": {"kind": "Deployment"}}


def hr(spec: dict[str, Any]) -> HelmRelease:
    body = copy.deepcopy(BASE) | spec
    return HelmRelease.from_obj(
        {"metadata": {"name": "web", "namespace": "apps", "generation": 1}, "spec": body}
    )


REFUSED = [
    (
        {"postRenderers": [{"kustomize": {"patchesStrategicMerge": [{"kind": "Deployment"}]}}]},
        "spec.postRenderers[0].kustomize: patchesStrategicMerge is not supported (Flux v2 removed it): "
        "write each patch as a patches item (a strategic merge patch needs no target)",
    ),
    (
        {"postRenderers": [{"kustomize": {"patchesJson6902": []}}]},
        "spec.postRenderers[0].kustomize: patchesJson6902 is not supported (Flux v2 removed it): "
        "write each as a patches item: its operations as the patch, with its target",
    ),
    (
        {"postRenderers": [{"kustomize": {"patches": [{"patch": ""}]}}]},
        "spec.postRenderers[0].kustomize.patches[0].patch: must not be empty",
    ),
    (
        {"postRenderers": [{"kustomize": {"patches": [{"target": {"kind": "A"}}]}}]},
        "spec.postRenderers[0].kustomize.patches[0].patch: required field is missing",
    ),
    (
        {"postRenderers": [{"kustomize": {"images": [{"newTag": "1"}]}}]},
        "spec.postRenderers[0].kustomize.images[0].name: required field is missing",
    ),
    (
        {"postRenderers": [{"kustomize": {"patches": [{"patch": "x", "target": {"kinds": "A"}}]}}]},
        'spec.postRenderers[0].kustomize.patches[0].target.kinds: unknown field; did you mean "kind"?',
    ),
    ({"postRenderers": [{"helm": {}}]}, "spec.postRenderers[0].helm: unknown field"),
    (
        {"commonMetadata": {"labels": {"a": 1}}},
        "spec.commonMetadata.labels.a: must be a string, got a number",
    ),
]


@pytest.mark.parametrize(("spec", "message"), REFUSED)
def test_refused_with_a_reason(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as e:
        hr(spec)
    assert str(e.value) == message


ASKED: list[tuple[dict[str, Any], PostRender | None]] = [
    ({}, None),
    ({"postRenderers": [{}, {"kustomize": {}}], "commonMetadata": {}}, None),
    (
        {"postRenderers": [{"kustomize": {"patches": [PATCH]}}]},
        PostRender(({"patches": [PATCH], "images": []},)),
    ),
    (
        {
            "postRenderers": [
                {"kustomize": {"images": [{"name": "a", "newName": "b"}]}},
                {"kustomize": {"patches": [{"patch": "x"}]}},
            ]
        },
        PostRender(
            (
                {"patches": [], "images": [{"name": "a", "newName": "b"}]},
                {"patches": [{"patch": "x"}], "images": []},
            )
        ),
    ),
    ({"commonMetadata": {"labels": {"a": "b"}}}, PostRender((), {"a": "b"}, {})),
    ({"commonMetadata": {"annotations": {"a": "b"}}}, PostRender((), {}, {"a": "b"})),
]


@pytest.mark.parametrize(("spec", "asked"), ASKED)
def test_what_the_post_renderer_is_asked(spec: dict[str, Any], asked: PostRender | None) -> None:
    got = PostRender.from_spec(hr(spec).spec)
    assert got == asked
    if got is not None:
        assert PostRender.from_json(got.to_json()) == got


def digest(spec: dict[str, Any]) -> str:
    chart = ResolvedChart(Path("/c.tgz"), "webapp", "1.0.0", "1.0.0@sha256:x", "sha256:chart")
    resolved = Resolved(chart, {"replicas": 1}, set(), ReleaseObservation(()))
    plan = release_plan(hr(spec), resolved, 1)
    assert plan.attempt.config_digest == plan.target.config_digest
    return plan.target.config_digest


def test_without_post_rendering_the_digest_is_unchanged() -> None:
    before = valuesmod.digest({"chart": "sha256:chart", "values": {"replicas": 1}})
    assert digest({}) == digest({"postRenderers": [], "commonMetadata": {}}) == before


DIGESTED: list[dict[str, Any]] = [
    {"postRenderers": [{"kustomize": {"patches": [PATCH]}}]},
    {"postRenderers": [{"kustomize": {"patches": [{**PATCH, "patch": PATCH["patch"].replace("3", "4")}]}}]},
    {"postRenderers": [{"kustomize": {"patches": [{**PATCH, "target": {"kind": "StatefulSet"}}]}}]},
    {"postRenderers": [{"kustomize": {"images": [{"name": "nginx", "newTag": "1"}]}}]},
    {"postRenderers": [{"kustomize": {"images": [{"name": "nginx", "newTag": "2"}]}}]},
    {"commonMetadata": {"labels": {"team": "a"}}},
    {"commonMetadata": {"annotations": {"team": "a"}}},
]


def test_post_rendering_is_part_of_the_config_digest() -> None:
    """Each change is a new digest, and the release target carries what the digest covers."""
    digests = [digest(spec) for spec in [{}, *DIGESTED]]
    assert len(set(digests)) == len(digests)
    chart = ResolvedChart(Path("/c.tgz"), "webapp", "1.0.0", "1.0.0@sha256:x", "sha256:chart")
    for spec in DIGESTED:
        plan = release_plan(hr(spec), Resolved(chart, {}, set(), ReleaseObservation(())), 1)
        assert plan.target.post_render == PostRender.from_spec(hr(spec).spec) is not None
