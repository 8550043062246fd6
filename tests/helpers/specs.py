"""HelmRelease models for unit tests of pure logic: a repository chart plus the spec fields given."""

from __future__ import annotations

from typing import Any

from helmrelease_controller.api.models import HelmRelease

CHART = {"repository": {"url": "https://charts.example", "name": "web"}}


def hr_model(**spec: Any) -> HelmRelease:
    """HelmRelease team-a/web with `spec` (camelCase, as a user writes it) over a repository chart."""
    return _model(spec, supported_only=True)


def hr_model_unsupported(**spec: Any) -> HelmRelease:
    """As `hr_model`, also with fields this controller refuses as not built yet."""
    return _model(spec, supported_only=False)


def _model(spec: dict[str, Any], supported_only: bool) -> HelmRelease:
    return HelmRelease.from_obj(
        {
            "apiVersion": "helmrelease.dev/v1",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"chart": CHART, **spec},
        },
        supported_only=supported_only,
    )
