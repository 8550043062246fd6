"""helm's failures a user must act on, explained in one line (a table of helm's real wording)."""

from __future__ import annotations

import pytest

from helmrelease_controller.helm.failures import FORCE_CONFLICTS, REPLACE, explain, immutable_object, who

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
    assert got == (explained or UPGRADE + message)


def test_the_object_to_replace() -> None:
    assert immutable_object(UPGRADE + SELECTOR) == ("Deployment", "apps", "web")
    assert immutable_object(UPGRADE + JOB) == ("Job", "batch", "migrate")
    assert immutable_object(
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["1"]: may not change once set'
    ) == ("Service", "", "web")
    assert immutable_object(UPGRADE + SCALE) is None


@pytest.mark.parametrize(
    ("message", "what"),
    [
        (
            'ConfigMap "cfg" is invalid: data: Forbidden: field is immutable when `immutable` is set',
            "ConfigMap/apps/cfg data",
        ),
        (
            'StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields '
            "other than 'replicas', 'ordinals', 'template' are forbidden",
            "StatefulSet/apps/db spec",
        ),
        (
            'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: ["10.0.0.9"]: '
            "may not change once set",
            "Service/apps/web spec.clusterIPs[0]",
        ),
        (
            'RoleBinding.rbac.authorization.k8s.io "rb" is invalid: roleRef: Invalid value: {"kind":"Role"}: '
            "cannot change roleRef",
            "RoleBinding/apps/rb roleRef",
        ),
        (
            'PersistentVolumeClaim "data" is invalid: spec: Forbidden: spec is immutable after creation',
            "PersistentVolumeClaim/apps/data spec",
        ),
    ],
)
def test_every_way_of_saying_immutable(message: str, what: str) -> None:
    assert explain(UPGRADE + message, "apps").startswith(f"{what} is immutable: ")


def test_a_release_too_large_for_helms_storage() -> None:
    message = (
        'install failed: create: failed to create: Secret "sh.helm.release.v1.big.v1" is invalid: data: '
        "Too long: may not be more than 1048576 bytes"
    )
    assert explain(message, "apps").startswith(
        "release apps/big revision 1 is too large for Helm's storage: its record (chart, values and "
        "rendered manifests, compressed) is over the 1 MiB a Secret may hold"
    )


SA = "system:serviceaccount:team-a:deployer"


@pytest.mark.parametrize(
    ("message", "explained"),
    [
        (  # helm 4 installing a chart with a ClusterRoleBinding, as a namespace-bound tenant
            "install failed: failed to create resource: clusterrolebindings.rbac.authorization.k8s.io is "
            f'forbidden: User "{SA}" cannot create resource "clusterrolebindings" in API group '
            '"rbac.authorization.k8s.io" at the cluster scope',
            "serviceaccount team-a/deployer cannot create clusterrolebindings.rbac.authorization.k8s.io "
            "at the cluster scope: forbidden by RBAC",
        ),
        (  # helm reading its storage in a namespace the tenant has no Role in
            "install failed: query: failed to query with labels: secrets is forbidden: User "
            f'"{SA}" cannot list resource "secrets" in API group "" in the namespace "kube-system"',
            "serviceaccount team-a/deployer cannot list secrets in namespace kube-system: forbidden by RBAC",
        ),
        (  # a named object, a subresource, and RBAC's own reason after the message
            'upgrade failed: deployments.apps "web" is forbidden: User "alice" cannot patch resource '
            '"deployments/scale" in API group "apps" in the namespace "prod": RBAC: role.rbac'
            '.authorization.k8s.io "gone" not found',
            'user "alice" cannot patch deployments.apps/scale "web" in namespace prod: forbidden by RBAC',
        ),
        (  # the controller may not impersonate the ServiceAccount
            'upgrade failed: serviceaccounts "deployer" is forbidden: User '
            '"system:serviceaccount:helmrelease-system:helmrelease-controller" cannot impersonate '
            'resource "serviceaccounts" in API group "" in the namespace "team-a"',
            "serviceaccount helmrelease-system/helmrelease-controller cannot impersonate serviceaccounts "
            '"deployer" in namespace team-a: forbidden by RBAC',
        ),
        ("upgrade failed: context deadline exceeded", "upgrade failed: context deadline exceeded"),
    ],
    ids=["cluster-scoped", "storage-namespace", "named-subresource-with-reason", "impersonation", "other"],
)
def test_a_forbidden_request_names_who_what_and_where(message: str, explained: str) -> None:
    assert explain(message, "team-a") == explained


@pytest.mark.parametrize(
    ("user", "said"),
    [
        (SA, "serviceaccount team-a/deployer"),
        ("alice", 'user "alice"'),
        (None, "the controller's own identity"),
    ],
)
def test_who(user: str | None, said: str) -> None:
    assert who(user) == said
