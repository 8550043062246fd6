"""spec.chart.verify on RepositorySource: charts signed by the real `helm package --sign` with a
throwaway gpg key, served with their .prov by the real chart repository, verified by the real
`helm verify`. Each way a chart can fail verification has its own reason; a verified chart costs
no helm process and no provenance fetch again."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from helmrelease_controller.sources import Credentials, RepositorySource, SourceError
from helmrelease_controller.sources.provenance import Keyring
from tests.helpers.chartrepo import ChartRepo, helm_binary, make_chart, make_tls_material
from tests.helpers.gpgkeys import SigningKey, signer_and_other


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningKey, SigningKey]:
    return signer_and_other(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def repo(tmp_path: Path, keys: tuple[SigningKey, SigningKey]) -> Iterator[ChartRepo]:
    """podinfo 1.0.0 signed by the signer, 2.0.0 by the other key, 3.0.0 not signed."""
    signer, other = keys
    with ChartRepo(tmp_path / "repo") as r:
        src = tmp_path / "src"
        r.add_charts([make_chart(src, "podinfo", "1.0.0")], sign=signer)
        r.add_charts([make_chart(src, "podinfo", "2.0.0")], sign=other)
        r.add_charts([make_chart(src, "podinfo", "3.0.0")])
        r.reset_counts()
        yield r


@pytest.fixture(params=["helm", "helm3"])
async def source(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[RepositorySource]:
    """The source verifying with helm 4, or helm 3 (the controller's --helm)."""
    helm = helm_binary() if request.param == "helm" else str(Path(helm_binary()).with_name("helm3"))
    async with RepositorySource(tmp_path / "cache", helm=helm) as s:
        yield s


def keyring(key: SigningKey, armored: bool = False) -> Keyring:
    raw = key.armored if armored else key.pubring.read_bytes()
    return Keyring.from_bytes(raw, "Secret apps/keys key pubring.gpg")


def chart(repo: ChartRepo, version: str) -> dict[str, str]:
    return {"url": repo.url, "name": "podinfo", "version": version}


@pytest.mark.parametrize("armored", [False, True], ids=["binary", "armored"])
async def test_signed_chart_verifies_once(
    repo: ChartRepo, source: RepositorySource, keys: tuple[SigningKey, SigningKey], armored: bool
) -> None:
    ring = keyring(keys[0], armored)
    resolved = await source.resolve(chart(repo, "1.0.0"), keyring=ring)
    assert resolved.version == "1.0.0"
    assert (source.provenance.runs, repo.count("podinfo-1.0.0.tgz.prov")) == (1, 1)
    for _ in range(3):  # unchanged chart and keyring: no helm process, no fetch
        assert (await source.resolve(chart(repo, "1.0.0"), keyring=ring)).digest == resolved.digest
    assert (source.provenance.runs, repo.count("podinfo-1.0.0.tgz.prov")) == (1, 1)
    # another keyring (the Secret changed) is verified again
    both = Keyring(keys[0].pubring.read_bytes() + keys[1].pubring.read_bytes(), "Secret apps/keys2")
    await source.resolve(chart(repo, "1.0.0"), keyring=both)
    assert source.provenance.runs == 2


async def test_without_verify_no_provenance_is_fetched(repo: ChartRepo, source: RepositorySource) -> None:
    await source.resolve(chart(repo, "3.0.0"))
    assert (source.provenance.runs, repo.count("podinfo-3.0.0.tgz.prov")) == (0, 0)


def tamper(repo: ChartRepo, tmp: Path) -> None:
    """Replace podinfo 1.0.0's archive by another valid chart (index digest updated, .prov kept)."""
    other = make_chart(tmp / "evil", "podinfo", "1.0.0", values={"image": "evil"})
    subprocess.run(
        [helm_binary(), "package", str(other), "--destination", str(tmp)], check=True, capture_output=True
    )
    repo.corrupt("podinfo", "1.0.0", (tmp / "podinfo-1.0.0.tgz").read_bytes(), fix_digest=True)


@pytest.mark.parametrize(
    ("version", "key", "change", "reason"),
    [
        (
            "3.0.0",
            0,
            None,
            "chart podinfo 3.0.0 is not signed: "
            "no provenance file at {url}/podinfo-3.0.0.tgz.prov (HTTP 404)",
        ),
        (
            "2.0.0",
            0,
            None,
            "chart podinfo 2.0.0 failed verification: its provenance is signed by a key not in the keyring "
            "(Secret apps/keys key pubring.gpg)",
        ),
        (
            "1.0.0",
            0,
            "tamper",
            "chart podinfo 1.0.0 failed verification: the archive does not match its provenance file "
            "(another sha256: altered after signing)",
        ),
        (
            "1.0.0",
            0,
            "edit-prov",
            "chart podinfo 1.0.0 failed verification: the provenance file's signature is invalid "
            "(its text was altered after signing)",
        ),
        (
            "1.0.0",
            0,
            "unsigned-prov",
            "chart podinfo 1.0.0 failed verification: the provenance file is not PGP-signed",
        ),
        (
            "1.0.0",
            1,
            None,
            "chart podinfo 1.0.0 failed verification: its provenance is signed by a key not in the keyring "
            "(Secret apps/keys key pubring.gpg)",
        ),
    ],
    ids=["no-prov", "other-key", "tampered-archive", "edited-prov", "unsigned-prov", "key-not-in-keyring"],
)
async def test_each_failure_has_its_reason(
    repo: ChartRepo,
    source: RepositorySource,
    keys: tuple[SigningKey, SigningKey],
    tmp_path: Path,
    version: str,
    key: int,
    change: str | None,
    reason: str,
) -> None:
    prov = repo.root / f"podinfo-{version}.tgz.prov"
    if change == "tamper":
        tamper(repo, tmp_path)
    elif change == "edit-prov":
        prov.write_text(prov.read_text().replace("description: test chart podinfo", "description: evil"))
    elif change == "unsigned-prov":
        prov.write_text("name: podinfo\n")
    with pytest.raises(SourceError) as err:
        await source.resolve(chart(repo, version), keyring=keyring(keys[key]))
    assert str(err.value) == reason.format(url=repo.url)
    assert not err.value.transient
    # a retry fetches the .prov again (it may have been signed meanwhile), but the same archive,
    # keyring and .prov are not given to helm twice
    runs, fetches = source.provenance.runs, repo.count(f"podinfo-{version}.tgz.prov")
    with pytest.raises(SourceError) as again:
        await source.resolve(chart(repo, version), keyring=keyring(keys[key]))
    assert str(again.value) == str(err.value)
    assert (source.provenance.runs, repo.count(f"podinfo-{version}.tgz.prov")) == (runs, fetches + 1)


async def test_a_provenance_fixed_after_a_failure_verifies(
    repo: ChartRepo, source: RepositorySource, keys: tuple[SigningKey, SigningKey]
) -> None:
    prov = repo.root / "podinfo-1.0.0.tgz.prov"
    good = prov.read_bytes()
    prov.write_text("name: podinfo\n")
    with pytest.raises(SourceError, match="is not PGP-signed"):
        await source.resolve(chart(repo, "1.0.0"), keyring=keyring(keys[0]))
    prov.write_bytes(good)
    assert (await source.resolve(chart(repo, "1.0.0"), keyring=keyring(keys[0]))).version == "1.0.0"
    assert source.provenance.runs == 2


async def test_provenance_is_fetched_with_the_archive_credentials(
    tmp_path: Path, keys: tuple[SigningKey, SigningKey]
) -> None:
    tls = make_tls_material(tmp_path / "tls")
    with ChartRepo(tmp_path / "repo", auth=("user", "s3cret"), tls=tls.server_context()) as r:
        r.add_charts([make_chart(tmp_path / "src", "podinfo", "1.0.0")], sign=keys[0])
        creds = Credentials(
            username="user",
            password="s3cret",
            ca=tls.ca_cert.read_bytes(),
            cert=tls.client_cert.read_bytes(),
            key=tls.client_key.read_bytes(),
        )
        async with RepositorySource(tmp_path / "cache", helm=helm_binary()) as source:
            await source.resolve(chart(r, "1.0.0"), creds, keyring=keyring(keys[0]))
        assert r.authorized["/podinfo-1.0.0.tgz.prov"] == 1


async def test_keyring_is_private_and_removed(
    repo: ChartRepo, tmp_path: Path, keys: tuple[SigningKey, SigningKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keyring is written 0600 in a directory of its own, and nothing is left behind."""
    shim = tmp_path / "helm-shim"
    log = tmp_path / "modes"
    shim.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in *pubring.gpg) '
        f'/usr/bin/stat -c "%a" "$a" "${{a%/*}}" | /usr/bin/paste -sd" " >> {log};; esac; done\n'
        f'exec {helm_binary()} "$@"\n'
    )
    shim.chmod(0o755)
    workdir = tmp_path / "tmp"
    workdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(workdir))
    async with RepositorySource(tmp_path / "cache", helm=str(shim)) as source:
        await source.resolve(chart(repo, "1.0.0"), keyring=keyring(keys[0]))
    assert log.read_text().splitlines() == ["600 700"]  # the keyring file, its directory
    assert os.listdir(workdir) == []


async def test_a_failure_names_the_secret_it_was_checked_with(
    repo: ChartRepo, source: RepositorySource, keys: tuple[SigningKey, SigningKey]
) -> None:
    """Two HelmReleases with the same keys in differently named Secrets: each reason names its own."""
    raw = keys[0].pubring.read_bytes()
    for where in ("Secret a/keys key pubring.gpg", "Secret b/trusted key pubring.gpg"):
        with pytest.raises(SourceError) as err:
            await source.resolve(chart(repo, "2.0.0"), keyring=Keyring.from_bytes(raw, where))
        assert str(err.value).endswith(f"not in the keyring ({where})")
