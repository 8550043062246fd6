"""helm's failures a user must act on, explained in one line (a table of helm's real wording)."""

from __future__ import annotations

import pytest

from helmrelease_controller.helm.failures import FORCE_CONFLICTS, REPLACE, explain

UPGRADE = "upgrade failed: "
SCALE = (
    "conflict occurred while applying object apps/web apps/v1, Kind=Deployment: Apply failed with 1 "
    'conflict: conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas'
)
EDIT = (
    "conflict occurred while applying object apps/web apps/v1, Kind=Deployment: Apply failed with 2 "
    'conflicts: conflicts with "kubectl-edit" using apps/v1: - .spec.replicas - '
    '.spec.template.spec.containers[name="web"].image'
)
TWO_OBJECTS = (
    "conflict occurred while applying object nv/upgrader batch/v1, Kind=CronJob: Apply failed with 1 "
    'conflict: conflict with "upgrader" using batch/v1: .metadata.annotations.uid && conflict occurred '
    "while applying object nv/ctl coordination.k8s.io/v1, Kind=Lease: Apply failed with 1 conflict: "
    'conflict with "upgrader" using coordination.k8s.io/v1: .spec.leaseTransitions'
)
SELECTOR = (
    'cannot patch "web" with kind Deployment: Deployment.apps "web" is invalid: spec.selector: Invalid '
    'value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]'
    "v1.LabelSelectorRequirement(nil)}: field is immutable"
)
JOB = (
    'cannot patch "migrate" with kind Job: Job.batch "migrate" is invalid: spec.template: Invalid value: '
    "core.PodTemplateSpec{}: field is immutable"
)
CONFLICT = f"server-side apply conflict; {FORCE_CONFLICTS}"
REPLACED = f"the object must be replaced; {REPLACE}"


CONFLICT = f"server-side apply conflict; {FORCE_CONFLICTS}"
REPLACED = f"the object must be replaced; {REPLACE}"


@pytest.mark.parametrize(
    ("message", "explained"),
    [
        (SCALE, f"Deployment/apps/web .spec.replicas is owned by kubectl-scale: {CONFLICT}"),
        (
            EDIT,
            'Deployment/apps/web .spec.replicas, .spec.template.spec.containers[name="web"].image '
            f"are owned by kubectl-edit: {CONFLICT}",
        ),
        (
            TWO_OBJECTS,
            "CronJob/nv/upgrader .metadata.annotations.uid is owned by upgrader (and 1 more object): "
            + CONFLICT,
        ),
        (SELECTOR, f"Deployment/apps/web spec.selector is immutable: {REPLACED}"),
        (JOB, f"Job/apps/migrate spec.template is immutable: {REPLACED}"),
        ("context deadline exceeded", ""),
        ('Deployment.apps "web" is invalid: spec.template.spec.containers: Required value', ""),
    ],
)
def test_explained(message: str, explained: str) -> None:
    got = explain(UPGRADE + message, "apps")
    assert got == (f"{explained} ({UPGRADE}{message})" if explained else UPGRADE + message)
