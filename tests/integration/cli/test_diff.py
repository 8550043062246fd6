"""`kubectl hr diff`: the rendered manifests of a spec (the controller's chart resolution and values
merge, the real `helm template`) against the deployed release in Helm's storage, with the real
controller, chart repository, helm and kubesim; Secrets' data masked. Also `kubectl hr convert`."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from ..controller.conftest import Cluster, helmrelease
from .conftest import Plugin, Result


def _diff_file(hr: Plugin, tmp_path: Path, obj: dict[str, Any]) -> Result:
    path = tmp_path / "hr.yaml"
    path.write_text(yaml.safe_dump(obj))
    return hr("diff", "-f", str(path), "-n", "apps")


def test_no_change_then_values_and_chart_version_changes(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    cluster.apply(helmrelease("web", repo.url, version="1.0.0"))
    cluster.wait_ready("web")

    same = hr("diff", "web", "-n", "apps")
    assert (same.code, same.out) == (0, ""), same.err

    changed = _diff_file(
        hr, tmp_path, helmrelease("web", repo.url, version="1.0.0", values={"message": "hi"})
    )
    assert changed.code == 1, changed.err
    assert "--- deployed/ConfigMap/apps/web-config\n+++ desired/ConfigMap/apps/web-config" in changed.out
    assert "-  message: hello\n+  message: hi" in changed.out
    assert "deployed/Deployment/apps/web" in changed.out
    assert "Service/apps/web" not in changed.out  # unchanged objects are not printed

    newer = _diff_file(hr, tmp_path, helmrelease("web", repo.url, version="1.1.0"))
    assert newer.code == 1, newer.err
    assert "-    chart: webapp-1.0.0\n+    chart: webapp-1.1.0" in newer.out
    assert "-  chartVersion: 1.0.0\n+  chartVersion: 1.1.0" in newer.out

    # The cluster's own (suspended, then edited) spec: `diff NAME`.
    hr.ok("suspend", "web", "-n", "apps")
    cluster.apply(helmrelease("web", repo.url, version="1.0.0", values={"replicas": 3}))
    edited = hr("diff", "web", "-n", "apps")
    assert edited.code == 1 and "-  replicas: 1\n+  replicas: 3" in edited.out, edited.out + edited.err


def test_secret_data_is_masked(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    repo.add_charts([ROOT / "tests" / "charts" / "secretapp"])
    chart = {"repository": {"url": repo.url, "name": "secretapp", "version": "1.0.0"}}
    cluster.apply(helmrelease("creds", repo.url, chart=chart, values={"password": "hunter2"}))
    cluster.wait_ready("creds")

    new = {"password": "s3cr3t-new", "apiKey": "key-9"}
    r = _diff_file(hr, tmp_path, helmrelease("creds", repo.url, chart=chart, values=new))
    assert r.code == 1, r.err
    assert "--- deployed/Secret/apps/creds-credentials" in r.out
    assert "-  password: '***'\n+  password: '*** (changed)'" in r.out
    assert "-  apiKey: '***'\n+  apiKey: '*** (changed)'" in r.out
    for secret in ("hunter2", "s3cr3t-new", "key-0", "key-9"):
        for shown in (secret, base64.b64encode(secret.encode()).decode()):
            assert shown not in r.out + r.err
    assert "ConfigMap/apps/creds-settings" not in r.out


def test_errors_usage_and_a_release_not_installed_yet(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    fresh = _diff_file(hr, tmp_path, helmrelease("api", repo.url, version="1.0.0"))
    assert fresh.code == 1
    assert "no deployed revision: everything is an addition" in fresh.err
    assert "--- deployed/Service/apps/api\n+++ desired/Service/apps/api" in fresh.out
    assert "+kind: Service" in fresh.out

    missing = _diff_file(hr, tmp_path, helmrelease("api", repo.url, version="9.9.9"))
    assert missing.code == 1 and missing.out == ""
    err = missing.err.strip()
    assert err.startswith("error: cannot fetch the chart:") and "\n" not in err

    assert hr("diff", "-n", "apps").code == 2  # NAME or -f, exactly one
    assert hr("diff", "api", "-f", str(tmp_path / "hr.yaml")).code == 2
    assert hr("diff", "nope", "-n", "apps").code == 1
    assert "examples:" in hr.ok("diff", "--help")


def test_convert_through_the_plugin(hr: Plugin) -> None:
    assert "Flux" in hr.ok("convert", "--help")
    out = hr.ok("convert", str(ROOT / "tests" / "data" / "flux" / "v1-repository.yaml"))
    converted = yaml.safe_load(out)
    assert converted["apiVersion"] == "helmrelease.dev/v1" and converted["metadata"]["name"] == "redis"


def test_values_from_a_secret_are_masked_in_every_object(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    cluster.apply(helmrelease("web", repo.url, version="1.0.0"))
    cluster.wait_ready("web")
    secret_values = {"values.yaml": "message: from-a-secret-42\n"}
    meta = {"name": "web-secret", "namespace": "apps"}
    cluster.apply({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": secret_values})

    from_secret = [{"kind": "Secret", "name": "web-secret"}]
    r = _diff_file(hr, tmp_path, helmrelease("web", repo.url, version="1.0.0", valuesFrom=from_secret))
    assert r.code == 1, r.err
    assert "-  message: hello\n+  message: ***" in r.out  # the ConfigMap: a chart may copy it anywhere
    assert "from-a-secret-42" not in r.out + r.err
