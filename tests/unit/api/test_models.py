"""Unit tests of the HelmRelease API models and Go durations (helmrelease_controller.api)."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from helmrelease_controller.api import (
    ANNOTATION_FORCE_AT,
    ANNOTATION_RECONCILE_REQUESTED_AT,
    ANNOTATION_RESET_AT,
    ANNOTATION_SUSPEND,
    API_VERSION,
    FINALIZER,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    Condition,
    HelmRelease,
    HelmReleaseStatus,
    HelmTestHookStatus,
    HistoryEntry,
    SpecError,
    format_duration,
    parse_duration,
    shorten_release_name,
    status_to_obj,
)

# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("10s", 10.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2h45m30.5s", 9930.5),
        ("750ms", 0.75),
        ("1m30s", 90.0),
        ("90m", 5400.0),
        ("1us", 1e-6),
        ("1\u00b5s", 1e-6),
        ("100ns", 1e-7),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1h0m0s", 3600.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid duration '': empty"),
        ("5", "invalid duration '5': missing unit"),
        ("5 minutes", "invalid duration '5 minutes': use a Go duration such as"),
        ("-5m", "invalid duration '-5m': must not be negative"),
        ("1d", "invalid duration '1d': unknown unit 'd' (use ns, us, ms, s, m or h)"),
        ("5mins", "unknown unit 'mins'"),
        ("m", "invalid duration 'm'"),
        (".s", "invalid duration '.s'"),
        ("1.5.h", "invalid duration '1.5.h'"),
        ("5m\n", "invalid duration '5m\\n'"),
        ("5m3", "invalid duration '5m3'"),
        ("+5m", "invalid duration '+5m'"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (10, "10s"),
        (300, "5m"),
        (5400, "1h30m"),
        (3600, "1h"),
        (3661, "1h1m1s"),
        (0.75, "750ms"),
        (1.5, "1.5s"),
        (9930.5, "2h45m30.5s"),
        (1e-6, "1us"),
        (1e-7, "100ns"),
        (0.0015, "1.5ms"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [-1, float("inf"), float("nan")])
def test_format_duration_rejects(bad: float) -> None:
    with pytest.raises(ValueError):
        format_duration(bad)


@given(st.integers(min_value=0, max_value=10**12))
def test_format_then_parse_round_trips_milliseconds(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=1e-9)


# --- a HelmRelease as a user writes it ------------------------------------------------------------

USER_YAML = """
apiVersion: helmrelease.dev/v1
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-apps
  generation: 3
  annotations:
    helmrelease.dev/reconcile-requested-at: "2026-11-21T10:00:00Z"
spec:
  interval: 10m
  timeout: 2m30s
  targetNamespace: podinfo
  chart:
    repository:
      url: https://stefanprodan.github.io/podinfo
      name: podinfo
      version: ">=6.5.0 <7.0.0"
      secretRef:
        name: podinfo-repo-auth
  install:
    createNamespace: true
    remediation:
      retries: 3
  upgrade:
    cleanupOnFail: true
    remediation:
      retries: 3
      strategy: rollback
  test:
    enable: true
  backoff:
    initial: 30s
    max: 15m
    factor: 1.5
    jitter: 0.2
  values:
    replicaCount: 2
    ingress:
      enabled: true
      hosts:
        - host: podinfo.example.com
  valuesFrom:
    - kind: ConfigMap
      name: podinfo-values
    - kind: Secret
      name: podinfo-secrets
      valuesKey: token
      targetPath: auth.token
      optional: true
  dependsOn:
    - name: ingress-nginx
      namespace: infra
  driftDetection:
    mode: disabled
    ignore:
      - paths: ["/spec/replicas"]
        target:
          kind: Deployment
"""


def user_obj() -> dict[str, Any]:
    obj = yaml.safe_load(USER_YAML)
    assert isinstance(obj, dict)
    return obj


def test_user_yaml_parses() -> None:
    hr = HelmRelease.from_obj(user_obj())
    spec = hr.spec
    assert hr.name == "podinfo"
    assert hr.namespace == "flux-apps"
    assert hr.generation == 3
    assert spec.chart.kind == "repository"
    assert spec.chart.repository is not None
    assert spec.chart.source is spec.chart.repository
    assert spec.chart.repository.version == ">=6.5.0 <7.0.0"
    assert spec.chart.repository.secret_ref is not None
    assert spec.chart.repository.secret_ref.name == "podinfo-repo-auth"
    assert spec.interval_seconds == 600
    assert spec.timeout_seconds == 150
    assert spec.install.create_namespace is True
    assert spec.install.crds == "Create"
    assert spec.install.remediation.retries == 3
    assert spec.upgrade.crds == "Skip"
    assert spec.upgrade.cleanup_on_fail is True
    assert spec.upgrade.remediation.retries == 3
    assert spec.upgrade.remediation.strategy == "rollback"
    assert spec.upgrade.remediation.remediate_last_failure is None
    assert spec.upgrade.remediation.must_remediate_last_failure() is True
    assert spec.test.enable is True
    assert spec.test.ignore_failures is False
    assert spec.backoff.initial_seconds == 30
    assert spec.backoff.max_seconds == 900
    assert spec.backoff.factor == 1.5
    assert spec.backoff.jitter == 0.2
    assert spec.values == {
        "replicaCount": 2,
        "ingress": {"enabled": True, "hosts": [{"host": "podinfo.example.com"}]},
    }
    assert [(v.kind, v.name, v.values_key, v.target_path, v.optional) for v in spec.values_from] == [
        ("ConfigMap", "podinfo-values", "values.yaml", None, False),
        ("Secret", "podinfo-secrets", "token", "auth.token", True),
    ]
    assert [(d.name, d.namespace) for d in spec.depends_on] == [("ingress-nginx", "infra")]
    assert spec.drift_detection.mode == "disabled"
    assert spec.drift_detection.ignore[0].paths == ["/spec/replicas"]
    target = spec.drift_detection.ignore[0].target
    assert target is not None and target.kind == "Deployment" and target.name is None
    assert spec.max_history == 5
    assert spec.keep_failed_release is False
    assert hr.status is None


def test_user_yaml_derived_names() -> None:
    hr = HelmRelease.from_obj(user_obj())
    assert hr.release_name == "podinfo-podinfo"
    assert hr.target_namespace == "podinfo"
    assert hr.storage_namespace == "podinfo"
    assert hr.suspended is False
    assert hr.annotation("reconcile-requested-at") == "2026-11-21T10:00:00Z"
    assert hr.annotation(ANNOTATION_RECONCILE_REQUESTED_AT) == "2026-11-21T10:00:00Z"
    assert hr.annotation("force-at") is None


def minimal(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": "team-a"},
        "spec": {"chart": {"oci": {"url": "oci://ghcr.io/stefanprodan/charts/podinfo"}}, **spec},
    }


def test_defaults() -> None:
    hr = HelmRelease.from_obj(minimal())
    spec = hr.spec
    assert (spec.interval, spec.timeout, spec.suspend, spec.max_history) == ("5m", "5m", False, 5)
    assert spec.values == {} and spec.values_from == [] and spec.depends_on == []
    assert spec.install.remediation.retries == 0
    assert spec.upgrade.remediation.retries == 0
    assert spec.upgrade.remediation.strategy == "rollback"
    assert spec.upgrade.remediation.must_remediate_last_failure() is False
    assert (spec.backoff.initial, spec.backoff.max, spec.backoff.factor, spec.backoff.jitter) == (
        "10s",
        "10m",
        2.0,
        0.1,
    )
    assert spec.rollback.timeout is None and spec.uninstall.timeout is None
    assert spec.drift_detection.mode == "disabled" and spec.drift_detection.ignore == []
    assert hr.release_name == "web"
    assert hr.target_namespace == "team-a"
    assert hr.storage_namespace == "team-a"


def test_release_name_and_namespaces() -> None:
    hr = HelmRelease.from_obj(minimal(releaseName="my-web", storageNamespace="team-a"))
    assert hr.release_name == "my-web"
    assert hr.target_namespace == "team-a"
    assert hr.storage_namespace == "team-a"
    hr = HelmRelease.from_obj(minimal(targetNamespace="prod"))
    assert hr.release_name == "prod-web"
    assert hr.target_namespace == "prod"
    assert hr.storage_namespace == "prod"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"install": {"crds": "CreateReplace"}},
            "spec.install.crds: CreateReplace is not supported yet (CRDs that exist are never replaced);"
            " use Create or Skip",
        ),
        (
            {"upgrade": {"crds": "CreateReplace"}},
            "spec.upgrade.crds: CreateReplace is not supported yet (CRDs that exist are never replaced);"
            " use Create or Skip",
        ),
        *(
            (
                {
                    "chart": {
                        "repository": {"url": "https://charts.example.com", "name": "web"},
                        "verify": {"provider": p, "secretRef": {"name": "keys"}},
                    }
                },
                f"spec.chart.verify.provider: {p} is not supported yet (Flux's cosign and notation verify "
                "OCI charts); use helm: provenance files checked against a keyring, for repository and OCI "
                "charts",
            )
            for p in ("cosign", "notation")
        ),
    ],
)
def test_fields_not_built_yet_are_refused_not_ignored(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as err:
        HelmRelease.from_obj(minimal(**spec))
    assert str(err.value) == message
    # Parsing without the check still works (to uninstall what an older controller installed).
    assert HelmRelease.from_obj(minimal(**spec), supported_only=False).unsupported() == [message]


def test_defaults_of_fields_not_built_yet_are_accepted() -> None:
    hr = HelmRelease.from_obj(
        minimal(
            driftDetection={"mode": "disabled", "ignore": [{"paths": ["/spec/replicas"]}]},
            install={"crds": "Skip"},
            upgrade={"crds": "Create"},
        )
    )
    assert hr.unsupported() == []


@pytest.mark.parametrize("source", ["repository", "oci"])
def test_helm_provenance_verification_of_repository_and_oci_charts_is_accepted(source: str) -> None:
    chart = {"repository": _REPO} if source == "repository" else {"oci": {"url": "oci://r/web"}}
    hr = HelmRelease.from_obj(
        minimal(chart={**chart, "verify": {"provider": "helm", "secretRef": {"name": "keys"}}})
    )
    verify = hr.spec.chart.verify
    assert verify is not None and (verify.provider, verify.secret_ref.name) == ("helm", "keys")
    assert hr.unsupported() == []


def test_every_field_not_built_yet_is_reported() -> None:
    with pytest.raises(SpecError) as err:
        HelmRelease.from_obj(minimal(install={"crds": "CreateReplace"}, upgrade={"crds": "CreateReplace"}))
    assert len(err.value.messages) == 2 and str(err.value).endswith(" (and 1 more)")


def test_storage_namespace_other_than_target_is_refused() -> None:
    # helm keeps release storage in the release's own namespace; honouring another one is impossible
    # with the CLI, and ignoring it silently caused an install loop.
    with pytest.raises(SpecError) as err:
        HelmRelease.from_obj(minimal(targetNamespace="prod", storageNamespace="helm-storage"))
    assert str(err.value) == (
        "spec.storageNamespace: must equal the target namespace 'prod' "
        "(helm stores a release in its own namespace)"
    )


def test_long_release_name_is_shortened_as_flux() -> None:
    obj = minimal(targetNamespace="a-rather-long-namespace-name")
    obj["metadata"]["name"] = "and-an-even-longer-helmrelease-name"
    full = "a-rather-long-namespace-name-and-an-even-longer-helmrelease-name"
    name = HelmRelease.from_obj(obj).release_name
    assert len(name) == 53
    assert name == full[:40] + "-" + hashlib.sha256(full.encode()).hexdigest()[:12]
    assert shorten_release_name("short") == "short"


@pytest.mark.parametrize(
    ("annotations", "spec_suspend", "suspended"),
    [
        ({}, False, False),
        ({}, True, True),
        ({ANNOTATION_SUSPEND: "true"}, False, True),
        ({ANNOTATION_SUSPEND: "True"}, False, True),
        ({ANNOTATION_SUSPEND: "false"}, False, False),
        ({ANNOTATION_SUSPEND: ""}, False, False),
        ({ANNOTATION_SUSPEND: "false"}, True, True),
    ],
)
def test_suspended(annotations: dict[str, str], spec_suspend: bool, suspended: bool) -> None:
    obj = minimal(suspend=spec_suspend)
    obj["metadata"]["annotations"] = annotations
    assert HelmRelease.from_obj(obj).suspended is suspended


def test_annotations() -> None:
    obj = minimal()
    obj["metadata"]["annotations"] = {ANNOTATION_FORCE_AT: "1", ANNOTATION_RESET_AT: "2", "other/x": "3"}
    hr = HelmRelease.from_obj(obj)
    assert hr.annotation("force-at") == "1"
    assert hr.annotation("reset-at") == "2"
    assert hr.annotation("suspend") is None


def test_git_and_oci_charts() -> None:
    hr = HelmRelease.from_obj(
        minimal(
            chart={
                "git": {
                    "url": "ssh://git@example.com/platform/charts.git",
                    "ref": {"tag": "v1.2.3"},
                    "path": "charts/web",
                    "secretRef": {"name": "git-ssh"},
                }
            }
        )
    )
    assert hr.spec.chart.kind == "git"
    git = hr.spec.chart.git
    assert git is not None and git.ref is not None
    assert (git.ref.kind, git.ref.value, git.path) == ("tag", "v1.2.3", "charts/web")
    digest = "sha256:" + "ab" * 32
    hr = HelmRelease.from_obj(
        minimal(chart={"oci": {"url": "oci://registry.local/charts/web", "digest": digest}})
    )
    assert hr.spec.chart.oci is not None and hr.spec.chart.oci.digest == digest


def test_null_collections_are_empty() -> None:
    hr = HelmRelease.from_obj(minimal(values=None, valuesFrom=None, dependsOn=None))
    assert (hr.spec.values, hr.spec.values_from, hr.spec.depends_on) == ({}, [], [])


def test_remediate_last_failure_explicit() -> None:
    hr = HelmRelease.from_obj(minimal(upgrade={"remediation": {"retries": 3, "remediateLastFailure": False}}))
    assert hr.spec.upgrade.remediation.must_remediate_last_failure() is False
    hr = HelmRelease.from_obj(minimal(upgrade={"remediation": {"retries": -1, "strategy": "uninstall"}}))
    remediation = hr.spec.upgrade.remediation
    assert remediation.strategy == "uninstall"
    assert remediation.retries_exhausted(1000) is False


@pytest.mark.parametrize(
    ("retries", "failures", "exhausted"),
    [(0, 0, False), (0, 1, True), (3, 3, False), (3, 4, True), (-1, 99, False)],
)
def test_retries_exhausted(retries: int, failures: int, exhausted: bool) -> None:
    hr = HelmRelease.from_obj(minimal(install={"remediation": {"retries": retries}}))
    assert hr.spec.install.remediation.retries_exhausted(failures) is exhausted


# --- bad input: one line a human can act on -------------------------------------------------------


def without_chart(obj: dict[str, Any]) -> None:
    del obj["spec"]["chart"]


def set_spec(**fields: Any) -> Any:
    def apply(obj: dict[str, Any]) -> None:
        obj["spec"].update(fields)

    return apply


def set_chart(chart: Any) -> Any:
    return set_spec(chart=chart)


_REPO = {"url": "https://charts.example.com", "name": "web"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (without_chart, "spec.chart: exactly one of git, repository or oci must be set"),
        (set_chart({}), "spec.chart: exactly one of git, repository or oci must be set"),
        (
            set_chart({"repository": _REPO, "oci": {"url": "oci://r/web"}}),
            "spec.chart: exactly one of git, repository or oci must be set (got repository and oci)",
        ),
        (set_spec(valuez={"a": 1}), 'spec.valuez: unknown field; did you mean "values"?'),
        (
            set_spec(interval="5 minutes"),
            "spec.interval: invalid duration '5 minutes': use a Go duration such as "
            '"30s", "5m", "1h30m" or "750ms"',
        ),
        (set_spec(interval="0s"), "spec.interval: invalid duration '0s': must be greater than 0s"),
        (
            set_spec(upgrade={"remediation": {"retries": -2}}),
            "spec.upgrade.remediation.retries: "
            "must be -1 (retry forever) or a number of retries >= 0, got -2",
        ),
        (
            set_spec(valuesFrom=[{"kind": "Foo", "name": "vals"}]),
            "spec.valuesFrom[0].kind: must be 'ConfigMap' or 'Secret', got 'Foo'",
        ),
        (
            set_spec(valuesFrom=[{"kind": "Secret", "name": "vals", "valueKey": "x"}]),
            'spec.valuesFrom[0].valueKey: unknown field; did you mean "valuesKey"?',
        ),
        (set_spec(test={"enable": True, "x": 1}), "spec.test.x: unknown field"),
        (
            set_spec(install={"crds": "create"}),
            "spec.install.crds: must be 'Skip', 'Create' or 'CreateReplace', got 'create'",
        ),
        (set_spec(maxHistory=-1), "spec.maxHistory: must be >= 0, got -1"),
        (set_spec(backoff={"jitter": 2}), "spec.backoff.jitter: must be <= 1, got 2"),
        (
            set_spec(backoff={"initial": "1m", "max": "10s"}),
            "spec.backoff: max (10s) must not be shorter than initial (1m)",
        ),
        (set_spec(suspend="maybe"), "spec.suspend: must be true or false, got a string"),
        (set_spec(values=[1, 2]), "spec.values: must be an object, got a list"),
        (
            set_spec(targetNamespace="Team_A"),
            "spec.targetNamespace: 'Team_A' is not a valid namespace name: use lowercase letters, digits "
            "and '-', starting and ending with a letter or digit",
        ),
        (
            set_spec(releaseName="x" * 54),
            f"spec.releaseName: '{'x' * 54}' is too long for a Helm release name: "
            "may not be more than 53 characters (it has 54)",
        ),
        (
            set_chart({"repository": {"url": "https://c"}}),
            "spec.chart.repository.name: required field is missing",
        ),
        (
            set_chart({"repository": {**_REPO, "url": "ftp://c"}}),
            "spec.chart.repository.url: 'ftp://c' is not an http:// or https:// URL",
        ),
        (
            set_chart({"git": {"url": "https://g", "ref": {"branch": "main", "tag": "v1"}}}),
            "spec.chart.git.ref: "
            "exactly one of branch, tag, semver or commit must be set (got branch and tag)",
        ),
        (
            set_chart({"git": {"url": "https://g", "path": "../../etc"}}),
            "spec.chart.git.path: '../../etc' must be a path relative to the repository root, without '..'",
        ),
        (
            set_chart({"oci": {"url": "https://r/web"}}),
            "spec.chart.oci.url: 'https://r/web' is not an OCI chart reference: it must start with oci://",
        ),
        (
            set_chart({"oci": {"url": "oci://r/web", "version": "1.0.0", "digest": "sha256:" + "0" * 64}}),
            "spec.chart.oci: set version or digest, not both",
        ),
        (set_chart("podinfo"), "spec.chart: must be an object, got a string"),
        (
            set_chart(
                {"git": {"url": "https://g"}, "verify": {"provider": "helm", "secretRef": {"name": "k"}}}
            ),
            "spec.chart: verify is supported for repository and OCI charts only (got git)",
        ),
        (
            set_chart({"repository": _REPO, "verify": {"provider": "helm"}}),
            "spec.chart.verify.secretRef: required field is missing",
        ),
        (
            set_chart({"repository": _REPO, "verify": {"provider": "gpg", "secretRef": {"name": "k"}}}),
            "spec.chart.verify.provider: must be 'helm', 'cosign' or 'notation', got 'gpg'",
        ),
        (
            set_chart(
                {
                    "repository": _REPO,
                    "verify": {"provider": "helm", "keyring": "x", "secretRef": {"name": "k"}},
                }
            ),
            "spec.chart.verify.keyring: unknown field",
        ),
        (
            set_spec(driftDetection={"ignore": [{"paths": ["spec.replicas"]}]}),
            "spec.driftDetection.ignore[0].paths[0]: 'spec.replicas' is not a JSON pointer: "
            "it must start with '/', e.g. /spec/replicas",
        ),
        (
            set_spec(driftDetection={"mode": "on"}),
            "spec.driftDetection.mode: must be 'disabled', 'warn' or 'enabled', got 'on'",
        ),
        (
            set_spec(install={"remediation": {"retries": "three"}}),
            "spec.install.remediation.retries: must be an integer, got a string",
        ),
        (lambda obj: obj.pop("spec"), "spec: required field is missing"),
        (lambda obj: obj["metadata"].pop("name"), "metadata: name is required"),
        (lambda obj: obj.update(kind="Deployment"), "kind: must be 'HelmRelease', got 'Deployment'"),
    ],
)
def test_spec_errors(mutate: Any, message: str) -> None:
    obj = minimal()
    mutate(obj)
    with pytest.raises(SpecError) as info:
        HelmRelease.from_obj(obj)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_spec_error_counts_further_problems() -> None:
    obj = minimal(interval="soon", timeout="later", maxHistory=-3)
    with pytest.raises(SpecError) as info:
        HelmRelease.from_obj(obj)
    error = info.value
    assert str(error).startswith("spec.interval: invalid duration 'soon'")
    assert str(error).endswith(" (and 2 more)")
    assert "\n" not in str(error)
    assert len(error.messages) == 3
    assert error.messages[2] == "spec.maxHistory: must be >= 0, got -3"


def test_not_an_object() -> None:
    with pytest.raises(SpecError, match=r"^object: must be an object, got a list$"):
        HelmRelease.from_obj([])


# --- status ---------------------------------------------------------------------------------------


def sample_status() -> HelmReleaseStatus:
    return HelmReleaseStatus(
        observed_generation=3,
        conditions=[
            Condition(
                type="Ready",
                status="True",
                reason="UpgradeSucceeded",
                message="Helm upgrade succeeded for release podinfo/podinfo-podinfo.v2 with chart podinfo",
                last_transition_time="2026-11-21T10:00:00Z",
                observed_generation=3,
            ),
            Condition(type="Released", status="True", reason="UpgradeSucceeded"),
        ],
        suspended=False,
        helm_chart="podinfo@6.5.0",
        storage_namespace="podinfo",
        last_attempted_release_action="upgrade",
        last_attempted_revision="6.5.0",
        last_attempted_config_digest="sha256:abc",
        last_attempted_generation=3,
        last_applied_revision="6.5.0",
        install_failures=0,
        upgrade_failures=1,
        failures=1,
        next_retry_at="2026-11-21T10:05:00Z",
        history=[
            HistoryEntry(
                revision=2,
                name="podinfo-podinfo",
                namespace="podinfo",
                chart_name="podinfo",
                chart_version="6.5.0",
                app_version="6.5.0",
                config_digest="sha256:abc",
                status="deployed",
                first_deployed="2026-11-20T09:00:00Z",
                last_deployed="2026-11-21T10:00:00Z",
                test_hooks={"podinfo-grpc-test": HelmTestHookStatus(phase="Succeeded")},
            )
        ],
        last_handled_reconcile_at="2026-11-21T10:00:00Z",
        last_handled_force_at="f1",
        last_handled_reset_at="r1",
    )


def test_status_round_trip() -> None:
    status = sample_status()
    obj = status_to_obj(status)
    assert obj["observedGeneration"] == 3
    assert obj["lastAttemptedConfigDigest"] == "sha256:abc"
    assert obj["lastAttemptedReleaseAction"] == "upgrade"
    assert obj["helmChart"] == "podinfo@6.5.0"
    assert obj["nextRetryAt"] == "2026-11-21T10:05:00Z"
    assert obj["history"][0]["chartVersion"] == "6.5.0"
    assert obj["history"][0]["testHooks"] == {"podinfo-grpc-test": {"phase": "Succeeded"}}
    assert "deleted" not in obj["history"][0]
    assert obj["conditions"][1] == {
        "type": "Released",
        "status": "True",
        "reason": "UpgradeSucceeded",
        "message": "",
    }
    assert HelmReleaseStatus.model_validate(obj) == status
    # through YAML and a whole object, as the API server hands it back
    whole = minimal()
    whole["status"] = yaml.safe_load(yaml.safe_dump(obj))
    hr = HelmRelease.from_obj(whole)
    assert hr.status == status
    assert hr.to_obj()["status"] == obj
    assert hr.status.condition("Ready") == status.conditions[0]
    assert hr.status.condition("Stalled") is None


def test_status_excludes_none_and_can_null_for_merge_patch() -> None:
    status = HelmReleaseStatus(failures=2)
    assert status_to_obj(status) == {
        "conditions": [],
        "suspended": False,
        "installFailures": 0,
        "upgradeFailures": 0,
        "failures": 2,
        "history": [],
    }
    patch = status_to_obj(status, nulls=True)
    assert patch["nextRetryAt"] is None
    assert patch["lastHandledResetAt"] is None
    assert patch["failures"] == 2
    assert set(patch) == {info.alias for info in HelmReleaseStatus.model_fields.values()}


def test_status_ignores_unknown_fields() -> None:
    status = HelmReleaseStatus.model_validate(
        {"failures": 1, "someFutureField": {"x": 1}, "conditions": None}
    )
    assert status.failures == 1 and status.conditions == []


def test_status_has_every_design_field() -> None:
    aliases = {info.alias for info in HelmReleaseStatus.model_fields.values()}
    assert aliases >= {
        "observedGeneration",
        "conditions",
        "lastAttemptedRevision",
        "lastAttemptedConfigDigest",
        "lastAttemptedGeneration",
        "lastAppliedRevision",
        "installFailures",
        "upgradeFailures",
        "failures",
        "nextRetryAt",
        "history",
        "lastHandledReconcileAt",
        "lastHandledForceAt",
        "lastHandledResetAt",
        "storageNamespace",
        "helmChart",
        "lastAttemptedReleaseAction",
        "suspended",
    }


def test_names_follow_design() -> None:
    assert (GROUP, VERSION, KIND, PLURAL) == ("helmrelease.dev", "v1", "HelmRelease", "helmreleases")
    assert f"{GROUP}/{VERSION}" == API_VERSION
    assert FINALIZER == "helmrelease.dev/finalizer"
    assert (
        ANNOTATION_SUSPEND,
        ANNOTATION_RECONCILE_REQUESTED_AT,
        ANNOTATION_FORCE_AT,
        ANNOTATION_RESET_AT,
    ) == (
        "helmrelease.dev/suspend",
        "helmrelease.dev/reconcile-requested-at",
        "helmrelease.dev/force-at",
        "helmrelease.dev/reset-at",
    )


def test_from_obj_does_not_mutate_input() -> None:
    obj = minimal()
    del obj["spec"]["chart"]
    before = copy.deepcopy(obj)
    with pytest.raises(SpecError):
        HelmRelease.from_obj(obj)
    assert obj == before
