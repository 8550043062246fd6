"""Slack incoming webhooks: the message for one notification.

The payload is a `text` line (the notification preview and fallback) plus one legacy attachment
with a colour bar (red: failed, orange: stalled, green: recovered), the reason as its text and
short fields for release, namespace, chart, revision, action and cluster (for a GitSync: namespace,
git revision, action and cluster). Attachments are chosen
over Block Kit because the colour bar is what makes a failure stand out in a busy channel.
`channel` and `username` are sent only when configured (Slack honours them for legacy webhooks;
app webhooks post to their own channel). Text is escaped as Slack asks (&, <, >), so a reason can
not inject a link or a mention. The exact payload is documented in docs/notifications.md.
"""

from __future__ import annotations

from typing import Any

from .notification import DRIFTED, FAILED, HELMRELEASE, RECOVERED, STALLED, Notification, title
from .provider import Provider

COLORS = {FAILED: "#d40e0d", STALLED: "#e8912d", RECOVERED: "#2eb886", DRIFTED: "#e8912d"}
ICONS = {
    FAILED: ":x:",
    STALLED: ":warning:",
    RECOVERED: ":white_check_mark:",
    DRIFTED: ":twisted_rightwards_arrows:",
}
FOOTER = "helmrelease-controller"


def escape(text: str) -> str:
    """Slack's control characters: &, < and > (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(n: Notification) -> str:
    """Plain one-line summary: what happened, to which HelmRelease (GitSync), in which cluster."""
    line = title(n)
    if n.cluster:
        line += f" in cluster {n.cluster}"
    return line


def summary(n: Notification) -> str:
    """Everything in one plain line, for clients that do not show attachments."""
    if n.kind != HELMRELEASE:
        line = fallback_text(n) + (f" (revision {n.git_revision})" if n.git_revision else "")
        return f"{line}: {n.reason}" if n.reason else line
    details = [f"release {n.release_namespace}/{n.release_name}"]
    if n.chart:
        details.append(" ".join(p for p in ("chart", n.chart, n.version) if p))
    if n.revision:
        details.append(f"revision {n.revision}")
    line = f"{fallback_text(n)} ({', '.join(details)})"
    return f"{line}: {n.reason}" if n.reason else line


def fields(n: Notification) -> list[dict[str, Any]]:
    chart = " ".join(p for p in (n.chart, n.version) if p)
    rows = (
        [
            ("Namespace", n.namespace),
            ("Revision", n.git_revision),
            ("Action", n.action),
            ("Cluster", n.cluster),
        ]
        if n.kind != HELMRELEASE
        else [
            ("Release", n.release_name),
            ("Namespace", n.release_namespace),
            ("Chart", chart),
            ("Revision", str(n.revision) if n.revision else ""),
            ("Action", n.action),
            ("Cluster", n.cluster),
        ]
    )
    out = [{"title": t, "value": escape(v), "short": True} for t, v in rows if v]
    for title_, lines in (("What changed", n.changes), ("Why", n.details)):
        if lines:
            out.append({"title": title_, "value": escape("\n".join(lines)), "short": False})
    return out


def slack_payload(n: Notification, channel: str | None = None, username: str | None = None) -> dict[str, Any]:
    """The incoming-webhook JSON for `n` (already `prepared()`)."""
    text = fallback_text(n)
    payload: dict[str, Any] = {
        "text": f"{ICONS.get(n.outcome, '')} {escape(text)}".strip(),
        "attachments": [
            {
                "color": COLORS.get(n.outcome, "#888888"),
                "fallback": escape(summary(n)),
                "title": escape(title(n)),
                "text": escape(n.reason),
                "fields": fields(n),
                "footer": FOOTER,
                "ts": int(n.timestamp),
            }
        ],
    }
    if channel:
        payload["channel"] = channel
    if username:
        payload["username"] = username
    return payload


class SlackProvider(Provider):
    type = "slack"

    def payload(self, n: Notification) -> dict[str, Any]:
        return slack_payload(n, self.config.channel, self.config.username)


__all__ = ["COLORS", "SlackProvider", "escape", "fallback_text", "slack_payload", "summary"]
