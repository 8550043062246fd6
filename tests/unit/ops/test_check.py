"""`check`'s decisions: a CRD current or not, the leader Lease fresh or stale, RBAC in one line."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from helmrelease_controller.api.crd import build_crd
from helmrelease_controller.ops.check import PERMISSIONS, Check, crd_check, lease_check, rbac_check

NOW = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.UTC)


def test_crd_check() -> None:
    wanted = build_crd()
    assert crd_check("c", None, wanted).result == "FAIL"
    assert crd_check("c", wanted, wanted) == Check("CRD c", "ok", "installed, current")
    old = {**wanted, "spec": {**wanted["spec"], "versions": [{"name": "v1", "schema": {}}]}}
    assert (
        crd_check("c", old, wanted).detail
        == "installed, but not this version's schema: kubectl apply -k crds/"
    )


def lease(holder: str, renewed: str, duration: int = 15) -> dict[str, Any]:
    return {"spec": {"holderIdentity": holder, "renewTime": renewed, "leaseDurationSeconds": duration}}


@pytest.mark.parametrize(
    ("obj", "result", "detail"),
    [
        (None, "warn", "no Lease ns/l (a controller without --leader-elect takes none)"),
        (lease("pod-a", "2026-12-04T11:59:58.000000Z"), "ok", "leader pod-a, renewed 2s ago"),
        (
            lease("pod-a", "2026-12-04T11:59:00.000000Z"),
            "FAIL",
            "leader pod-a last renewed 60s ago: not running?",
        ),
        (lease("", "2026-12-04T11:59:58Z"), "FAIL", "Lease ns/l is held by nobody"),
    ],
)
def test_lease_check(obj: dict[str, Any] | None, result: str, detail: str) -> None:
    assert lease_check(obj, "ns/l", NOW) == Check("controller", result, detail)


def test_rbac_check() -> None:
    everything = {(v, g, r): True for v, g, r, _ in PERMISSIONS}
    assert rbac_check(everything, "apps").result == "ok"
    assert rbac_check({**everything, ("list", "", "secrets"): None}, "apps").result == "warn"
    no_patch = rbac_check({**everything, ("patch", "helmrelease.dev", "helmreleases"): False}, "apps")
    assert no_patch == Check(
        "RBAC", "warn", "in namespace apps you may not: patch helmreleases (suspend, resume, reconcile)"
    )
    assert (
        rbac_check({**everything, ("list", "helmrelease.dev", "helmreleases"): False}, "apps").result
        == "FAIL"
    )
