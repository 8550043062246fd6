"""The shipped alerts and dashboard (deploy/monitoring/) against the real promtool and the metric contract.

Every alert of deploy/monitoring/prometheusrule.yaml has promtool unit tests in
deploy/monitoring/tests/ (firing and staying quiet); they run here with the real `promtool test
rules` on the rule groups extracted from the PrometheusRule. The dashboard's queries must parse,
read the `${datasource}` variable, and name only metrics the controller exposes.
promtool comes from the Debian package `prometheus` (hack/apt-packages.txt): missing is a failure.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from helmrelease_controller.metrics import Metrics
from tests.conftest import ROOT

MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
DOCS = ROOT / "docs" / "metrics.md"
RULE_TESTS = sorted((MONITORING / "tests").glob("*.yaml"))
METRIC_NAME = re.compile(r"\bhelmrelease_[a-z0-9_]+\b")


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: install the Debian package `prometheus` (hack/apt-packages.txt)")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rule_groups() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    assert doc["kind"] == "PrometheusRule", doc.get("kind")
    groups: list[dict[str, Any]] = doc["spec"]["groups"]
    return groups


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in rule_groups() for r in g["rules"] if "alert" in r]


def dashboard_targets() -> list[tuple[str, dict[str, Any]]]:
    """(panel title, target) of every query of the dashboard."""
    board = json.loads(DASHBOARD.read_text())
    return [(p["title"], t) for p in board["panels"] for t in p.get("targets", [])]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A dir with rules.yaml (the PrometheusRule's groups, as a plain rules file) and the unit tests."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}, sort_keys=False))
    for test in RULE_TESTS:
        shutil.copy(test, tmp_path / test.name)
    return tmp_path


def test_promtool_check_rules(rules_dir: Path) -> None:
    proc = promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in proc.stdout, proc.stdout


@pytest.mark.parametrize("test_file", [t.name for t in RULE_TESTS])
def test_promtool_test_rules(rules_dir: Path, test_file: str) -> None:
    proc = promtool("test", "rules", test_file, cwd=rules_dir)
    assert proc.returncode == 0, f"promtool test rules {test_file}:\n{proc.stdout}{proc.stderr}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in RULE_TESTS:
        for case in yaml.safe_load(test.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {r["alert"] for r in alert_rules()}
    assert alerts, "no alert rules in the PrometheusRule"
    assert alerts - firing == set(), "alerts without a test where they fire"
    assert alerts - quiet == set(), "alerts without a test where they stay quiet"
    assert (firing | quiet) - alerts == set(), "unit tests of alerts that do not exist"


def test_rules_comment_names_the_command_that_applies_them() -> None:
    first = RULES.read_text().splitlines()[0]
    assert "kubectl apply -k deploy/monitoring/" in first, first


def contract_metric_names() -> set[str]:
    """Every sample name the exporter writes, with each label-bearing family populated once."""
    m = Metrics()
    m.release_state("apps", "web", ready=False, stalled=False, suspended=False)
    m.release_failure("apps", "web", "install")
    m.notification_providers(["slack"])
    text = generate_latest(m.registry).decode()
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {line.split("{")[0].split(" ")[0] for line in samples}


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every alert, dashboard query and variable, and query in docs/metrics.md."""
    out = [(f"alert {r['alert']}", str(r["expr"])) for r in alert_rules()]
    out += [(f"panel {title!r}", t["expr"]) for title, t in dashboard_targets()]
    board = json.loads(DASHBOARD.read_text())
    out += [
        (f"variable {v['name']}", v["query"]) for v in board["templating"]["list"] if v["type"] == "query"
    ]
    return out + docs_queries()


def docs_queries() -> list[tuple[str, str]]:
    """(comment, PromQL) of each query in docs/metrics.md's promql blocks: a `#` line, then the query."""
    out: list[tuple[str, str]] = []
    for block in re.findall(r"```promql\n(.*?)```", DOCS.read_text(), flags=re.S):
        for chunk in block.split("\n\n"):
            lines = chunk.strip().splitlines()
            comment = [ln for ln in lines if ln.startswith("#")]
            expr = "\n".join(ln for ln in lines if not ln.startswith("#"))
            out.append((f"docs/metrics.md {comment[0] if comment else '?'}", expr))
    assert out, "no promql blocks in docs/metrics.md"
    return out


@pytest.mark.parametrize(("where", "expr"), [pytest.param(w, e, id=w) for w, e in queries()])
def test_queries_name_only_metrics_the_controller_exposes(where: str, expr: str) -> None:
    names = set(METRIC_NAME.findall(expr))
    assert names, f"{where}: no helmrelease_ metric in {expr!r}"
    assert names <= contract_metric_names(), f"{where}: unknown metrics {names - contract_metric_names()}"
    # The ServiceMonitor keeps the HelmRelease's `namespace` (honorLabels); exported_namespace
    # only exists under a scrape config without honor_labels.
    assert "exported_namespace" not in expr, where


def promql(query: str) -> str:
    """A dashboard query as Prometheus sees it: variables filled in, Grafana's label_values() unwrapped."""
    query = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query.strip())
    return query.replace("$namespace", ".*")


def test_queries_parse(tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule, dashboard variables filled in)."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": promql(expr)} for i, (_, expr) in enumerate(queries())
    ]
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": rules}]}))
    proc = promtool("check", "rules", "dashboard.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dashboard_panels_read_the_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"]["uid"] == "${datasource}", var["name"]
    for panel in board["panels"]:
        assert panel.get("datasource") == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel.get("targets", []):
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], panel["title"]


def test_dashboard_not_ready_excludes_suspended_releases() -> None:
    (expr,) = [t["expr"] for title, t in dashboard_targets() if title == "Not ready"]
    assert "helmrelease_suspended" in expr, expr
