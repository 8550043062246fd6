"""The HelmRelease notifications the notify tests send: a failed upgrade of apps/podinfo and its recovery."""

from __future__ import annotations

from helmrelease_controller.notify import Notification

REASON = (
    "upgrade failed: resources not ready within 5m: Deployment apps/podinfo not ready "
    "(context deadline exceeded)"
)

RECOVERY = Notification(
    namespace="apps",
    name="podinfo",
    outcome="recovered",
    action="upgrade",
    reason="Helm upgrade succeeded for release apps/podinfo.v4 with chart podinfo@6.5.1",
    release="podinfo",
    chart="podinfo",
    version="6.5.1",
    revision=4,
    timestamp=1795169400,
)
