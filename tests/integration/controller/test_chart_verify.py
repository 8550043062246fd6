"""spec.chart.verify (provider helm) with the real controller on kubesim: webapp signed by the real
`helm package --sign` with throwaway gpg keys, served with its .prov by the real chart repository.
A chart that verifies against the keyring Secret is installed; one that does not (no .prov, another
key, a tampered archive, no keyring Secret) is refused with its reason (Ready=False, an event) and
nothing is installed, while the other HelmReleases go on. Verification runs once per chart and
keyring; a changed keyring Secret is verified again at once (the Secret is watched). An OCI chart
is verified by the provenance layer `helm push` uploads with a signed chart."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chartrepo import ChartRepo, helm_binary
from tests.helpers.controller import ControllerProcess, package_webapp
from tests.helpers.gpgkeys import SigningKey, signer_and_other
from tests.helpers.registry import Registry

from .conftest import Cluster, helmrelease


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, SigningKey]:
    return signer_and_other(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def signed_repo(tmp_path: Path, keys: tuple[SigningKey, SigningKey]) -> Iterator[ChartRepo]:
    """webapp 1.0.0 and 1.3.0 signed by the signer, 1.1.0 by the other key, 1.2.0 not signed;
    1.3.0's archive is then replaced by another chart (index digest updated, its .prov kept)."""
    signer, other = keys
    src = tmp_path / "charts-src"
    with ChartRepo(tmp_path / "repo") as r:
        r.add_charts([package_webapp(src, "1.0.0"), package_webapp(src, "1.3.0")], sign=signer)
        r.add_charts([package_webapp(src, "1.1.0")], sign=other)
        r.add_charts([package_webapp(src, "1.2.0")])
        evil = package_webapp(tmp_path / "evil", "1.3.0")
        (evil / "values.yaml").write_text("message: evil\n")
        subprocess.run(
            [helm_binary(), "package", str(evil), "--destination", str(tmp_path / "evil")],
            check=True,
            capture_output=True,
        )
        r.corrupt("webapp", "1.3.0", (tmp_path / "evil" / "webapp-1.3.0.tgz").read_bytes(), fix_digest=True)
        yield r


def keyring_secret(name: str, *keys: SigningKey) -> dict[str, Any]:
    data = b"".join(k.pubring.read_bytes() for k in keys)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "apps"},
        "data": {"pubring.gpg": base64.b64encode(data).decode()},
    }


def verified(name: str, repo: ChartRepo, version: str, secret: str = "keys") -> dict[str, Any]:
    return helmrelease(
        name,
        repo.url,
        version,
        chart={
            "repository": {"url": repo.url, "name": "webapp", "version": version},
            "verify": {"provider": "helm", "secretRef": {"name": secret}},
        },
    )


def release_secrets(cluster: Cluster, release: str) -> list[str]:
    out = cluster.kubectl("get", "secrets", "-n", "apps", "-l", f"owner=helm,name={release}", "-o", "json")
    return [s["metadata"]["name"] for s in json.loads(out)["items"]]


REFUSED = {
    "unsigned": (
        "1.2.0",
        "chart webapp 1.2.0 is not signed: no provenance file at {url}/webapp-1.2.0.tgz.prov",
    ),
    "other-key": (
        "1.1.0",
        "chart webapp 1.1.0 failed verification: its provenance is signed by a key not in the keyring "
        "(Secret apps/keys key pubring.gpg)",
    ),
    "tampered": (
        "1.3.0",
        "chart webapp 1.3.0 failed verification: the archive does not match its provenance file",
    ),
}


def test_only_charts_that_verify_are_installed(
    cluster: Cluster,
    signed_repo: ChartRepo,
    keys: tuple[SigningKey, SigningKey],
    controller: ControllerProcess,
) -> None:
    repo = signed_repo
    cluster.apply(keyring_secret("keys", keys[0]))
    for name, (version, _) in REFUSED.items():
        cluster.apply(verified(name, repo, version))
    cluster.apply(verified("no-keyring", repo, "1.0.0", secret="missing"))
    cluster.apply(verified("signed", repo, "1.0.0"))
    cluster.apply(helmrelease("plain", repo.url, "1.2.0"))  # no verify: the unsigned chart is fine

    cluster.wait_ready("signed")
    cluster.wait_ready("plain")
    assert (cluster.get("v1", "ConfigMap", "apps", "signed-config") or {}).get("data") is not None
    for name, (_, reason) in REFUSED.items():
        ready = cluster.wait_condition(name, "Ready", "False", "ArtifactFailed")
        assert ready["message"].startswith(reason.format(url=repo.url)), ready["message"]
        assert "\n" not in ready["message"]
    missing = cluster.wait_condition("no-keyring", "Ready", "False", "ArtifactFailed")
    assert missing["message"] == "chart.verify: Secret apps/missing not found"
    messages = {(e.get("reason"), e.get("message") or e.get("note")) for e in cluster.events()}
    assert any(r == "ArtifactFailed" and "is not signed" in (m or "") for r, m in messages), messages

    # nothing of the refused charts reached helm or the cluster
    refused = [*REFUSED, "no-keyring"]
    for name in refused:
        assert release_secrets(cluster, name) == []
        assert cluster.get("apps/v1", "Deployment", "apps", name) is None
    assert not [c for c in controller.helm_calls("upgrade") if any(f" {n} " in f" {c} " for n in refused)]
    assert len(controller.helm_calls("verify")) == 3  # signed, other-key and tampered (unsigned: 404)

    # the keyring Secret appears: noticed, and the chart installs
    cluster.apply(keyring_secret("missing", keys[0]))
    cluster.wait_ready("no-keyring")


def test_verified_once_and_a_changed_keyring_is_checked_again(
    cluster: Cluster,
    signed_repo: ChartRepo,
    keys: tuple[SigningKey, SigningKey],
    controller: ControllerProcess,
) -> None:
    cluster.apply(keyring_secret("keys", keys[0]))
    cluster.apply(verified("web", signed_repo, "1.0.0"))
    cluster.wait_ready("web")
    assert len(controller.helm_calls("verify")) == 1

    # reconciles with nothing changed: no helm verify, no provenance fetch
    prov_fetches = signed_repo.count("webapp-1.0.0.tgz.prov")
    done = controller.reconciles()
    for i in (1, 2):
        cluster.kubectl(
            *f"annotate hr web -n apps helmrelease.dev/reconcile-requested-at=r{i} --overwrite".split()
        )
        controller.wait_reconciles(done + i)
    assert len(controller.helm_calls("verify")) == 1
    assert signed_repo.count("webapp-1.0.0.tgz.prov") == prov_fetches

    # the signer's key leaves the keyring Secret: the edit alone reconciles (the Secret is watched,
    # as valuesFrom's are; the interval is 1m), the chart is refused and the release left alone
    cluster.apply(keyring_secret("keys", keys[1]))
    ready = cluster.wait_condition("web", "Ready", "False", "ArtifactFailed")
    assert "signed by a key not in the keyring" in ready["message"]
    assert release_secrets(cluster, "web") == ["sh.helm.release.v1.web.v1"]

    # both keys: verifies again (another keyring), no upgrade needed
    cluster.apply(keyring_secret("keys", keys[1], keys[0]))
    cluster.wait_ready("web")
    # one helm verify per keyring: the signer's, the other's (its failure not retried), both
    assert len(controller.helm_calls("verify")) == 3
    assert release_secrets(cluster, "web") == ["sh.helm.release.v1.web.v1"]


def test_oci_chart_with_a_provenance_layer(
    cluster: Cluster, tmp_path: Path, keys: tuple[SigningKey, SigningKey]
) -> None:
    """`helm push` of a signed chart uploads its .prov as a layer: it verifies, an unsigned push
    is refused."""
    with Registry(tmp_path / "registry") as reg:
        for version, sign in (("1.0.0", ["--sign", "--key", keys[0].name, "--keyring", str(keys[0].secring)]),
                              ("1.1.0", [])):  # fmt: skip
            src = package_webapp(tmp_path / "src", version)
            pkg = tmp_path / "pkg" / version
            subprocess.run(
                [helm_binary(), "package", str(src), *sign, "-d", str(pkg)], check=True, capture_output=True
            )
            reg.push(pkg / f"webapp-{version}.tgz")
        assert cluster.sim.kubeconfig_path is not None
        proc = ControllerProcess(tmp_path / "ctl", cluster.sim.kubeconfig_path)
        proc.start("--plain-http-registry", reg.host)
        try:
            cluster.apply(keyring_secret("keys", keys[0]))
            for name, version in (("signed", "1.0.0"), ("unsigned", "1.1.0")):
                body = helmrelease(name, "", version)
                body["spec"]["chart"] = {
                    "oci": {"url": f"{reg.url}/webapp", "version": version},
                    "verify": {"provider": "helm", "secretRef": {"name": "keys"}},
                }
                cluster.apply(body)
            assert cluster.wait_ready("signed")["status"]["helmChart"] == "webapp@1.0.0"
            ready = cluster.wait_condition("unsigned", "Ready", "False", "ArtifactFailed")
            assert ready["message"].startswith("chart webapp 1.1.0 is not signed: "), ready["message"]
            assert ready["message"].endswith(" has no provenance layer")
            assert release_secrets(cluster, "unsigned") == []
        finally:
            proc.stop()
