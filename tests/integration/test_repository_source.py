"""RepositorySource against a real chart repository: charts packaged and indexed by the real helm,
served over HTTP(S) on loopback (tests.helpers.chartrepo). Nothing is mocked."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from helmrelease_controller.sources import ChartSource, Credentials, RepositorySource, SourceError
from helmrelease_controller.sources.semver import newest_matching
from tests.helpers.chartrepo import ChartRepo, helm_binary, make_tls_material

VERSIONS = ["1.0.0", "1.1.0", "2.0.0-rc.1"]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """podinfo 1.0.0, 1.1.0 and 2.0.0-rc.1, packaged once by helm for the whole module."""
    with ChartRepo(tmp_path_factory.mktemp("packaged") / "repo") as r:
        return r.publish_many("podinfo", VERSIONS)


@pytest.fixture
def repo(tmp_path: Path, packaged: list[Path]) -> Iterator[ChartRepo]:
    with ChartRepo(tmp_path / "repo") as r:
        r.add_archives(packaged)
        r.reset_counts()
        yield r


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[RepositorySource]:
    async with RepositorySource(tmp_path / "cache", eviction_min_age=0) as s:
        yield s


def spec(repo: ChartRepo, version: str = "*", name: str = "podinfo") -> dict[str, str]:
    return {"url": repo.url, "name": name, "version": version}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- resolving --------------------------------------------------------------------------------------


async def test_resolves_newest_in_range(repo: ChartRepo, source: RepositorySource) -> None:
    assert isinstance(source, ChartSource)
    chart = await source.resolve({"repository": spec(repo, "^1.0")}, None)
    digest = sha256(repo.archive("podinfo", "1.1.0"))
    assert (chart.name, chart.version, chart.app_version) == ("podinfo", "1.1.0", "1.1.0")
    assert chart.digest == f"sha256:{digest}"
    assert chart.revision == f"1.1.0@sha256:{digest}"
    assert chart.default_values == {"message": "hello from 1.1.0"}
    assert chart.source == repo.url
    assert chart.path.is_file() and sha256(chart.path) == digest
    # the real helm accepts the resolved archive
    shown = subprocess.run(
        [helm_binary(), "show", "chart", str(chart.path)], capture_output=True, text=True, check=True
    )
    assert yaml.safe_load(shown.stdout)["version"] == "1.1.0"


async def test_exact_versions_and_prereleases(repo: ChartRepo, source: RepositorySource) -> None:
    assert (await source.resolve(spec(repo, "1.0.0"))).version == "1.0.0"
    assert (await source.resolve(spec(repo, "*"))).version == "1.1.0"  # pre-releases only when asked
    assert (await source.resolve(spec(repo, "2.0.0-rc.1"))).version == "2.0.0-rc.1"
    assert (await source.resolve(spec(repo, ">=1.0.0-0"))).version == "2.0.0-rc.1"
    assert source.index_fetches == 1 and source.chart_downloads == 3


async def test_accepts_the_api_model(repo: ChartRepo, source: RepositorySource) -> None:
    """What the controller passes: the `spec.chart.repository` pydantic model (url normalized by pydantic)."""
    from helmrelease_controller.api.models import RepositoryChartSource

    model = RepositoryChartSource.model_validate(
        {"url": repo.url + "/", "name": "podinfo", "version": "~1.0"}
    )
    chart = await source.resolve(model, None)
    assert chart.version == "1.0.0" and chart.source == repo.url


async def test_default_values_are_a_private_copy(repo: ChartRepo, source: RepositorySource) -> None:
    first = await source.resolve(spec(repo, "1.0.0"))
    first.default_values["message"] = "changed"
    assert (await source.resolve(spec(repo, "1.0.0"))).default_values == {"message": "hello from 1.0.0"}


async def test_new_version_is_picked_up_after_ttl_or_refresh(tmp_path: Path, repo: ChartRepo) -> None:
    now = [0.0]
    async with RepositorySource(tmp_path / "cache", index_ttl=60, clock=lambda: now[0]) as source:
        assert (await source.resolve(spec(repo))).version == "1.1.0"
        repo.publish("podinfo", "1.2.0")
        now[0] += 30
        assert (await source.resolve(spec(repo))).version == "1.1.0"  # within the TTL: cached index
        assert source.index_fetches == 1 and source.index_cache_hits == 1
        assert (await source.resolve(spec(repo), refresh=True)).version == "1.2.0"
        assert source.index_fetches == 2 and repo.count("index.yaml") == 2
        repo.publish("podinfo", "1.3.0")
        now[0] += 61
        assert (await source.resolve(spec(repo))).version == "1.3.0"  # the TTL expired
        assert source.index_fetches == 3
        # nothing changed: the conditional GET is answered 304 and the parsed index reused
        chart = await source.resolve(spec(repo), refresh=True)
        assert chart.version == "1.3.0"
        assert source.index_fetches == 4 and source.index_not_modified == 1
        assert repo.not_modified["/index.yaml"] == 1


async def test_concurrent_resolves_share_one_download(repo: ChartRepo, source: RepositorySource) -> None:
    repo.latency = 0.2  # every request takes a while, so the resolves really overlap
    charts = await asyncio.gather(*(source.resolve(spec(repo, "1.0.0")) for _ in range(25)))
    assert {c.path for c in charts} == {charts[0].path} and {c.digest for c in charts} == {charts[0].digest}
    assert source.index_fetches == 1 and repo.count("index.yaml") == 1
    assert source.chart_downloads == 1 and repo.count("podinfo-1.0.0.tgz") == 1
    assert source.shared_downloads == 24 and source.cache_hits == 0
    # later releases of the same version: from disk
    repo.latency = 0
    for _ in range(10):
        await source.resolve(spec(repo, "~1.0"))
    assert source.chart_downloads == 1 and source.cache_hits == 10 and repo.archive_requests() == 1


async def test_cache_survives_a_restart(tmp_path: Path, repo: ChartRepo) -> None:
    async with RepositorySource(tmp_path / "cache") as first:
        chart = await first.resolve(spec(repo, "1.0.0"))
    async with RepositorySource(tmp_path / "cache") as second:
        again = await second.resolve(spec(repo, "1.0.0"))
    assert again == chart
    assert second.chart_downloads == 0 and second.cache_hits == 1 and repo.archive_requests() == 1


async def test_missing_cache_dir_or_damaged_file_is_downloaded_again(tmp_path: Path, repo: ChartRepo) -> None:
    async with RepositorySource(tmp_path / "cache") as source:
        chart = await source.resolve(spec(repo, "1.0.0"))
        shutil.rmtree(tmp_path / "cache")
        again = await source.resolve(spec(repo, "1.0.0"))
        assert again.path == chart.path and again.path.is_file() and source.chart_downloads == 2
    chart.path.write_bytes(b"damaged on disk")
    async with RepositorySource(tmp_path / "cache") as restarted:
        healed = await restarted.resolve(spec(repo, "1.0.0"))
        assert restarted.chart_downloads == 1 and healed.digest == chart.digest
        assert sha256(healed.path) == chart.digest.removeprefix("sha256:")


async def test_cache_is_bounded_by_size(tmp_path: Path, repo: ChartRepo) -> None:
    repo.publish("podinfo", "1.2.0")
    size = max(repo.archive("podinfo", v).stat().st_size for v in ["1.0.0", "1.1.0", "1.2.0"])
    async with RepositorySource(
        tmp_path / "cache", max_cache_bytes=2 * size + 10, eviction_min_age=0
    ) as source:
        first = await source.resolve(spec(repo, "1.0.0"))
        await source.resolve(spec(repo, "1.1.0"))
        assert first.path.exists()
        await source.resolve(spec(repo, "1.2.0"))
        assert not first.path.exists()  # least recently used, evicted
        assert source.cache.total_bytes <= 2 * size + 10 and source.cache.evictions == 1
        assert len(list((tmp_path / "cache" / "charts").glob("*.tgz"))) == 2
        again = await source.resolve(spec(repo, "1.0.0"))
        assert again.path.exists() and source.chart_downloads == 4


async def test_relative_urls_under_a_path_and_absolute_urls(tmp_path: Path) -> None:
    with ChartRepo(tmp_path / "r1", prefix="charts/stable") as relative:
        relative.publish("app", "0.1.0")
        async with RepositorySource(tmp_path / "c1") as source:
            chart = await source.resolve({"url": relative.url + "/", "name": "app"})
        assert chart.version == "0.1.0" and relative.count("app-0.1.0.tgz") == 1
        assert relative.url.endswith("/charts/stable")
    with ChartRepo(tmp_path / "r2", absolute_urls=True) as absolute:
        absolute.publish("app", "0.2.0")
        assert absolute.index()["entries"]["app"][0]["urls"][0].startswith("http://127.0.0.1:")
        async with RepositorySource(tmp_path / "c2") as source:
            assert (await source.resolve({"url": absolute.url, "name": "app"})).version == "0.2.0"


# --- failures ----------------------------------------------------------------------------------------


async def test_basic_auth(tmp_path: Path) -> None:
    password = "s3cr3t-Pa55word"
    with ChartRepo(tmp_path / "repo", auth=("admin", password)) as repo:
        repo.publish("podinfo", "1.0.0")
        async with RepositorySource(tmp_path / "cache") as source:
            good = Credentials(username="admin", password=password)
            chart = await source.resolve(spec(repo), good)
            assert chart.version == "1.0.0" and repo.authorized["/podinfo-1.0.0.tgz"] == 1

            with pytest.raises(SourceError) as exc:
                await source.resolve(spec(repo), Credentials(username="admin", password="wrong-" + password))
            message = str(exc.value)
            assert "401" in message and password not in message and "wrong-" not in message
            assert message == (
                f"chart repository {repo.url} denied access to index.yaml: HTTP 401 Unauthorized "
                "(check the credentials in spec.chart.repository.secretRef)"
            )
            assert not exc.value.transient

            with pytest.raises(
                SourceError, match=r"HTTP 401 .*it needs credentials: set spec\.chart\.repository"
            ):
                await source.resolve(spec(repo), None)


async def test_credentials_stay_on_the_repository_host(tmp_path: Path) -> None:
    """An index on an authenticated host pointing at archives on another host: no Authorization there."""
    with ChartRepo(tmp_path / "cdn") as cdn, ChartRepo(tmp_path / "idx", auth=("u", "p4ssword")) as idx:
        cdn.publish("podinfo", "1.0.0")
        index = cdn.index()
        index["entries"]["podinfo"][0]["urls"] = [f"{cdn.url}/podinfo-1.0.0.tgz"]
        idx.write_index(index)
        async with RepositorySource(tmp_path / "cache") as source:
            chart = await source.resolve(spec(idx), Credentials(username="u", password="p4ssword"))
        assert chart.version == "1.0.0"
        assert idx.authorized["/index.yaml"] == 1
        assert cdn.count("podinfo-1.0.0.tgz") == 1 and cdn.authorized["/podinfo-1.0.0.tgz"] == 0


async def test_repository_down_and_back(repo: ChartRepo, tmp_path: Path) -> None:
    repo.down()
    async with RepositorySource(tmp_path / "cache") as source:
        with pytest.raises(SourceError) as exc:
            await source.resolve(spec(repo))
        assert str(exc.value) == f"chart repository {repo.url} unreachable: connection refused"
        assert exc.value.transient
        repo.up()
        assert (await source.resolve(spec(repo))).version == "1.1.0"
        # once cached, an outage within the TTL goes unnoticed; a forced refresh reports it
        repo.down()
        assert (await source.resolve(spec(repo))).version == "1.1.0"
        with pytest.raises(SourceError, match="unreachable: connection refused"):
            await source.resolve(spec(repo), refresh=True)
        repo.up()


async def test_http_errors(repo: ChartRepo, source: RepositorySource) -> None:
    repo.fail(500)
    with pytest.raises(SourceError) as exc:
        await source.resolve(spec(repo))
    assert str(exc.value) == (
        f"chart repository {repo.url} failed to serve index.yaml: HTTP 500 Internal Server Error"
    )
    assert exc.value.transient
    repo.fail(403)
    with pytest.raises(SourceError, match=r"denied access to index\.yaml: HTTP 403 Forbidden"):
        await source.resolve(spec(repo))
    repo.recover()
    with pytest.raises(SourceError) as exc:
        await source.resolve({"url": repo.url + "/nope", "name": "podinfo"})
    assert str(exc.value) == (
        f"chart repository {repo.url}/nope: index.yaml not found (HTTP 404 Not Found); "
        "is this a Helm chart repository URL?"
    )
    repo.remove("podinfo", "1.1.0")
    with pytest.raises(SourceError, match=r"chart podinfo 1\.1\.0 \(.*podinfo-1\.1\.0\.tgz\) not found"):
        await source.resolve(spec(repo))


async def test_chart_or_version_not_found(repo: ChartRepo, source: RepositorySource) -> None:
    with pytest.raises(SourceError) as exc:
        await source.resolve(spec(repo, "^9.0"))
    assert str(exc.value) == f"chart podinfo version ^9.0 not found in {repo.url}/index.yaml (newest: 1.1.0)"
    with pytest.raises(SourceError) as exc:
        await source.resolve(spec(repo, name="nginx"))
    assert str(exc.value) == f"chart nginx not found in {repo.url}/index.yaml (it has podinfo)"
    with pytest.raises(SourceError, match=r"invalid version or range '>>1'"):
        await source.resolve(spec(repo, ">>1"))
    assert source.chart_downloads == 0


async def test_malformed_index(repo: ChartRepo, source: RepositorySource) -> None:
    repo.write_index("apiVersion: v1\nentries:\n  podinfo: [\n")
    with pytest.raises(SourceError) as exc:
        await source.resolve(spec(repo))
    assert str(exc.value).startswith(f"{repo.url}/index.yaml is not valid YAML: ")
    repo.write_index("<html>not an index</html>\n")
    with pytest.raises(SourceError, match="is not a Helm repository index"):
        await source.resolve(spec(repo), refresh=True)


async def test_corrupted_archive_digest_mismatch(repo: ChartRepo, source: RepositorySource) -> None:
    repo.corrupt("podinfo", "1.0.0")
    with pytest.raises(SourceError) as exc:
        await source.resolve(spec(repo, "1.0.0"))
    message = str(exc.value)
    assert message.startswith(f"chart podinfo 1.0.0 from {repo.url}/podinfo-1.0.0.tgz: digest mismatch: ")
    assert "the index says sha256:" in message and not exc.value.transient
    assert list((source.cache.root).glob("*.tgz")) == []  # nothing unverified is kept
    # bytes that match the index digest but are no chart archive
    repo.corrupt("podinfo", "1.0.0", b"\x1f\x8b garbage", fix_digest=True)
    with pytest.raises(SourceError, match=r"1\.0\.0\.tgz: not a valid chart archive \(\.tgz\)"):
        await source.resolve(spec(repo, "1.0.0"), refresh=True)


async def test_bad_urls_are_refused_without_network(source: RepositorySource) -> None:
    with pytest.raises(SourceError, match=r"is an OCI registry: use spec\.chart\.oci"):
        await source.resolve({"url": "oci://ghcr.io/x/charts", "name": "p"})
    with pytest.raises(SourceError) as exc:
        await source.resolve({"url": "https://admin:hunter22@127.0.0.1:9/charts", "name": "p"})
    assert "hunter22" not in str(exc.value) and "secretRef" in str(exc.value)
    with pytest.raises(SourceError, match="not an http"):
        await source.resolve({"url": "ftp://127.0.0.1/charts", "name": "p"})
    assert source.index_fetches == 0


async def test_client_tls(tmp_path: Path) -> None:
    tls = make_tls_material(tmp_path / "tls")
    with ChartRepo(tmp_path / "repo", tls=tls.server_context(require_client_cert=True)) as repo:
        repo.publish("podinfo", "1.0.0")
        assert repo.url.startswith("https://")
        ca = tls.ca_cert.read_bytes()
        full = Credentials(cert=tls.client_cert.read_bytes(), key=tls.client_key.read_bytes(), ca=ca)
        async with RepositorySource(tmp_path / "cache") as source:
            assert (await source.resolve(spec(repo), full)).version == "1.0.0"
            with pytest.raises(SourceError, match="TLS certificate verification failed"):
                await source.resolve(spec(repo), None, refresh=True)  # the test CA is not a system root
            with pytest.raises(SourceError) as exc:
                await source.resolve(spec(repo), Credentials(ca=ca))  # no client certificate
            assert str(exc.value).startswith(f"chart repository {repo.url} unreachable: ")
            assert str(exc.value).endswith(
                "(does the server require a client certificate? set tls.crt and tls.key)"
            )
            with pytest.raises(
                SourceError, match=r"TLS credentials for .* are not usable: the client"
            ) as exc:
                await source.resolve(spec(repo), Credentials(cert=b"junk", key=b"more junk", ca=ca))
            assert "junk" not in str(exc.value)
            with pytest.raises(SourceError, match=r"the CA certificate \(ca\.crt\) is not a PEM certificate"):
                await source.resolve(spec(repo), Credentials(ca=b"not a certificate"))


# --- Helm's own choice, for comparison --------------------------------------------------------------

DIFF_VERSIONS = [
    "0.0.3", "0.1.0", "0.2.3", "0.2.9", "0.3.0-beta.1", "0.3.0", "1.0.0", "1.2.3", "1.2.9", "1.3.0",
    "1.10.0", "2.0.0-rc.1", "2.0.0", "2.1.0-beta.1", "2.5.1", "3.0.0-alpha.2", "3.0.0-alpha.10", "4.1.0",
]  # fmt: skip
DIFF_RANGES = [
    "*", "^1.2", "^1.2.3", "^0.2.3", "^0.0.3", "^0", "~1.2.3", "~1", "1.2.x", "1.x", ">= 1.0, < 2.0",
    ">=1.0 <2.0", "1.2.3 || 2.5.1", "1.0.0 - 1.2.5", "2.3.4 - 4.5", ">=2.0.0-0", ">=1.0.0-0 <2.0.0",
    "^2.0.0-0", "2.0.0-rc.1", "v1.2.3", "!=2.5.1", ">1.2", "<=1.2", "<2", "^*", "~*", ">=0.3.0-0 <0.3.0",
    "~3.0.0-alpha", ">=2.0.1 <2.2.0 || 9.9.9-0", "^0.x", "~0.0", "^5",
]  # fmt: skip


@pytest.mark.slow
async def test_selection_matches_helm(tmp_path: Path, source: RepositorySource) -> None:
    """The version helm v4 picks for each range is the one we pick (helm show chart --repo --version)."""
    helm = helm_binary()
    env = {
        "HELM_CACHE_HOME": str(tmp_path / "hc"),
        "HELM_CONFIG_HOME": str(tmp_path / "hcfg"),
        "HELM_DATA_HOME": str(tmp_path / "hd"),
        "HOME": str(tmp_path),
    }
    with ChartRepo(tmp_path / "repo") as repo:
        repo.publish_many("c", DIFF_VERSIONS)

        def helm_pick(rng: str) -> str | None:
            proc = subprocess.run(
                [helm, "show", "chart", "--repo", repo.url, "c", "--version", rng],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            return yaml.safe_load(proc.stdout)["version"] if proc.returncode == 0 else None

        with ThreadPoolExecutor(8) as pool:
            helm_picks = dict(zip(DIFF_RANGES, pool.map(helm_pick, DIFF_RANGES), strict=True))
        ours = {rng: newest_matching(DIFF_VERSIONS, rng) for rng in DIFF_RANGES}
        assert ours == helm_picks
        # and through the source itself, for a few
        for rng in ["^1.2", ">=1.0.0-0 <2.0.0", "~3.0.0-alpha"]:
            assert (
                await source.resolve({"url": repo.url, "name": "c", "version": rng})
            ).version == helm_picks[rng]
