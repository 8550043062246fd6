"""OCISource against a real OCI registry (Debian's docker-registry on loopback, tests.helpers.registry):
charts pushed and pulled by the real helm (v4 and v3), installed into kubesim. Nothing is mocked."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helmrelease_controller.api.models import OCIChartSource
from helmrelease_controller.sources import ChartSource, Credentials, SourceError
from helmrelease_controller.sources.oci import OCISource
from tests.conftest import Cli, tool
from tests.helpers.registry import Registry

USER, PASSWORD = "alice", "s3cret-Passw0rd"
VERSIONS = ["1.0.0", "1.1.0", "1.2.0+build.5", "2.0.0-rc.1"]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One plain-HTTP registry per module holding podinfo in VERSIONS; tests that push use other names."""
    with Registry(tmp_path_factory.mktemp("oci") / "registry") as reg:
        for version in VERSIONS:
            reg.publish("podinfo", version)
        yield reg


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry with htpasswd basic auth holding secret-chart 1.0.0."""
    with Registry(tmp_path_factory.mktemp("oci-auth") / "registry", auth=(USER, PASSWORD)) as reg:
        reg.publish("secret-chart", "1.0.0")
        yield reg


def source(tmp_path: Path, reg: Registry, helm: str | None = None, **kw: Any) -> OCISource:
    return OCISource(tmp_path / "cache", helm=helm or tool("helm"), plain_http_hosts=[reg.host], **kw)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def layer_digest(reg: Registry, name: str, ref: str) -> str:
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    _, _, body = reg._request("GET", f"/v2/charts/{name}/manifests/{ref}", headers=accept)
    return str(json.loads(body)["layers"][0]["digest"])


# --- resolving and installing ---------------------------------------------------------------------


async def test_exact_version_pulled_and_installed_by_each_helm(
    registry: Registry, helm: Cli, tmp_path: Path
) -> None:
    """helm 4 and helm 3 pull the same chart (same manifest and archive digests) and install it."""
    async with source(tmp_path, registry, helm.binary) as src:
        assert isinstance(src, ChartSource)
        chart = await src.resolve({"oci": {"url": registry.chart_url("podinfo"), "version": "1.0.0"}})
    manifest = registry.pushed["podinfo", "1.0.0"]
    assert (chart.name, chart.version, chart.app_version) == ("podinfo", "1.0.0", "1.0.0")
    assert chart.revision == f"1.0.0@{manifest}"
    assert chart.digest == sha256(chart.path) == layer_digest(registry, "podinfo", "1.0.0")
    assert chart.default_values == {"message": "hello from 1.0.0"}
    assert chart.source == registry.chart_url("podinfo")
    assert src.stats()["pulls"] == 1 and src.tag_lists == 0  # an exact version needs no tag list
    helm("install", "web", str(chart.path), "--namespace", "default", "--set", "message=hi")
    manifest_out = helm("get", "manifest", "web", "--namespace", "default")
    assert 'chartVersion: "1.0.0"' in manifest_out and 'message: "\\"hi\\""' in manifest_out


async def test_semver_ranges_pick_the_newest_matching_tag(registry: Registry, tmp_path: Path) -> None:
    url = registry.chart_url("podinfo")
    async with source(tmp_path, registry) as src:
        newest = await src.resolve({"url": url, "version": "^1.0"})
        assert newest.version == "1.2.0+build.5"  # tag 1.2.0_build.5: helm's + -> _ convention
        assert newest.revision == f"1.2.0+build.5@{registry.pushed['podinfo', '1.2.0+build.5']}"
        assert (await src.resolve({"url": url, "version": "~1.1"})).version == "1.1.0"
        assert (await src.resolve({"url": url})).version == "1.2.0+build.5"  # newest stable
        assert (await src.resolve({"url": url, "version": ">=2.0.0-0"})).version == "2.0.0-rc.1"
        assert (await src.resolve({"url": url, "version": "1.2.0+build.5"})).version == "1.2.0+build.5"
        assert src.tag_lists == 4 and src.pulls == 3
        # within the TTL the lookup is cached and the archive is on disk: no request, no helm
        again = await src.resolve({"url": url, "version": "^1.0"})
        assert again == newest
        assert (src.tag_lists, src.pulls, src.lookup_cache_hits, src.cache_hits) == (4, 3, 1, 3)


async def test_accepts_the_api_model(registry: Registry, tmp_path: Path) -> None:
    model = OCIChartSource.model_validate({"url": registry.chart_url("podinfo"), "version": "1.1.x"})
    async with source(tmp_path, registry) as src:
        assert (await src.resolve(model)).version == "1.1.0"


async def test_digest_pin_holds_when_the_tag_moves(registry: Registry, tmp_path: Path) -> None:
    now = [0.0]
    url = registry.chart_url("moving")
    first = registry.publish("moving", "1.0.0", values={"color": "blue"})
    async with source(tmp_path, registry, clock=lambda: now[0]) as src:
        pinned = await src.resolve({"url": url, "digest": first})
        by_tag = await src.resolve({"url": url, "version": "1.0.0"})
        assert pinned.default_values == by_tag.default_values == {"color": "blue"}
        assert pinned.revision == by_tag.revision == f"1.0.0@{first}"

        moved = registry.publish("moving", "1.0.0", values={"color": "red"})  # same tag, new content
        assert moved != first and registry.manifest_digest("moving", "1.0.0") == moved
        cached = await src.resolve({"url": url, "version": "1.0.0"})  # within the TTL: still the old pin
        assert cached.revision == f"1.0.0@{first}"
        now[0] += 61  # past the 60 s TTL the tag is looked up again
        assert (await src.resolve({"url": url, "version": "1.0.0"})).default_values == {"color": "red"}
        refreshed = await src.resolve({"url": url, "version": "1.0.0"}, refresh=True)
        assert refreshed.revision == f"1.0.0@{moved}" and refreshed.digest != pinned.digest
        again = await src.resolve({"url": url, "digest": first}, refresh=True)
        assert (again.revision, again.digest, again.default_values) == (
            pinned.revision,
            pinned.digest,
            {"color": "blue"},
        )
    # a new controller with an empty cache pulls the pinned digest from the registry: the old content
    async with source(tmp_path / "fresh", registry) as fresh:
        pulled = await fresh.resolve({"url": url, "digest": first})
        assert fresh.pulls == 1 and pulled.digest == pinned.digest == sha256(pulled.path)
        assert pulled.default_values == {"color": "blue"}


async def test_concurrent_resolves_share_one_pull(registry: Registry, tmp_path: Path) -> None:
    url = registry.chart_url("podinfo")
    digest = registry.pushed["podinfo", "1.1.0"]
    specs = [{"url": url, "version": "~1.1.0"}] * 8 + [{"url": url, "digest": digest}] * 4
    async with source(tmp_path, registry) as src:
        charts = await asyncio.gather(*(src.resolve(s) for s in specs))
        assert {c.revision for c in charts} == {f"1.1.0@{digest}"}
        assert len({c.path for c in charts}) == 1
        assert (src.pulls, src.tag_lists, src.manifest_lookups) == (1, 1, 2)
        assert src.shared_pulls >= 1


async def test_cache_survives_a_restart_and_damage_is_repaired(registry: Registry, tmp_path: Path) -> None:
    spec = {"url": registry.chart_url("podinfo"), "digest": registry.pushed["podinfo", "1.0.0"]}
    async with source(tmp_path, registry) as src:
        chart = await src.resolve(spec)
    async with source(tmp_path, registry) as src:
        assert (await src.resolve(spec)).path == chart.path
        assert (src.pulls, src.cache_hits) == (0, 1)
    chart.path.write_bytes(b"damaged")
    async with source(tmp_path, registry) as src:
        repaired = await src.resolve(spec)
        assert src.pulls == 1 and sha256(repaired.path) == chart.digest


# --- credentials ----------------------------------------------------------------------------------


async def test_basic_auth_good_missing_and_wrong(
    private: Registry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = {"url": private.chart_url("secret-chart"), "version": "1.x"}
    async with source(tmp_path, private) as src:
        chart = await src.resolve(spec, Credentials(username=USER, password=PASSWORD))
        assert chart.version == "1.0.0" and (src.logins, src.pulls) == (1, 1)
        with pytest.raises(SourceError, match=r"denied access .* \(it needs credentials") as missing:
            await src.resolve(spec)
        with pytest.raises(SourceError, match=r"HTTP 401 \(check the credentials") as wrong:
            await src.resolve(spec, Credentials(username=USER, password="wrong-password"))
        assert not missing.value.transient and not wrong.value.transient
        assert src.pulls == 1
    texts = [str(missing.value), str(wrong.value), caplog.text]
    assert not any(PASSWORD in t or "wrong-password" in t for t in texts)
    # the login lived only in the pull's private, deleted directory
    leftovers = [
        p for p in (tmp_path / "cache").rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()
    ]
    assert leftovers == [] and not any((tmp_path / "cache" / "tmp").iterdir())


async def test_login_with_helm3(private: Registry, tmp_path: Path) -> None:
    async with source(tmp_path, private, tool("helm3")) as src:
        chart = await src.resolve(
            {"url": private.chart_url("secret-chart"), "version": "1.0.0"},
            Credentials(username=USER, password=PASSWORD),
        )
        assert chart.version == "1.0.0" and src.logins == 1


# --- failures -------------------------------------------------------------------------------------


async def test_registry_down_and_back(tmp_path: Path) -> None:
    with Registry(tmp_path / "registry") as reg:
        reg.publish("flaky", "1.0.0")
        spec = {"url": reg.chart_url("flaky"), "version": "1.0.0"}
        async with source(tmp_path, reg) as src:
            await src.resolve(spec)
            reg.down()
            with pytest.raises(
                SourceError, match=rf"OCI registry {reg.host} unreachable: connection refused"
            ) as e:
                await src.resolve(spec, refresh=True)
            assert e.value.transient
            reg.up()
            assert (await src.resolve(spec, refresh=True)).version == "1.0.0"


async def test_not_found_and_not_a_chart(registry: Registry, tmp_path: Path) -> None:
    url = registry.chart_url("podinfo")
    image = registry.push_artifact(
        "an-image",
        "1.0.0",
        config_media_type="application/vnd.oci.image.config.v1+json",
        layer=b"not a chart",
        layer_media_type="application/vnd.oci.image.layer.v1.tar+gzip",
    )
    cases = {
        "repository not found": {"url": registry.chart_url("nothing-here"), "version": "^1"},
        r"version 9.9.9 not found \(no tag 9.9.9; newest: 1.2.0\+build.5\)": {"url": url, "version": "9.9.9"},
        r"no tag matches version ~3.0 \(newest: 1.2.0\+build.5\)": {"url": url, "version": "~3.0"},
        "digest sha256:0000.* not found": {"url": url, "digest": "sha256:" + "0" * 64},
        r"an-image:1.0.0 is not a Helm chart \(config media type": {
            "url": registry.chart_url("an-image"),
            "version": "1.0.0",
        },
        "an-image@sha256:.* is not a Helm chart": {"url": registry.chart_url("an-image"), "digest": image},
    }
    async with source(tmp_path, registry) as src:
        for reason, spec in cases.items():
            with pytest.raises(SourceError, match=reason) as e:
                await src.resolve(spec)
            assert "\n" not in str(e.value) and not e.value.transient
        assert src.pulls == 0


async def test_bad_specs_are_refused_without_network(tmp_path: Path) -> None:
    cases = {
        "must look like oci://": {"url": "https://example.com/charts/x"},
        "carries credentials": {"url": "oci://u:p@example.com/charts/x"},
        "must not name a tag or digest": {"url": "oci://example.com/charts/x:1.0.0"},
        "not a valid OCI repository path": {"url": "oci://example.com/Charts/X"},
        "set version or digest, not both": {
            "url": "oci://r.io/c/x",
            "version": "1",
            "digest": "sha256:" + "a" * 64,
        },
        "invalid version or range": {"url": "oci://r.io/c/x", "version": "latest"},
        "digest must be sha256:": {"url": "oci://r.io/c/x", "digest": "md5:abc"},
    }
    async with OCISource(tmp_path / "cache", helm=tool("helm")) as src:
        for reason, spec in cases.items():
            with pytest.raises(SourceError, match=reason):
                await src.resolve(spec)
        with pytest.raises(SourceError, match=r"TLS certificates .* not supported"):
            await src.resolve({"url": "oci://r.io/c/x"}, Credentials(ca=b"-----BEGIN CERTIFICATE-----"))
        assert src.stats()["manifest_lookups"] == 0


async def test_https_is_the_default(registry: Registry, tmp_path: Path) -> None:
    """Without plain_http_hosts the registry is spoken to over TLS, which a plain-HTTP server refuses."""
    async with OCISource(tmp_path / "cache", helm=tool("helm")) as src:
        with pytest.raises(SourceError, match=rf"OCI registry {registry.host} unreachable") as e:
            await src.resolve({"url": registry.chart_url("podinfo"), "version": "1.0.0"})
        assert e.value.transient and src.pulls == 0
