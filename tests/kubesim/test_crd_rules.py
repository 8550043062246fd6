"""Our CRDs refuse what the controller refuses, in its words (issue 14; docs/validation.md).

One row per rule of the pydantic models (api/models.py, api/gitsync.py): an invalid HelmRelease
or GitSync is refused by the models (SpecError) AND by `kubectl apply` (the real kubectl) against
kubesim with crds/ installed, both naming the same field and the same rule words. Where the
API server answers with its own words for a schema keyword that it checks before any CEL rule
(enum, type, required, maxLength, unknown fields), the row gives those words (`server`). Rules
the schema cannot express are rows of CONTROLLER_ONLY, with the reason: the CRD accepts them and
the controller refuses them. VALID rows sit on the boundaries of the rules: both accept them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from helmrelease_controller.api.crd import build_crd
from helmrelease_controller.api.gitsync import GitSync
from helmrelease_controller.api.models import LIST_MAX_ITEMS, HelmRelease, SpecError
from kubesim import KubeSim
from tests.conftest import ROOT, Cli, _env, tool

NS = "apps"
REPO = {"repository": {"url": "https://charts.example", "name": "web"}}
GIT = {"git": {"url": "https://git.example/charts.git", "ref": {"branch": "main"}}}
OCI = {"oci": {"url": "oci://registry.example/charts/web"}}
GITSYNC = {"url": "https://git.example/platform.git"}

RELATIVE = "must be a path relative to the repository root, without '..'"
POSITIVE = "must be greater than 0s"
GO_DURATION = 'use a Go duration such as "30s", "5m", "1h30m" or "750ms"'
OBJECT_NAME = "is not a valid object name: use lowercase letters, digits and '-' or '.'"
NAMESPACE_NAME = "is not a valid namespace name: use lowercase letters, digits and '-', starting"
RELEASE_NAME = "is not a valid Helm release name"
RETRIES = "must be -1 (retry forever) or a number of retries >= 0"
UNSUPPORTED = "Unsupported value"  # the API server's words for an enum: checked before any rule
REQUIRED = "Required value"  # the API server's words for a required field


def merged(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with `changes`; a key like chart__git__path sets a nested field."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        *parents, last = key.split("__")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def hr(chart: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A HelmRelease spec: `chart` (REPO by default) and `changes` (`__` separates nested names)."""
    return merged({"chart": copy.deepcopy(REPO if chart is None else chart)}, **changes)


@dataclass(frozen=True)
class Row:
    """An invalid spec, the field both name and the rule's words (`server`: the API server's own)."""

    id: str
    spec: dict[str, Any]
    field: str
    words: str
    server: str | None = None
    kind: str = "HelmRelease"
    note: str = field(default="", compare=False)


def gs(**changes: Any) -> dict[str, Any]:
    return merged(GITSYNC, **changes)


REFUSED = [
    # spec.chart
    Row(
        "two-chart-sources",
        hr({**REPO, **OCI}),
        "spec.chart",
        "exactly one of git, repository or oci must be set",
    ),
    Row("no-chart-source", hr({}), "spec.chart", "exactly one of git, repository or oci must be set"),
    Row("chart-missing", {"interval": "5m"}, "spec.chart", "exactly one of git, repository or oci", REQUIRED),
    Row(
        "git-two-refs",
        hr(GIT, chart__git__ref={"branch": "main", "tag": "v1"}),
        "spec.chart.git.ref",
        "exactly one of branch, tag, semver or commit must be set",
    ),
    Row("git-no-ref-kind", hr(GIT, chart__git__ref={}), "spec.chart.git.ref", "exactly one of branch, tag"),
    Row("git-empty-url", hr(GIT, chart__git__url=""), "spec.chart.git.url", "must not be empty"),
    Row(
        "git-empty-branch",
        hr(GIT, chart__git__ref={"branch": ""}),
        "spec.chart.git.ref.branch",
        "must not be empty",
    ),
    Row(
        "git-empty-semver",
        hr(GIT, chart__git__ref={"semver": ""}),
        "spec.chart.git.ref.semver",
        "must not be empty",
    ),
    Row(
        "git-bad-commit",
        hr(GIT, chart__git__ref={"commit": "ABC123X"}),
        "spec.chart.git.ref.commit",
        "is not a commit SHA (7 to 64 lowercase hex digits)",
    ),
    Row("git-path-dotdot", hr(GIT, chart__git__path="../x"), "spec.chart.git.path", RELATIVE),
    Row("git-path-absolute", hr(GIT, chart__git__path="/charts/web"), "spec.chart.git.path", RELATIVE),
    Row("git-path-backslash", hr(GIT, chart__git__path="charts\\..\\..\\x"), "spec.chart.git.path", RELATIVE),
    Row(
        "git-path-too-long",
        hr(GIT, chart__git__path="a" * 4097),
        "spec.chart.git.path",
        "may not be more than 4096",
    ),
    Row(
        "git-secret-name",
        hr(GIT, chart__git__secretRef={"name": "Git_Creds"}),
        "spec.chart.git.secretRef.name",
        OBJECT_NAME,
    ),
    Row(
        "values-file-outside",
        hr(chart__repository__valuesFiles=["values.yaml", "../prod.yaml"]),
        "spec.chart.repository.valuesFiles[1]",
        RELATIVE,
    ),
    Row(
        "too-many-values-files",
        hr(chart__repository__valuesFiles=[f"v{i}.yaml" for i in range(LIST_MAX_ITEMS + 1)]),
        "spec.chart.repository.valuesFiles",
        f"must have at most {LIST_MAX_ITEMS} items",
    ),
    Row(
        "repo-url-scheme",
        hr(chart__repository__url="ftp://c"),
        "spec.chart.repository.url",
        "is not an http://",
    ),
    Row("repo-empty-name", hr(chart__repository__name=""), "spec.chart.repository.name", "must not be empty"),
    Row(
        "repo-empty-version",
        hr(chart__repository__version=""),
        "spec.chart.repository.version",
        "must not be empty",
    ),
    Row(
        "repo-no-name",
        hr({"repository": {"url": "https://c"}}),
        "spec.chart.repository.name",
        "required field is missing",
        REQUIRED,
    ),
    Row(
        "oci-url-scheme",
        hr(OCI, chart__oci__url="https://r/web"),
        "spec.chart.oci.url",
        "must start with oci://",
    ),
    Row(
        "oci-version-and-digest",
        hr(OCI, chart__oci__version="1.0.0", chart__oci__digest="sha256:" + "a" * 64),
        "spec.chart.oci",
        "set version or digest, not both",
    ),
    Row(
        "oci-bad-digest", hr(OCI, chart__oci__digest="sha256:abc"), "spec.chart.oci.digest", "is not a digest"
    ),
    Row(
        "oci-values-file-absolute",
        hr(OCI, chart__oci__valuesFiles=["/etc/values.yaml"]),
        "spec.chart.oci.valuesFiles[0]",
        RELATIVE,
    ),
    # names
    Row("release-name-chars", hr(releaseName="Web_1"), "spec.releaseName", RELEASE_NAME),
    Row("release-name-too-long", hr(releaseName="w" * 54), "spec.releaseName", "may not be more than 53"),
    Row("target-namespace-chars", hr(targetNamespace="Apps"), "spec.targetNamespace", NAMESPACE_NAME),
    Row("target-namespace-dot", hr(targetNamespace="a.b"), "spec.targetNamespace", NAMESPACE_NAME),
    Row(
        "target-namespace-too-long",
        hr(targetNamespace="n" * 64),
        "spec.targetNamespace",
        "may not be more than 63",
    ),
    Row("storage-namespace-chars", hr(storageNamespace="-x"), "spec.storageNamespace", NAMESPACE_NAME),
    Row("depends-on-name", hr(dependsOn=[{"name": "db_1"}]), "spec.dependsOn[0].name", OBJECT_NAME),
    Row(
        "depends-on-namespace",
        hr(dependsOn=[{"name": "db", "namespace": "data.x"}]),
        "spec.dependsOn[0].namespace",
        NAMESPACE_NAME,
    ),
    Row(
        "too-many-dependencies",
        hr(dependsOn=[{"name": f"db{i}"} for i in range(LIST_MAX_ITEMS + 1)]),
        "spec.dependsOn",
        f"must have at most {LIST_MAX_ITEMS} items",
    ),
    Row(
        "service-account-name",
        hr(serviceAccountName="Helm Runner"),
        "spec.serviceAccountName",
        OBJECT_NAME,
        note="the name's own rule; the not-built-yet refusal is the next row",
    ),
    # valuesFrom
    Row(
        "values-from-name",
        hr(valuesFrom=[{"kind": "ConfigMap", "name": "Values"}]),
        "spec.valuesFrom[0].name",
        OBJECT_NAME,
    ),
    Row(
        "values-from-kind",
        hr(valuesFrom=[{"kind": "Pod", "name": "v"}]),
        "spec.valuesFrom[0].kind",
        "must be 'ConfigMap' or 'Secret'",
        UNSUPPORTED,
    ),
    Row(
        "values-from-empty-key",
        hr(valuesFrom=[{"kind": "Secret", "name": "v", "valuesKey": ""}]),
        "spec.valuesFrom[0].valuesKey",
        "must not be empty",
    ),
    Row(
        "values-from-empty-target-path",
        hr(valuesFrom=[{"kind": "Secret", "name": "v", "targetPath": ""}]),
        "spec.valuesFrom[0].targetPath",
        "must not be empty",
    ),
    # durations
    Row("zero-interval", hr(interval="0s"), "spec.interval", POSITIVE),
    Row("bare-zero-timeout", hr(timeout="0"), "spec.timeout", POSITIVE),
    Row("interval-in-words", hr(interval="5 minutes"), "spec.interval", GO_DURATION),
    Row("interval-without-unit", hr(interval="300"), "spec.interval", GO_DURATION),
    Row("timeout-in-days", hr(timeout="2d"), "spec.timeout", "invalid duration"),
    Row("negative-interval", hr(interval="-5m"), "spec.interval", "must not be negative"),
    Row("interval-too-long", hr(interval="1s" * 33), "spec.interval", "may not be more than 64"),
    Row("zero-rollback-timeout", hr(rollback={"timeout": "0s"}), "spec.rollback.timeout", POSITIVE),
    Row(
        "uninstall-timeout-typo",
        hr(uninstall={"timeout": "1x"}),
        "spec.uninstall.timeout",
        "invalid duration",
    ),
    Row("zero-backoff-initial", hr(backoff={"initial": "0ms"}), "spec.backoff.initial", POSITIVE),
    Row("backoff-max-typo", hr(backoff={"max": "10min"}), "spec.backoff.max", "invalid duration"),
    # numbers
    Row("negative-max-history", hr(maxHistory=-1), "spec.maxHistory", "must be >= 0"),
    Row(
        "install-retries",
        hr(install={"remediation": {"retries": -2}}),
        "spec.install.remediation.retries",
        RETRIES,
    ),
    Row(
        "upgrade-retries",
        hr(upgrade={"remediation": {"retries": -5}}),
        "spec.upgrade.remediation.retries",
        RETRIES,
    ),
    Row("backoff-factor-below-one", hr(backoff={"factor": 0.5}), "spec.backoff.factor", "must be >= 1"),
    Row("backoff-jitter-above-one", hr(backoff={"jitter": 1.5}), "spec.backoff.jitter", "must be <= 1"),
    Row("backoff-jitter-negative", hr(backoff={"jitter": -0.1}), "spec.backoff.jitter", "must be >= 0"),
    Row(
        "backoff-max-below-initial",
        hr(backoff={"initial": "1m", "max": "10s"}),
        "spec.backoff",
        "must not be shorter than initial",
    ),
    Row(
        "backoff-initial-above-default-max",
        hr(backoff={"initial": "20m"}),
        "spec.backoff",
        "must not be shorter than initial",
    ),
    # enums
    Row(
        "remediation-strategy",
        hr(upgrade={"remediation": {"strategy": "ignore"}}),
        "spec.upgrade.remediation.strategy",
        "must be 'rollback' or 'uninstall'",
        UNSUPPORTED,
    ),
    Row(
        "install-crds-value",
        hr(install={"crds": "Replace"}),
        "spec.install.crds",
        "must be 'Skip'",
        UNSUPPORTED,
    ),
    Row(
        "drift-mode-value",
        hr(driftDetection={"mode": "on"}),
        "spec.driftDetection.mode",
        "must be",
        UNSUPPORTED,
    ),
    # valid but not built yet
    Row(
        "install-crds-create-replace",
        hr(install={"crds": "CreateReplace"}),
        "spec.install.crds",
        "CreateReplace is not supported yet (CRDs that exist are never replaced); use Create or Skip",
    ),
    Row(
        "upgrade-crds-create-replace",
        hr(upgrade={"crds": "CreateReplace"}),
        "spec.upgrade.crds",
        "CreateReplace is not supported yet",
    ),
    Row(
        "verify-cosign",
        hr(chart__verify={"provider": "cosign", "secretRef": {"name": "keys"}}),
        "spec.chart.verify.provider",
        "is not supported yet (Flux's cosign and notation verify OCI charts)",
    ),
    Row(
        "verify-git-chart",
        hr(GIT, chart__verify={"provider": "helm", "secretRef": {"name": "keys"}}),
        "spec.chart",
        "verify is supported for repository and OCI charts only",
    ),
    Row(
        "verify-provider-value",
        hr(chart__verify={"provider": "gpg", "secretRef": {"name": "keys"}}),
        "spec.chart.verify.provider",
        "must be 'helm', 'cosign' or 'notation'",
        UNSUPPORTED,
    ),
    Row(
        "verify-no-secret",
        hr(chart__verify={"provider": "helm"}),
        "spec.chart.verify.secretRef",
        "required field is missing",
        REQUIRED,
    ),
    Row(
        "storage-namespace-not-target",
        hr(targetNamespace="web", storageNamespace="helm"),
        "spec.storageNamespace",
        "must equal the target namespace",
    ),
    # remote clusters: a Secret's kubeconfig, exactly one reference; workload identity not built
    Row(
        "kubeconfig-empty",
        hr(kubeConfig={}),
        "spec.kubeConfig",
        "exactly one of spec.kubeConfig.configMapRef",
    ),
    Row(
        "kubeconfig-both",
        hr(kubeConfig={"secretRef": {"name": "k"}, "configMapRef": {"name": "c"}}),
        "spec.kubeConfig",
        "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
    ),
    Row(
        "kubeconfig-config-map",
        hr(kubeConfig={"configMapRef": {"name": "aks"}}),
        "spec.kubeConfig.configMapRef",
        "is not supported yet (a kubeconfig from a cloud provider's workload identity)",
    ),
    Row(
        "kubeconfig-secret-name",
        hr(kubeConfig={"secretRef": {"name": "K"}}),
        "spec.kubeConfig.secretRef.name",
        OBJECT_NAME,
    ),
    Row(
        "kubeconfig-secret-key-empty",
        hr(kubeConfig={"secretRef": {"name": "k", "key": ""}}),
        "spec.kubeConfig.secretRef.key",
        "must not be empty",
    ),
    # drift ignore rules
    Row(
        "drift-ignore-no-paths",
        hr(driftDetection={"ignore": [{"paths": []}]}),
        "spec.driftDetection.ignore[0].paths",
        "must have at least 1 item(s)",
    ),
    Row(
        "drift-ignore-not-a-pointer",
        hr(driftDetection={"ignore": [{"paths": ["/spec/replicas", "spec.template"]}]}),
        "spec.driftDetection.ignore[0].paths[1]",
        "is not a JSON pointer: it must start with '/', e.g. /spec/replicas",
    ),
    Row(
        "drift-ignore-empty-path",
        hr(driftDetection={"ignore": [{"paths": [""]}]}),
        "spec.driftDetection.ignore[0].paths[0]",
        "must not be empty",
    ),
    Row(
        "drift-ignore-paths-missing",
        hr(driftDetection={"ignore": [{"target": {"kind": "Deployment"}}]}),
        "spec.driftDetection.ignore[0].paths",
        "required field is missing",
        REQUIRED,
    ),
    Row(
        "too-many-drift-rules",
        hr(driftDetection={"ignore": [{"paths": ["/a"]}] * (LIST_MAX_ITEMS + 1)}),
        "spec.driftDetection.ignore",
        f"must have at most {LIST_MAX_ITEMS} items",
    ),
    # types and unknown fields (the API server's words: checked before any rule)
    Row(
        "suspend-string",
        hr(suspend="maybe"),
        "spec.suspend",
        "must be true or false",
        "must be of type boolean",
    ),
    Row(
        "max-history-string",
        hr(maxHistory="five"),
        "spec.maxHistory",
        "must be an integer",
        "must be of type integer",
    ),
    Row("values-list", hr(values=[1, 2]), "spec.values", "must be an object", "must be of type object"),
    Row(
        "unknown-spec-field",
        hr(intervall="5m"),
        "spec.intervall",
        "unknown field",
        'unknown field "spec.intervall"',
    ),
    Row(
        "unknown-chart-field",
        hr(chart__repository__versoin="1.0.0"),
        "spec.chart.repository.versoin",
        "unknown field",
        'unknown field "spec.chart.repository.versoin"',
    ),
    # GitSync (api/gitsync.py: the same types as chart.git)
    Row("gitsync-empty-url", gs(url=""), "spec.url", "must not be empty", kind="GitSync"),
    Row("gitsync-no-url", {"path": "."}, "spec.url", "required field is missing", REQUIRED, kind="GitSync"),
    Row("gitsync-path-dotdot", gs(path="../outside"), "spec.path", RELATIVE, kind="GitSync"),
    Row("gitsync-path-backslash", gs(path="..\\outside"), "spec.path", RELATIVE, kind="GitSync"),
    Row(
        "gitsync-two-refs",
        gs(ref={"branch": "main", "semver": ">=1"}),
        "spec.ref",
        "exactly one of branch, tag, semver or commit must be set",
        kind="GitSync",
    ),
    Row(
        "gitsync-bad-commit",
        gs(ref={"commit": "HEAD"}),
        "spec.ref.commit",
        "is not a commit SHA",
        kind="GitSync",
    ),
    Row("gitsync-zero-interval", gs(interval="0s"), "spec.interval", POSITIVE, kind="GitSync"),
    Row("gitsync-timeout-words", gs(timeout="forever"), "spec.timeout", GO_DURATION, kind="GitSync"),
    Row(
        "gitsync-secret-name", gs(secretRef={"name": "A"}), "spec.secretRef.name", OBJECT_NAME, kind="GitSync"
    ),
    Row(
        "gitsync-webhook-without-secret",
        gs(webhook={}),
        "spec.webhook.secretRef",
        "required field is missing",
        REQUIRED,
        kind="GitSync",
    ),
    Row(
        "gitsync-prune-string",
        gs(prune="maybe"),
        "spec.prune",
        "must be true or false",
        "must be of type boolean",
        kind="GitSync",
    ),
    Row(
        "gitsync-unknown-field",
        gs(paths="x"),
        "spec.paths",
        "unknown field",
        'unknown field "spec.paths"',
        kind="GitSync",
    ),
    # Flux's per-action helm options (issue 16; docs/flux-compatibility.md)
    Row("install-replace-false", hr(install={"replace": False}), "spec.install.replace", "cannot be false"),
    Row(
        "deletion-propagation",
        hr(uninstall={"deletionPropagation": "Orphan"}),
        "spec.uninstall.deletionPropagation",
        "must be 'background', 'foreground' or 'orphan'",
        UNSUPPORTED,
    ),
    Row(
        "wait-strategy-name",
        hr(waitStrategy={"name": "watcher"}),
        "spec.waitStrategy.name",
        "must be 'poller' or 'legacy'",
        UNSUPPORTED,
    ),
    Row("wait-strategy-no-name", hr(waitStrategy={}), "spec.waitStrategy.name", "required field", REQUIRED),
    Row(
        "test-filter-name", hr(test={"filters": [{"name": "a,b"}]}), "spec.test.filters[0].name", OBJECT_NAME
    ),
    Row("test-timeout-zero", hr(test={"timeout": "0s"}), "spec.test.timeout", POSITIVE),
    Row(
        "test-filters-101",
        hr(test={"filters": [{"name": f"t{i}"} for i in range(LIST_MAX_ITEMS + 1)]}),
        "spec.test.filters",
        f"must have at most {LIST_MAX_ITEMS} items",
    ),
    # postRenderers and commonMetadata (issue 16; docs/post-renderers.md)
    Row(
        "post-renderer-empty-patch",
        hr(postRenderers=[{"kustomize": {"patches": [{"patch": ""}]}}]),
        "spec.postRenderers[0].kustomize.patches[0].patch",
        "must not be empty",
    ),
    Row(
        "post-renderer-no-patch",
        hr(postRenderers=[{"kustomize": {"patches": [{"target": {"kind": "Deployment"}}]}}]),
        "spec.postRenderers[0].kustomize.patches[0].patch",
        "required field",
        REQUIRED,
    ),
    Row(
        "post-renderer-image-no-name",
        hr(postRenderers=[{"kustomize": {"images": [{"newTag": "1"}]}}]),
        "spec.postRenderers[0].kustomize.images[0].name",
        "required field",
        REQUIRED,
    ),
    Row(
        "post-renderer-patches-strategic-merge",  # removed by Flux v2: the controller says how instead
        hr(postRenderers=[{"kustomize": {"patchesStrategicMerge": [{"kind": "Deployment"}]}}]),
        "spec.postRenderers[0].kustomize",
        "patchesStrategicMerge is not supported (Flux v2 removed it): write each patch as a patches item",
        'unknown field "spec.postRenderers[0].kustomize.patchesStrategicMerge"',
    ),
    Row(
        "common-label-not-a-string",
        hr(commonMetadata={"labels": {"team": 1}}),
        "spec.commonMetadata.labels.team",
        "must be a string",
        "must be of type string",
    ),
]


@dataclass(frozen=True)
class ControllerOnly:
    """A rule the CRD cannot express: the API server accepts the object, the controller refuses it."""

    id: str
    spec: dict[str, Any]
    field: str
    words: str
    reason: str


CONTROLLER_ONLY = [
    ControllerOnly(
        "storage-namespace-not-own-namespace",
        hr(storageNamespace="helm"),
        "spec.storageNamespace",
        "must equal the target namespace 'apps'",
        "without targetNamespace the target is metadata.namespace, which a CRD rule cannot see (CEL at "
        "the root sees apiVersion, kind, metadata.name and metadata.generateName only)",
    ),
]

VALID = [
    (
        "retries-forever",
        "HelmRelease",
        hr(install={"remediation": {"retries": -1}}, upgrade={"remediation": {"retries": -1}}),
    ),
    ("retries-zero", "HelmRelease", hr(upgrade={"remediation": {"retries": 0, "strategy": "uninstall"}})),
    ("backoff-max-equals-initial", "HelmRelease", hr(backoff={"initial": "1m", "max": "1m"})),
    ("backoff-initial-equals-default-max", "HelmRelease", hr(backoff={"initial": "10m"})),
    ("backoff-max-equals-default-initial", "HelmRelease", hr(backoff={"max": "10s"})),
    ("backoff-bounds", "HelmRelease", hr(backoff={"factor": 1, "jitter": 0})),
    ("backoff-jitter-one", "HelmRelease", hr(backoff={"factor": 1.5, "jitter": 1})),
    ("max-history-unlimited", "HelmRelease", hr(maxHistory=0)),
    (
        "kubeconfig-secret-key",
        "HelmRelease",
        hr(kubeConfig={"secretRef": {"name": "k", "key": "value.yaml"}}),
    ),
    (
        "drift-enabled-with-an-ignore-rule",
        "HelmRelease",
        hr(
            driftDetection={
                "mode": "enabled",
                "ignore": [
                    {"paths": ["/spec/replicas"], "target": {"kind": "Deployment", "labelSelector": "a=b"}}
                ],
            }
        ),
    ),
    ("drift-warn", "HelmRelease", hr(driftDetection={"mode": "warn"})),
    ("smallest-durations", "HelmRelease", hr(interval="1ns", timeout="0.5s", rollback={"timeout": "1h30m"})),
    ("duration-64-characters", "HelmRelease", hr(interval="1s" * 32)),
    ("release-name-53", "HelmRelease", hr(releaseName="w" * 53)),
    ("target-namespace-63", "HelmRelease", hr(targetNamespace="n" * 63)),
    ("storage-namespace-is-target", "HelmRelease", hr(targetNamespace="web", storageNamespace="web")),
    ("storage-namespace-is-own", "HelmRelease", hr(storageNamespace=NS)),
    ("commit-7", "HelmRelease", hr(GIT, chart__git__ref={"commit": "abc1234"})),
    (
        "commit-40",
        "HelmRelease",
        hr(GIT, chart__git__ref={"commit": "0123456789abcdef0123456789abcdef01234567"}),
    ),
    (
        "git-paths",
        "HelmRelease",
        hr(
            GIT, chart__git__path="./charts/web..v2/x", chart__git__valuesFiles=["a..b.yaml", "env/prod.yaml"]
        ),
    ),
    ("git-path-4096", "HelmRelease", hr(GIT, chart__git__path="a" * 4096)),
    ("oci-digest", "HelmRelease", hr(OCI, chart__oci__digest="sha256:" + "0" * 64)),
    ("verify-helm", "HelmRelease", hr(chart__verify={"provider": "helm", "secretRef": {"name": "keys"}})),
    (
        "verify-helm-oci",
        "HelmRelease",
        hr(OCI, chart__verify={"provider": "helm", "secretRef": {"name": "k"}}),
    ),
    ("oci-version", "HelmRelease", hr(OCI, chart__oci__version=">=1.0.0 <2.0.0")),
    (
        "values-files-100",
        "HelmRelease",
        hr(chart__repository__valuesFiles=[f"v{i}.yaml" for i in range(LIST_MAX_ITEMS)]),
    ),
    (
        "dependencies-100",
        "HelmRelease",
        hr(dependsOn=[{"name": f"db{i}", "namespace": "data"} for i in range(LIST_MAX_ITEMS)]),
    ),
    ("crds-create-skip", "HelmRelease", hr(install={"crds": "Skip"}, upgrade={"crds": "Create"})),
    (
        "drift-disabled-with-rules",
        "HelmRelease",
        hr(driftDetection={"mode": "disabled", "ignore": [{"paths": ["/"]}]}),
    ),
    (
        "values-from",
        "HelmRelease",
        hr(valuesFrom=[{"kind": "Secret", "name": "v.x", "targetPath": "image.tag"}]),
    ),
    (
        "flux-helm-options",
        "HelmRelease",
        hr(
            install={"replace": True, "disableOpenAPIValidation": True, "disableTakeOwnership": False},
            upgrade={"preserveValues": True, "disableHooks": True, "disableWaitForJobs": True},
            rollback={"recreate": True, "disableHooks": True},
            uninstall={"disableWait": True, "deletionPropagation": "orphan"},
            test={
                "timeout": "1m",
                "filters": [{"name": f"t{i}", "exclude": True} for i in range(LIST_MAX_ITEMS)],
            },
            waitStrategy={"name": "legacy"},
        ),
    ),
    (
        "post-renderers-and-common-metadata",
        "HelmRelease",
        hr(
            postRenderers=[
                {
                    "kustomize": {
                        "patches": [
                            {
                                "patch": "- {op: replace, path: /spec/replicas, value: 3}",
                                "target": {
                                    "group": "apps",
                                    "version": "v1",
                                    "kind": "Deployment",
                                    "name": "web",
                                    "namespace": NS,
                                    "labelSelector": "app=web",
                                    "annotationSelector": "a!=b",
                                },
                            }
                        ],
                        "images": [
                            {"name": "nginx", "newName": "r.example/x", "newTag": "1", "digest": "sha256:0"}
                        ],
                    }
                },
                {},
            ],
            commonMetadata={"labels": {"team": "a"}, "annotations": {"owner": "b"}},
        ),
    ),
    ("gitsync-minimal", "GitSync", gs()),
    (
        "gitsync-full",
        "GitSync",
        gs(
            ref={"commit": "abcdef0"},
            path="clusters/prod",
            interval="30s",
            timeout="2m",
            webhook={"secretRef": {"name": "hook"}},
        ),
    ),
]


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def controller_messages(body: dict[str, Any]) -> list[str]:
    """The controller's SpecError lines for `body` (none when it accepts it)."""
    try:
        if body["kind"] == "GitSync":
            GitSync.from_obj(body)
        else:
            HelmRelease.from_obj(body)
    except SpecError as exc:
        return exc.messages
    return []


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """One kubesim with our CRDs for the module (the rows only read and create)."""
    tmp = tmp_path_factory.mktemp("crd-rules")
    sim = KubeSim(bookmark_interval=1.0)
    sim.start()
    sim.write_kubeconfig(tmp / "kubeconfig")
    cli = Cli(tool("kubectl"), _env(tmp, sim))
    try:
        cli("apply", "-k", str(ROOT / "crds"))
        cli(
            "wait",
            "--for=condition=Established",
            "crd/helmreleases.helmrelease.dev",
            "crd/gitsyncs.helmrelease.dev",
        )
        cli("create", "namespace", NS)
        yield cli
    finally:
        sim.stop()


@pytest.mark.parametrize("row", REFUSED, ids=[r.id for r in REFUSED])
def test_the_crd_refuses_what_the_controller_refuses(kubectl: Cli, row: Row) -> None:
    body = obj(row.kind, "bad", row.spec)
    said = controller_messages(body)
    assert any(m.startswith(f"{row.field}: ") and row.words in m for m in said), said

    out = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(body), check=False)
    assert out.returncode == 1, out.stdout
    # kubectl: `The HelmRelease "bad" is invalid: spec.x: Invalid value: "string": <words>` (one line
    # per error), or for an unknown field the strict decoding error naming it.
    server = row.server or row.words
    lines = out.stderr.splitlines()
    assert any(server in line and row.field in line for line in lines), out.stderr
    if row.server is None:
        assert any(f"{row.field}: " in line and row.words in line for line in lines), out.stderr
    assert "evaluating rule" not in out.stderr, out.stderr  # no rule failed to evaluate
    assert (
        "Error from server (NotFound)"
        in kubectl.run("get", row.kind.lower(), "bad", "-n", NS, check=False).stderr
    )


@pytest.mark.parametrize("row", CONTROLLER_ONLY, ids=[r.id for r in CONTROLLER_ONLY])
def test_rules_left_to_the_controller(kubectl: Cli, row: ControllerOnly) -> None:
    body = obj("HelmRelease", row.id, row.spec)
    said = controller_messages(body)
    assert any(m.startswith(f"{row.field}: ") and row.words in m for m in said), said
    kubectl("apply", "-f", "-", input=yaml.safe_dump(body))  # accepted: see row.reason


@pytest.mark.parametrize(("name", "kind", "spec"), VALID, ids=[v[0] for v in VALID])
def test_valid_specs_on_the_boundaries_are_accepted_by_both(
    kubectl: Cli, name: str, kind: str, spec: dict[str, Any]
) -> None:
    body = obj(kind, name, spec)
    assert controller_messages(body) == []
    kubectl("apply", "-f", "-", input=yaml.safe_dump(body))
    kubectl("get", kind.lower(), name, "-n", NS)


def test_every_rule_bearing_list_is_bounded() -> None:
    """A real API server estimates what a CRD's CEL rules may cost and refuses a CRD over its budget
    (10M per rule, 100M in all): an unbounded list multiplies its items' rules without end."""

    def walk(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        yield path, node
        for name, sub in node.get("properties", {}).items():
            yield from walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], f"{path}[]")

    def has_rules(node: dict[str, Any]) -> bool:
        return any("x-kubernetes-validations" in n for _, n in walk(node, ""))

    for crd_file in ("helmrelease.yaml", "gitsync.yaml"):
        crd = yaml.safe_load((Path(ROOT) / "crds" / crd_file).read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        for path, node in walk(schema, "spec"):
            if node.get("type") == "array" and has_rules(node["items"]):
                assert "maxItems" in node, f"{crd_file} {path}: a list whose items carry rules needs maxItems"
            for rule in node.get("x-kubernetes-validations", []):
                if "matches(" in rule["rule"] or "split(" in rule["rule"]:
                    in_list = "[]" in path
                    assert not in_list or "maxLength" in node, (
                        f"{crd_file} {path}: {rule['rule']} needs maxLength"
                    )
    assert (
        build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        == yaml.safe_load((Path(ROOT) / "crds" / "helmrelease.yaml").read_text())["spec"]["versions"][0][
            "schema"
        ]["openAPIV3Schema"]["properties"]["spec"]
    )


def test_a_blocking_schema_error_stops_the_rules(kubectl: Cli) -> None:
    """kube-apiserver evaluates no CEL rule once the schema found a type, required, enum or size error
    (a rule could not read the object's shape) and says so; the other rules' errors wait."""
    spec = hr(upgrade={"remediation": {"strategy": "ignore"}}, interval="0s")
    out = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(obj("HelmRelease", "bad", spec)), check=False)
    assert out.returncode == 1
    assert 'spec.upgrade.remediation.strategy: Unsupported value: "ignore"' in out.stderr, out.stderr
    assert (
        '<nil>: Invalid value: "null": some validation rules were not checked because the object was '
        "invalid; correct the existing errors to complete validation"
    ) in out.stderr
    assert POSITIVE not in out.stderr  # spec.interval's rule: not evaluated
