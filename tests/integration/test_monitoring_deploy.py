"""deploy/monitoring/ applies as its comment says, and a real Prometheus scraping as the
ServiceMonitor says stores the series the alerts and dashboard are written against.

The scrape test runs the real `prometheus` server (Debian package, hack/apt-packages.txt) against
the controller's real /metrics endpoint, with the target labels the Prometheus Operator attaches to
a ServiceMonitor target (`namespace` = the Service's namespace, pod, service, ...).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helmrelease_controller.metrics import Metrics
from tests.conftest import ROOT, Cli
from tests.helpers.gitserver import free_port

MONITORING = ROOT / "deploy" / "monitoring"
TARGET_NAMESPACE = "helmrelease-system"

# Just enough of the Prometheus Operator's CRDs for the API server to accept their objects.
OPERATOR_CRDS = "\n---\n".join(
    f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {{kind: {kind}, listKind: {kind}List, plural: {plural}, singular: {plural[:-1]}}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
    for kind, plural in (("ServiceMonitor", "servicemonitors"), ("PrometheusRule", "prometheusrules"))
)


def documented_apply_command() -> list[str]:
    """The command the first line of prometheusrule.yaml tells the user to run."""
    first = (MONITORING / "prometheusrule.yaml").read_text().splitlines()[0]
    found = re.search(r"`(kubectl apply [^`]+)`", first)
    assert found, f"no `kubectl apply ...` in {first!r}"
    return found.group(1).split()


def test_documented_command_applies_the_monitoring_objects(kubectl: Cli) -> None:
    kubectl("apply", "-f", "-", input=OPERATOR_CRDS)
    kubectl("create", "namespace", TARGET_NAMESPACE)
    cmd = documented_apply_command()
    proc = subprocess.run(
        [kubectl.binary, *cmd[1:]], cwd=ROOT, env=kubectl.env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for what in (
        "configmap/helmrelease-controller-dashboard",
        "servicemonitor.monitoring.coreos.com/helmrelease-controller",
        "prometheusrule.monitoring.coreos.com/helmrelease-controller",
    ):
        assert what in proc.stdout, proc.stdout
    sm = yaml.safe_load(
        kubectl("get", "servicemonitor", "helmrelease-controller", "-n", TARGET_NAMESPACE, "-o", "yaml")
    )
    assert [e["honorLabels"] for e in sm["spec"]["endpoints"]] == [True]
    cm = yaml.safe_load(
        kubectl("get", "configmap", "helmrelease-controller-dashboard", "-n", TARGET_NAMESPACE, "-o", "yaml")
    )
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["grafana-dashboard.json"])
    assert dashboard["uid"] == "helmrelease-controller"


def test_base_kustomization_has_no_operator_objects(kubectl: Cli) -> None:
    """`kubectl apply -k deploy/` must work on a cluster without the Prometheus Operator's CRDs."""
    rendered = list(yaml.safe_load_all(kubectl("kustomize", str(ROOT / "deploy"))))
    assert not [d["kind"] for d in rendered if d["apiVersion"].startswith("monitoring.coreos.com/")]


# -- a real Prometheus -------------------------------------------------------------------------------


def service_monitor_endpoint() -> dict[str, Any]:
    sm = yaml.safe_load((MONITORING / "servicemonitor.yaml").read_text())
    (endpoint,) = sm["spec"]["endpoints"]
    return dict(endpoint)


def scrape_config(metrics_port: int) -> dict[str, Any]:
    """What the operator generates for the ServiceMonitor's endpoint, with a static target carrying
    the labels its Kubernetes service discovery and relabelling attach."""
    endpoint = service_monitor_endpoint()
    return {
        "job_name": "helmrelease-controller-metrics",
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "metrics_path": endpoint.get("path", "/metrics"),
        "scrape_interval": "1s",
        "static_configs": [
            {
                "targets": [f"127.0.0.1:{metrics_port}"],
                "labels": {
                    "namespace": TARGET_NAMESPACE,
                    "service": "helmrelease-controller-metrics",
                    "pod": "helmrelease-controller-7d9f8-abcde",
                    "container": "controller",
                    "endpoint": endpoint["port"],
                },
            }
        ],
    }


class Prometheus:
    """The real prometheus server on loopback, with the shipped rules; `query`, `alerts`."""

    def __init__(self, tmp: Path, scrape: dict[str, Any]) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail(
                "prometheus not found: install the Debian package `prometheus` (hack/apt-packages.txt)"
            )
        rules = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())["spec"]
        (tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": rules["groups"]}))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yaml")],
            "scrape_configs": [scrape],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (tmp / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = tmp / "prometheus.log"

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    async def wait_for(self, what: str, probe: Any, timeout: float = 60) -> Any:
        """Poll `probe()` until it returns something truthy (Prometheus scrapes and evaluates every 1s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: Any = None
        while loop.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"prometheus exited {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                last = await asyncio.to_thread(probe)
            except OSError as e:  # not listening yet
                last = e
            else:
                if last:
                    return last
            await asyncio.sleep(0.5)
        pytest.fail(f"prometheus: no {what} after {timeout}s (last: {last!r})")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture
async def metrics() -> AsyncIterator[tuple[Metrics, int]]:
    m = Metrics()
    m.set_leader(True)
    m.release_state("apps", "web", ready=False, stalled=False, suspended=False)
    m.release_state("apps", "api", ready=True, stalled=False, suspended=False)
    m.release_state("batch", "etl", ready=False, stalled=True, suspended=True)
    server = await m.serve("127.0.0.1:0")
    try:
        yield m, server.port
    finally:
        await server.stop()


async def test_servicemonitor_scrape_keeps_the_helmrelease_namespace(
    metrics: tuple[Metrics, int], tmp_path: Path
) -> None:
    _, port = metrics
    prom = Prometheus(tmp_path, scrape_config(port))
    try:
        stored = await prom.wait_for(
            "helmrelease_ready series", lambda: prom.api("query", query="helmrelease_ready")["result"]
        )
        assert sorted((s["metric"]["namespace"], s["metric"]["name"]) for s in stored) == [
            ("apps", "api"),
            ("apps", "web"),
            ("batch", "etl"),
        ]
        assert not [s for s in stored if "exported_namespace" in s["metric"]]
        # Series without a namespace of their own get the target's.
        (leader,) = prom.api("query", query="helmrelease_leader")["result"]
        assert leader["metric"]["namespace"] == TARGET_NAMESPACE

        # The shipped rules, evaluated by this Prometheus: apps/web is not Ready (pending: `for`
        # has not passed), named by its own namespace; the suspended batch/etl is not alerted on.
        def pending() -> list[dict[str, str]]:
            alerts = prom.api("alerts")["alerts"]
            return [a["labels"] for a in alerts if a["labels"]["alertname"].startswith("HelmRelease")]

        def release_alerts() -> list[dict[str, str]]:
            return [a for a in pending() if "name" in a]

        labels = await prom.wait_for("HelmReleaseNotReady alert", release_alerts)
        assert labels == [
            {"alertname": "HelmReleaseNotReady", "namespace": "apps", "name": "web", "severity": "warning"}
        ]
        health = {r["name"]: r["health"] for g in prom.api("rules")["groups"] for r in g["rules"]}
        assert set(health.values()) == {"ok"}, health
    finally:
        prom.stop()


async def test_without_honor_labels_the_namespace_is_exported_namespace(
    metrics: tuple[Metrics, int], tmp_path: Path
) -> None:
    """What docs/metrics.md says of a scrape config without honor_labels."""
    _, port = metrics
    scrape = scrape_config(port) | {"honor_labels": False}
    prom = Prometheus(tmp_path, scrape)
    try:
        stored = await prom.wait_for(
            "helmrelease_ready series", lambda: prom.api("query", query="helmrelease_ready")["result"]
        )
        assert sorted((s["metric"]["namespace"], s["metric"]["exported_namespace"]) for s in stored) == [
            (TARGET_NAMESPACE, "apps"),
            (TARGET_NAMESPACE, "apps"),
            (TARGET_NAMESPACE, "batch"),
        ]
    finally:
        prom.stop()
