"""spec.chart.verify on OCISource: a chart signed by the real `helm package --sign` (throwaway gpg
keys) and pushed by the real `helm push`, which uploads the .prov beside it as the manifest's
provenance layer, to a real registry (docker-registry); verified by the real `helm verify`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helmrelease_controller.sources import SourceError
from helmrelease_controller.sources.oci import OCISource
from helmrelease_controller.sources.provenance import Keyring
from tests.conftest import tool
from tests.helpers.chartrepo import make_chart
from tests.helpers.gpgkeys import SigningKey, signer_and_other
from tests.helpers.registry import Registry

KEYRING = "Secret apps/keys key pubring.gpg"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, SigningKey]:
    return signer_and_other(tmp_path_factory.mktemp("keys"))


def package(work: Path, version: str, key: SigningKey | None, values: dict[str, str] | None = None) -> Path:
    """podinfo `version` packaged into `work`, signed by `key` (the .prov beside it) or not."""
    chart_dir = make_chart(work / "src", "podinfo", version, values=values)
    sign = ["--sign", "--key", key.name, "--keyring", str(key.secring)] if key is not None else []
    subprocess.run([tool("helm"), "package", str(chart_dir), *sign, "--destination", str(work)],
                   check=True, capture_output=True)  # fmt: skip
    return work / f"podinfo-{version}.tgz"


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, keys: tuple[SigningKey, SigningKey]
) -> Iterator[Registry]:
    """podinfo 1.0.0 signed by the signer, 2.0.0 by the other key, 3.0.0 not signed, 4.0.0 another
    chart pushed with the .prov the signer made for the real 4.0.0."""
    work = tmp_path_factory.mktemp("oci-signed")
    with Registry(work / "registry") as reg:
        for version, key in (("1.0.0", keys[0]), ("2.0.0", keys[1]), ("3.0.0", None)):
            reg.push(package(work / version, version, key))
        signed = package(work / "4.0.0", "4.0.0", keys[0])
        evil = package(work / "evil", "4.0.0", None, values={"image": "evil"})
        evil.with_name(signed.name + ".prov").write_bytes(
            signed.with_name(signed.name + ".prov").read_bytes()
        )
        reg.push(evil)
        yield reg


@pytest.fixture(params=["helm", "helm3"])
def helm(request: pytest.FixtureRequest) -> str:
    return tool(str(request.param))


def chart(reg: Registry, version: str) -> dict[str, str]:
    return {"url": reg.chart_url("podinfo"), "version": version}


async def test_signed_chart_verifies_once(
    registry: Registry, tmp_path: Path, keys: tuple[SigningKey, SigningKey], helm: str
) -> None:
    ring = Keyring.from_bytes(keys[0].armored, KEYRING)
    async with OCISource(tmp_path / "cache", helm=helm, plain_http_hosts=[registry.host]) as source:
        resolved = await source.resolve(chart(registry, "1.0.0"), keyring=ring)
        assert (resolved.version, source.provenance.runs) == ("1.0.0", 1)
        again = await source.resolve(chart(registry, "1.0.0"), keyring=ring, refresh=True)
        assert (again.digest, source.provenance.runs) == (resolved.digest, 1)


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("3.0.0", "chart podinfo 3.0.0 is not signed: {url}@sha256:"),
        (
            "2.0.0",
            "chart podinfo 2.0.0 failed verification: its provenance is signed by a key not in the keyring "
            f"({KEYRING})",
        ),
        ("4.0.0", "chart podinfo 4.0.0 failed verification: the archive does not match its provenance file"),
    ],
    ids=["unsigned", "other-key", "tampered"],
)
async def test_refused_with_its_reason(
    registry: Registry, tmp_path: Path, keys: tuple[SigningKey, SigningKey], version: str, reason: str
) -> None:
    ring = Keyring.from_bytes(keys[0].pubring.read_bytes(), KEYRING)
    async with OCISource(tmp_path / "cache", helm=tool("helm"), plain_http_hosts=[registry.host]) as source:
        with pytest.raises(SourceError) as err:
            await source.resolve(chart(registry, version), keyring=ring)
    assert str(err.value).startswith(reason.format(url=registry.chart_url("podinfo"))), str(err.value)
    assert not err.value.transient
    if version == "3.0.0":
        assert str(err.value).endswith(" has no provenance layer")
