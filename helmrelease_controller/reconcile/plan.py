"""The resolved release and the plan for it: what helm is asked to do (`ReleaseTarget`) and what
status records about the attempt (`Attempt`), from the HelmRelease and its resolved chart and
values. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import values as valuesmod
from ..api.models import HelmRelease
from ..postrender import PostRender
from ..sources.base import ResolvedChart
from .actions import Attempt, ReleaseTarget
from .gates import backoff_of
from .helmstorage import ReleaseObservation


@dataclass(frozen=True)
class Resolved:
    """What the reconcile releases: the chart, the merged user values and their secrets."""

    chart: ResolvedChart
    values: dict[str, Any]
    secrets: set[str]
    release: ReleaseObservation  # Helm's storage at the first look
    secret_paths: frozenset[tuple[str, ...]] = frozenset()  # where the values came from Secrets


@dataclass(frozen=True)
class Plan:
    """The resolved release: where and what helm is asked to do, and how status describes it."""

    target: ReleaseTarget
    attempt: Attempt
    secrets: set[str]
    fields: dict[str, Any]  # for notifications: release, namespace, chart, version


def release_plan(hr: HelmRelease, r: Resolved, gen: int, helm_user: str | None = None) -> Plan:
    """What helm is asked to do (the target) and what status records about the attempt. Pure."""
    spec, chart = hr.spec, r.chart
    post_render = PostRender.from_spec(spec)  # a changed patch is a changed config: an upgrade
    digest = valuesmod.config_digest(chart.digest, r.values, post_render.to_json() if post_render else None)
    target = ReleaseTarget(
        owner_namespace=hr.namespace,
        owner_name=hr.name,
        release=hr.release_name,
        namespace=hr.target_namespace,
        storage_namespace=hr.storage_namespace,
        chart_path=chart.path,
        values=r.values,
        config_digest=digest,
        history_max=spec.max_history,
        timeout=spec.timeout,
        helm_user=helm_user,
        post_render=post_render,
        secret_paths=r.secret_paths,
    )
    attempt = Attempt(
        namespace=target.namespace,
        release=target.release,
        config_digest=digest,
        chart_name=chart.name,
        chart_version=chart.version,
        app_version=chart.app_version,
        chart_revision=chart.revision,
        max_history=spec.max_history,
        backoff=backoff_of(spec),
        test_ignore_failures=spec.test.ignore_failures,
        generation=gen,
    )
    fields = {
        "release": target.release,
        "target_namespace": target.namespace,
        "chart": chart.name,
        "version": chart.version,
    }
    return Plan(target, attempt, r.secrets, fields)
