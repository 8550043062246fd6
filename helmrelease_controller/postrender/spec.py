"""`PostRender`: what a HelmRelease asks of post-rendering, as plain JSON-ready data. Pure.

Built from the spec (`from_spec`: None when there is nothing to do, so such a release renders
and digests exactly as before post-renderers existed), written by the controller to the JSON file
the post-renderer program reads (`to_json` / `from_json`), and digested with the chart and values
(`to_json` is the digest's input: a changed patch is a changed config, so the release upgrades).
Field names are Flux's (kustomize's): `patches[].patch`, `patches[].target.labelSelector`,
`images[].newTag` ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the post-renderer program imports this module: it stays free of pydantic
    from ..api.spec import HelmReleaseSpec

JsonObj = dict[str, Any]


@dataclass(frozen=True)
class PostRender:
    """The kustomizations to run in order (each `{"patches": [...], "images": [...]}`), then the
    common labels and annotations."""

    kustomize: tuple[JsonObj, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: HelmReleaseSpec) -> PostRender | None:
        """What `spec` asks; None when nothing (no patch, no image, no common label or annotation)."""
        runs = []
        for pr in spec.post_renderers:
            k = pr.kustomize
            if k is None or not (k.patches or k.images):
                continue  # Flux skips an empty kustomization too
            runs.append(k.model_dump(mode="json", by_alias=True, exclude_none=True))
        common = spec.common_metadata
        labels = dict(common.labels) if common else {}
        annotations = dict(common.annotations) if common else {}
        if not (runs or labels or annotations):
            return None
        return cls(tuple(runs), labels, annotations)

    def to_json(self) -> JsonObj:
        return {
            "kustomize": list(self.kustomize),
            "commonMetadata": {"labels": self.labels, "annotations": self.annotations},
        }

    @classmethod
    def from_json(cls, data: JsonObj) -> PostRender:
        common = data.get("commonMetadata") or {}
        return cls(
            tuple(data.get("kustomize") or ()),
            dict(common.get("labels") or {}),
            dict(common.get("annotations") or {}),
        )


# The post-renderer program finds its PostRender through this environment variable (the path of
# a JSON file in a private temp dir the controller made for one helm run). Helm passes its own
# environment to the post-renderer on helm 3 and to plugins on helm 4. If the program fails, it
# writes its one-line reason to ERROR_FILE beside that file: helm 4 drops a plugin's stderr.
ENV_SPEC = "HELMRELEASE_POSTRENDER_SPEC"
ERROR_FILE = "error"
