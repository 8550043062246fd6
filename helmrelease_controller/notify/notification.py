"""What the controller tells people about: one `Notification` per failure, stall or recovery.

A notification is about one object: a HelmRelease (`kind` "HelmRelease", the default) or a
GitSync (`kind` "GitSync": a rejected commit, a sync failing on and on, its recovery).
A notification is built by the reconciler and handed to `Dispatcher.submit()`. Its `reason` is
already redacted by the caller; `prepared()` redacts it once more with the secret strings the
caller passes in `secrets` (values, values Secrets), folds it to one short line and drops the
secret strings, so nothing that leaves the process can carry them. Labels and annotations are
carried for routing only; annotations never appear in a payload (kubectl's last-applied annotation
holds the whole spec, values included).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..redact import redact

#: Outcomes a notification reports.
FAILED, STALLED, RECOVERED = "failed", "stalled", "recovered"
DRIFTED = "drifted"  # the live objects differ from the release (reported or corrected)
OUTCOMES = (FAILED, STALLED, RECOVERED, DRIFTED)
#: Actions a failure can name ("" for a stall or recovery not tied to one action; "sync" for a GitSync).
ACTIONS = ("install", "upgrade", "rollback", "uninstall", "test", "unlock", "sync", "")
#: The kinds a notification can be about.
HELMRELEASE, GITSYNC = "HelmRelease", "GitSync"
KINDS = (HELMRELEASE, GITSYNC)
#: The longest reason that leaves the process (characters, after redaction).
REASON_LIMIT = 500
#: At most this many lines of `details` and of `changes` leave the process.
DETAIL_LINES = 12


@dataclass(frozen=True)
class Notification:
    """One event about one HelmRelease (or GitSync: `kind`). See docs/notifications.md for how each
    field is shown."""

    namespace: str  # of the HelmRelease (GitSync)
    name: str  # of the HelmRelease (GitSync)
    outcome: str  # failed | stalled | recovered
    action: str = ""  # install | upgrade | rollback | uninstall | test | unlock | ""
    reason: str = ""  # one short line, already redacted by the caller
    release: str = ""  # Helm release name ("" -> the HelmRelease's name)
    target_namespace: str = ""  # where the release lives ("" -> the HelmRelease's namespace)
    chart: str = ""
    version: str = ""  # chart version
    revision: int = 0  # Helm release revision (0: unknown / none)
    cluster: str = ""  # "" -> the cluster name of the notifications config
    timestamp: float = field(default_factory=time.time)  # seconds since the epoch
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict, repr=False)
    secrets: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)
    # What failed, for deduplication: e.g. the config digest of a failed upgrade, so its retries
    # (each a new revision with the same reason) and the stall that ends them are one message.
    attempt: str = ""
    kind: str = HELMRELEASE  # HelmRelease | GitSync: the kind of the object named by namespace/name
    git_revision: str = ""  # a GitSync's revision (`<branch>@sha1:<commit>`) the message is about
    # Why a failure happened (the forensics digest: workloads, pods, events, hooks; a few lines)
    # and what the attempt changed (`image.tag: 1.4.2 -> 1.5.0`); redacted like the reason.
    details: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()

    @classmethod
    def for_object(
        cls,
        obj: Mapping[str, Any],
        outcome: str,
        *,
        secrets: Iterable[str] = (),
        **fields: Any,
    ) -> Notification:
        """A notification about the HelmRelease `obj` (namespace, name, labels, annotations from its
        metadata; `kind` from the object, HelmRelease when it names none); `fields` are the other
        dataclass fields (action, reason, chart, version, ...)."""
        meta = obj.get("metadata") or {}
        if "kind" not in fields:
            fields["kind"] = obj.get("kind") if obj.get("kind") in KINDS else HELMRELEASE
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            outcome=outcome,
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            secrets=frozenset(secrets),
            **fields,
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def fingerprint(self) -> str:
        """Identity for deduplication (16 hex digits): HelmRelease, outcome, reason and revision; or,
        for a failure or stall that names its `attempt`, HelmRelease and attempt alone. Another kind
        is part of the identity (a GitSync and a HelmRelease may share namespace and name); a
        HelmRelease's fingerprint is the one it always had."""
        parts: tuple[str, ...] = (self.namespace, self.name, self.outcome, self.reason, str(self.revision))
        if self.kind != HELMRELEASE:
            parts = (self.kind, *parts, self.git_revision)
        if self.attempt and self.outcome in (FAILED, STALLED):
            parts = (self.namespace, self.name, "alert", self.attempt)
            if self.kind != HELMRELEASE:
                parts = (self.kind, *parts)
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]

    @property
    def release_name(self) -> str:
        return self.release or self.name

    @property
    def release_namespace(self) -> str:
        return self.target_namespace or self.namespace

    @property
    def time_rfc3339(self) -> str:
        return dt.datetime.fromtimestamp(self.timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def prepared(self, cluster: str = "") -> Notification:
        """The copy that leaves the process: reason redacted with `secrets`, one line of at most
        REASON_LIMIT characters; secrets dropped; outcome/action lower case; cluster filled in."""
        return replace(
            self,
            outcome=self.outcome.lower(),
            action=self.action.lower(),
            reason=clean_reason(self.reason, self.secrets),
            details=tuple(clean_reason(line, self.secrets) for line in self.details[:DETAIL_LINES]),
            changes=tuple(clean_reason(line, self.secrets) for line in self.changes[:DETAIL_LINES]),
            cluster=self.cluster or cluster,
            secrets=frozenset(),
        )


def clean_reason(reason: str, secrets: Iterable[str] = ()) -> str:
    """One redacted line of at most REASON_LIMIT characters."""
    secrets = [s for s in secrets if s]
    text = redact(reason, secrets)
    text = " ".join(text.split())
    text = redact(text, secrets)  # a secret holding whitespace, matched once folded
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 3] + "..."


def title(n: Notification) -> str:
    """One plain line naming what happened: "upgrade failed: HelmRelease apps/podinfo"
    ("sync failed: GitSync platform/prod")."""
    what = {
        FAILED: f"{n.action} failed" if n.action else "failed",
        STALLED: "stalled",
        RECOVERED: "recovered",
        DRIFTED: "drift",
    }.get(n.outcome, n.outcome)
    return f"{what}: {n.kind} {n.namespace}/{n.name}"


__all__ = [
    "ACTIONS",
    "DRIFTED",
    "FAILED",
    "GITSYNC",
    "HELMRELEASE",
    "KINDS",
    "OUTCOMES",
    "REASON_LIMIT",
    "RECOVERED",
    "STALLED",
    "Notification",
    "clean_reason",
    "title",
]
