"""The HelmRelease status models: conditions, history, `HelmReleaseStatus`, `status_to_obj`. Pure.

Status models ignore unknown fields, so an older controller can read a newer status.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
)

from helmrelease_controller.api.types import (
    _none_to_empty_list,
    _Status,
)

# --- status ---------------------------------------------------------------------------------------


class Condition(_Status):
    """A Kubernetes condition (metav1.Condition)."""

    model_config = ConfigDict(frozen=True)

    type: str
    """Ready, Released, Reconciling, Stalled, Remediated, TestSuccess or Drifted."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str = ""
    """CamelCase reason, e.g. InstallSucceeded, UpgradeFailed, Suspended."""
    message: str = ""
    """One line a human can act on."""
    last_transition_time: str | None = None
    """When status last changed (RFC 3339)."""
    observed_generation: int | None = None
    """metadata.generation the condition was computed for."""


class HelmTestHookStatus(_Status):
    """The last run of one test hook."""

    last_started: str | None = None
    """When the hook last started (RFC 3339)."""
    last_completed: str | None = None
    """When the hook last completed (RFC 3339)."""
    phase: str | None = None
    """Succeeded, Failed, Running or Unknown."""


class HistoryEntry(_Status):
    """A short snapshot of one Helm release revision."""

    model_config = ConfigDict(frozen=True)

    revision: int
    """Helm release revision."""
    name: str | None = None
    """Helm release name."""
    namespace: str | None = None
    """Namespace of the release."""
    chart_name: str
    """Chart name."""
    chart_version: str
    """Chart version."""
    app_version: str | None = None
    """The chart's appVersion."""
    config_digest: str
    """Digest of the merged values (never the values themselves)."""
    status: str
    """Helm release status: deployed, failed, superseded, uninstalled, pending-install, ..."""
    first_deployed: str | None = None
    """When the release was first deployed (RFC 3339)."""
    last_deployed: str | None = None
    """When this revision was deployed (RFC 3339)."""
    deleted: str | None = None
    """When the release was uninstalled (RFC 3339)."""
    test_hooks: dict[str, HelmTestHookStatus] | None = None
    """Test hooks of this revision by name, when helm test ran."""


class ConditionedStatus(_Status):
    """What every status of ours starts with: the generation last handled and the conditions.

    Status models are immutable: a new status is `model_copy(update=...)` of the old one, so a
    status computed twice from the same inputs is equal and an unchanged one is never written."""

    model_config = ConfigDict(frozen=True)

    observed_generation: int | None = None
    """metadata.generation last handled."""
    conditions: Annotated[list[Condition], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Reconciling, Stalled; HelmReleases also Released, Remediated, TestSuccess."""

    def condition(self, type_: str) -> Condition | None:
        """The condition of type `type_`, if present."""
        return next((c for c in self.conditions if c.type == type_), None)


class LastFailure(_Status):
    """Why the last failed install, upgrade or test failed, as the cluster showed it then."""

    action: str
    """install, upgrade or test."""
    revision: int | None = None
    """The release revision it made (or tested)."""
    time: str | None = None
    """When it failed (RFC 3339)."""
    summary: Annotated[list[str], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    """At most 10 lines naming the objects and reasons (workloads not ready, their pods, failed hook
    Jobs and test pods, Warning events); `helmrelease-controller why` shows everything."""
    changes: Annotated[list[str], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    """What the attempt changed against the deployed revision (chart version, values paths; a
    Secret-derived value as ***)."""


class HelmReleaseStatus(ConditionedStatus):
    """The observed state, written by the controller only."""

    suspended: bool = False
    """Whether reconciliation is suspended (spec.suspend or the helmrelease.dev/suspend annotation)."""
    helm_chart: str | None = None
    """Chart of the last attempt as <name>@<version>, e.g. podinfo@6.5.0."""
    storage_namespace: str | None = None
    """Namespace of Helm's release storage for the current release."""
    last_attempted_release_action: Literal["install", "upgrade"] | None = None
    """The last release action attempted: install or upgrade."""
    last_attempted_revision: str | None = None
    """Chart version plus source revision of the last attempt."""
    last_attempted_config_digest: str | None = None
    """Digest of chart plus merged values of the last attempt (never the values)."""
    last_attempted_generation: int | None = None
    """metadata.generation of the last attempt."""
    last_applied_revision: str | None = None
    """Chart version plus source revision of the last successful release."""
    install_failures: Annotated[int, Field(ge=0)] = 0
    """Consecutive install failures."""
    upgrade_failures: Annotated[int, Field(ge=0)] = 0
    """Consecutive upgrade failures."""
    failures: Annotated[int, Field(ge=0)] = 0
    """Consecutive reconcile failures of any kind."""
    next_retry_at: str | None = None
    """When the next retry is due (RFC 3339), while backing off."""
    history: Annotated[list[HistoryEntry], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)
    """At most maxHistory snapshots of release revisions, newest first."""
    last_tested_revision: int | None = None
    """Release revision that `helm test` last ran against (spec.test.enable)."""
    remediated_config_digest: str | None = None
    """Config digest whose failure was last remediated (rolled back or uninstalled), so it is not repeated."""
    last_handled_reconcile_at: str | None = None
    """Last handled value of the helmrelease.dev/reconcile-requested-at annotation."""
    last_handled_force_at: str | None = None
    """Last handled value of the helmrelease.dev/force-at annotation."""
    last_handled_reset_at: str | None = None
    """Last handled value of the helmrelease.dev/reset-at annotation."""
    last_failure: LastFailure | None = None
    """Why the last failed install, upgrade or test failed; cleared by the next successful one."""


def status_to_obj(status: HelmReleaseStatus, *, nulls: bool = False) -> dict[str, Any]:
    """`status` as the JSON object stored in the HelmRelease (camelCase keys, None fields left out).

    With `nulls=True`, top-level fields that are None are written as null instead, so that a JSON
    merge patch of the result clears them.
    """
    obj = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    if nulls:
        for name, info in type(status).model_fields.items():
            if getattr(status, name) is None:
                obj[info.alias or name] = None
    return obj
