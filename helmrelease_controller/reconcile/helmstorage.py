"""Reading (and unlocking) Helm's own release storage: `sh.helm.release.v1.<name>.v<N>` Secrets.

Observing a release never starts a helm process: the controller lists the release
Secrets by label (`owner=helm,name=<release>`) and reads what it needs from their
labels. `data.release` is base64(gzip(JSON)) inside the Secret's own base64, so
reading the body means decoding base64 twice, then gunzip; only unlocking a stuck
release needs it. Pure functions: the Kubernetes calls are the caller's.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from dataclasses import dataclass
from typing import Any

PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})
DEPLOYED_ONCE = frozenset({"deployed", "superseded"})

# Labels we put on release Secrets with `helm --labels` (values must fit in 63 characters).
DIGEST_LABEL = "helmrelease.dev/digest"
OWNER_NAME_LABEL = "helmrelease.dev/name"
OWNER_NAMESPACE_LABEL = "helmrelease.dev/namespace"


def label_digest(config_digest: str) -> str:
    """The form of a config digest that fits a label value: 40 hex characters of the sha256."""
    return config_digest.removeprefix("sha256:")[:40]


@dataclass(frozen=True)
class Revision:
    """One revision of a release, as its storage Secret's labels describe it."""

    name: str
    namespace: str
    version: int
    status: str
    digest: str = ""  # our label, "" when the revision was not made by this controller
    owner: str = ""  # "<namespace>/<name>" of the HelmRelease that made it, "" if none
    secret_name: str = ""

    @property
    def pending(self) -> bool:
        return self.status in PENDING


@dataclass(frozen=True)
class ReleaseObservation:
    """Every stored revision of one release, oldest first."""

    revisions: tuple[Revision, ...]

    @property
    def latest(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def exists(self) -> bool:
        latest = self.latest
        return latest is not None and latest.status != "uninstalled"

    @property
    def ever_deployed(self) -> bool:
        """Whether any stored revision was deployed successfully (else a retry is still an install)."""
        return any(rev.status in DEPLOYED_ONCE for rev in self.revisions)

    def last_deployed_before(self, version: int) -> Revision | None:
        """The newest revision older than `version` that was once deployed successfully (rule 3)."""
        for rev in reversed(self.revisions):
            if rev.version < version and rev.status in DEPLOYED_ONCE:
                return rev
        return None


def revision_from_secret(secret: dict[str, Any]) -> Revision | None:
    meta = secret.get("metadata") or {}
    labels = meta.get("labels") or {}
    if labels.get("owner") != "helm" or "version" not in labels:
        return None
    try:
        version = int(labels["version"])
    except ValueError:
        return None
    owner = ""
    if labels.get(OWNER_NAME_LABEL):
        owner = f"{labels.get(OWNER_NAMESPACE_LABEL, '')}/{labels[OWNER_NAME_LABEL]}"
    return Revision(
        name=labels.get("name", ""),
        namespace=meta.get("namespace", ""),
        version=version,
        status=labels.get("status", ""),
        digest=labels.get(DIGEST_LABEL, ""),
        owner=owner,
        secret_name=meta.get("name", ""),
    )


def observe(secrets: list[dict[str, Any]]) -> ReleaseObservation:
    revs = [r for r in (revision_from_secret(s) for s in secrets) if r is not None]
    return ReleaseObservation(tuple(sorted(revs, key=lambda r: r.version)))


def decode_release(secret: dict[str, Any]) -> dict[str, Any]:
    """The release JSON stored in a Secret as the API returns it (data values are base64)."""
    raw = base64.b64decode((secret.get("data") or {})["release"])
    release: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(raw)))
    return release


def encode_release(release: dict[str, Any]) -> str:
    """The inverse of decode_release: the value for the Secret's `data.release`."""
    inner = base64.b64encode(gzip.compress(json.dumps(release, separators=(",", ":")).encode()))
    return base64.b64encode(inner).decode()


def unlocked(secret: dict[str, Any], description: str) -> dict[str, Any]:
    """A copy of a pending-* release Secret marked failed, as Flux unlocks a stale release (rule 2).

    The caller writes it back with the Secret's resourceVersion, so a helm process still
    running elsewhere makes the write fail with 409 instead of being overwritten.
    """
    release = decode_release(secret)
    info = release.setdefault("info", {})
    info["status"] = "failed"
    info["description"] = description
    out = copy.deepcopy(secret)
    out["data"]["release"] = encode_release(release)
    out["metadata"].setdefault("labels", {})["status"] = "failed"
    return out
