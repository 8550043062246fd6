"""The HelmRelease spec models besides the chart: values and dependency references, install,
upgrade, rollback, uninstall and test options, backoff, remote clusters, `HelmReleaseSpec` (post-rendering
is api/postrender.py, drift detection api/drift.py). Pure.

Spec models reject unknown fields; a docstring under a field is what `kubectl explain` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from helmrelease_controller.api.chart import ChartRef, _exactly_one_rule
from helmrelease_controller.api.drift import DriftDetectionSpec
from helmrelease_controller.api.durations import DURATION_PATTERN, parse_duration
from helmrelease_controller.api.postrender import CommonMetadata, PostRenderer
from helmrelease_controller.api.types import (
    LIST_MAX_ITEMS,
    FreeForm,
    NamespaceName,
    NonEmptyStr,
    ObjectName,
    PositiveDuration,
    ReleaseName,
    Retries,
    _cel_string,
    _none_to_empty_list,
    _Spec,
    cel,
)

# --- valid but not built yet: refused by HelmRelease.unsupported() and by the CRD's rules -----------

STORAGE_NAMESPACE_UNSUPPORTED = "must equal the target namespace (helm stores a release in its own namespace)"
CREATE_REPLACE_UNSUPPORTED = (
    "CreateReplace is not supported yet (CRDs that exist are never replaced); use Create or Skip"
)
_CRDS_SUPPORTED = Field(
    json_schema_extra={
        "x-kubernetes-validations": [cel("self != 'CreateReplace'", CREATE_REPLACE_UNSUPPORTED)]
    }
)


# --- the rest of the spec -------------------------------------------------------------------------


class ValuesReference(_Spec):
    """Values read from a key of a ConfigMap or Secret in the HelmRelease's namespace."""

    kind: Literal["ConfigMap", "Secret"]
    """Kind of the object holding the values."""
    name: ObjectName
    """Name of the ConfigMap or Secret."""
    values_key: NonEmptyStr = "values.yaml"
    """Key holding the values: a YAML document, or a single value when targetPath is set."""
    target_path: NonEmptyStr | None = None
    """Dotted path (e.g. image.tag) to set to the key's raw value instead of merging a YAML document."""
    optional: bool = False
    """When true, a missing object or key is skipped instead of failing the reconcile."""


class DependencyReference(_Spec):
    """Another HelmRelease that must be Ready before this one is reconciled."""

    name: ObjectName
    """Name of the HelmRelease."""
    namespace: NamespaceName | None = None
    """Its namespace; this HelmRelease's namespace when omitted."""


class InstallRemediation(_Spec):
    """What to do when an install fails."""

    retries: Retries = 0
    """Retries after a failed install: 0 = none, -1 = forever."""

    def retries_exhausted(self, failures: int) -> bool:
        """True when `failures` exceed the allowed retries (never when retrying forever), as Flux."""
        return self.retries >= 0 and failures > self.retries


class UpgradeRemediation(_Spec):
    """What to do when an upgrade fails."""

    retries: Retries = 0
    """Retries after a failed upgrade: 0 = none, -1 = forever."""
    strategy: Literal["rollback", "uninstall"] = "rollback"
    """How to remediate a failed upgrade: rollback to the last deployed revision, or uninstall."""
    remediate_last_failure: bool | None = None
    """Remediate the last failure once retries are exhausted; defaults to true when retries > 0."""

    def must_remediate_last_failure(self) -> bool:
        """remediateLastFailure, defaulting as Flux: true when retries > 0. The one default (facts.py
        reads it); with retries -1 it is false and moot: retries never run out, so no failure is last."""
        if self.remediate_last_failure is not None:
            return self.remediate_last_failure
        return self.retries > 0

    def retries_exhausted(self, failures: int) -> bool:
        """True when `failures` exceed the allowed retries (never when retrying forever), as Flux."""
        return self.retries >= 0 and failures > self.retries


INSTALL_REPLACE_ALWAYS = (
    "cannot be false: helm upgrade --install always reuses the name of a release uninstalled with its "
    "history kept; remove it or set true"
)


def _check_replace(value: bool) -> bool:
    if not value:
        raise ValueError(INSTALL_REPLACE_ALWAYS)
    return value


class _ReleaseActionSpec(_Spec):
    """What install and upgrade share (Flux's names and meaning; docs/flux-compatibility.md)."""

    disable_wait: bool = False
    """Do not wait for resources to become ready (helm 4: its default wait, hookOnly)."""
    disable_wait_for_jobs: bool = False
    """When waiting, do not wait for Jobs to complete (no helm --wait-for-jobs)."""
    disable_hooks: bool = False
    """Do not run the chart's hooks (helm --no-hooks)."""
    disable_open_api_validation: bool = Field(default=False, alias="disableOpenAPIValidation")
    """Do not validate the rendered manifests against the Kubernetes OpenAPI schema (helm
    --disable-openapi-validation)."""
    disable_schema_validation: bool = False
    """Do not validate the values against the chart's values.schema.json (helm --skip-schema-validation)."""
    disable_take_ownership: bool = True
    """true (the default here, and all this controller did before): an object that exists but is not
    this release's fails the install or upgrade. false: take it over (helm --take-ownership). Flux
    defaults to false, taking such objects over."""


class InstallSpec(_ReleaseActionSpec):
    """How `helm install` runs."""

    create_namespace: bool = False
    """Create the target namespace if it does not exist."""
    crds: Annotated[Literal["Skip", "Create", "CreateReplace"], _CRDS_SUPPORTED] = "Create"
    """The chart's crds/ directory: Skip or Create (only new ones); CreateReplace: not supported yet."""
    replace: Annotated[
        bool,
        AfterValidator(_check_replace),
        WithJsonSchema(
            {"type": "boolean", "x-kubernetes-validations": [cel("self", INSTALL_REPLACE_ALWAYS)]}
        ),
    ] = True
    """Reuse the name of a release that was uninstalled with its history kept (helm install --replace):
    always true here, as helm upgrade --install always does it; false is refused."""
    remediation: InstallRemediation = Field(default_factory=InstallRemediation)
    """Failure handling."""


class UpgradeSpec(_ReleaseActionSpec):
    """How `helm upgrade` runs."""

    force: bool = False
    """Replace resources instead of patching them (helm --force / --force-replace)."""
    force_conflicts: bool = False
    """Take over fields other field managers own (helm 4 --force-conflicts); default: report the conflict."""
    cleanup_on_fail: bool = False
    """Delete resources created by a failed upgrade."""
    crds: Annotated[Literal["Skip", "Create", "CreateReplace"], _CRDS_SUPPORTED] = "Skip"
    """The chart's crds/ directory on upgrade: Skip or Create; CreateReplace: not supported yet."""
    preserve_values: bool = False
    """Reuse the last release's values and merge these over them (helm --reuse-values): a key removed
    from the spec keeps its old value, so the release is no longer declarative. Default: the values
    are exactly the spec's (helm --reset-values)."""
    remediation: UpgradeRemediation = Field(default_factory=UpgradeRemediation)
    """Failure handling."""


class RollbackSpec(_Spec):
    """How `helm rollback` runs when remediating a failed upgrade."""

    force: bool = False
    """Replace resources instead of patching them."""
    cleanup_on_fail: bool = False
    """Delete resources created by a failed rollback."""
    disable_wait: bool = False
    """Do not wait for resources to become ready."""
    disable_wait_for_jobs: bool = False
    """When waiting, do not wait for Jobs to complete (no helm --wait-for-jobs)."""
    disable_hooks: bool = False
    """Do not run the chart's rollback hooks (helm --no-hooks)."""
    recreate: bool = False
    """Restart the workloads' pods (helm 3 --recreate-pods); helm 4 has no such flag: refused there."""
    timeout: PositiveDuration | None = None
    """Timeout of the rollback; spec.timeout when omitted."""


class UninstallSpec(_Spec):
    """How `helm uninstall` runs."""

    keep_history: bool = False
    """Keep the release history (helm uninstall --keep-history)."""
    disable_hooks: bool = False
    """Do not run the chart's uninstall hooks."""
    disable_wait: bool = False
    """Do not wait until the release's objects are deleted (no helm --wait)."""
    deletion_propagation: Literal["background", "foreground", "orphan"] = "background"
    """How the objects' dependents go (helm --cascade): background, foreground, or orphan (kept)."""
    timeout: PositiveDuration | None = None
    """Timeout of the uninstall; spec.timeout when omitted."""


class HelmTestFilter(_Spec):
    """One test hook to run, or to leave out."""

    name: ObjectName
    """Name of the test hook (its object name)."""
    exclude: bool = False
    """Leave this test out instead (helm test --filter '!name=...')."""


class HelmTestSpec(_Spec):
    """Whether and how `helm test` runs after an install or upgrade."""

    enable: bool = False
    """Run the chart's test hooks after each install or upgrade."""
    ignore_failures: bool = False
    """Record test failures in status without treating the release as failed."""
    timeout: PositiveDuration | None = None
    """Timeout of helm test; spec.timeout when omitted."""
    filters: Annotated[list[HelmTestFilter], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Tests to run (by name) or to exclude; every test when empty (helm test --filter)."""


class WaitStrategy(_Spec):
    """How helm waits for resources to become ready."""

    name: Literal["poller", "legacy"]
    """poller: helm 4's kstatus watcher (--wait=watcher; needs helm 4). legacy: helm 3's wait
    (helm 4 --wait=legacy, helm 3 --wait)."""


KUBECONFIG_ONE_REF = (
    "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"
)
KUBECONFIG_CONFIGMAP_UNSUPPORTED = (
    "is not supported yet (a kubeconfig from a cloud provider's workload identity); "
    "use secretRef with a kubeconfig"
)


class KubeConfigSecretRef(_Spec):
    """A key of a Secret in the HelmRelease's namespace holding a kubeconfig."""

    name: ObjectName
    """Name of the Secret."""
    key: NonEmptyStr | None = None
    """Key holding the kubeconfig; value, else value.yaml, when omitted."""


class KubeConfigMapRef(_Spec):
    """A ConfigMap in the HelmRelease's namespace (Flux: a workload identity provider's settings)."""

    name: ObjectName
    """Name of the ConfigMap."""


class KubeConfigReference(_Spec):
    """The cluster the release is installed into, when it is not the controller's own."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(_exactly_one_rule("configMapRef", "secretRef"), KUBECONFIG_ONE_REF),
                cel("!has(self.configMapRef)", KUBECONFIG_CONFIGMAP_UNSUPPORTED, ".configMapRef"),
            ]
        }
    )

    secret_ref: KubeConfigSecretRef | None = None
    """A Secret whose key holds a kubeconfig of the remote cluster: inline data only (token or
    client certificate); exec, auth-provider and file paths are refused (docs/remote-clusters.md)."""
    config_map_ref: KubeConfigMapRef | None = None
    """Flux's workload identity kubeconfig (provider, cluster, address): not supported yet, refused."""

    @model_validator(mode="after")
    def _exactly_one(self) -> KubeConfigReference:
        if (self.secret_ref is None) == (self.config_map_ref is None):
            raise ValueError(KUBECONFIG_ONE_REF)
        return self


BACKOFF_INITIAL = "10s"
BACKOFF_MAX = "10m"
_MAX_BELOW_INITIAL = "max must not be shorter than initial"
# The fields as the controller reads them, defaults included, in CEL.
_BACKOFF_INITIAL = f"(has(self.initial) ? self.initial : {_cel_string(BACKOFF_INITIAL)})"
_BACKOFF_MAX = f"(has(self.max) ? self.max : {_cel_string(BACKOFF_MAX)})"


class BackoffSpec(_Spec):
    """Delay between retries of a failed reconcile: initial * factor^n, capped at max, with jitter."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    f"!({_BACKOFF_MAX}.matches({_cel_string(DURATION_PATTERN)}) "
                    f"&& {_BACKOFF_INITIAL}.matches({_cel_string(DURATION_PATTERN)})) "
                    f"|| duration({_BACKOFF_MAX}) >= duration({_BACKOFF_INITIAL})",
                    _MAX_BELOW_INITIAL,
                )
            ]
        }
    )

    initial: PositiveDuration = BACKOFF_INITIAL
    """Delay after the first failure."""
    max: PositiveDuration = BACKOFF_MAX
    """Longest delay."""
    factor: Annotated[float, Field(ge=1)] = 2.0
    """Multiplier per consecutive failure (>= 1)."""
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.1
    """Random spread, as a fraction of the delay, in [0, 1]."""

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> BackoffSpec:
        if parse_duration(self.max) < parse_duration(self.initial):
            raise ValueError(f"max ({self.max}) {_MAX_BELOW_INITIAL.removeprefix('max ')} ({self.initial})")
        return self

    @property
    def initial_seconds(self) -> float:
        """`initial` in seconds."""
        return parse_duration(self.initial)

    @property
    def max_seconds(self) -> float:
        """`max` in seconds."""
        return parse_duration(self.max)


class _Scheduled(_Spec):
    """A spec with an `interval` and a `timeout` (durations), in seconds too. Each kind declares the
    two fields itself (defaults, docs and their place in the schema are its own)."""

    if TYPE_CHECKING:
        interval: str
        timeout: str

    @property
    def interval_seconds(self) -> float:
        """`interval` in seconds."""
        return parse_duration(self.interval)

    @property
    def timeout_seconds(self) -> float:
        """`timeout` in seconds."""
        return parse_duration(self.timeout)


class HelmReleaseSpec(_Scheduled):
    """The desired state of a Helm release."""

    # HelmRelease.unsupported() refuses these too (the storage namespace also when only the
    # object's namespace says what the target is: a CRD rule cannot see metadata.namespace).
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.storageNamespace) || !has(self.targetNamespace) "
                    "|| self.storageNamespace == self.targetNamespace",
                    STORAGE_NAMESPACE_UNSUPPORTED,
                    ".storageNamespace",
                ),
            ]
        }
    )

    chart: ChartRef
    """Where the chart comes from: exactly one of git, repository or oci."""
    release_name: ReleaseName | None = None
    """Helm release name; metadata.name, or <targetNamespace>-<metadata.name> when targetNamespace is set."""
    target_namespace: NamespaceName | None = None
    """Namespace the release is installed into; the HelmRelease's namespace when omitted."""
    storage_namespace: NamespaceName | None = None
    """Namespace of Helm's release storage; the target namespace when omitted."""
    service_account_name: ObjectName | None = None
    """ServiceAccount of the HelmRelease's namespace that helm acts as (impersonation): the release
    can do what its RBAC allows. Omitted: the controller's --default-service-account, else the
    controller itself (docs/security.md). With kubeConfig, impersonated in the remote cluster."""
    kube_config: KubeConfigReference | None = None
    """Install the release into another cluster, with a kubeconfig from a Secret of this namespace:
    helm and Helm's storage are there; chart, values, status and events stay here. targetNamespace
    and storageNamespace are the remote cluster's (docs/remote-clusters.md)."""
    interval: PositiveDuration = "5m"
    """How often the cluster is checked against the spec (no Helm call when nothing changed)."""
    timeout: PositiveDuration = "5m"
    """Timeout of each Helm action (install, upgrade, test, rollback, uninstall)."""
    suspend: bool = False
    """Stop reconciling; the annotation helmrelease.dev/suspend: "true" suspends too."""
    values: FreeForm = Field(default_factory=dict)
    """Values merged last, over the chart's values.yaml and valuesFrom."""
    values_from: Annotated[list[ValuesReference], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Values from ConfigMaps and Secrets, merged in order over the chart's values.yaml."""
    depends_on: Annotated[list[DependencyReference], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """HelmReleases that must be Ready before this one is reconciled."""
    max_history: Annotated[int, Field(ge=0)] = 5
    """Revisions kept in Helm's storage and in status.history (helm --history-max; 0 = unlimited)."""
    install: InstallSpec = Field(default_factory=InstallSpec)
    """How helm install runs."""
    upgrade: UpgradeSpec = Field(default_factory=UpgradeSpec)
    """How helm upgrade runs."""
    rollback: RollbackSpec = Field(default_factory=RollbackSpec)
    """How helm rollback runs."""
    uninstall: UninstallSpec = Field(default_factory=UninstallSpec)
    """How helm uninstall runs."""
    test: HelmTestSpec = Field(default_factory=HelmTestSpec)
    """Whether helm test runs after install and upgrade."""
    backoff: BackoffSpec = Field(default_factory=BackoffSpec)
    """Delay between retries of a failed reconcile."""
    keep_failed_release: bool = False
    """On failure leave the failed release in place for debugging: no rollback, no uninstall."""
    drift_detection: DriftDetectionSpec = Field(default_factory=DriftDetectionSpec)
    """Detection of changes made outside Helm: not built yet, so mode must stay disabled."""
    wait_strategy: WaitStrategy | None = None
    """How helm waits for resources (install, upgrade, rollback, uninstall): poller on helm 4,
    legacy on helm 3 when omitted."""
    post_renderers: Annotated[list[PostRenderer], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Kustomizations applied in order to the rendered manifests before helm applies them (install,
    upgrade; helm 4 also passes hooks through them, helm 3 does not)."""
    common_metadata: CommonMetadata | None = None
    """Labels and annotations added to every rendered object, after the postRenderers."""

    @property
    def wait_strategy_name(self) -> str:
        """waitStrategy.name; "" when omitted (helm 4 then waits as poller, helm 3 as legacy)."""
        return self.wait_strategy.name if self.wait_strategy else ""

    @model_validator(mode="before")
    @classmethod
    def _chart_missing_means_empty(cls, data: Any) -> Any:
        # A missing chart gets the same actionable message as an empty one.
        if isinstance(data, dict) and data.get("chart") is None:
            data = {**data, "chart": {}}
        return data
