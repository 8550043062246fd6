"""spec.postRenderers and spec.commonMetadata (issue 16) on kubesim, with the real controller, the
real helm 3 and 4 and the real `kubectl kustomize` (docs/post-renderers.md): a patch and an image
override in the live Deployment, a changed patch upgrades the release, common labels and
annotations on every object (and on hooks only on helm 4, which passes them to post-renderers),
a patch kustomize refuses is one line on the HelmRelease and an event while other HelmReleases
keep working, and `kubectl hr diff` compares the post-rendered manifests.
tests/unit/helm/test_postrender_args.py has the helm arguments; tests/unit/postrender the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.chartrepo import ChartRepo
from tests.helpers.controller import ControllerProcess, wait_for
from tests.integration.cli.conftest import Plugin
from tests.integration.cli.conftest import hr as hr  # the kubectl hr fixture

from .conftest import Cluster, helmrelease

BOTH = pytest.mark.parametrize("helm_name", ["helm", "helm3"], indirect=True)


def replicas(n: int) -> dict[str, Any]:
    """A JSON 6902 patch of the Deployment's replicas."""
    return {"patch": f"- {{op: replace, path: /spec/replicas, value: {n}}}", "target": {"kind": "Deployment"}}


ANNOTATE = {  # a strategic merge patch, no target: it names its object
    "patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, annotations: {patched: 'yes'}}\n"
}
IMAGE = {"name": "nginx", "newName": "registry.example/nginx", "newTag": "1.27"}


def post_renderers(*patches: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"kustomize": {"patches": list(patches)}}, {"kustomize": {"images": [IMAGE]}}]


def deployment(cluster: Cluster, name: str = "web") -> dict[str, Any]:
    obj = cluster.get("apps/v1", "Deployment", "apps", name)
    assert obj is not None, f"Deployment {name} not found"
    return obj


def revision(cluster: Cluster, name: str) -> int:
    return int((cluster.status(name).get("history") or [{}])[0].get("revision") or 0)


@BOTH
def test_patches_and_image_in_the_live_deployment_and_a_changed_patch_upgrades(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    values = {"image": "nginx:1.0"}
    cluster.apply(
        helmrelease("web", repo.url, values=values, postRenderers=post_renderers(replicas(3), ANNOTATE))
    )
    cluster.wait_ready("web")
    live = deployment(cluster)
    assert live["spec"]["replicas"] == 3
    assert live["metadata"]["annotations"]["patched"] == "yes"
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/nginx:1.27"
    assert revision(cluster, "web") == 1

    cluster.apply(
        helmrelease("web", repo.url, values=values, postRenderers=post_renderers(replicas(2), ANNOTATE))
    )
    wait_for(lambda: revision(cluster, "web") == 2, 30, what="revision 2 after the patch changed")
    cluster.wait_ready("web")
    assert deployment(cluster)["spec"]["replicas"] == 2
    upgrades = [c for c in controller.helm_calls("upgrade") if c.split()[1] == "web"]
    assert len(upgrades) == 2 and all("--post-renderer" in c for c in upgrades)


def release_objects(cluster: Cluster) -> list[dict[str, Any]]:
    found = [
        cluster.get("v1", "ConfigMap", "apps", "web-config"),
        cluster.get("v1", "Service", "apps", "web"),
        cluster.get("apps/v1", "Deployment", "apps", "web"),
    ]
    assert all(found), found
    return [o for o in found if o is not None]


@BOTH
def test_common_metadata_on_every_object(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, helm_name: str
) -> None:
    """Every object's own metadata; a key the chart sets too is overridden (the Deployment's
    `chart` label). The test hook's Pod too on helm 4 (helm 4 passes hooks to post-renderers, as
    Flux's default `combined`), not on helm 3 (Flux's `nohooks`)."""
    common = {
        "labels": {"team": "payments", "chart": "common"},
        "annotations": {"owner": "team-a@example.com"},
    }
    cluster.apply(helmrelease("web", repo.url, commonMetadata=common, test={"enable": True}))
    cluster.wait_ready("web")
    for obj in release_objects(cluster):
        meta = obj["metadata"]
        assert meta["labels"]["team"] == "payments" and meta["labels"]["chart"] == "common", meta
        assert meta["annotations"]["owner"] == "team-a@example.com", meta
    live = deployment(cluster)
    assert live["spec"]["selector"] == {"matchLabels": {"app": "web"}}  # selectors are left alone
    assert "team" not in live["spec"]["template"]["metadata"]["labels"]  # and pod templates
    hook = wait_for(lambda: cluster.get("v1", "Pod", "apps", "web-test"), 30, what="the test hook's Pod")
    labels = hook["metadata"].get("labels") or {}
    assert labels.get("team") == ("payments" if helm_name == "helm" else None), labels


@BOTH
def test_a_patch_kustomize_refuses_is_one_line_and_an_event(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess
) -> None:
    bad = {"patch": "- {op: replace, path: /spec/nope/x, value: 1}", "target": {"kind": "Deployment"}}
    cluster.apply(helmrelease("broken", repo.url, postRenderers=[{"kustomize": {"patches": [bad]}}]))
    cluster.apply(helmrelease("web", repo.url, postRenderers=post_renderers(replicas(2))))
    cluster.wait_ready("web")
    assert deployment(cluster)["spec"]["replicas"] == 2
    why = (
        "install failed: post-renderer postRenderers[0].kustomize: replace operation does not apply: "
        "doc is missing path: /spec/nope/x: missing value"
    )
    released = cluster.wait_condition("broken", "Released", "False", "InstallFailed")
    assert released["message"] == why
    ready = cluster.wait_condition("broken", "Ready", "False")
    assert why in ready["message"] and "\n" not in ready["message"], ready
    events = [e for e in cluster.events() if why in (e.get("message") or e.get("note") or "")]
    assert events, cluster.event_reasons()
    assert cluster.get("apps/v1", "Deployment", "apps", "broken") is None  # nothing was applied


def test_diff_compares_the_post_rendered_manifests(
    cluster: Cluster, repo: ChartRepo, controller: ControllerProcess, hr: Plugin, tmp_path: Path
) -> None:
    spec = {"postRenderers": post_renderers(replicas(3)), "commonMetadata": {"labels": {"team": "a"}}}
    cluster.apply(helmrelease("web", repo.url, **spec))
    cluster.wait_ready("web")
    same = hr("diff", "web", "-n", "apps")  # unchanged: what diff renders is what was deployed
    assert (same.code, same.out) == (0, ""), same.out + same.err

    path = tmp_path / "hr.yaml"
    spec["postRenderers"] = post_renderers(replicas(5))
    path.write_text(yaml.safe_dump(helmrelease("web", repo.url, **spec)))
    changed = hr("diff", "-f", str(path), "-n", "apps")
    assert changed.code == 1, changed.err
    assert "-  replicas: 3\n+  replicas: 5" in changed.out, changed.out
    assert "ConfigMap/apps/web-config" not in changed.out  # its common label is the same
