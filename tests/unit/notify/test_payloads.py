"""Exact payloads: Slack for a failed upgrade and its recovery, the generic webhook body, signing,
escaping and redaction of the reason."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from helmrelease_controller.notify import Notification, sign, slack_payload, verify_signature, webhook_payload
from helmrelease_controller.notify.config import ProviderConfig
from helmrelease_controller.notify.notification import REASON_LIMIT, clean_reason
from helmrelease_controller.notify.provider import SecretCache
from helmrelease_controller.notify.webhook import WebhookProvider
from tests.helpers.notifications import REASON, RECOVERY

FAILED_UPGRADE = Notification(
    namespace="apps",
    name="podinfo",
    outcome="failed",
    action="upgrade",
    reason=REASON,
    release="podinfo",
    chart="podinfo",
    version="6.5.0",
    revision=3,
    timestamp=1795168800.25,
    labels={"team": "web"},
    annotations={"kubectl.kubernetes.io/last-applied-configuration": '{"spec":{"values":{"pw":"hunter22"}}}'},
)


def field(title: str, value: str) -> dict[str, Any]:
    return {"title": title, "value": value, "short": True}


def test_slack_failed_upgrade_exact() -> None:
    n = FAILED_UPGRADE.prepared("prod-eu")
    assert slack_payload(n, "#deploys", "helmrelease") == {
        "text": ":x: upgrade failed: HelmRelease apps/podinfo in cluster prod-eu",
        "attachments": [
            {
                "color": "#d40e0d",
                "fallback": "upgrade failed: HelmRelease apps/podinfo in cluster prod-eu "
                f"(release apps/podinfo, chart podinfo 6.5.0, revision 3): {REASON}",
                "title": "upgrade failed: HelmRelease apps/podinfo",
                "text": REASON,
                "fields": [
                    field("Release", "podinfo"),
                    field("Namespace", "apps"),
                    field("Chart", "podinfo 6.5.0"),
                    field("Revision", "3"),
                    field("Action", "upgrade"),
                    field("Cluster", "prod-eu"),
                ],
                "footer": "helmrelease-controller",
                "ts": 1795168800,
            }
        ],
        "channel": "#deploys",
        "username": "helmrelease",
    }


def test_slack_recovery_exact() -> None:
    n = RECOVERY.prepared("prod-eu")
    assert slack_payload(n) == {
        "text": ":white_check_mark: recovered: HelmRelease apps/podinfo in cluster prod-eu",
        "attachments": [
            {
                "color": "#2eb886",
                "fallback": "recovered: HelmRelease apps/podinfo in cluster prod-eu (release apps/podinfo, "
                "chart podinfo 6.5.1, revision 4): Helm upgrade succeeded for release apps/podinfo.v4 with "
                "chart podinfo@6.5.1",
                "title": "recovered: HelmRelease apps/podinfo",
                "text": "Helm upgrade succeeded for release apps/podinfo.v4 with chart podinfo@6.5.1",
                "fields": [
                    field("Release", "podinfo"),
                    field("Namespace", "apps"),
                    field("Chart", "podinfo 6.5.1"),
                    field("Revision", "4"),
                    field("Action", "upgrade"),
                    field("Cluster", "prod-eu"),
                ],
                "footer": "helmrelease-controller",
                "ts": 1795169400,
            }
        ],
    }


def test_slack_stall_without_revision_or_action_and_target_namespace() -> None:
    n = Notification(
        namespace="team",
        name="db",
        outcome="stalled",
        reason="retries exhausted",
        target_namespace="prod",
        release="prod-db",
        timestamp=0,
    ).prepared()
    p = slack_payload(n)
    assert p["text"] == ":warning: stalled: HelmRelease team/db"
    att = p["attachments"][0]
    assert att["color"] == "#e8912d"
    assert att["fields"] == [field("Release", "prod-db"), field("Namespace", "prod")]
    assert "channel" not in p and "username" not in p


def test_slack_escapes_control_characters() -> None:
    n = Notification(
        namespace="a",
        name="b",
        outcome="failed",
        action="install",
        reason="<!channel> & <https://x|click>",
        chart="c<d>",
    ).prepared()
    p = slack_payload(n)
    att = p["attachments"][0]
    assert att["text"] == "&lt;!channel&gt; &amp; &lt;https://x|click&gt;"
    assert "<" not in json.dumps(p)


def test_webhook_body_exact_and_without_annotations() -> None:
    n = FAILED_UPGRADE.prepared("prod-eu")
    body = webhook_payload(n)
    assert body == {
        "schema": "helmrelease.dev/notification/v1",
        "outcome": "failed",
        "action": "upgrade",
        "helmRelease": {"namespace": "apps", "name": "podinfo", "labels": {"team": "web"}},
        "release": {"name": "podinfo", "namespace": "apps", "revision": 3},
        "chart": {"name": "podinfo", "version": "6.5.0"},
        "reason": REASON,
        "changes": [],
        "details": [],
        "cluster": "prod-eu",
        "timestamp": "2026-11-20T10:00:00Z",
        "fingerprint": n.fingerprint,
    }
    assert "hunter22" not in json.dumps(body)
    assert "hunter22" not in json.dumps(slack_payload(n))


def test_what_changed_and_why_are_redacted_lines_in_both_payloads() -> None:
    n = replace(
        FAILED_UPGRADE,
        changes=("image.tag: 6.4.0 -> 6.5.0", "auth.token: *** -> hunter22"),
        details=(
            "Pod/podinfo-x: container app waiting ImagePullBackOff: <b>",
            *[f"line {i}" for i in range(20)],
        ),
        secrets=frozenset({"hunter22"}),
    ).prepared("prod-eu")
    body = webhook_payload(n)
    assert body["changes"] == ["image.tag: 6.4.0 -> 6.5.0", "auth.token: *** -> ***"]
    assert len(body["details"]) == 12 and body["details"][0].startswith("Pod/podinfo-x: container app")
    fields = {f["title"]: f for f in slack_payload(n)["attachments"][0]["fields"]}
    assert fields["What changed"]["value"] == "image.tag: 6.4.0 -&gt; 6.5.0\nauth.token: *** -&gt; ***"
    assert fields["Why"]["short"] is False and "&lt;b&gt;" in fields["Why"]["value"]
    assert "hunter22" not in json.dumps(body) + json.dumps(slack_payload(n))


async def test_webhook_headers_signature() -> None:
    async def get_secret(ns: str, name: str, key: str) -> str:
        return {"url": "http://127.0.0.1:1/hook", "hmac": "k3y-material"}[key]

    provider = WebhookProvider(
        ProviderConfig.model_validate(
            {
                "name": "audit",
                "type": "webhook",
                "secretRef": {"namespace": "s", "name": "w", "key": "url"},
                "signingSecretRef": {"namespace": "s", "name": "w", "key": "hmac"},
            }
        )
    )
    n = FAILED_UPGRADE.prepared("prod-eu")
    body = provider.body(n)
    assert json.loads(body) == webhook_payload(n)
    headers = await provider.headers(n, body, SecretCache(get_secret))
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("helmrelease-controller/")
    assert headers["X-HelmRelease-Event"] == "failed"
    assert headers["X-HelmRelease-Signature"] == sign("k3y-material", body)
    assert verify_signature("k3y-material", body, headers["X-HelmRelease-Signature"])
    assert not verify_signature("other", body, headers["X-HelmRelease-Signature"])
    assert not verify_signature("k3y-material", body + b" ", headers["X-HelmRelease-Signature"])
    assert (
        headers["X-HelmRelease-Signature"].startswith("sha256=")
        and len(headers["X-HelmRelease-Signature"]) == 71
    )


def test_prepared_redacts_folds_truncates_and_drops_secrets() -> None:
    secret = "s3cr3t-passw0rd"
    n = Notification(
        namespace="a",
        name="b",
        outcome="FAILED",
        action="Upgrade",
        reason=f"upgrade failed:\n  password={secret}\tand {secret[:4]}\n{secret}",
        secrets=frozenset({secret, ""}),
    )
    p = n.prepared("c")
    assert secret not in p.reason
    assert p.reason == "upgrade failed: password=*** and s3cr ***"
    assert (p.outcome, p.action, p.cluster, p.secrets) == ("failed", "upgrade", "c", frozenset())
    held = Notification(namespace="a", name="b", outcome="failed", secrets=frozenset({secret}))
    assert secret not in repr(held)  # the secret strings are not in the repr
    assert p.prepared("other").cluster == "c"  # an explicit cluster wins
    long = clean_reason("x" * 2000)
    assert len(long) == REASON_LIMIT and long.endswith("...")


def test_prepared_redacts_a_secret_holding_whitespace() -> None:
    secret = "two words"
    assert clean_reason("saw two\n words here", [secret]) == "saw *** here"


def test_for_object() -> None:
    obj = {"metadata": {"namespace": "apps", "name": "web", "labels": {"a": "b"}, "annotations": {"x": "y"}}}
    n = Notification.for_object(
        obj, "failed", action="test", reason="tests failed", secrets=["zzzz"], revision=2
    )
    assert (n.namespace, n.name, n.outcome, n.action, n.revision) == ("apps", "web", "failed", "test", 2)
    assert n.labels == {"a": "b"} and n.annotations == {"x": "y"} and n.secrets == frozenset({"zzzz"})
    assert (n.release_name, n.release_namespace) == ("web", "apps")


@pytest.mark.parametrize("outcome", ["failed", "stalled", "recovered"])
def test_payloads_are_json_serialisable(outcome: str) -> None:
    n = Notification(namespace="a", name="b", outcome=outcome).prepared()
    json.dumps(slack_payload(n))
    json.dumps(webhook_payload(n))
