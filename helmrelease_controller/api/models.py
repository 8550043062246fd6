"""The HelmRelease object: `KubeObject`, `HelmRelease` and `SpecError` (its lines: errors.py). Pure.

Owns the contract of DESIGN.md ("Names", "HelmRelease spec", "Status") as a whole: the object a
user writes, the derived names (release name, target and storage namespace, suspension) and
`SpecError`, the one-line explanation of an invalid object. The parts live in sibling modules:
names.py (constants), types.py (validated scalar types, CEL helpers), chart.py (spec.chart),
spec.py (the rest of the spec), status.py (status models), errors.py (pydantic errors in one
line). This module re-exports their public names and the private ones other modules use, so
`from helmrelease_controller.api.models import X` keeps working. The CRD (crd.py) is generated
from these models, so a docstring under a field is what `kubectl explain hr.spec.<field>` prints.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from helmrelease_controller.api.chart import (
    VERIFY_PROVIDER_UNSUPPORTED,
    ChartRef,
    ChartVerification,
    GitChartSource,
    GitRef,
    OCIChartSource,
    RepositoryChartSource,
    SecretRef,
)
from helmrelease_controller.api.drift import DriftDetectionSpec, DriftIgnoreRule
from helmrelease_controller.api.errors import describe
from helmrelease_controller.api.names import (
    ANNOTATION_FORCE_AT,
    ANNOTATION_PREFIX,
    ANNOTATION_RECONCILE_REQUESTED_AT,
    ANNOTATION_RESET_AT,
    ANNOTATION_SUSPEND,
    API_VERSION,
    CONDITION_DRIFTED,
    CONDITION_READY,
    CONDITION_RECONCILING,
    CONDITION_RELEASED,
    CONDITION_REMEDIATED,
    CONDITION_STALLED,
    CONDITION_TEST_SUCCESS,
    CONDITION_TYPES,
    CRD_NAME,
    FINALIZER,
    GROUP,
    KIND,
    LIST_KIND,
    PLURAL,
    REASON_SUSPENDED,
    RELEASE_NAME_MAX_LENGTH,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
)
from helmrelease_controller.api.spec import (
    BACKOFF_INITIAL as BACKOFF_INITIAL,
)
from helmrelease_controller.api.spec import (
    BACKOFF_MAX as BACKOFF_MAX,
)
from helmrelease_controller.api.spec import (
    CREATE_REPLACE_UNSUPPORTED,
    KUBECONFIG_CONFIGMAP_UNSUPPORTED,
    BackoffSpec,
    DependencyReference,
    HelmReleaseSpec,
    HelmTestFilter,
    HelmTestSpec,
    InstallRemediation,
    InstallSpec,
    RollbackSpec,
    UninstallSpec,
    UpgradeRemediation,
    UpgradeSpec,
    ValuesReference,
    WaitStrategy,
)
from helmrelease_controller.api.spec import (
    INSTALL_REPLACE_ALWAYS as INSTALL_REPLACE_ALWAYS,
)
from helmrelease_controller.api.spec import (
    STORAGE_NAMESPACE_UNSUPPORTED as STORAGE_NAMESPACE_UNSUPPORTED,
)
from helmrelease_controller.api.spec import (
    KubeConfigReference as KubeConfigReference,
)
from helmrelease_controller.api.spec import (
    _Scheduled as _Scheduled,
)
from helmrelease_controller.api.status import (
    Condition,
    HelmReleaseStatus,
    HelmTestHookStatus,
    HistoryEntry,
    LastFailure,
    status_to_obj,
)
from helmrelease_controller.api.status import (
    ConditionedStatus as ConditionedStatus,
)
from helmrelease_controller.api.types import (
    LIST_MAX_ITEMS as LIST_MAX_ITEMS,
)
from helmrelease_controller.api.types import (
    CommitSha as CommitSha,
)
from helmrelease_controller.api.types import (
    Duration as Duration,
)
from helmrelease_controller.api.types import (
    FreeForm as FreeForm,
)
from helmrelease_controller.api.types import (
    HttpUrl as HttpUrl,
)
from helmrelease_controller.api.types import (
    JsonPointer as JsonPointer,
)
from helmrelease_controller.api.types import (
    NamespaceName as NamespaceName,
)
from helmrelease_controller.api.types import (
    NonEmptyStr as NonEmptyStr,
)
from helmrelease_controller.api.types import (
    ObjectName as ObjectName,
)
from helmrelease_controller.api.types import (
    OciDigest as OciDigest,
)
from helmrelease_controller.api.types import (
    OciUrl as OciUrl,
)
from helmrelease_controller.api.types import (
    PositiveDuration as PositiveDuration,
)
from helmrelease_controller.api.types import (
    RelativePath as RelativePath,
)
from helmrelease_controller.api.types import (
    ReleaseName as ReleaseName,
)
from helmrelease_controller.api.types import (
    Retries as Retries,
)
from helmrelease_controller.api.types import (
    _none_to_empty_list as _none_to_empty_list,
)
from helmrelease_controller.api.types import (
    _Spec as _Spec,
)
from helmrelease_controller.api.types import (
    _Status as _Status,
)
from helmrelease_controller.api.types import (
    cel as cel,
)

__all__ = [
    "ANNOTATION_FORCE_AT",
    "ANNOTATION_PREFIX",
    "ANNOTATION_RECONCILE_REQUESTED_AT",
    "ANNOTATION_RESET_AT",
    "ANNOTATION_SUSPEND",
    "API_VERSION",
    "CONDITION_DRIFTED",
    "CONDITION_READY",
    "CONDITION_RECONCILING",
    "CONDITION_RELEASED",
    "CONDITION_REMEDIATED",
    "CONDITION_STALLED",
    "CONDITION_TEST_SUCCESS",
    "CONDITION_TYPES",
    "CRD_NAME",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LIST_KIND",
    "PLURAL",
    "REASON_SUSPENDED",
    "RELEASE_NAME_MAX_LENGTH",
    "SHORT_NAMES",
    "SINGULAR",
    "VERSION",
    "BackoffSpec",
    "ChartRef",
    "ChartVerification",
    "Condition",
    "DependencyReference",
    "DriftDetectionSpec",
    "DriftIgnoreRule",
    "GitChartSource",
    "GitRef",
    "HelmRelease",
    "HelmReleaseSpec",
    "HelmReleaseStatus",
    "HelmTestFilter",
    "HelmTestHookStatus",
    "HelmTestSpec",
    "HistoryEntry",
    "InstallRemediation",
    "InstallSpec",
    "LastFailure",
    "OCIChartSource",
    "RepositoryChartSource",
    "RollbackSpec",
    "SecretRef",
    "SpecError",
    "UninstallSpec",
    "UpgradeRemediation",
    "UpgradeSpec",
    "ValuesReference",
    "WaitStrategy",
    "shorten_release_name",
    "status_to_obj",
]


# --- the object -----------------------------------------------------------------------------------


def shorten_release_name(name: str) -> str:
    """`name` cut to Helm's 53 characters as Flux does: 40 characters, '-', 12 hex of its sha256."""
    if len(name) <= RELEASE_NAME_MAX_LENGTH:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    return name[: RELEASE_NAME_MAX_LENGTH - 13] + "-" + digest[:12]


class SpecError(ValueError):
    """An invalid HelmRelease; str() is one line a human can act on, e.g.
    `spec.chart: exactly one of git, repository or oci must be set`.

    `messages` holds one such line per problem found (str() shows the first and a count).
    """

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        super().__init__(messages[0] + more)


class KubeObject(BaseModel):
    """What our kinds share: apiVersion, kind, metadata (a plain dict, with a name) and one-line
    errors (`SpecError`) from validation."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    api_version: Literal["helmrelease.dev/v1"] = API_VERSION
    """helmrelease.dev/v1."""
    kind: str
    """The kind."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Standard Kubernetes object metadata."""

    @field_validator("metadata")
    @classmethod
    def _has_name(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("name is required")
        return metadata

    @classmethod
    def _validated(cls, obj: Any) -> Self:
        """`obj` validated; SpecError with one line per problem when it is invalid ("did you mean"
        suggestions come from `cls`'s own fields)."""
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            raise SpecError([describe(err, cls) for err in exc.errors(include_url=False)]) from None

    @property
    def name(self) -> str:
        """metadata.name."""
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        """metadata.namespace ("default" when absent, as kubectl applies it)."""
        return str(self.metadata.get("namespace") or "default")

    @property
    def generation(self) -> int:
        """metadata.generation (0 when absent)."""
        return int(self.metadata.get("generation") or 0)


class HelmRelease(KubeObject):
    """A HelmRelease object: apiVersion, kind, metadata (a plain dict), spec and status."""

    kind: Literal["HelmRelease"] = KIND
    """HelmRelease."""
    spec: HelmReleaseSpec
    """The desired state."""
    status: HelmReleaseStatus | None = None
    """The observed state."""

    @classmethod
    def from_obj(cls, obj: Any, *, supported_only: bool = True) -> HelmRelease:
        """Parse a HelmRelease object (a dict as the API server returns it, or loaded YAML).

        Raises SpecError with a one-line message when it is invalid, or (unless `supported_only`
        is false, e.g. to uninstall a release that an older controller installed) when it asks
        for something this controller cannot do yet (`unsupported`).
        """
        hr = cls._validated(obj)
        problems = hr.unsupported() if supported_only else []
        if problems:
            raise SpecError(problems)
        return hr

    def unsupported(self) -> list[str]:
        """One line per spec field that is valid but not built: refused, never silently ignored."""
        spec, problems = self.spec, []
        if spec.storage_namespace and spec.storage_namespace != self.target_namespace:
            # The helm CLI keeps a release's storage in the release's own --namespace; a separate
            # storage namespace (Flux's SDK feature) cannot be honoured, so it is refused, not ignored.
            # STORAGE_NAMESPACE_UNSUPPORTED, naming the namespace.
            problems.append(
                f"spec.storageNamespace: must equal the target namespace {self.target_namespace!r} "
                "(helm stores a release in its own namespace)"
            )
        for field_path, crds in (("install", spec.install.crds), ("upgrade", spec.upgrade.crds)):
            if crds == "CreateReplace":
                problems.append(f"spec.{field_path}.crds: {CREATE_REPLACE_UNSUPPORTED}")
        if spec.kube_config is not None and spec.kube_config.config_map_ref is not None:
            problems.append(f"spec.kubeConfig.configMapRef: {KUBECONFIG_CONFIGMAP_UNSUPPORTED}")
        if spec.chart.verify is not None and spec.chart.verify.provider != "helm":
            problems.append(
                f"spec.chart.verify.provider: {spec.chart.verify.provider} {VERIFY_PROVIDER_UNSUPPORTED}"
            )
        return problems

    def to_obj(self) -> dict[str, Any]:
        """The object as JSON-ready dict (camelCase, None left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def uid(self) -> str | None:
        """metadata.uid."""
        uid = self.metadata.get("uid")
        return str(uid) if uid is not None else None

    @property
    def annotations(self) -> dict[str, str]:
        """metadata.annotations (empty when absent)."""
        return dict(self.metadata.get("annotations") or {})

    def annotation(self, name: str) -> str | None:
        """The value of a helmrelease.dev/ annotation: "suspend", "reconcile-requested-at", "force-at",
        "reset-at" (the full name with prefix works too); None when absent."""
        key = name if name.startswith(ANNOTATION_PREFIX) else ANNOTATION_PREFIX + name
        value = self.annotations.get(key)
        return None if value is None else str(value)

    @property
    def release_name(self) -> str:
        """spec.releaseName, else [<targetNamespace>-]<metadata.name> shortened to 53 characters (Flux)."""
        if self.spec.release_name:
            return self.spec.release_name
        if self.spec.target_namespace:
            return shorten_release_name(f"{self.spec.target_namespace}-{self.name}")
        return shorten_release_name(self.name)

    @property
    def target_namespace(self) -> str:
        """spec.targetNamespace, else the HelmRelease's namespace."""
        return self.spec.target_namespace or self.namespace

    @property
    def storage_namespace(self) -> str:
        """spec.storageNamespace, else the target namespace."""
        return self.spec.storage_namespace or self.target_namespace

    @property
    def suspended(self) -> bool:
        """spec.suspend, or the annotation helmrelease.dev/suspend set to "true" (any case)."""
        value = self.annotation(ANNOTATION_SUSPEND)
        return self.spec.suspend or (value is not None and value.strip().lower() == "true")
