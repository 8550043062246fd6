"""Tenancy: whose identity helm acts with, and the cross-namespace references refused (a table)."""

from __future__ import annotations

from typing import Any

import pytest

from helmrelease_controller.api.models import HelmRelease
from helmrelease_controller.reconcile.tenancy import Tenancy
from tests.helpers.specs import hr_model_unsupported


def hr(**spec: Any) -> HelmRelease:
    return hr_model_unsupported(**spec)  # serviceAccountName: refused until built


SA = "system:serviceaccount:team-a:"


@pytest.mark.parametrize(
    ("tenancy", "spec", "user"),
    [
        (Tenancy(), {}, None),  # no lockdown: helm acts as the controller
        (Tenancy(), {"serviceAccountName": "deployer"}, SA + "deployer"),
        (Tenancy("tenant"), {}, SA + "tenant"),  # --default-service-account
        (Tenancy("tenant"), {"serviceAccountName": "deployer"}, SA + "deployer"),  # the spec wins
        # always the HelmRelease's own namespace, whatever the target
        (Tenancy(), {"serviceAccountName": "deployer", "targetNamespace": "web"}, SA + "deployer"),
    ],
    ids=["controller", "spec", "default", "spec-over-default", "own-namespace-only"],
)
def test_helm_user(tenancy: Tenancy, spec: dict[str, Any], user: str | None) -> None:
    assert tenancy.helm_user(hr(**spec)) == user


LOCKED = Tenancy(no_cross_namespace_refs=True)
SUFFIX = (
    "is in another namespace than the HelmRelease (team-a): this controller refuses cross-namespace "
    "references (--no-cross-namespace-refs)"
)


@pytest.mark.parametrize(
    ("tenancy", "spec", "refused"),
    [
        (Tenancy(), {"targetNamespace": "kube-system"}, []),  # not locked down
        (LOCKED, {}, []),
        (LOCKED, {"targetNamespace": "team-a", "dependsOn": [{"name": "db"}]}, []),  # own namespace
        (LOCKED, {"targetNamespace": "kube-system"}, [f"spec.targetNamespace: 'kube-system' {SUFFIX}"]),
        (
            LOCKED,
            {"dependsOn": [{"name": "db"}, {"name": "mq", "namespace": "infra"}]},
            [f"spec.dependsOn[1]: infra/mq {SUFFIX}"],
        ),
        (
            LOCKED,
            {"targetNamespace": "web", "storageNamespace": "web"},
            [f"spec.targetNamespace: 'web' {SUFFIX}", f"spec.storageNamespace: 'web' {SUFFIX}"],
        ),
    ],
    ids=["open", "nothing-referenced", "own-namespace", "target", "depends-on", "target-and-storage"],
)
def test_cross_namespace_refusals(tenancy: Tenancy, spec: dict[str, Any], refused: list[str]) -> None:
    assert tenancy.refusals(hr(**spec)) == refused
