"""`kubectl hr values`: the merged user values, equal to what helm got (`helm get values`), with every
value from a Secret masked unless --show-secrets; with the real controller, helm and kubesim."""

from __future__ import annotations

import subprocess

import yaml

from tests.conftest import tool
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess

from ..controller.conftest import Cluster, helmrelease
from .conftest import Plugin


def test_values_match_what_helm_got_and_mask_secrets(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin
) -> None:
    def meta(name: str) -> dict[str, str]:
        return {"name": name, "namespace": "apps"}

    cm_data = {"values.yaml": "replicas: 2\nmessage: from-configmap\n"}
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("web-values"), "data": cm_data})
    secret_data = {"values.yaml": "db:\n  password: hunter2\n  port: 5432\n", "token": "s3cret"}
    cluster.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("web-secrets"), "stringData": secret_data}
    )
    values_from = [
        {"kind": "ConfigMap", "name": "web-values"},
        {"kind": "Secret", "name": "web-secrets"},
        {"kind": "Secret", "name": "web-secrets", "valuesKey": "token", "targetPath": "auth.token"},
    ]
    cluster.apply(helmrelease("web", repo.url, valuesFrom=values_from, values={"message": "from-spec"}))
    cluster.wait_ready("web")

    shown = yaml.safe_load(hr.ok("values", "web", "-n", "apps"))
    assert shown == {
        "replicas": 2,
        "message": "from-spec",
        "db": {"password": "*****", "port": "*****"},
        "auth": {"token": "*****"},
    }
    everything = yaml.safe_load(hr.ok("values", "web", "-n", "apps", "--show-secrets"))
    helm = subprocess.run(
        [tool("helm"), "get", "values", "web", "-n", "apps", "-o", "yaml"],
        env=hr.env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert everything == yaml.safe_load(helm.stdout)  # what the controller gave helm
    assert everything["db"] == {"password": "hunter2", "port": 5432}

    text = hr.ok("values", "--help")
    assert "examples:" in text and "RBAC" in text
    missing = hr("values", "nope", "-n", "apps")
    assert missing.code == 1
