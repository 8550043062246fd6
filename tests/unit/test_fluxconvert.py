"""Table tests of the Flux-to-helmrelease.dev/v1 mapping (helmrelease_controller/fluxconvert/)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from helmrelease_controller import fluxconvert
from helmrelease_controller.api.models import HelmRelease, HelmReleaseSpec

REPO = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "HelmRepository",
    "metadata": {"name": "podinfo", "namespace": "apps"},
    "spec": {"url": "https://stefanprodan.github.io/podinfo"},
}
CHART = {
    "spec": {
        "chart": "podinfo",
        "version": "6.5.4",
        "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
    }
}
REPO_CHART = {
    "repository": {"url": "https://stefanprodan.github.io/podinfo", "name": "podinfo", "version": "6.5.4"}
}


def v2(spec: dict[str, Any], api: str = "helm.toolkit.fluxcd.io/v2") -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"interval": "5m", "chart": copy.deepcopy(CHART), **spec},
    }


def v1(spec: dict[str, Any], namespace: str = "apps") -> dict[str, Any]:
    chart = {"repository": "https://charts.example.com", "name": "web", "version": "1.0.0"}
    return {
        "apiVersion": "helm.fluxcd.io/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"chart": chart, **spec},
    }


def one(docs: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """The one converted HelmRelease's spec and the warnings; fails if it was not converted."""
    result = fluxconvert.convert(docs)
    hrs = [d.obj for d in result.documents if d.obj.get("apiVersion") == "helmrelease.dev/v1"]
    assert result.failed == 0 and len(hrs) == 1, result.warnings
    HelmRelease.from_obj(hrs[0])  # what the controller accepts
    return hrs[0]["spec"], result.warnings


def subset(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(
        k in actual
        and (subset(v, actual[k]) if isinstance(v, dict) and isinstance(actual[k], dict) else actual[k] == v)
        for k, v in expected.items()
    )


ISSUE_16: dict[str, Any] = {
    "waitStrategy": {"name": "legacy"},
    "upgrade": {"disableHooks": True, "preserveValues": True, "disableTakeOwnership": False},
    "install": {
        "disableWaitForJobs": True,
        "disableOpenAPIValidation": True,
        "disableSchemaValidation": True,
    },
    "test": {"timeout": "1m", "filters": [{"name": "t", "exclude": True}]},
    "rollback": {"recreate": True, "disableHooks": True, "disableWaitForJobs": True},
    "uninstall": {"disableWait": True, "deletionPropagation": "orphan"},
}

V2_CASES = [
    # (Flux v2 spec fields, expected part of our spec, warning substrings (none: no warning of the hr))
    (
        {"timeout": "10m", "releaseName": "w", "suspend": True},
        {"timeout": "10m", "releaseName": "w", "suspend": True},
        [],
    ),
    (
        {"targetNamespace": "web", "storageNamespace": "web", "maxHistory": 3},
        {"targetNamespace": "web", "storageNamespace": "web", "maxHistory": 3},
        [],
    ),
    # Flux's default storage is the HelmRelease's namespace, ours the target's: the release is not adopted
    ({"targetNamespace": "web"}, {"targetNamespace": "web"}, ["Flux stored this release in apps"]),
    (
        {"install": {"remediation": {"remediateLastFailure": True}}},
        {},
        ["remediateLastFailure has no equivalent"],
    ),
    ({"values": {"a": {"b": 1}}}, {"values": {"a": {"b": 1}}}, []),
    (
        {"install": {"createNamespace": True, "remediation": {"retries": -1}}},
        {"install": {"createNamespace": True, "remediation": {"retries": -1}}},
        [],
    ),
    ({"install": {"skipCRDs": True}}, {"install": {"crds": "Skip"}}, []),
    (
        {
            "upgrade": {
                "force": True,
                "remediation": {"retries": 2, "strategy": "uninstall", "remediateLastFailure": False},
            }
        },
        {
            "upgrade": {
                "force": True,
                "remediation": {"retries": 2, "strategy": "uninstall", "remediateLastFailure": False},
            }
        },
        [],
    ),
    (
        {
            "rollback": {"timeout": "2m", "force": True},
            "uninstall": {"keepHistory": True, "disableHooks": True},
        },
        {
            "rollback": {"timeout": "2m", "force": True},
            "uninstall": {"keepHistory": True, "disableHooks": True},
        },
        [],
    ),
    (
        {"test": {"enable": True, "ignoreFailures": True}},
        {"test": {"enable": True, "ignoreFailures": True}},
        [],
    ),
    (
        {"dependsOn": [{"name": "db", "namespace": "data"}]},
        {"dependsOn": [{"name": "db", "namespace": "data"}]},
        [],
    ),
    (
        {
            "valuesFrom": [
                {"kind": "Secret", "name": "s", "valuesKey": "k", "targetPath": "a.b", "optional": True}
            ]
        },
        {
            "valuesFrom": [
                {"kind": "Secret", "name": "s", "valuesKey": "k", "targetPath": "a.b", "optional": True}
            ]
        },
        [],
    ),
    ({"driftDetection": {"mode": "disabled"}}, {"driftDetection": {"mode": "disabled"}}, []),
    ({"storageNamespace": "apps"}, {"storageNamespace": "apps"}, []),
    # harmless values of fields we lack: no warning
    ({"install": {"disableHooks": False}, "upgrade": {"preserveValues": False}, "postRenderers": []}, {}, []),
    (
        {
            "uninstall": {"deletionPropagation": "background"},
            "chart": {"spec": {**CHART["spec"], "reconcileStrategy": "ChartVersion"}},
        },
        {},
        [],
    ),
    # no equivalent, or refused by our controller today: one warning each, never emitted
    (  # postRenderers and commonMetadata: tests/unit/test_fluxconvert_postrender.py
        {"postRenderers": [{"kustomize": {"images": [{"name": "x"}]}}]},
        {"postRenderers": [{"kustomize": {"images": [{"name": "x"}]}}]},
        [],
    ),
    ({"storageNamespace": "other"}, {}, ["spec.storageNamespace other has no equivalent"]),
    (
        {
            "driftDetection": {
                "mode": "warn",
                "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}],
            }
        },
        {
            "driftDetection": {
                "mode": "warn",
                "ignore": [{"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}],
            }
        },
        [],
    ),
    ({"install": {"crds": "CreateReplace"}}, {}, ["spec.install.crds CreateReplace has no equivalent"]),
    ({"commonMetadata": {"labels": {"a": "b"}}}, {"commonMetadata": {"labels": {"a": "b"}}}, []),
    # remote clusters: the Secret's kubeconfig is ours too; workload identity (configMapRef) is not
    ({"kubeConfig": {"secretRef": {"name": "k"}}}, {"kubeConfig": {"secretRef": {"name": "k"}}}, []),
    (
        {"kubeConfig": {"secretRef": {"name": "k", "key": "value.yaml"}}},
        {"kubeConfig": {"secretRef": {"name": "k", "key": "value.yaml"}}},
        [],
    ),
    (
        {"kubeConfig": {"configMapRef": {"name": "aks"}}},
        {},
        ["spec.kubeConfig.configMapRef has no equivalent"],
    ),
    ({"persistentClient": True}, {}, ["spec.persistentClient"]),
    ({"install": {"replace": True}}, {}, []),
    ({"install": {"replace": False}}, {}, ["spec.install.replace has no equivalent"]),
    # issue 16's per-action options, now ours: mapped as they are
    (ISSUE_16, ISSUE_16, []),
    (
        {"install": {"timeout": "1m"}},
        {},
        ["spec.install.timeout"],
    ),
    (
        {"dependsOn": [{"name": "db", "readyExpr": "true"}]},
        {"dependsOn": [{"name": "db"}]},
        ["spec.dependsOn[0].readyExpr has no equivalent"],
    ),
    ({"someFutureField": 1}, {}, ["spec.someFutureField is not known to the converter (dropped)"]),
    ({"install": {}, "upgrade": None, "someFutureList": []}, {}, []),
]


@pytest.mark.parametrize(("fields", "expected", "warned"), V2_CASES)
def test_v2_fields(fields: dict[str, Any], expected: dict[str, Any], warned: list[str]) -> None:
    spec, warnings = one([REPO, v2(fields)])
    assert subset(expected, spec), spec
    hr_warnings = [w for w in warnings if w.startswith("hr/apps/web: ")]
    assert len(hr_warnings) == len(warned), hr_warnings
    for text, line in zip(warned, hr_warnings, strict=True):
        assert text in line


def test_flux_chart_verification_is_warned_and_dropped() -> None:
    """Flux verifies OCI charts with cosign or notation; ours verifies charts with helm provenance
    (chart.verify, provider helm, a keyring): nothing maps, so one warning saying the chart will not
    be verified, and no verify in the output."""
    verify = {"provider": "cosign", "secretRef": {"name": "cosign-pub"}}
    spec, warnings = one([REPO, v2({"chart": {"spec": {**CHART["spec"], "verify": verify}}})])
    assert "verify" not in spec["chart"], spec
    assert [w for w in warnings if "verify" in w] == [
        "hr/apps/web: spec.chart.spec.verify has no equivalent in helmrelease.dev/v1 (dropped: the chart "
        "will not be verified: Flux's cosign and notation (OCI charts) are not built here; a chart signed "
        "by helm package --sign can be: set chart.verify (provider helm) by hand)"
    ]


def _source(kind: str, spec: dict[str, Any], name: str = "src", namespace: str = "apps") -> dict[str, Any]:
    api = "source.toolkit.fluxcd.io/v1beta2" if kind == "OCIRepository" else "source.toolkit.fluxcd.io/v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _ref(kind: str, chart: str = "podinfo", version: str | None = None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"chart": chart, "sourceRef": {"kind": kind, "name": "src"}, **extra}
    if version:
        spec["version"] = version
    return {"chart": {"spec": spec}}


GIT = "https://git.example.com/platform.git"
SOURCE_CASES = [
    # (source document, HelmRelease chart fields, our spec.chart)
    (
        _source("HelmRepository", {"url": "https://charts.example.com/", "secretRef": {"name": "auth"}}),
        _ref("HelmRepository", version="~1.2"),
        {
            "repository": {
                "url": "https://charts.example.com/",
                "name": "podinfo",
                "version": "~1.2",
                "secretRef": {"name": "auth"},
            }
        },
    ),
    (
        _source("HelmRepository", {"url": "https://charts.example.com"}),
        _ref("HelmRepository"),
        {"repository": {"url": "https://charts.example.com", "name": "podinfo"}},
    ),
    (
        _source("HelmRepository", {"type": "oci", "url": "oci://ghcr.io/org/charts/"}),
        _ref("HelmRepository", version="6.5.4"),
        {"oci": {"url": "oci://ghcr.io/org/charts/podinfo", "version": "6.5.4"}},
    ),
    (
        _source("HelmRepository", {"type": "oci", "url": "oci://ghcr.io/org/charts"}),
        _ref("HelmRepository", version="*"),
        {"oci": {"url": "oci://ghcr.io/org/charts/podinfo"}},
    ),
    (
        _source("GitRepository", {"url": GIT, "ref": {"branch": "main"}}),
        _ref("GitRepository", chart="./charts/web"),
        {"git": {"url": GIT, "ref": {"branch": "main"}, "path": "charts/web"}},
    ),
    (
        _source("GitRepository", {"url": GIT}),
        _ref("GitRepository", chart="charts/web"),
        {"git": {"url": GIT, "ref": {"branch": "master"}, "path": "charts/web"}},
    ),
    (
        _source("GitRepository", {"url": GIT, "ref": {"branch": "main", "commit": "a" * 40}}),
        _ref("GitRepository", chart="."),
        {"git": {"url": GIT, "ref": {"commit": "a" * 40}, "path": "."}},
    ),
    (
        _source("GitRepository", {"url": GIT, "ref": {"semver": ">=1.0.0", "tag": "v1"}}),
        _ref("GitRepository"),
        {"git": {"url": GIT, "ref": {"semver": ">=1.0.0"}, "path": "podinfo"}},
    ),
    (
        _source(
            "GitRepository", {"url": GIT, "ref": {"name": "refs/tags/v2.0.0"}, "secretRef": {"name": "ssh"}}
        ),
        _ref("GitRepository", valuesFiles=["./values-prod.yaml"]),
        {
            "git": {
                "url": GIT,
                "ref": {"tag": "v2.0.0"},
                "path": "podinfo",
                "secretRef": {"name": "ssh"},
                "valuesFiles": ["values-prod.yaml"],
            }
        },
    ),
    (
        _source("OCIRepository", {"url": "oci://ghcr.io/org/charts/web", "ref": {"tag": "1.2.3"}}),
        {"chartRef": {"kind": "OCIRepository", "name": "src"}},
        {"oci": {"url": "oci://ghcr.io/org/charts/web", "version": "1.2.3"}},
    ),
    (
        _source(
            "OCIRepository",
            {"url": "oci://ghcr.io/org/charts/web", "ref": {"tag": "1.2.3", "digest": "sha256:" + "b" * 64}},
        ),
        {"chartRef": {"kind": "OCIRepository", "name": "src"}},
        {"oci": {"url": "oci://ghcr.io/org/charts/web", "digest": "sha256:" + "b" * 64}},
    ),
]


@pytest.mark.parametrize(("source", "chart_fields", "expected"), SOURCE_CASES)
def test_v2_sources_are_inlined_and_not_emitted(
    source: dict[str, Any], chart_fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    hr = v2({})
    hr["spec"].pop("chart")
    hr["spec"].update(chart_fields)
    spec, warnings = one([source, hr])
    assert spec["chart"] == expected
    kind = source["kind"].lower()
    assert f"{kind}/apps/src: inlined into hr/apps/web (not emitted)" in warnings


def test_a_helmchart_chartref_resolves_through_its_own_source() -> None:
    helmchart = _source(
        "HelmChart",
        {"chart": "podinfo", "version": "1.0.0", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}},
        name="src",
    )
    hr = v2({"chartRef": {"kind": "HelmChart", "name": "src"}})
    hr["spec"].pop("chart")
    result = fluxconvert.convert([REPO, helmchart, hr])
    assert result.failed == 0
    assert result.documents[0].obj["spec"]["chart"]["repository"]["version"] == "1.0.0"
    assert sum("(not emitted)" in w for w in result.warnings) == 2


UNCONVERTIBLE = [
    (
        [REPO, v2({}, api="helm.toolkit.fluxcd.io/v3")],
        "helm.toolkit.fluxcd.io/v3 is not a Flux version known here",
    ),
    ([v2({})], "spec.chart.spec.sourceRef: HelmRepository apps/podinfo is not in the input"),
    (
        [_source("Bucket", {"bucketName": "b"}), v2(_ref("Bucket"))],
        "spec.chart.spec.sourceRef.kind 'Bucket' cannot be converted",
    ),
    (
        [REPO, v2({"chartRef": {"kind": "OCIRepository", "name": "nope"}})],
        "OCIRepository apps/nope is not in the input",
    ),
    (
        [
            _source("GitRepository", {"url": GIT, "ref": {"name": "refs/pull/1/head"}}),
            v2(_ref("GitRepository")),
        ],
        "refs/pull/1/head",
    ),
    ([REPO, v2({"interval": "soon"})], "cannot be converted: spec.interval: invalid duration"),
    ([v1({"chart": {"name": "web"}})], "spec.chart needs git (with path) or repository with name"),
]


@pytest.mark.parametrize(("docs", "reason"), UNCONVERTIBLE)
def test_what_cannot_be_converted_is_not_emitted_and_counted(docs: list[Any], reason: str) -> None:
    result = fluxconvert.convert(docs)
    assert result.failed == 1
    assert not [d for d in result.documents if d.obj.get("kind") == "HelmRelease"]
    assert any(w.startswith("hr/apps/web: cannot be converted: ") and reason in w for w in result.warnings), (
        result.warnings
    )


def test_a_source_secret_in_another_namespace_is_named() -> None:
    repo = copy.deepcopy(REPO)
    repo["metadata"]["namespace"] = "flux-system"
    repo["spec"]["secretRef"] = {"name": "auth"}
    hr = v2({})
    hr["spec"]["chart"]["spec"]["sourceRef"]["namespace"] = "flux-system"
    spec, warnings = one([repo, hr])
    assert spec["chart"]["repository"]["secretRef"] == {"name": "auth"}
    assert any("Secret flux-system/auth must be copied into namespace apps" in w for w in warnings)


V1_CASES = [
    # (Flux v1 spec fields, expected part of our spec, warning substrings)
    (
        {},
        {
            "releaseName": "apps-web",
            "maxHistory": 10,
            "install": {"disableWait": True},
            "upgrade": {"disableWait": True},
        },
        [],
    ),
    ({"targetNamespace": "web"}, {"releaseName": "apps-web-web", "targetNamespace": "web"}, []),
    (
        {"releaseName": "mine", "maxHistory": 2, "timeout": 90},
        {"releaseName": "mine", "maxHistory": 2, "timeout": "90s"},
        [],
    ),
    (
        {"wait": True, "skipCRDs": True, "forceUpgrade": True},
        {"install": {"crds": "Skip"}, "upgrade": {"force": True}},
        [],
    ),
    (
        {"rollback": {"enable": True}},
        {
            "upgrade": {"remediation": {"retries": 0, "strategy": "rollback", "remediateLastFailure": True}},
            "rollback": {"disableWait": True},
        },
        [],
    ),
    (
        {"rollback": {"enable": True, "retry": True, "wait": True, "timeout": 60}},
        {"upgrade": {"remediation": {"retries": 5}}, "rollback": {"timeout": "60s"}},
        [],
    ),
    (
        {"rollback": {"enable": True, "retry": True, "maxRetries": 0}},
        {"upgrade": {"remediation": {"retries": -1}}},
        [],
    ),
    (
        {"test": {"enable": True, "ignoreFailures": True}},
        {"test": {"enable": True, "ignoreFailures": True}},
        [],
    ),
    (
        {
            "valueFileSecrets": [{"name": "s"}],
            "valuesFrom": [{"configMapKeyRef": {"name": "c", "key": "v.yaml"}}],
        },
        {
            "valuesFrom": [
                {"kind": "Secret", "name": "s"},
                {"kind": "ConfigMap", "name": "c", "valuesKey": "v.yaml"},
            ]
        },
        [],
    ),
    (
        {"valuesFrom": [{"chartFileRef": {"path": "./values-prod.yaml"}}]},
        {"chart": {"repository": {"valuesFiles": ["values-prod.yaml"]}}},
        [],
    ),
    (
        {"valuesFrom": [{"secretKeyRef": {"name": "s", "namespace": "other"}}]},
        {"valuesFrom": [{"kind": "Secret", "name": "s", "valuesKey": "values.yaml"}]},
        ["Secret other/s must be copied into namespace apps"],
    ),
    (
        {"valuesFrom": [{"externalSourceRef": {"url": "https://x/v.yaml"}}]},
        {},
        ["externalSourceRef has no equivalent"],
    ),
    ({"resetValues": True, "helmVersion": "v3", "test": {"cleanup": False}}, {}, []),
    ({"resetValues": False}, {"upgrade": {"preserveValues": True}}, []),
    (
        {"helmVersion": "v2", "rollback": {"enable": True, "recreate": True, "disableHooks": True}},
        {"rollback": {"recreate": True, "disableHooks": True}},
        ["spec.helmVersion"],
    ),
    (
        {"disableOpenAPIValidation": True, "test": {"enable": True, "timeout": 60}},
        {
            "install": {"disableOpenAPIValidation": True},
            "upgrade": {"disableOpenAPIValidation": True},
            "test": {"timeout": "60s"},
        },
        [],
    ),
    (
        {"chart": {"git": "git@github.com:org/repo", "path": "charts/web", "ref": "main"}},
        {
            "chart": {
                "git": {"url": "git@github.com:org/repo", "path": "charts/web", "ref": {"branch": "main"}}
            }
        },
        [],
    ),
    (
        {"chart": {"git": "https://g/r", "path": "c", "ref": "c" * 40, "secretRef": {"name": "git-auth"}}},
        {"chart": {"git": {"ref": {"commit": "c" * 40}, "secretRef": {"name": "git-auth"}}}},
        [],
    ),
    (
        {"chart": {"git": "https://g/r", "path": "c", "ref": "v1.2.3"}},
        {"chart": {"git": {"ref": {"tag": "v1.2.3"}}}},
        ["taken as a tag"],
    ),
    (
        {"chart": {"git": "https://g/r", "path": "c"}},
        {"chart": {"git": {"ref": {"branch": "master"}}}},
        ["using branch master"],
    ),
    (
        {"chart": {"repository": "oci://ghcr.io/org/charts", "name": "web", "version": "1.0.0"}},
        {"chart": {"oci": {"url": "oci://ghcr.io/org/charts/web", "version": "1.0.0"}}},
        [],
    ),
    (
        {"chart": {"repository": "https://c", "name": "web", "chartPullSecret": {"name": "p"}}},
        {},
        ["spec.chart.chartPullSecret"],
    ),
]


@pytest.mark.parametrize(("fields", "expected", "warned"), V1_CASES)
def test_v1_fields(fields: dict[str, Any], expected: dict[str, Any], warned: list[str]) -> None:
    spec, warnings = one([v1(fields)])
    assert subset(expected, spec), spec
    assert len(warnings) == len(warned), warnings
    for text, line in zip(warned, warnings, strict=True):
        assert line.startswith("hr/apps/web: ") and text in line


def test_other_documents_pass_through_and_other_flux_kinds_do_not() -> None:
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "apps"},
        "data": {},
    }
    kustomization = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "k"},
    }
    unused = _source("GitRepository", {"url": GIT}, name="unused")
    result = fluxconvert.convert(
        [configmap, kustomization, unused, {"kind": "List", "items": [REPO, v2({})]}, None]
    )
    assert [d.obj["kind"] for d in result.documents] == ["ConfigMap", "HelmRelease"]
    assert result.documents[0].obj == configmap
    assert (
        "kustomization/default/k: kustomize.toolkit.fluxcd.io/v1 Kustomization "
        "has no equivalent in helmrelease.dev/v1 (not emitted)" in result.warnings
    )
    assert "gitrepository/apps/unused: not used by any converted HelmRelease (not emitted)" in result.warnings
    assert result.failed == 0


def test_metadata_keeps_what_a_user_wrote() -> None:
    hr = v2({})
    hr["metadata"].update(
        uid="u",
        resourceVersion="7",
        labels={"a": "b"},
        annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "web"},
    )
    hr["status"] = {"observedGeneration": 3}
    result = fluxconvert.convert([REPO, hr])
    obj = result.documents[0].obj
    assert obj["metadata"] == {
        "name": "web",
        "namespace": "apps",
        "labels": {"a": "b"},
        "annotations": {"team": "web"},
    }
    assert "status" not in obj


def _paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        out.add(path)
        for arg in [info.annotation, *getattr(info.annotation, "__args__", ())]:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                out |= _paths(arg, path + ".")
    return out


@pytest.mark.parametrize("rules", [fluxconvert.V1_RULES, fluxconvert.V2_RULES], ids=["v1", "v2"])
def test_every_move_lands_on_a_field_of_ours(rules: dict[str, Any]) -> None:
    ours = _paths(HelmReleaseSpec)
    targets = {r.to for r in rules.values() if isinstance(r, fluxconvert.Move)}
    assert targets <= ours, targets - ours


# Flux fields we have but refuse some values of: dropped by the converter on purpose.
REFUSED_HERE = {"install.replace", "kubeConfig.configMapRef"}


@pytest.mark.parametrize("rules", [fluxconvert.V1_RULES, fluxconvert.V2_RULES], ids=["v1", "v2"])
def test_no_field_is_dropped_that_our_api_now_has(rules: dict[str, Any]) -> None:
    """When our API gains a Flux field (issue 16), the converter must map it, not keep dropping it."""
    ours = _paths(HelmReleaseSpec)
    dropped = {path for path, r in rules.items() if isinstance(r, fluxconvert.Drop)}
    assert (dropped & ours) - REFUSED_HERE == set()
