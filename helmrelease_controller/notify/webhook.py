"""The generic JSON webhook: a stable, versioned body, optionally signed with HMAC-SHA256.

The body (`"schema": "helmrelease.dev/notification/v1"`) is documented field by field in
docs/notifications.md; a field is only ever added within v1. A HelmRelease's body is the one v1
always had; a GitSync's carries `"kind": "GitSync"` and a `gitSync` object in place of
`helmRelease`, `release` and `chart` (which do not apply to it). With `signingSecretRef`, the header
`X-HelmRelease-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>` lets the receiver
check the body came from us (compare with `hmac.compare_digest`; see `verify_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from .notification import HELMRELEASE, Notification
from .provider import Provider, SecretCache

SCHEMA = "helmrelease.dev/notification/v1"
SIGNATURE_HEADER = "X-HelmRelease-Signature"
EVENT_HEADER = "X-HelmRelease-Event"


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The JSON body for `n` (already `prepared()`)."""
    if n.kind != HELMRELEASE:
        return {
            "schema": SCHEMA,
            "kind": n.kind,
            "outcome": n.outcome,
            "action": n.action,
            n.kind[0].lower() + n.kind[1:]: {
                "namespace": n.namespace,
                "name": n.name,
                "labels": dict(n.labels),
                "revision": n.git_revision,
            },
            "reason": n.reason,
            "cluster": n.cluster,
            "timestamp": n.time_rfc3339,
            "fingerprint": n.fingerprint,
        }
    return {
        "schema": SCHEMA,
        "outcome": n.outcome,
        "action": n.action,
        "helmRelease": {"namespace": n.namespace, "name": n.name, "labels": dict(n.labels)},
        "release": {"name": n.release_name, "namespace": n.release_namespace, "revision": n.revision},
        "chart": {"name": n.chart, "version": n.version},
        "reason": n.reason,
        "changes": list(n.changes),
        "details": list(n.details),
        "cluster": n.cluster,
        "timestamp": n.time_rfc3339,
        "fingerprint": n.fingerprint,
    }


def sign(key: str, body: bytes) -> str:
    """The signature header value for `body`."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(key: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(key, body), header.strip())


class WebhookProvider(Provider):
    type = "webhook"

    def payload(self, n: Notification) -> dict[str, Any]:
        return webhook_payload(n)

    def secret_refs(self) -> list[Any]:
        refs = [self.config.secret_ref]
        if self.config.signing_secret_ref is not None:
            refs.append(self.config.signing_secret_ref)
        return refs

    async def headers(self, n: Notification, body: bytes, secrets: SecretCache) -> dict[str, str]:
        out = await super().headers(n, body, secrets)
        out[EVENT_HEADER] = n.outcome
        if self.config.signing_secret_ref is not None:
            out[SIGNATURE_HEADER] = sign(await secrets.get(self.config.signing_secret_ref), body)
        return out


__all__ = [
    "EVENT_HEADER",
    "SCHEMA",
    "SIGNATURE_HEADER",
    "WebhookProvider",
    "sign",
    "verify_signature",
    "webhook_payload",
]
