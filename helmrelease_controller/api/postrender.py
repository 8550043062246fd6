"""The HelmRelease post-rendering models: Flux's `postRenderers` (kustomize patches and images)
and `commonMetadata`, and the object selector patches and drift ignore rules share. Pure.

A docstring under a field is what `kubectl explain` prints (docs/post-renderers.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from helmrelease_controller.api.types import LIST_MAX_ITEMS, NonEmptyStr, _none_to_empty_list, _Spec

_REMOVED_KUSTOMIZE_FIELDS = {
    "patchesStrategicMerge": "write each patch as a patches item (a strategic merge patch needs no target)",
    "patchesJson6902": "write each as a patches item: its operations as the patch, with its target",
}


class PostRendererTarget(_Spec):
    """Which objects (kustomize's selector, for a patch's target or a drift ignore rule): all the
    fields given must match."""

    group: str | None = None
    """API group of the objects (e.g. apps; empty for the core group)."""
    version: str | None = None
    """API version of the objects (e.g. v1)."""
    kind: str | None = None
    """Kind of the objects (e.g. Deployment)."""
    name: str | None = None
    """Name of the objects (a regular expression, as kustomize reads it)."""
    namespace: str | None = None
    """Namespace of the objects."""
    label_selector: str | None = None
    """Label selector the objects' labels must match (e.g. app=web,tier!=db)."""
    annotation_selector: str | None = None
    """Label selector the objects' annotations must match."""


class PostRendererPatch(_Spec):
    """A kustomize patch: a strategic merge patch, or a JSON 6902 patch (a list of operations)."""

    patch: NonEmptyStr
    """The patch as inline YAML: an object (strategic merge), or a list of operations (JSON 6902,
    which needs a target)."""
    target: PostRendererTarget | None = None
    """The objects to patch; a strategic merge patch without it patches the object it names."""


class PostRendererImage(_Spec):
    """An image replaced in every container (kustomize's images): its name, tag or digest."""

    name: NonEmptyStr
    """The image name to look for, without tag (e.g. nginx, ghcr.io/org/app)."""
    new_name: str | None = None
    """The name to replace it with."""
    new_tag: str | None = None
    """The tag to replace its tag with."""
    digest: str | None = None
    """The digest to use instead of a tag (newTag is then ignored)."""


class KustomizePostRenderer(_Spec):
    """A kustomization applied to the rendered manifests: patches, then images (kubectl kustomize)."""

    patches: Annotated[list[PostRendererPatch], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Strategic merge and JSON 6902 patches, each with an optional target."""
    images: Annotated[list[PostRendererImage], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Images to rename, retag or pin to a digest."""

    @model_validator(mode="before")
    @classmethod
    def _removed_fields(cls, data: Any) -> Any:
        # Flux v2beta1/v2beta2 had these; Flux v2 removed them. `convert` maps them to patches.
        for name, how in _REMOVED_KUSTOMIZE_FIELDS.items():
            if isinstance(data, dict) and name in data:
                raise ValueError(f"{name} is not supported (Flux v2 removed it): {how}")
        return data


class PostRenderer(_Spec):
    """One post-renderer: a kustomization run over what the previous one produced."""

    kustomize: KustomizePostRenderer | None = None
    """Patches and image overrides applied with kustomize."""


class CommonMetadata(_Spec):
    """Labels and annotations set on every object the chart renders (metadata only, not on pod
    templates or selectors); they override the chart's own when a key is the same."""

    labels: dict[str, str] = Field(default_factory=dict)
    """Labels added to every object's metadata."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations added to every object's metadata."""
