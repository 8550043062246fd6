"""The HelmRelease `spec.driftDetection` models (reconcile/driftcheck.py, drift/; docs/drift.md).
Pure; a docstring under a field is what `kubectl explain` prints.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from helmrelease_controller.api.postrender import PostRendererTarget
from helmrelease_controller.api.types import LIST_MAX_ITEMS, JsonPointer, _none_to_empty_list, _Spec


class DriftIgnoreRule(_Spec):
    """Fields that drift detection ignores, on the objects its target selects."""

    paths: Annotated[list[JsonPointer], Field(min_length=1, max_length=LIST_MAX_ITEMS)]
    """JSON pointers (RFC 6901) of ignored fields and everything under them, e.g. /spec/replicas;
    list items by index, e.g. /spec/template/spec/containers/0/image."""
    target: PostRendererTarget | None = None
    """Objects the rule applies to (kustomize's selector, as for patches); all objects when omitted."""


class DriftDetectionSpec(_Spec):
    """Detection (and correction) of changes made to the release's objects outside Helm."""

    mode: Literal["disabled", "warn", "enabled"] = "disabled"
    """disabled: not checked. warn: each interval, the live objects are compared with the deployed
    release (fields its manifest sets); drift sets the Drifted condition, an event and a
    notification. enabled: drift is also put back by server-side apply, without a new revision."""
    ignore: Annotated[list[DriftIgnoreRule], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Fields to leave alone."""
