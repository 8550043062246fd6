"""Table tests of gitsync.plan: what is applied, skipped (no write), pruned or left as an orphan."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.gitsync.plan import LiveObject, Ref, apply_body, object_digest, plan
from helmrelease_controller.gitsync.validate import DesiredObject

OWNER = "apps.prod"


def desired(kind: str, name: str, ns: str = "apps", **data: str) -> DesiredObject:
    api = "helmrelease.dev/v1" if kind == "HelmRelease" else "v1"
    meta: dict[str, Any] = {"name": name} | ({"namespace": ns} if kind != "Namespace" else {})
    obj = {"apiVersion": api, "kind": kind, "metadata": meta, "data": dict(data)}
    return DesiredObject(kind, ns if kind != "Namespace" else "", name, obj, f"{name}.yaml", 1)


def live(d: DesiredObject, owner: str | None = OWNER, digest: str | None = "same", **ann: str) -> LiveObject:
    labels = {"helmrelease.dev/gitsync": owner} if owner else {}
    annotations = dict(ann)
    if digest == "same":
        annotations["helmrelease.dev/gitsync-digest"] = object_digest(d.obj)
    elif digest:
        annotations["helmrelease.dev/gitsync-digest"] = digest
    return LiveObject(Ref(d.kind, d.namespace, d.name), labels, annotations)


WEB, API, VALUES, NS = (
    desired("HelmRelease", "web"),
    desired("HelmRelease", "api"),
    desired("ConfigMap", "v"),
    desired("Namespace", "apps"),
)
WEB2 = desired("HelmRelease", "web", image="2")


@pytest.mark.parametrize(
    ("want", "have", "prune", "apply", "unchanged", "pruned", "orphans"),
    [
        pytest.param(
            [WEB, VALUES, NS],
            [],
            False,
            ["Namespace apps", "ConfigMap apps/v", "HelmRelease apps/web"],
            [],
            [],
            [],
            id="first sync: all, namespaces first",
        ),
        pytest.param(
            [WEB, API],
            [live(WEB), live(API)],
            False,
            [],
            ["web", "api"],
            [],
            [],
            id="nothing changed: no write",
        ),
        pytest.param(
            [WEB2, API],
            [live(WEB), live(API)],
            False,
            ["HelmRelease apps/web"],
            ["api"],
            [],
            [],
            id="one file changed",
        ),
        pytest.param(
            [WEB],
            [live(WEB, owner=None, digest=None)],
            False,
            ["HelmRelease apps/web"],
            [],
            [],
            [],
            id="an unlabelled object is adopted",
        ),
        pytest.param(
            [WEB],
            [live(WEB), live(API)],
            True,
            [],
            ["web"],
            ["HelmRelease apps/api"],
            [],
            id="removed, prune: deleted",
        ),
        pytest.param(
            [WEB],
            [live(WEB), live(API)],
            False,
            [],
            ["web"],
            [],
            ["HelmRelease apps/api"],
            id="removed, no prune: orphan",
        ),
        pytest.param(
            [],
            [live(API, **{"helmrelease.dev/prune": "disabled"})],
            True,
            [],
            [],
            [],
            ["HelmRelease apps/api"],
            id="protected from prune",
        ),
        pytest.param(
            [],
            [live(API, owner="apps.dev")],
            True,
            [],
            [],
            [],
            [],
            id="another GitSync's object is never pruned",
        ),
        pytest.param(
            [],
            [live(NS), live(VALUES), live(API)],
            True,
            [],
            [],
            ["HelmRelease apps/api", "ConfigMap apps/v", "Namespace apps"],
            [],
            id="prune order: releases first, namespaces last",
        ),
    ],
)
def test_plan(
    want: list[DesiredObject],
    have: list[LiveObject],
    prune: bool,
    apply: list[str],
    unchanged: list[str],
    pruned: list[str],
    orphans: list[str],
) -> None:
    p = plan(want, have, owner=OWNER, prune=prune)
    assert [f"{d.kind} {d.namespace}/{d.name}".replace(" /", " ") for d, _ in p.apply] == apply
    assert [d.name for d in p.unchanged] == unchanged
    assert [r.describe() for r in p.prune] == pruned
    assert [r.describe() for r in p.orphans] == orphans
    assert p.conflicts == []
    assert p.inventory == sorted(Ref(d.kind, d.namespace, d.name) for d in want)


def test_the_gitsyncs_own_namespace_is_never_pruned() -> None:
    other = desired("Namespace", "team-b")
    p = plan([], [live(NS), live(other)], owner=OWNER, prune=True, home="apps")
    assert [r.describe() for r in p.prune] == ["Namespace team-b"]
    assert [r.describe() for r in p.orphans] == ["Namespace apps"]


def test_an_object_of_another_gitsync_is_a_conflict() -> None:
    p = plan([WEB], [live(WEB, owner="apps.dev")], owner=OWNER, prune=True)
    assert p.conflicts == ["web.yaml:1: HelmRelease apps/web is managed by GitSync apps.dev"]
    assert p.apply == [] and p.prune == []


def test_apply_body_labels_and_records_the_digest() -> None:
    body = apply_body(WEB, OWNER)
    assert body["metadata"]["labels"] == {"helmrelease.dev/gitsync": OWNER}
    assert body["metadata"]["annotations"] == {"helmrelease.dev/gitsync-digest": object_digest(WEB.obj)}
    assert "labels" not in WEB.obj["metadata"]  # the desired object is not modified
    assert object_digest(WEB.obj) != object_digest(WEB2.obj)
    assert object_digest({"a": 1, "b": 2}) == object_digest({"b": 2, "a": 1})


def test_inventory_entries() -> None:
    assert Ref("Namespace", "", "apps").entry() == {"kind": "Namespace", "name": "apps"}
    assert LiveObject.from_obj(
        {"kind": "ConfigMap", "metadata": {"name": "v", "namespace": "apps"}}
    ).ref == Ref("ConfigMap", "apps", "v")
