"""The HelmRelease API: pydantic models of spec and status, names and constants. Pure.

Owns the contract of DESIGN.md ("Names", "HelmRelease spec", "Status"): what a user may write
in a HelmRelease (spec models reject unknown fields), what the controller records in status
(status models ignore unknown fields, so an older controller can read a newer status), the
derived names (release name, target and storage namespace, suspension), and `SpecError`, the
one-line explanation of an invalid object. The CRD (crd.py) is generated from these models, so
a docstring under a field here is what `kubectl explain hr.spec.<field>` prints.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from helmrelease_controller.api.durations import DURATION_PATTERN, parse_duration

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

# --- Names (DESIGN.md "Names": a contract) -------------------------------------------------------

GROUP = "helmrelease.dev"
VERSION = "v1"
API_VERSION: Final = "helmrelease.dev/v1"
KIND: Final = "HelmRelease"
LIST_KIND = "HelmReleaseList"
PLURAL = "helmreleases"
SINGULAR = "helmrelease"
SHORT_NAMES: tuple[str, ...] = ("hr",)
CRD_NAME = f"{PLURAL}.{GROUP}"
FINALIZER = f"{GROUP}/finalizer"

ANNOTATION_PREFIX = f"{GROUP}/"
ANNOTATION_SUSPEND = f"{GROUP}/suspend"
ANNOTATION_RECONCILE_REQUESTED_AT = f"{GROUP}/reconcile-requested-at"
ANNOTATION_FORCE_AT = f"{GROUP}/force-at"
ANNOTATION_RESET_AT = f"{GROUP}/reset-at"

CONDITION_READY = "Ready"
CONDITION_RELEASED = "Released"
CONDITION_RECONCILING = "Reconciling"
CONDITION_STALLED = "Stalled"
CONDITION_REMEDIATED = "Remediated"
CONDITION_TEST_SUCCESS = "TestSuccess"
CONDITION_DRIFTED = "Drifted"
CONDITION_TYPES: tuple[str, ...] = (
    CONDITION_READY,
    CONDITION_RELEASED,
    CONDITION_RECONCILING,
    CONDITION_STALLED,
    CONDITION_REMEDIATED,
    CONDITION_TEST_SUCCESS,
    CONDITION_DRIFTED,
)
REASON_SUSPENDED = "Suspended"

#: Helm refuses longer release names.
RELEASE_NAME_MAX_LENGTH = 53


# --- Validated scalar types -----------------------------------------------------------------------

_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry of the CRD: a CEL `rule` and the controller's `message`.

    A rule sits next to the validator that enforces the same thing (in the type's or the model's
    JSON schema), and its message is the validator's words without the interpolated value (a CRD
    message is a static string), so `kubectl apply` and the controller refuse alike.
    """
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def _cel_string(text: str) -> str:
    """`text` as a single-quoted CEL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _string_schema(*rules: dict[str, Any], max_length: int | None = None) -> WithJsonSchema:
    """The CRD schema of a string type: its CEL rules, and a maxLength when the type has one (which
    also bounds what the API server estimates a rule on it may cost)."""
    schema: dict[str, Any] = {"type": "string"}
    if max_length is not None:
        schema["maxLength"] = max_length
    schema["x-kubernetes-validations"] = list(rules)
    return WithJsonSchema(schema)


def _name_message(what: str, pattern: str) -> str:
    allowed = "lowercase letters, digits and '-'" + (" or '.'" if "\\." in pattern else "")
    return f"is not a valid {what}: use {allowed}, starting and ending with a letter or digit"


def _name_check(what: str, pattern: str, max_length: int) -> Callable[[str], str]:
    """A validator for Kubernetes-style names, with a message saying what is allowed."""
    compiled = re.compile(pattern)
    message = _name_message(what, pattern)

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(
                f"{value!r} is too long for a {what}: may not be more than {max_length} characters "
                f"(it has {len(value)})"
            )
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} {message}")
        return value

    return check


def _name_schema(what: str, pattern: str, max_length: int) -> WithJsonSchema:
    """The CRD schema of a name type: maxLength, and a CEL rule with _name_check's words."""
    return _string_schema(
        cel(f"self.matches({_cel_string(pattern)})", _name_message(what, pattern)), max_length=max_length
    )


_DURATION_MAX_LENGTH = 64
_NEGATIVE = "must not be negative"
_NOT_A_DURATION = 'invalid duration: use a Go duration such as "30s", "5m", "1h30m" or "750ms"'
_NOT_ABOVE_ZERO = "must be greater than 0s"
_IS_DURATION = f"self.matches({_cel_string(DURATION_PATTERN)})"


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_positive_duration(value: str) -> str:
    if parse_duration(value) <= 0:
        raise ValueError(f"invalid duration {value!r}: {_NOT_ABOVE_ZERO}")
    return value


_RETRIES = "must be -1 (retry forever) or a number of retries >= 0"


def _check_retries(value: int) -> int:
    if value < -1:
        raise ValueError(f"{_RETRIES}, got {value}")
    return value


_PATH_MAX_LENGTH = 4096
_NOT_RELATIVE = "must be a path relative to the repository root, without '..'"


def _check_relative_path(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or ".." in parts:
        raise ValueError(f"{value!r} {_NOT_RELATIVE}")
    return value


_NOT_A_POINTER = "is not a JSON pointer: it must start with '/', e.g. /spec/replicas"


def _check_json_pointer(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} {_NOT_A_POINTER}")
    return value


def _matching(pattern: str, requirement: str) -> AfterValidator:
    """A validator: the value must match `pattern`, else `'<value>' <requirement>`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} {requirement}")
        return value

    return AfterValidator(check)


def _matching_schema(pattern: str, requirement: str) -> WithJsonSchema:
    """The CRD schema of a _matching type: a CEL rule with the same words."""
    return _string_schema(cel(f"self.matches({_cel_string(pattern)})", requirement))


def _none_to_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


#: Lists whose items carry CEL rules are bounded: the API server refuses a CRD whose rules it
#: estimates could cost too much, and an unbounded list multiplies its items' cost without end.
LIST_MAX_ITEMS = 100

# Field constraints (min_length, ge, ...) become CEL rules with the controller's words in crd.py.
NonEmptyStr = Annotated[str, Field(min_length=1)]
Duration = Annotated[
    str,
    Field(max_length=_DURATION_MAX_LENGTH),
    AfterValidator(_check_duration),
    _string_schema(
        cel("!self.startsWith('-')", _NEGATIVE),
        cel(f"self.startsWith('-') || {_IS_DURATION}", _NOT_A_DURATION),
        max_length=_DURATION_MAX_LENGTH,
    ),
]
# A duration above zero: the grammar's rules guard the comparison, so an invalid string is one
# error (the grammar's), not an evaluation error too.
PositiveDuration = Annotated[
    str,
    Field(max_length=_DURATION_MAX_LENGTH),
    AfterValidator(_check_positive_duration),
    _string_schema(
        cel("!self.startsWith('-')", _NEGATIVE),
        cel(f"self.startsWith('-') || {_IS_DURATION}", _NOT_A_DURATION),
        cel(f"!{_IS_DURATION} || duration(self) > duration('0s')", _NOT_ABOVE_ZERO),
        max_length=_DURATION_MAX_LENGTH,
    ),
]
RelativePath = Annotated[
    str,
    Field(max_length=_PATH_MAX_LENGTH),
    AfterValidator(_check_relative_path),
    _string_schema(
        cel(
            r"!self.startsWith('/') && !self.replace('\\', '/').split('/').exists(p, p == '..')",
            _NOT_RELATIVE,
        ),
        max_length=_PATH_MAX_LENGTH,
    ),
]
JsonPointer = Annotated[
    str,
    Field(min_length=1),
    AfterValidator(_check_json_pointer),
    _string_schema(cel("size(self) >= 1", "must not be empty"), cel("self.startsWith('/')", _NOT_A_POINTER)),
]
Retries = Annotated[
    int,
    AfterValidator(_check_retries),
    WithJsonSchema({"type": "integer", "x-kubernetes-validations": [cel("self >= -1", _RETRIES)]}),
]
_NAMESPACE = ("namespace name", _DNS1123_LABEL, 63)
_OBJECT = ("object name", _DNS1123_SUBDOMAIN, 253)
_RELEASE = ("Helm release name", _DNS1123_SUBDOMAIN, RELEASE_NAME_MAX_LENGTH)
NamespaceName = Annotated[str, AfterValidator(_name_check(*_NAMESPACE)), _name_schema(*_NAMESPACE)]
ObjectName = Annotated[str, AfterValidator(_name_check(*_OBJECT)), _name_schema(*_OBJECT)]
ReleaseName = Annotated[str, AfterValidator(_name_check(*_RELEASE)), _name_schema(*_RELEASE)]
_COMMIT = (r"^[0-9a-f]{7,64}$", "is not a commit SHA (7 to 64 lowercase hex digits)")
_HTTP_URL = (r"^https?://\S+$", "is not an http:// or https:// URL")
_OCI_URL = (r"^oci://\S+$", "is not an OCI chart reference: it must start with oci://")
_OCI_DIGEST = (r"^sha256:[0-9a-f]{64}$", "is not a digest: expected sha256: and 64 lowercase hex digits")
CommitSha = Annotated[str, _matching(*_COMMIT), _matching_schema(*_COMMIT)]
HttpUrl = Annotated[str, _matching(*_HTTP_URL), _matching_schema(*_HTTP_URL)]
OciUrl = Annotated[str, _matching(*_OCI_URL), _matching_schema(*_OCI_URL)]
OciDigest = Annotated[str, _matching(*_OCI_DIGEST), _matching_schema(*_OCI_DIGEST)]
FreeForm = Annotated[dict[str, Any], BeforeValidator(_none_to_empty_dict)]


class _Spec(BaseModel):
    """Base of spec models: camelCase in YAML, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )


class _Status(BaseModel):
    """Base of status models: camelCase in YAML, snake_case in Python, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )


# --- valid but not built yet: refused by HelmRelease.unsupported() and by the CRD's rules -----------

STORAGE_NAMESPACE_UNSUPPORTED = "must equal the target namespace (helm stores a release in its own namespace)"
CREATE_REPLACE_UNSUPPORTED = (
    "CreateReplace is not supported yet (CRDs that exist are never replaced); use Create or Skip"
)
DRIFT_UNSUPPORTED = "is not supported yet (drift is neither detected nor corrected); use disabled"
_CRDS_SUPPORTED = Field(
    json_schema_extra={
        "x-kubernetes-validations": [cel("self != 'CreateReplace'", CREATE_REPLACE_UNSUPPORTED)]
    }
)


# --- spec.chart -----------------------------------------------------------------------------------


def _exactly_one_rule(*fields: str) -> str:
    """A CEL rule (x-kubernetes-validations) requiring exactly one of `fields` to be set."""
    return " + ".join(f"(has(self.{f}) ? 1 : 0)" for f in fields) + " == 1"


class SecretRef(_Spec):
    """A Secret in the HelmRelease's namespace holding credentials."""

    name: ObjectName
    """Name of the Secret."""


class GitRef(_Spec):
    """The git revision to check out: exactly one of branch, tag, semver or commit."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    _exactly_one_rule("branch", "tag", "semver", "commit"),
                    "exactly one of branch, tag, semver or commit must be set",
                )
            ]
        }
    )

    branch: NonEmptyStr | None = None
    """Branch to follow, e.g. main."""
    tag: NonEmptyStr | None = None
    """Tag to check out, e.g. v1.2.3."""
    semver: NonEmptyStr | None = None
    """Semver range over the repository's tags; the highest matching tag is checked out."""
    commit: CommitSha | None = None
    """Commit SHA (lowercase hex, at least 7 characters) to check out."""

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> GitRef:
        kinds = [k for k in ("branch", "tag", "semver", "commit") if getattr(self, k) is not None]
        if len(kinds) != 1:
            got = f" (got {' and '.join(kinds)})" if kinds else ""
            raise ValueError(f"exactly one of branch, tag, semver or commit must be set{got}")
        return self

    @property
    def kind(self) -> Literal["branch", "tag", "semver", "commit"]:
        """Which kind of reference is set."""
        if self.branch is not None:
            return "branch"
        if self.tag is not None:
            return "tag"
        if self.semver is not None:
            return "semver"
        return "commit"

    @property
    def value(self) -> str:
        """The value of the reference that is set."""
        value = getattr(self, self.kind)
        assert isinstance(value, str)
        return value


class GitChartSource(_Spec):
    """A chart directory in a git repository (Flux v1 Helm Operator style)."""

    url: NonEmptyStr
    """Repository URL: https://, http://, ssh://, git:// or scp-like git@host:path."""
    ref: GitRef | None = None
    """Revision to check out; the remote's default branch (HEAD) when omitted."""
    path: RelativePath = "."
    """Chart directory relative to the repository root."""
    secret_ref: SecretRef | None = None
    """Credentials: keys username/password (HTTP) or identity/known_hosts (SSH)."""
    values_files: list[RelativePath] = Field(default_factory=list, max_length=LIST_MAX_ITEMS)
    """Values files inside the chart (e.g. values-prod.yaml), merged in order over its values.yaml,
    before valuesFrom and values (Flux v1's chart-file values)."""


class RepositoryChartSource(_Spec):
    """A chart from an HTTP(S) Helm chart repository (index.yaml)."""

    url: HttpUrl
    """Repository URL (http:// or https://), the directory holding index.yaml."""
    name: NonEmptyStr
    """Chart name in the repository index."""
    version: NonEmptyStr = "*"
    """Exact chart version or semver range (e.g. 6.5.0, ~6.5, >=6.0.0 <7.0.0); the highest match wins."""
    secret_ref: SecretRef | None = None
    """Credentials: keys username/password, optionally caFile/certFile/keyFile."""
    values_files: list[RelativePath] = Field(default_factory=list, max_length=LIST_MAX_ITEMS)
    """Values files inside the chart (e.g. values-prod.yaml), merged in order over its values.yaml,
    before valuesFrom and values (Flux v1's chart-file values)."""


class OCIChartSource(_Spec):
    """A chart stored as an OCI artifact in a container registry."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("!(has(self.version) && has(self.digest))", "set version or digest, not both")
            ]
        }
    )

    url: OciUrl
    """Chart reference without tag, e.g. oci://ghcr.io/stefanprodan/charts/podinfo."""
    version: NonEmptyStr | None = None
    """Exact version (tag) or semver range; the highest semver tag when neither version nor digest is set."""
    digest: OciDigest | None = None
    """Manifest digest (sha256:...) to pin the chart to."""
    secret_ref: SecretRef | None = None
    """Registry credentials: keys username/password, or a .dockerconfigjson."""
    values_files: list[RelativePath] = Field(default_factory=list, max_length=LIST_MAX_ITEMS)
    """Values files inside the chart (e.g. values-prod.yaml), merged in order over its values.yaml,
    before valuesFrom and values (Flux v1's chart-file values)."""

    @model_validator(mode="after")
    def _version_or_digest(self) -> OCIChartSource:
        if self.version is not None and self.digest is not None:
            raise ValueError("set version or digest, not both")
        return self


class ChartRef(_Spec):
    """Where the chart comes from: exactly one of git, repository or oci."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    _exactly_one_rule("git", "repository", "oci"),
                    "exactly one of git, repository or oci must be set",
                )
            ]
        }
    )

    git: GitChartSource | None = None
    """A chart directory in a git repository."""
    repository: RepositoryChartSource | None = None
    """A chart from an HTTP(S) chart repository."""
    oci: OCIChartSource | None = None
    """A chart from an OCI registry."""

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ChartRef:
        kinds = [k for k in ("git", "repository", "oci") if getattr(self, k) is not None]
        if len(kinds) != 1:
            got = f" (got {' and '.join(kinds)})" if kinds else ""
            raise ValueError(f"exactly one of git, repository or oci must be set{got}")
        return self

    @property
    def kind(self) -> Literal["git", "repository", "oci"]:
        """Which source is set."""
        if self.git is not None:
            return "git"
        if self.repository is not None:
            return "repository"
        return "oci"

    @property
    def source(self) -> GitChartSource | RepositoryChartSource | OCIChartSource:
        """The source that is set."""
        source = self.git or self.repository or self.oci
        assert source is not None
        return source


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


class DriftIgnoreRule(_Spec):
    """Fields that drift detection ignores."""

    paths: Annotated[list[JsonPointer], Field(min_length=1, max_length=LIST_MAX_ITEMS)]
    """JSON pointers (RFC 6901) of ignored fields, e.g. /spec/replicas."""
    target: dict[str, Any] | None = None
    """Resources the rule applies to (e.g. {kind: Deployment, name: web}); all resources when omitted."""


class DriftDetectionSpec(_Spec):
    """Detection of changes made to the release's resources outside Helm."""

    mode: Annotated[
        Literal["disabled", "warn", "enabled"],
        Field(json_schema_extra={"x-kubernetes-validations": [cel("self == 'disabled'", DRIFT_UNSUPPORTED)]}),
    ] = "disabled"
    """Only disabled is supported yet; warn and enabled (report / correct drift) are refused."""
    ignore: Annotated[list[DriftIgnoreRule], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list, max_length=LIST_MAX_ITEMS
    )
    """Fields to leave alone."""


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
    controller itself (docs/security.md)."""
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

    @staticmethod
    def _describe_error(err: Any) -> str:
        return _describe(err)

    @classmethod
    def _validated(cls, obj: Any) -> Self:
        """`obj` validated; SpecError with one line per problem when it is invalid."""
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            raise SpecError([cls._describe_error(err) for err in exc.errors(include_url=False)]) from None

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
        if spec.drift_detection.mode != "disabled":
            problems.append(f"spec.driftDetection.mode: {spec.drift_detection.mode} {DRIFT_UNSUPPORTED}")
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


# --- turning pydantic errors into one line --------------------------------------------------------


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + part
    return path or "object"


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _known_fields(loc: tuple[int | str, ...]) -> list[str]:
    """The camelCase field names allowed at the object holding `loc`'s last element."""
    tp: Any = HelmRelease
    for part in loc[:-1]:
        tp = _unwrap(tp)
        if isinstance(part, int):
            if typing.get_origin(tp) is not list:
                return []
            tp = typing.get_args(tp)[0]
        else:
            if not (isinstance(tp, type) and issubclass(tp, BaseModel)):
                return []
            field = next(
                (f for n, f in tp.model_fields.items() if part in (n, f.alias)),
                None,
            )
            if field is None:
                return []
            tp = field.annotation
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


_SIMPLE_MESSAGES = {
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def _describe(err: Any) -> str:
    """One pydantic error as `<path>: <what is wrong>`."""
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    path = _loc_to_path(loc)
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        message = "unknown field"
        name = loc[-1] if loc else ""
        if isinstance(name, str):
            close = difflib.get_close_matches(name, _known_fields(loc), n=1, cutoff=0.6)
            if close:
                message += f'; did you mean "{close[0]}"?'
    elif kind == "value_error" and "error" in ctx:
        message = str(ctx["error"])
    elif kind == "literal_error":
        message = f"must be {ctx.get('expected')}, got {value!r}"
    elif kind in _SIMPLE_MESSAGES:
        message = f"{_SIMPLE_MESSAGES[kind]}, got {_describe_value(value)}"
    elif kind == "string_too_short" and ctx.get("min_length") == 1:
        message = "must not be empty"
    elif kind == "too_short":
        message = f"must have at least {ctx.get('min_length')} item(s)"
    elif kind == "too_long":  # the API server's words for maxItems
        message = f"must have at most {ctx.get('max_length')} items"
    elif kind == "string_too_long":  # the API server's words for maxLength ("... bytes")
        message = f"may not be more than {ctx.get('max_length')} characters"
    elif kind == "string_pattern_mismatch":
        message = f"{value!r} does not match the pattern {ctx.get('pattern')}"
    elif kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        message = f"must be {op} {bound}, got {value!r}"
    else:
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
    return f"{path}: {message}"
