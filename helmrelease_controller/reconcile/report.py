"""What a reconcile tells people besides status: Kubernetes events, metrics and notifications.

Never blocks and never raises: events go through a bounded queue (kube/events.py) and
notifications through the dispatcher (notify/dispatcher.py).
"""

from __future__ import annotations

import logging
from typing import Any

from ..kube.events import EventRecorder
from ..metrics import Metrics
from ..notify import Dispatcher, Notification
from . import status as st

log = logging.getLogger("helmrelease_controller.reconciler")


class Reporter:
    def __init__(self, events: EventRecorder, metrics: Metrics, notifier: Dispatcher | None) -> None:
        self.events, self.metrics, self.notifier = events, metrics, notifier

    def event(self, obj: dict[str, Any], ok: bool, reason: str, message: str, action: str = "") -> None:
        self.events.emit(obj, "Normal" if ok else "Warning", reason, st.one_line(message, 1024), action)

    def notify(
        self, obj: dict[str, Any], outcome: str, reason: str, secrets: Any = (), **fields: Any
    ) -> None:
        """A Slack/webhook notification."""
        if self.notifier is not None:
            self.notifier.submit(
                Notification.for_object(obj, outcome, reason=reason, secrets=secrets, **fields)
            )
