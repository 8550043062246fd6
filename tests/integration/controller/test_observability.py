"""What operators watch: /metrics during a real scenario, and Slack messages for a failure and recovery."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, scrape, wait_for

from .conftest import Cluster, helmrelease

PLANTED = "s3cr3t-planted-9d1e"


def test_metrics_follow_a_release(cluster: Cluster, repo: ChartRepo, controller: ControllerProcess) -> None:
    url = controller.metrics_url()
    assert urllib.request.urlopen(url + "/healthz", timeout=5).status == 200
    wait_for(lambda: urllib.request.urlopen(url + "/readyz", timeout=5).status == 200, 10)
    cluster.apply(helmrelease("web", repo.url, values={"token": PLANTED}))
    cluster.wait_ready("web")
    # The gauges follow the object; the reconcile histogram counts once the worker has finished.
    m = wait_for(
        lambda: (
            (s := scrape(url)).get('helmrelease_ready{name="web",namespace="apps"}') == 1
            and s.get('helmrelease_reconcile_duration_seconds_count{result="success"}', 0) >= 1
            and s
        ),
        10,
    )
    assert m['helmrelease_helm_actions_total{action="install",result="success"}'] == 1
    assert m['helmrelease_stalled{name="web",namespace="apps"}'] == 0
    assert m['helmrelease_suspended{name="web",namespace="apps"}'] == 0
    assert m["helmrelease_helm_processes_started_total"] >= 1
    assert m['helmrelease_reconcile_duration_seconds_count{result="success"}'] >= 1
    assert m['helmrelease_source_fetch_duration_seconds_count{kind="repository",result="success"}'] >= 1
    assert m["helmrelease_leader"] == 1
    cluster.kubectl("annotate", "hr", "web", "-n", "apps", "helmrelease.dev/suspend=true")
    wait_for(lambda: scrape(url).get('helmrelease_suspended{name="web",namespace="apps"}') == 1, 10)
    cluster.kubectl("delete", "hr", "web", "-n", "apps", "--timeout", "30s")
    wait_for(lambda: 'helmrelease_ready{name="web",namespace="apps"}' not in scrape(url), 10)
    body = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    assert PLANTED not in body


class _Slack(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlackHandler)
        self.payloads: list[dict[str, Any]] = []


class _SlackHandler(BaseHTTPRequestHandler):
    server: _Slack

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.payloads.append(json.loads(body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def slack() -> Iterator[_Slack]:
    srv = _Slack()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


def _controller_notifying(
    cluster: Cluster, slack: _Slack, tmp_path: Path, helm: str = "helm"
) -> ControllerProcess:
    """A controller whose notifications config routes everything to the Slack stand-in."""
    hook = f"http://127.0.0.1:{slack.server_address[1]}/services/T000/B000/XXXX"
    cluster.kubectl("create", "namespace", "helmrelease-system")
    cluster.kubectl(
        "create", "secret", "generic", "slack", "-n", "helmrelease-system", f"--from-literal=url={hook}"
    )
    config = tmp_path / "notifications.yaml"
    provider = {
        "name": "slack",
        "type": "slack",
        "secretRef": {"namespace": "helmrelease-system", "name": "slack", "key": "url"},
    }
    config.write_text(
        yaml.safe_dump({"cluster": "kubesim", "providers": [provider], "routes": [{"providers": ["slack"]}]})
    )
    assert cluster.sim.kubeconfig_path is not None
    proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path, helm=helm)
    return proc.start("--notifications-config", str(config))


def test_slack_gets_a_failed_upgrade_and_its_recovery(
    cluster: Cluster, repo: ChartRepo, slack: _Slack, tmp_path: Path
) -> None:
    proc = _controller_notifying(cluster, slack, tmp_path)
    try:
        cluster.kubectl(
            "create",
            "secret",
            "generic",
            "web-secret",
            "-n",
            "apps",
            f"--from-literal=values.yaml=token: {PLANTED}",
        )
        spec = {"timeout": "2s", "valuesFrom": [{"kind": "Secret", "name": "web-secret"}]}
        cluster.apply(helmrelease("web", repo.url, **spec))
        cluster.wait_ready("web")
        retried = {"upgrade": {"remediation": {"retries": 1}}}
        cluster.apply(helmrelease("web", repo.url, values={"neverReady": True}, **spec, **retried))
        cluster.wait_condition("web", "Stalled", "True", timeout=30)
        wait_for(lambda: slack.payloads, 15, what="the failure message")
        # The upgrade failed, was retried, failed again and stalled: one attempt, one message
        # (docs/notifications.md), not failed + failed + stalled.
        assert len(proc.helm_calls("upgrade")) >= 3, proc.helm_calls()  # install, attempt, retry
        assert len(slack.payloads) == 1, slack.payloads
        cluster.apply(helmrelease("web", repo.url, values={"message": "fixed"}, **spec, **retried))
        cluster.wait_ready("web", reason="UpgradeSucceeded")
        wait_for(
            lambda: any("recovered" in json.dumps(p).lower() for p in slack.payloads),
            15,
            what="recovery message",
        )
        texts = [json.dumps(p) for p in slack.payloads]
        failed = next(t for t in texts if "failed" in t.lower())
        for word in ("apps/web", "webapp", "1.1.0", "upgrade", "kubesim", "not ready"):
            assert word in failed, (word, failed)
        assert all(PLANTED not in t for t in texts)
        assert PLANTED not in proc.logs() and "/services/T000" not in proc.logs()
        # One message per distinct situation: no duplicates of the same failure.
        assert len(texts) == len(set(texts))
    finally:
        proc.stop()


def test_secret_echoed_by_helm_is_redacted_everywhere(
    cluster: Cluster, repo: ChartRepo, slack: _Slack, tmp_path: Path
) -> None:
    """helm prints the failing template's message, which embeds a value from a Secret."""
    proc = _controller_notifying(cluster, slack, tmp_path)
    try:
        cluster.kubectl("create", "secret", "generic", "tok", "-n", "apps", f"--from-literal=token={PLANTED}")
        spec = {
            "valuesFrom": [{"kind": "Secret", "name": "tok", "valuesKey": "token", "targetPath": "token"}],
            "values": {"renderFail": True},
        }
        cluster.apply(helmrelease("web", repo.url, **spec))
        cluster.wait_condition("web", "Stalled", "True")
        c = cluster.condition("web", "Released")
        assert c["reason"] == "InstallFailed", c
        assert "rendering failed: token *** was rejected" in c["message"], c
        wait_for(lambda: slack.payloads, 15, what="a failure message")
        url = proc.metrics_url()
        seen = {
            "status": json.dumps(cluster.hr("web")),
            "events": json.dumps(cluster.events()),
            "logs": proc.logs(),
            "slack": json.dumps(slack.payloads),
            "metrics": urllib.request.urlopen(url + "/metrics", timeout=5).read().decode(),
        }
        for where, text in seen.items():
            assert PLANTED not in text, where
        assert "rendering failed" in seen["slack"] and "rendering failed" in seen["events"]
    finally:
        proc.stop()


def test_a_chart_source_failure_that_lasts_is_told_once_then_its_recovery(
    cluster: Cluster, repo: ChartRepo, slack: _Slack, tmp_path: Path
) -> None:
    """Before, a broken repository stayed silent for as long as it was broken."""
    proc = _controller_notifying(cluster, slack, tmp_path)
    try:
        cluster.apply(helmrelease("web", repo.url, values={"message": "v1"}))
        cluster.wait_ready("web")
        repo.down()
        cluster.apply(helmrelease("web", repo.url, values={"message": "v2"}, version="2.x"))
        cluster.wait_condition("web", "Ready", "False", "ArtifactFailed")
        # Told after the third failed try in a row (backoff 0.5 s, 1 s, 2 s): once, naming the reason.
        wait_for(lambda: slack.payloads, 30, what="the ArtifactFailed message")
        text = json.dumps(slack.payloads[0])
        assert "ArtifactFailed" in text and "unreachable" in text, text
        failed_logs = [r for r in proc.log_records() if r.get("msg", "").startswith("ArtifactFailed")]
        assert len(failed_logs) == 1  # logged at warning once per distinct failure, not per try
        assert failed_logs[0]["level"] == "warning" and len(failed_logs[0]["reconcileID"]) == 8
        repo.up()
        cluster.wait_ready("web", timeout=30)
        wait_for(
            lambda: any("recovered" in json.dumps(p).lower() for p in slack.payloads),
            15,
            what="recovery message",
        )
        assert len(slack.payloads) == 2, slack.payloads
    finally:
        proc.stop()
