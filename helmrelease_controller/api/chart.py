"""The HelmRelease `spec.chart` models: where the chart comes from (git, repository or OCI). Pure.

Owns `ChartRef` and its sources; a docstring under a field is what `kubectl explain` prints.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from helmrelease_controller.api.types import (
    LIST_MAX_ITEMS,
    CommitSha,
    HttpUrl,
    NonEmptyStr,
    ObjectName,
    OciDigest,
    OciUrl,
    RelativePath,
    _Spec,
    cel,
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


# valid but not built yet: refused by HelmRelease.unsupported() and by the CRD's rule
VERIFY_PROVIDER_UNSUPPORTED = (
    "is not supported yet (Flux's cosign and notation verify OCI charts); use helm: provenance "
    "files checked against a keyring, for repository and OCI charts"
)
VERIFY_NOT_GIT = "verify is supported for repository and OCI charts only"
KEYRING_KEY = "pubring.gpg"  # the Secret key holding the keyring (helm's default keyring file name)


class ChartVerification(_Spec):
    """Verify the chart before it is installed or upgraded (Flux's chart.spec.verify): helm
    provenance (`helm verify`), for repository and OCI charts. The provenance is a PGP clear-signed
    file with the archive's sha256: `<archive>.prov` next to the archive in a chart repository, the
    provenance layer `helm push` uploads with a signed chart in a registry. It must be signed by a
    key of the keyring. A chart that does not verify is refused with the reason, and nothing is
    installed."""

    provider: Annotated[
        Literal["helm", "cosign", "notation"],
        Field(
            json_schema_extra={
                "x-kubernetes-validations": [cel("self == 'helm'", VERIFY_PROVIDER_UNSUPPORTED)]
            }
        ),
    ]
    """helm (provenance files and a PGP keyring). cosign and notation (Flux's, for OCI charts) are
    not supported yet."""
    secret_ref: SecretRef
    """Secret in the HelmRelease's namespace whose key pubring.gpg holds the PGP public keys
    trusted to sign charts (a keyring as `gpg --export` writes it, binary or ASCII-armored)."""


class ChartRef(_Spec):
    """Where the chart comes from: exactly one of git, repository or oci."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    _exactly_one_rule("git", "repository", "oci"),
                    "exactly one of git, repository or oci must be set",
                ),
                cel("!has(self.verify) || !has(self.git)", VERIFY_NOT_GIT),
            ]
        }
    )

    git: GitChartSource | None = None
    """A chart directory in a git repository."""
    repository: RepositoryChartSource | None = None
    """A chart from an HTTP(S) chart repository."""
    oci: OCIChartSource | None = None
    """A chart from an OCI registry."""
    verify: ChartVerification | None = None
    """Verify the chart's signature before installing it (repository and OCI charts): a chart that
    does not verify is refused and nothing is installed or upgraded."""

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ChartRef:
        kinds = [k for k in ("git", "repository", "oci") if getattr(self, k) is not None]
        if len(kinds) != 1:
            got = f" (got {' and '.join(kinds)})" if kinds else ""
            raise ValueError(f"exactly one of git, repository or oci must be set{got}")
        if self.verify is not None and self.git is not None:
            raise ValueError(f"{VERIFY_NOT_GIT} (got git)")
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
