"""HelmRelease models for unit tests of pure logic: a repository chart plus the spec fields given."""

from __future__ import annotations

from typing import Any

from helmrelease_controller.api.models import HelmRelease

CHART = {"repository": {"url": "https://charts.example", "name": "web"}}


def hr_model(*, supported_only: bool = True, **spec: Any) -> HelmRelease:
    """HelmRelease team-a/web with `spec` (camelCase, as a user writes it) over a repository chart."""
    return HelmRelease.from_obj(
        {
            "apiVersion": "helmrelease.dev/v1",
            "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {"chart": CHART, **spec},
        },
        supported_only=supported_only,
    )
