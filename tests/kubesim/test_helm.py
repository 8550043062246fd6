"""kubesim conformance, driven by the real Helm CLI (each test runs with helm v4 and helm v3).

What a Helm user sees: the chart's objects, release revisions and statuses in
`helm history`/`list`/`status`, Helm's release storage Secrets, hooks, `--wait`
succeeding and timing out, and automatic rollback on failure. Objects are read
back with the real kubectl.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

CHART = str(Path(__file__).resolve().parent.parent / "charts" / "demo")


def history(helm: Any, name: str = "demo") -> list[tuple[int, str, str]]:
    """`helm history -o json` as (revision, status, description)."""
    return [
        (h["revision"], h["status"], h["description"])
        for h in json.loads(helm("history", name, "-o", "json"))
    ]


def env_of(dep: dict[str, Any]) -> dict[str, str]:
    return {
        e["name"]: e.get("value", "") for e in dep["spec"]["template"]["spec"]["containers"][0].get("env", [])
    }


def release_from_secret(secret: dict[str, Any]) -> dict[str, Any]:
    """Helm's release record: the Secret's base64, then Helm's own base64, then gzip."""
    raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    return json.loads(gzip.decompress(raw))


def test_install_creates_chart_objects_and_release_secret(helm: Any, kube: Any) -> None:
    out = helm("install", "demo", CHART)
    assert "STATUS: deployed" in out and "REVISION: 1" in out

    dep = kube.get("deployment", "demo")
    assert dep["spec"]["replicas"] == 1
    assert env_of(dep) == {"MESSAGE": "hello"}
    assert dep["metadata"]["annotations"]["meta.helm.sh/release-name"] == "demo"
    assert dep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"

    crd = kube.get("crd", "widgets.example.com")
    conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conds["Established"] == "True" and conds["NamesAccepted"] == "True"
    widget = kube.get("widgets.example.com", "demo-widget")
    assert widget["spec"] == {"size": 1}

    secret = kube.get("secret", "demo-secret")
    assert base64.b64decode(secret["data"]["password"]).decode() == "s3cr3t"
    assert "stringData" not in secret
    assert kube.get("configmap", "demo-config")["data"] == {"message": "hello"}
    svc = kube.get("service", "demo")
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080

    rel = kube.get("secret", "sh.helm.release.v1.demo.v1")
    assert rel["type"] == "helm.sh/release.v1"
    labels = rel["metadata"]["labels"]
    assert {k: labels[k] for k in ("name", "owner", "status", "version")} == {
        "name": "demo",
        "owner": "helm",
        "status": "deployed",
        "version": "1",
    }
    record = release_from_secret(rel)
    assert (record["name"], record["version"], record["namespace"]) == ("demo", 1, "default")
    assert record["info"]["status"] == "deployed"


def test_upgrade_changes_objects_runs_hook_and_supersedes(helm: Any, kube: Any, kubesim: Any) -> None:
    helm("install", "demo", CHART)
    assert kube.absent("job", "demo-pre-upgrade"), "a pre-upgrade hook must not run on install"
    out = helm("upgrade", "demo", CHART, "--set", "message=bye,replicas=2")
    assert "REVISION: 2" in out

    dep = kube.get("deployment", "demo")
    assert dep["spec"]["replicas"] == 2
    assert env_of(dep) == {"MESSAGE": "bye"}
    assert dep["metadata"]["generation"] == 2
    assert kube.get("configmap", "demo-config")["data"] == {"message": "bye"}
    assert kube.get("widgets.example.com", "demo-widget")["spec"] == {"size": 2}

    assert history(helm) == [(1, "superseded", "Install complete"), (2, "deployed", "Upgrade complete")]
    by_version = {
        s["metadata"]["labels"]["version"]: s["metadata"]["labels"]["status"]
        for s in kube.items("secrets", "-l", "owner=helm,name=demo")
    }
    assert by_version == {"1": "superseded", "2": "deployed"}

    job = kube.get("job", "demo-pre-upgrade")
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    writes = kubesim.requests.count(verb="create", resource="jobs.batch") + kubesim.requests.count(
        verb="patch", resource="jobs.batch", name="demo-pre-upgrade"
    )
    assert writes >= 1


def test_list_and_status_json(helm: Any) -> None:
    helm("install", "demo", CHART)
    helm("upgrade", "demo", CHART, "--set", "message=bye")
    (entry,) = json.loads(helm("list", "-o", "json"))
    assert entry["name"] == "demo" and entry["namespace"] == "default"
    assert (entry["revision"], entry["status"]) == ("2", "deployed")
    assert (entry["chart"], entry["app_version"]) == ("demo-0.1.0", "1.0.0")

    status = json.loads(helm("status", "demo", "-o", "json"))
    assert (status["name"], status["version"], status["namespace"]) == ("demo", 2, "default")
    assert status["info"]["status"] == "deployed"
    assert status["info"]["description"] == "Upgrade complete"
    assert status["config"] == {"message": "bye"}
    assert "kind: Deployment" in status["manifest"]
    # The failed-release filter finds nothing.
    assert json.loads(helm("list", "--failed", "-o", "json")) == []


def test_rollback_restores_old_template(helm: Any, kube: Any) -> None:
    helm("install", "demo", CHART)
    helm("upgrade", "demo", CHART, "--set", "message=bye,replicas=3")
    assert env_of(kube.get("deployment", "demo")) == {"MESSAGE": "bye"}
    helm("rollback", "demo", "1")

    dep = kube.get("deployment", "demo")
    assert env_of(dep) == {"MESSAGE": "hello"}
    assert dep["spec"]["replicas"] == 1
    assert kube.get("widgets.example.com", "demo-widget")["spec"] == {"size": 1}
    assert history(helm) == [
        (1, "superseded", "Install complete"),
        (2, "superseded", "Upgrade complete"),
        (3, "deployed", "Rollback to 1"),
    ]


def test_uninstall_removes_release_and_objects(helm: Any, kube: Any) -> None:
    helm("install", "demo", CHART)
    helm("upgrade", "demo", CHART, "--set", "message=bye")
    assert kube.names("replicasets") != []
    out = helm("uninstall", "demo")
    assert 'release "demo" uninstalled' in out

    assert kube.items("secrets", "-l", "owner=helm") == []
    for kind, name in (
        ("deployment", "demo"),
        ("service", "demo"),
        ("configmap", "demo-config"),
        ("secret", "demo-secret"),
        ("widgets.example.com", "demo-widget"),
    ):
        assert kube.absent(kind, name), f"{kind}/{name} survived helm uninstall"
    # ReplicaSets are garbage-collected with their Deployment (ownerReferences).
    assert kube.names("replicasets") == []
    # Helm keeps CRDs (from crds/) and leaves hook resources behind.
    assert kube.get("crd", "widgets.example.com")["metadata"]["name"] == "widgets.example.com"
    everything = ("list", "-o", "json") if helm.major == 4 else ("list", "--all", "-o", "json")
    assert json.loads(helm(*everything)) == []
    proc = helm.run("status", "demo", check=False)
    assert proc.returncode != 0 and "release: not found" in proc.stderr


def test_wait_succeeds_when_workloads_are_ready(helm: Any, kube: Any) -> None:
    out = helm("install", "demo", CHART, "--set", "replicas=2", "--wait", "--timeout", "30s")
    assert "STATUS: deployed" in out
    # When helm returns, the Deployment it waited for is fully available.
    dep = kube.get("deployment", "demo")
    assert dep["status"]["readyReplicas"] == 2
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"]
    assert any(c["type"] == "Available" and c["status"] == "True" for c in dep["status"]["conditions"])
    assert history(helm) == [(1, "deployed", "Install complete")]


def test_wait_times_out_on_never_ready_workload(helm: Any, kube: Any) -> None:
    proc = helm.run(
        "install", "demo", CHART, "--set", "neverReady=true", "--wait", "--timeout", "3s", check=False
    )
    assert proc.returncode != 0
    assert "context deadline exceeded" in proc.stderr or "timed out" in proc.stderr, proc.stderr
    [(rev, status, description)] = history(helm)
    assert (rev, status) == (1, "failed")
    assert "failed" in description.lower()
    labels = kube.get("secret", "sh.helm.release.v1.demo.v1")["metadata"]["labels"]
    assert labels["status"] == "failed"
    dep = kube.get("deployment", "demo")
    assert dep["status"].get("readyReplicas", 0) == 0
    assert any(c["type"] == "Available" and c["status"] == "False" for c in dep["status"]["conditions"])


def test_failed_upgrade_rolls_back(helm: Any, kube: Any) -> None:
    helm("install", "demo", CHART)
    before = kube.get("deployment", "demo")["spec"]["template"]
    flag = "--rollback-on-failure" if helm.major == 4 else "--atomic"
    proc = helm.run(
        "upgrade",
        "demo",
        CHART,
        "--set",
        "neverReady=true,message=broken",
        flag,
        "--timeout",
        "3s",
        check=False,
    )
    assert proc.returncode != 0
    assert "rolled back" in proc.stderr or "rollback" in proc.stderr.lower(), proc.stderr

    hist = history(helm)
    assert [(r, s) for r, s, _ in hist] == [(1, "superseded"), (2, "failed"), (3, "deployed")]
    assert hist[2][2] == "Rollback to 1"
    dep = kube.get("deployment", "demo")
    assert dep["spec"]["template"] == before
    assert env_of(dep) == {"MESSAGE": "hello"}
    assert "kubesim.dev/never-ready" not in (dep["spec"]["template"]["metadata"].get("annotations") or {})


def test_upgrade_install_into_new_namespace_with_history_max(helm: Any, kube: Any) -> None:
    out = helm(
        "upgrade", "--install", "demo", CHART, "-n", "apps", "--create-namespace", "--history-max", "2"
    )
    assert "STATUS: deployed" in out
    assert kube.get("namespace", "apps")["status"]["phase"] == "Active"
    for message in ("a", "b", "c"):
        helm("upgrade", "demo", CHART, "-n", "apps", "--history-max", "2", "--set", f"message={message}")
    # Helm prunes release Secrets beyond --history-max.
    assert kube.names("secrets", "-n", "apps", "-l", "owner=helm") == [
        "sh.helm.release.v1.demo.v3",
        "sh.helm.release.v1.demo.v4",
    ]
    hist = json.loads(helm("history", "demo", "-n", "apps", "-o", "json"))
    assert [(h["revision"], h["status"]) for h in hist] == [(3, "superseded"), (4, "deployed")]
    assert kube.get("configmap", "demo-config", "-n", "apps")["data"] == {"message": "c"}
    assert kube.items("secrets", "-l", "owner=helm") == [], "nothing in the default namespace"


def test_uninstall_keep_history(helm: Any, kube: Any) -> None:
    helm("install", "demo", CHART)
    helm("uninstall", "demo", "--keep-history")
    labels = kube.get("secret", "sh.helm.release.v1.demo.v1")["metadata"]["labels"]
    assert labels["status"] == "uninstalled"
    (entry,) = json.loads(helm("list", "--uninstalled", "-o", "json"))
    assert (entry["name"], entry["status"]) == ("demo", "uninstalled")
    assert kube.absent("deployment", "demo")
    # The kept history allows a reinstall under the same name only with --replace; a rollback revives it.
    helm("rollback", "demo", "1")
    assert history(helm)[-1][1:] == ("deployed", "Rollback to 1")
    assert env_of(kube.get("deployment", "demo")) == {"MESSAGE": "hello"}
