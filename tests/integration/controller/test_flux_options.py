"""Flux's per-action helm options (issue 16), on kubesim with the real helm 3 and 4: each field's
effect where kubesim shows it (docs/flux-compatibility.md); tests/unit/helm/test_flux_options.py
has the helm arguments of every field.

The chart is webapp plus templates each switched on by a value: a pre-install/upgrade/rollback
hook Job (`preHook: fail` makes it fail), a Job that never completes (`slowJob`), a second,
failing test (`extraTest`), and a values schema (replicas >= 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, package_webapp, wait_for

from .conftest import Cluster, helmrelease

BOTH = pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)

EXTRA = """\
{{- if .Values.preHook }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-pre-hook
  annotations:
    helm.sh/hook: pre-install,pre-upgrade,pre-rollback
    helm.sh/hook-delete-policy: before-hook-creation
    {{- if eq .Values.preHook "fail" }}
    kubesim.dev/fail: "true"
    {{- end }}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: hook, image: busybox, command: ["true"]}
{{- end }}
{{- if .Values.slowJob }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations: {kubesim.dev/never-ready: "true"}
spec:
  # completions, parallelism and backoffLimit left to the API server's defaults, which helm 3's
  # --wait-for-jobs reads
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: migrate, image: busybox, command: ["true"]}
{{- end }}
{{- if .Values.extraTest }}
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-extra-test
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation
    kubesim.dev/fail: "true"
spec:
  restartPolicy: Never
  containers:
  - {name: check, image: busybox, command: ["false"]}
{{- end }}
"""
SCHEMA = {"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}}


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with ChartRepo(tmp_path / "repo") as r:
        chart = package_webapp(tmp_path / "charts-src", "1.0.0")
        (chart / "templates" / "flux.yaml").write_text(EXTRA)
        (chart / "values.schema.json").write_text(json.dumps(SCHEMA))
        r.add_charts([chart])
        yield r


def _message(cluster: Cluster, name: str) -> str:
    """Why the last install or upgrade failed (the Released condition)."""
    return str(cluster.condition(name, "Released").get("message", ""))


def _exists(cluster: Cluster, kind: str, name: str, api_version: str = "v1") -> bool:
    return cluster.get(api_version, kind, "apps", name) is not None


@BOTH
def test_disable_hooks_skips_the_charts_hooks(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """A pre-install hook that fails fails the install; with install.disableHooks it never runs."""
    cluster.apply(helmrelease("hooked", repo.url, values={"preHook": "fail"}))
    cluster.apply(helmrelease("web", repo.url, values={"preHook": "fail"}, install={"disableHooks": True}))
    cluster.wait_ready("web")
    assert not _exists(cluster, "Job", "web-pre-hook", "batch/v1")
    cluster.wait_condition("hooked", "Released", "False", "InstallFailed")
    assert "hook" in _message(cluster, "hooked"), _message(cluster, "hooked")
    assert _exists(cluster, "Job", "hooked-pre-hook", "batch/v1")
    # upgrade.disableHooks: the upgrade's pre-upgrade hook does not run either.
    cluster.apply(
        helmrelease(
            "web",
            repo.url,
            values={"preHook": "fail", "message": "v2"},
            install={"disableHooks": True},
            upgrade={"disableHooks": True},
        )
    )
    wait_for(
        lambda: cluster.status("web").get("history", [{}])[0].get("revision") == 2, 30, what="revision 2"
    )
    cluster.wait_ready("web")
    assert not _exists(cluster, "Job", "web-pre-hook", "batch/v1")
    assert all("--no-hooks" in c for c in controller.helm_calls("upgrade") if c.split()[1] == "web")


@BOTH
def test_disable_wait_for_jobs_does_not_wait_for_a_job(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """A Job that never completes times the install out, unless install.disableWaitForJobs."""
    cluster.apply(helmrelease("waits", repo.url, values={"slowJob": True}, timeout="3s"))
    cluster.apply(
        helmrelease(
            "web", repo.url, values={"slowJob": True}, timeout="3s", install={"disableWaitForJobs": True}
        )
    )
    cluster.wait_ready("web")
    assert _exists(cluster, "Job", "web-migrate", "batch/v1")  # still running: nobody waited for it
    cluster.wait_condition("waits", "Released", "False", "InstallFailed", timeout=30)
    assert "not ready within 3s" in _message(cluster, "waits"), _message(cluster, "waits")


@BOTH
def test_test_filters_run_only_the_chosen_tests(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """test.filters: the excluded failing test never runs; test.timeout is helm test's timeout."""
    excluded = {"enable": True, "timeout": "45s", "filters": [{"name": "web-extra-test", "exclude": True}]}
    cluster.apply(helmrelease("web", repo.url, values={"extraTest": True}, test=excluded))
    cluster.apply(helmrelease("all", repo.url, values={"extraTest": True}, test={"enable": True}))
    cluster.wait_condition("web", "TestSuccess", "True", "TestSucceeded")
    cluster.wait_ready("web")
    assert _exists(cluster, "Pod", "web-test") and not _exists(cluster, "Pod", "web-extra-test")
    call = next(c for c in controller.helm_calls("test") if c.split()[1] == "web")
    assert "--filter !name=web-extra-test" in call and "--timeout 45s" in call, call
    cluster.wait_condition("all", "TestSuccess", "False", "TestFailed")
    assert _exists(cluster, "Pod", "all-extra-test")


def _replicasets(cluster: Cluster, deployment: str) -> list[dict[str, Any]]:
    items = json.loads(cluster.kubectl("get", "replicasets", "-n", "apps", "-o", "json"))["items"]
    return [rs for rs in items if rs["metadata"]["labels"].get("app") == deployment]


@BOTH
def test_deletion_propagation_orphan_keeps_the_replicasets(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """uninstall.deletionPropagation: orphan leaves the Deployment's ReplicaSet behind (helm
    --cascade orphan); the default (background) takes it with the Deployment."""
    cluster.apply(helmrelease("web", repo.url, uninstall={"deletionPropagation": "orphan"}))
    cluster.apply(helmrelease("other", repo.url))
    cluster.wait_ready("web")
    cluster.wait_ready("other")
    wait_for(lambda: _replicasets(cluster, "web") and _replicasets(cluster, "other"), 10, what="ReplicaSets")
    cluster.kubectl("delete", "hr", "web", "other", "-n", "apps", "--timeout", "30s")
    assert not _exists(cluster, "Deployment", "web", "apps/v1")
    wait_for(lambda: not _replicasets(cluster, "other"), 10, what="other's ReplicaSet collected")
    kept = _replicasets(cluster, "web")
    assert len(kept) == 1 and not kept[0]["metadata"].get("ownerReferences"), kept
    assert "--cascade orphan" in controller.helm_calls("uninstall")[0] or any(
        "--cascade orphan" in c for c in controller.helm_calls("uninstall")
    )


@BOTH
def test_take_ownership_adopts_an_existing_object(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """An object the chart renders exists already, not made by helm: the install fails (our
    default); with install.disableTakeOwnership: false helm takes it over (--take-ownership)."""
    cluster.kubectl("create", "configmap", "web-config", "-n", "apps", "--from-literal=message=hello")
    cluster.apply(helmrelease("web", repo.url))
    cluster.wait_condition("web", "Released", "False", "InstallFailed")
    assert "web-config" in _message(cluster, "web"), _message(cluster, "web")
    cluster.apply(helmrelease("web", repo.url, install={"disableTakeOwnership": False}))
    cluster.wait_ready("web")
    cm = cluster.get("v1", "ConfigMap", "apps", "web-config")
    assert cm is not None and cm["metadata"]["annotations"]["meta.helm.sh/release-name"] == "web"


@BOTH
def test_removed_values_go_unless_preserve_values(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """Values removed from the spec are gone after the upgrade (helm --reset-values: helm would
    keep the last ones when given none); upgrade.preserveValues keeps them (--reuse-values)."""
    for name, upgrade in (("web", {}), ("kept", {"preserveValues": True})):
        cluster.apply(helmrelease(name, repo.url, values={"message": "bye"}, upgrade=upgrade))
    for name in ("web", "kept"):
        cluster.wait_ready(name)
        cluster.apply(
            helmrelease(name, repo.url, values={"replicas": 1}, upgrade=cluster.hr(name)["spec"]["upgrade"])
        )
    for name in ("web", "kept"):
        wait_for(
            lambda n=name: cluster.status(n).get("history", [{}])[0].get("revision") == 2,
            30,
            what=f"{name} v2",
        )
        cluster.wait_ready(name)
    message = {
        n: cluster.get("v1", "ConfigMap", "apps", f"{n}-config")["data"]["message"] for n in ("web", "kept")
    }  # type: ignore[index]
    assert message == {"web": "hello", "kept": "bye"}


@BOTH
def test_disable_schema_validation(cluster: Cluster, repo: ChartRepo, controller: ControllerProcess) -> None:
    """replicas: 0 breaks the chart's values.schema.json (minimum 1): refused, unless
    install.disableSchemaValidation."""
    cluster.apply(helmrelease("checked", repo.url, values={"replicas": 0}))
    cluster.apply(
        helmrelease("web", repo.url, values={"replicas": 0}, install={"disableSchemaValidation": True})
    )
    cluster.wait_ready("web")
    cluster.wait_condition("checked", "Released", "False", "InstallFailed")
    assert "replicas" in _message(cluster, "checked"), _message(cluster, "checked")


@pytest.mark.parametrize(
    ("helm_name", "spec", "refused"),
    [
        ("helm", {"rollback": {"recreate": True}}, "spec.rollback.recreate: helm 4 has no --recreate-pods"),
        ("helm3", {"waitStrategy": {"name": "poller"}}, "spec.waitStrategy.name: poller needs helm 4"),
    ],
    indirect=["helm_name"],
)
def test_what_this_helm_cannot_do_is_an_invalid_spec(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, spec: dict[str, Any], refused: str
) -> None:
    cluster.apply(helmrelease("web", repo.url, **spec))
    c = cluster.wait_condition("web", "Ready", "False", "InvalidSpec")
    assert refused in c["message"], c
    assert controller.helm_calls("upgrade") == []


@pytest.mark.parametrize("helm_name", ["helm"], indirect=True)
def test_legacy_wait_strategy_on_helm4(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    """waitStrategy legacy: helm 4 waits the helm 3 way (--wait=legacy), and the release is Ready."""
    cluster.apply(helmrelease("web", repo.url, waitStrategy={"name": "legacy"}))
    cluster.wait_ready("web")
    assert "--wait=legacy" in controller.helm_calls("upgrade")[0].split()


@BOTH
def test_rollback_options(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str
) -> None:
    """rollback.disableHooks: the failing pre-rollback hook does not run and the remediation succeeds
    (without it the rollback fails); disableWaitForJobs drops --wait-for-jobs; on helm 3 recreate
    restarts the pods (--recreate-pods; refused on helm 4, see above)."""
    timeout = "2s" if helm_name == "helm" else "5s"  # helm 3 polls every 2 s
    options = {"disableHooks": True, "disableWaitForJobs": True} | (
        {"recreate": True} if helm_name == "helm3" else {}
    )
    no_hooks = {"disableHooks": True}
    upgrade = no_hooks | {"remediation": {"retries": 0, "remediateLastFailure": True}}
    for name, rollback in (("web", options), ("hooked", {})):
        for values in ({"preHook": "fail"}, {"preHook": "fail", "neverReady": True}):
            spec = {"timeout": timeout, "install": no_hooks, "upgrade": upgrade, "rollback": rollback}
            cluster.apply(helmrelease(name, repo.url, values=values, **spec))
            if not values.get("neverReady"):
                cluster.wait_ready(name)
    cluster.wait_condition("web", "Remediated", "True", "RollbackSucceeded", timeout=60)
    cluster.wait_condition("hooked", "Remediated", "True", "RollbackFailed", timeout=60)
    assert not _exists(cluster, "Job", "web-pre-hook", "batch/v1")
    assert _exists(cluster, "Job", "hooked-pre-hook", "batch/v1")
    call = next(c for c in controller.helm_calls("rollback") if c.split()[1] == "web").split()
    assert "--no-hooks" in call and "--wait-for-jobs" not in call, call
    assert ("--recreate-pods" in call) == (helm_name == "helm3"), call
