"""`helmrelease-controller convert` end to end: the real CLI on real-world Flux YAML (tests/data/flux/),
its stdout/stderr/exit code, and the output applied with kubectl to kubesim with our CRD installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helmrelease_controller.api.models import HelmRelease
from kubesim import KubeSim
from tests.conftest import ROOT, Cli

FLUX = ROOT / "tests" / "data" / "flux"
CRD = ROOT / "crds" / "helmrelease.yaml"


def convert(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helmrelease_controller", "convert", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=input,
        timeout=60,
    )


# fixture file -> (kind/namespace/name of each output document, one expected substring per stderr line)
SHAPES = {
    "v1-git.yaml": (
        ["HelmRelease/apps/podinfo"],
        [
            "hr/apps/podinfo: spec.valuesFrom[1].externalSourceRef has no equivalent in helmrelease.dev/v1",
        ],
    ),
    "v1-repository.yaml": (
        ["HelmRelease/cache/redis"],
        [],
    ),
    "v2-helmrepository.yaml": (
        ["HelmRelease/apps/web"],
        [
            "hr/apps/web: spec.chart.spec.interval has no equivalent",
            "helmrepository/flux-system/podinfo: inlined into hr/apps/web (not emitted)",
            "helmrepository/flux-system/podinfo: spec.interval has no equivalent",
        ],
    ),
    "v2-gitrepository.yaml": (
        ["HelmRelease/flux-system/podinfo"],
        [
            "hr/flux-system/podinfo: spec.chart.spec.reconcileStrategy has no equivalent",
            "hr/flux-system/podinfo: spec.install.crds CreateReplace has no equivalent",
            "hr/flux-system/podinfo: spec.upgrade.crds CreateReplace has no equivalent",
            "gitrepository/flux-system/platform: inlined into hr/flux-system/podinfo (not emitted)",
            "gitrepository/flux-system/platform: spec.interval has no equivalent",
            "gitrepository/flux-system/platform: spec.ignore has no equivalent",
        ],
    ),
    "v2-ocirepository.yaml": (
        ["HelmRelease/apps/podinfo-oci", "HelmRelease/apps/podinfo-oci-repo"],
        [
            "ocirepository/apps/podinfo: inlined into hr/apps/podinfo-oci (not emitted)",
            "ocirepository/apps/podinfo: spec.interval has no equivalent",
            "helmrepository/apps/charts: inlined into hr/apps/podinfo-oci-repo (not emitted)",
            "helmrepository/apps/charts: spec.interval has no equivalent",
        ],
    ),
    "v2-valuesfrom.yaml": (
        ["ConfigMap/apps/web-values", "Secret/apps/web-secrets", "HelmRelease/apps/web"],
        [
            "helmrepository/apps/podinfo: inlined into hr/apps/web (not emitted)",
            "helmrepository/apps/podinfo: spec.interval has no equivalent",
        ],
    ),
}


def _names(stdout: str) -> list[str]:
    return [
        f"{d['kind']}/{d['metadata']['namespace']}/{d['metadata']['name']}"
        for d in yaml.safe_load_all(stdout)
    ]


@pytest.mark.parametrize("fixture", sorted(SHAPES))
def test_a_real_world_shape_converts_and_the_crd_and_models_accept_it(
    fixture: str, kubesim: KubeSim, kubectl: Cli
) -> None:
    proc = convert(str(FLUX / fixture))
    assert proc.returncode == 0, proc.stderr
    expected_docs, expected_warnings = SHAPES[fixture]
    assert _names(proc.stdout) == expected_docs
    lines = proc.stderr.splitlines()
    assert len(lines) == len(expected_warnings), proc.stderr
    for text, line in zip(expected_warnings, lines, strict=True):
        assert line.startswith("warning: ") and text in line, line

    kubectl("apply", "-f", str(CRD))
    for ns in sorted({name.split("/")[1] for name in expected_docs}):
        kubectl("create", "namespace", ns)
    applied = kubectl("apply", "-f", "-", input=proc.stdout)
    assert applied.count("helmrelease.dev/") == sum(d.startswith("HelmRelease/") for d in expected_docs), (
        applied
    )
    for item in json.loads(kubectl("get", "hr", "-A", "-o", "json"))["items"]:
        HelmRelease.from_obj(item)  # the controller would reconcile it, not refuse it


def test_the_converted_objects_keep_what_the_flux_objects_said() -> None:
    files = ("v1-git.yaml", "v2-gitrepository.yaml", "v2-ocirepository.yaml")
    proc = convert(*(str(FLUX / f) for f in files))
    assert proc.returncode == 0, proc.stderr
    docs = {
        f"{d['metadata']['namespace']}/{d['metadata']['name']}": d["spec"]
        for d in yaml.safe_load_all(proc.stdout)
    }
    v1 = docs["apps/podinfo"]
    assert v1["chart"] == {
        "git": {
            "url": "https://github.com/stefanprodan/podinfo",
            "ref": {"branch": "master"},
            "path": "charts/podinfo",
        }
    }
    assert v1["timeout"] == "600s" and v1["upgrade"]["force"] is True
    assert v1["rollback"] == {
        "disableWait": True,
        "disableHooks": True,
    }  # helm-operator's rollback.wait: false
    assert v1["upgrade"]["remediation"] == {
        "retries": 3,
        "strategy": "rollback",
        "remediateLastFailure": True,
    }
    assert v1["valuesFrom"] == [
        {"kind": "ConfigMap", "name": "podinfo-values", "valuesKey": "values.yaml", "optional": True}
    ]
    git = docs["flux-system/podinfo"]
    assert git["chart"]["git"]["ref"] == {"tag": "6.5.0"}
    assert git["chart"]["git"]["valuesFiles"] == ["charts/podinfo/values-prod.yaml"]
    assert git["serviceAccountName"] == "podinfo-deployer" and git["storageNamespace"] == "podinfo"
    assert docs["apps/podinfo-oci"]["chart"] == {
        "oci": {
            "url": "oci://ghcr.io/stefanprodan/charts/podinfo",
            "version": ">= 6.0.0",
            "secretRef": {"name": "ghcr-auth"},
        }
    }


def test_stdin_and_a_source_that_is_not_in_the_input() -> None:
    text = (FLUX / "v2-helmrepository.yaml").read_text()
    hr_only = text.split("---\n", 1)[1]
    good = (FLUX / "v1-repository.yaml").read_text()
    proc = convert("-", input=hr_only + "---\n" + good)
    assert proc.returncode == 1
    assert _names(proc.stdout) == ["HelmRelease/cache/redis"]  # the rest still converted
    assert (
        "warning: hr/apps/web: cannot be converted: spec.chart.spec.sourceRef: "
        "HelmRepository flux-system/podinfo is not in the input (convert it together with its sources)"
    ) in proc.stderr.splitlines()


def test_strict_fails_on_a_dropped_field() -> None:
    assert convert("--strict", str(FLUX / "v2-helmrepository.yaml")).returncode == 1
    assert (
        convert("--strict", str(FLUX / "v2-valuesfrom.yaml").replace("valuesfrom", "valuesfrom")).returncode
        == 1
    )


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        ([], 2, "the following arguments are required: FILE"),
        (["/nonexistent/flux.yaml"], 1, "warning: /nonexistent/flux.yaml: No such file or directory"),
        (["--help"], 0, ""),
    ],
)
def test_usage_and_unreadable_input(args: list[str], code: int, stderr: str) -> None:
    proc = convert(*args)
    assert proc.returncode == code
    assert stderr in proc.stderr
    if "--help" in args:
        assert "example:" in proc.stdout and "helmrelease-controller convert" in proc.stdout


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: [unclosed\n")
    proc = convert(str(bad))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and f"warning: {bad}: not valid YAML" in proc.stderr
