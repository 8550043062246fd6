"""A failed upgrade says what it changed against the last deployed revision (issue 15 item 3): the
chart version and the values as dotted paths `old -> new`, in the Slack message ("What changed"),
in the UpgradeFailed event and in status; a value from a `valuesFrom` Secret is `***` on both
sides, and neither its old nor its new value is anywhere (payload, events, status, logs). Real
controller, real helm 4 and 3, kubesim, a Slack stand-in."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import wait_for

from .conftest import Cluster, helmrelease
from .test_observability import _controller_notifying, _Slack, slack  # noqa: F401 (fixture)

OLD_TOKEN, NEW_TOKEN = "old-tok-5e1f0a", "new-tok-9b7c2d"
# Shorter than redaction's 4 characters: only its path says that the old value must not show.
OLD_DB, NEW_DB = "old-dbpw-31c4", "q7z"
ONE_TRY: dict[str, Any] = {"upgrade": {"remediation": {"retries": 0}}}
CHANGED = [
    "chart: webapp 1.0.0 -> 1.1.0",
    "db.password: *** -> ***",
    "image: nginx:1.27 -> nginx:1.28",
    "neverReady: (unset) -> true",
    "token: *** -> ***",
]


def secrets(cluster: Cluster, suffix: str, token: str, password: str) -> list[dict[str, Any]]:
    """A values document Secret and a targetPath Secret; the valuesFrom entries naming them."""
    web, db = f"web-{suffix}", f"db-{suffix}"
    cluster.kubectl(
        "create", "secret", "generic", web, "-n", "apps", f"--from-literal=values.yaml=token: {token}"
    )
    cluster.kubectl("create", "secret", "generic", db, "-n", "apps", f"--from-literal=password={password}")
    return [
        {"kind": "Secret", "name": web},
        {"kind": "Secret", "name": db, "valuesKey": "password", "targetPath": "db.password"},
    ]


def upgrade_failed(cluster: Cluster) -> str:
    def message() -> str:
        # events.k8s.io/v1 calls it note, core/v1 message (kubesim serves one store through both)
        failed = (e for e in cluster.events() if e.get("reason") == "UpgradeFailed")
        return next((str(e.get("note") or e.get("message") or "") for e in failed), "")

    return wait_for(message, 60, what="the UpgradeFailed event")


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_a_failed_upgrade_says_what_it_changed_with_secrets_masked(
    cluster: Cluster,
    repo: ChartRepo,
    slack: _Slack,  # noqa: F811 (the fixture)
    tmp_path: Path,
    helm: str,
) -> None:
    proc = _controller_notifying(cluster, slack, tmp_path, helm)
    try:
        first = secrets(cluster, "v1", OLD_TOKEN, OLD_DB)
        cluster.apply(helmrelease("web", repo.url, "1.0.0", values={"image": "nginx:1.27"}, valuesFrom=first))
        cluster.wait_ready("web")
        # New Secrets (an edit of the old ones could start an upgrade of its own first), a new
        # chart version, a new image, and a Deployment that never gets ready: the upgrade fails.
        second = secrets(cluster, "v2", NEW_TOKEN, NEW_DB)
        values = {"image": "nginx:1.28", "neverReady": True}
        cluster.apply(
            helmrelease("web", repo.url, "1.1.0", timeout="3s", values=values, valuesFrom=second, **ONE_TRY)
        )
        event = upgrade_failed(cluster)
        assert event.endswith("; changed: " + ", ".join(CHANGED)), event
        assert "\n" not in event and len(event) <= 1024
        payload = wait_for(lambda: slack.payloads, 15, what="the failure message")[-1]
        fields = {f["title"]: f["value"] for f in payload["attachments"][0]["fields"]}
        assert html.unescape(fields["What changed"]).splitlines() == CHANGED  # Slack escapes ">"
        last = wait_for(lambda: cluster.status("web").get("lastFailure") or {}, 15, what="lastFailure")
        assert last["changes"] == CHANGED
        everything = json.dumps([cluster.hr("web"), cluster.events(), slack.payloads]) + proc.logs()
        for value in (OLD_TOKEN, NEW_TOKEN, OLD_DB):
            assert value not in everything, value
        assert NEW_DB not in event + json.dumps([fields, last])
    finally:
        proc.stop()
