"""The Flux converter and shards: Flux's sharding.fluxcd.io/key label becomes helmrelease.dev/shard."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller import fluxconvert


def flux_hr(labels: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "apps"}
    if labels is not None:
        meta["labels"] = labels
    chart = {"repository": "https://charts.example.com", "name": "web", "version": "1.0.0"}
    return {
        "apiVersion": "helm.fluxcd.io/v1",
        "kind": "HelmRelease",
        "metadata": meta,
        "spec": {"chart": chart},
    }


@pytest.mark.parametrize(
    ("labels", "want"),
    [
        (None, None),
        ({"app": "web"}, {"app": "web"}),
        ({"sharding.fluxcd.io/key": "shard1"}, {"helmrelease.dev/shard": "shard1"}),
        (
            {"app": "web", "sharding.fluxcd.io/key": "platform"},
            {"app": "web", "helmrelease.dev/shard": "platform"},
        ),
    ],
)
def test_the_shard_label_is_translated(labels: dict[str, str] | None, want: dict[str, str] | None) -> None:
    result = fluxconvert.convert([flux_hr(labels)])
    [hr] = [d.obj for d in result.documents if d.obj.get("apiVersion") == "helmrelease.dev/v1"]
    assert hr["metadata"].get("labels") == want
