"""The GitSync API: pydantic models of spec and status, names and constants. Pure.

A GitSync (`helmrelease.dev/v1`, short name `gs`) points at a path of a git repository and
applies the HelmRelease, ConfigMap and Namespace YAML committed there, a whole commit or nothing
(DESIGN.md "Names", issue 11). The style is that of models.py: spec models reject unknown fields,
status models ignore them, an invalid object is a one-line `SpecError`. The git ref and secretRef
are chart.git's own models. The CRD (crd.py) is generated from these models.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
)

from helmrelease_controller.api.models import (
    ANNOTATION_PREFIX,
    ANNOTATION_SUSPEND,
    GROUP,
    ConditionedStatus,
    GitRef,
    KubeObject,
    NonEmptyStr,
    ObjectName,
    PositiveDuration,
    RelativePath,
    SecretRef,
    _none_to_empty_list,
    _Scheduled,
    _Spec,
    _Status,
)

__all__ = [
    "ANNOTATION_DIGEST",
    "ANNOTATION_PRUNE",
    "GITSYNC_CRD_NAME",
    "GITSYNC_KIND",
    "GITSYNC_LIST_KIND",
    "GITSYNC_PLURAL",
    "GITSYNC_SHORT_NAMES",
    "GITSYNC_SINGULAR",
    "LABEL_GITSYNC",
    "PRUNE_DISABLED",
    "GitSync",
    "GitSyncSpec",
    "GitSyncStatus",
    "GitSyncWebhook",
    "InventoryEntry",
    "owner_label_value",
]

GITSYNC_KIND: Final = "GitSync"
GITSYNC_LIST_KIND = "GitSyncList"
GITSYNC_PLURAL = "gitsyncs"
GITSYNC_SINGULAR = "gitsync"
GITSYNC_SHORT_NAMES: tuple[str, ...] = ("gs",)
GITSYNC_CRD_NAME = f"{GITSYNC_PLURAL}.{GROUP}"

#: On every object a GitSync applied: `<namespace>.<name>` of the GitSync.
LABEL_GITSYNC = f"{GROUP}/gitsync"
#: `helmrelease.dev/prune: disabled` protects one object from pruning.
ANNOTATION_PRUNE = f"{ANNOTATION_PREFIX}prune"
PRUNE_DISABLED = "disabled"
#: Digest of the object as last applied from git: an unchanged object costs no write.
ANNOTATION_DIGEST = f"{ANNOTATION_PREFIX}gitsync-digest"

_LABEL_MAX = 63


def owner_label_value(namespace: str, name: str) -> str:
    """The `helmrelease.dev/gitsync` label value: `<namespace>.<name>`, or when that exceeds a label
    value's 63 characters, its first 50 characters, '-' and 12 hex digits of its sha256."""
    value = f"{namespace}.{name}"
    if len(value) <= _LABEL_MAX:
        return value
    return value[:50].rstrip(".-") + "-" + hashlib.sha256(value.encode()).hexdigest()[:12]


class GitSyncWebhook(_Spec):
    """A push webhook that triggers an immediate sync (GitHub X-Hub-Signature-256, GitLab X-Gitlab-Token)."""

    secret_ref: SecretRef
    """A Secret in the GitSync's namespace whose key `token` is the webhook's shared secret."""


class GitSyncSpec(_Scheduled):
    """What to apply: the YAML under a path of a git repository."""

    url: NonEmptyStr
    """Repository URL: https://, http://, ssh://, git:// or scp-like git@host:path."""
    ref: GitRef | None = None
    """Revision to follow; the remote's default branch (HEAD) when omitted."""
    path: RelativePath = "."
    """Folder of YAML (read recursively) or of a kustomization.yaml, relative to the repository root."""
    interval: PositiveDuration = "1m"
    """How often the repository is fetched and the commit applied again."""
    secret_ref: SecretRef | None = None
    """Credentials: keys username/password (HTTP) or identity/known_hosts (SSH), as chart.git."""
    prune: bool = False
    """Delete objects this GitSync applied that are gone from the commit (and, later, on deletion)."""
    suspend: bool = False
    """Stop syncing; the annotation helmrelease.dev/suspend: "true" suspends too."""
    timeout: PositiveDuration = "1m"
    """Timeout of one sync (fetch, render, apply)."""
    webhook: GitSyncWebhook | None = None
    """Push webhook receiver for this GitSync; none when omitted."""
    service_account_name: ObjectName | None = None
    """ServiceAccount of the GitSync's namespace that applies and prunes the commit's objects
    (impersonation): it may write only what its RBAC allows. Omitted: the controller's
    --default-service-account, else the controller itself (docs/security.md)."""


class InventoryEntry(_Status):
    """One object applied by the GitSync."""

    model_config = ConfigDict(frozen=True)

    kind: str
    """HelmRelease, ConfigMap or Namespace."""
    namespace: str | None = None
    """Its namespace (none for a Namespace)."""
    name: str
    """Its name."""


class GitSyncStatus(ConditionedStatus):
    """The observed state, written by the controller only (conditions: Ready, Reconciling, Stalled)."""

    suspended: bool = False
    """Whether syncing is suspended (spec.suspend or the helmrelease.dev/suspend annotation)."""
    last_applied_revision: str | None = None
    """The revision applied last, whole: <branch>@sha1:<commit>."""
    last_applied_subject: str | None = None
    """Subject line of the commit applied last."""
    last_attempted_revision: str | None = None
    """The revision tried last (differs from lastAppliedRevision while a commit is rejected)."""
    last_attempted_subject: str | None = None
    """Subject line of the commit tried last."""
    inventory: Annotated[list[InventoryEntry], BeforeValidator(_none_to_empty_list)] = Field(
        default_factory=list
    )
    """The objects of the last applied commit."""
    orphans: list[InventoryEntry] | None = None
    """Objects applied earlier and gone from the commit, left in place (no prune, or protected)."""
    last_handled_reconcile_at: str | None = None
    """Last handled value of the helmrelease.dev/reconcile-requested-at annotation."""


class GitSync(KubeObject):
    """A GitSync object: apiVersion, kind, metadata (a plain dict), spec and status."""

    kind: Literal["GitSync"] = GITSYNC_KIND
    """GitSync."""
    spec: GitSyncSpec
    """The desired state."""
    status: GitSyncStatus | None = None
    """The observed state."""

    @classmethod
    def from_obj(cls, obj: Any) -> GitSync:
        """Parse a GitSync object; raises SpecError with one line per problem when it is invalid."""
        return cls._validated(obj)

    @property
    def owner(self) -> str:
        """The `helmrelease.dev/gitsync` label value of the objects this GitSync applies."""
        return owner_label_value(self.namespace, self.name)

    @property
    def suspended(self) -> bool:
        """spec.suspend, or the annotation helmrelease.dev/suspend set to "true" (any case)."""
        value = (self.metadata.get("annotations") or {}).get(ANNOTATION_SUSPEND)
        return self.spec.suspend or (isinstance(value, str) and value.strip().lower() == "true")
