"""dependsOn across shards (kube/sharding.py `dependency_view`) against kubesim: another shard's
HelmRelease is read with a GET, the dependsOn chain is followed for cycles, and dependencies the
replica's own cache holds cost no request."""

from __future__ import annotations

from typing import Any

import yaml

from helmrelease_controller.kube.client import KubeClient
from helmrelease_controller.kube.sharding import dependency_view
from helmrelease_controller.reconcile.dependencies import blocking
from kubesim import KubeSim
from tests.conftest import ROOT, Cli


def hr(name: str, shard: str, depends_on: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "apps", "labels": {"helmrelease.dev/shard": shard}},
        "spec": {
            "interval": "1m",
            "chart": {"repository": {"url": "https://charts.example.com", "name": "web", "version": "1.0.0"}},
            "dependsOn": [{"name": d} for d in depends_on],
        },
    }


def setup(kubectl: Cli, *objs: dict[str, Any]) -> None:
    kubectl("apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
    kubectl("create", "namespace", "apps")
    for obj in objs:
        kubectl("apply", "-f", "-", input=yaml.safe_dump(obj))


def gets(kubesim: KubeSim) -> int:
    return kubesim.requests.count(verb="get", resource="helmreleases.helmrelease.dev")


async def test_a_cycle_through_another_shard_is_found(
    kubesim: KubeSim, kubectl: Cli, client: KubeClient
) -> None:
    x, y = hr("left", "a", ["right"]), hr("right", "b", ["left"])
    setup(kubectl, x, y)
    before = gets(kubesim)  # kubectl apply's own GETs
    mine = {("apps", "left"): x}  # shard a's cache: "left" only
    lookup = await dependency_view(client, lambda ns, n: mine.get((ns, n)), "apps", "left", [(None, "right")])
    assert lookup("apps", "right") is not None  # read from the API
    assert (
        blocking(lookup, "apps", "left", [(None, "right")])
        == "dependency cycle: apps/left -> apps/right -> apps/left"
    )
    assert gets(kubesim) - before == 1


async def test_another_shards_dependency_is_read_and_judged(
    kubesim: KubeSim, kubectl: Cli, client: KubeClient
) -> None:
    setup(kubectl, hr("app", "b", ["db"]), hr("db", "a"))
    before = gets(kubesim)
    mine = {("apps", "app"): hr("app", "b", ["db"])}
    lookup = await dependency_view(client, lambda ns, n: mine.get((ns, n)), "apps", "app", [(None, "db")])
    assert blocking(lookup, "apps", "app", [(None, "db")]) == "dependency apps/db is not ready"
    lookup = await dependency_view(client, lambda ns, n: mine.get((ns, n)), "apps", "app", [(None, "gone")])
    assert blocking(lookup, "apps", "app", [(None, "gone")]) == "dependency apps/gone not found"
    assert gets(kubesim) - before == 2


async def test_dependencies_in_the_own_cache_cost_no_request(
    kubesim: KubeSim, kubectl: Cli, client: KubeClient
) -> None:
    setup(kubectl)
    mine = {("apps", "app"): hr("app", "a", ["db"]), ("apps", "db"): hr("db", "a")}

    def cached(ns: str, name: str) -> dict[str, Any] | None:
        return mine.get((ns, name))

    assert await dependency_view(client, cached, "apps", "app", [(None, "db")]) is cached
    assert await dependency_view(client, cached, "apps", "app", []) is cached
    assert gets(kubesim) == 0
