"""Notifications: Slack and generic JSON webhooks for failed actions, stalls and recoveries.

    config = load_config(path)                      # --notifications-config
    dispatcher = Dispatcher(config, get_secret, metrics)
    await dispatcher.start()
    dispatcher.submit(Notification.for_object(obj, "failed", action="upgrade", reason=..., ...))
    await dispatcher.close(timeout=5)

Modules: `notification` (the event), `config` (the YAML file), `router` (which providers),
`dedup` (fingerprints and recovery gating), `slack` / `webhook` (payloads), `provider` (shared
provider and Secret cache), `dispatcher` (queues, delivery, retries). See docs/notifications.md.
"""

from __future__ import annotations

from .config import ConfigError, NotificationsConfig, ProviderConfig, SecretRef, load_config, parse_config
from .dedup import Deduplicator
from .dispatcher import Dispatcher, parse_retry_after
from .notification import DRIFTED, FAILED, OUTCOMES, RECOVERED, STALLED, Notification
from .provider import GetSecret, SecretCache
from .router import ANNOTATION_NOTIFY, Router
from .slack import slack_payload
from .webhook import sign, verify_signature, webhook_payload

__all__ = [
    "ANNOTATION_NOTIFY",
    "DRIFTED",
    "FAILED",
    "OUTCOMES",
    "RECOVERED",
    "STALLED",
    "ConfigError",
    "Deduplicator",
    "Dispatcher",
    "GetSecret",
    "Notification",
    "NotificationsConfig",
    "ProviderConfig",
    "Router",
    "SecretCache",
    "SecretRef",
    "load_config",
    "parse_config",
    "parse_retry_after",
    "sign",
    "slack_payload",
    "verify_signature",
    "webhook_payload",
]
