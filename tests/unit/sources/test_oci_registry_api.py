"""The OCI source's registry HTTP client against a small token-auth registry API (aiohttp on loopback).

docker-registry with htpasswd (the integration tests) only speaks Basic auth; registries such as ghcr.io,
Docker Hub or Harbor answer with a Bearer challenge and a token service. This fake implements that
protocol (and tag-list pagination) so the lookup path can be checked without helm: no pull happens here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from helmrelease_controller.sources import Credentials, SourceError
from helmrelease_controller.sources.oci import OCIChartSpec, OCISource

TAGS = ["0.9.0", "1.0.0", "1.1.0_build.2", "1.3.0", "2.0.0-rc.1"]
USER, PASSWORD = "bob", "tok-Passw0rd"


def manifest_for(tag: str) -> bytes:
    layer = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": layer, "size": 2},
            "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": layer}],
        }
    ).encode()


class FakeRegistry:
    """`/token` issues bearer tokens (Basic auth required when `private`); `/v2/...` demands them."""

    def __init__(self, private: bool = True) -> None:
        self.private = private
        self.hits: Counter[str] = Counter()
        self.status: int | None = None  # force an HTTP status on /v2/ requests
        self.wrong_digest = False
        self.tokens: set[str] = set()
        self.host = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self.token)
        app.router.add_get("/v2/{repo:.+}/tags/list", self.tags)
        app.router.add_get("/v2/{repo:.+}/manifests/{ref}", self.manifest)
        return app

    async def token(self, request: web.Request) -> web.Response:
        self.hits["token"] += 1
        assert request.query["service"] == "fake-registry"
        assert request.query["scope"] == "repository:charts/app:pull"
        if self.private:
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
        token = f"t{len(self.tokens)}"
        self.tokens.add(token)
        return web.json_response({"token": token, "expires_in": 300})

    def _denied(self, request: web.Request) -> web.Response | None:
        if self.status is not None:
            return web.Response(status=self.status)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.tokens:
            return None
        challenge = (
            f'Bearer realm="http://{self.host}/token",service="fake-registry",'
            f'scope="repository:{request.match_info["repo"]}:pull"'
        )
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED"}]}, status=401, headers={"WWW-Authenticate": challenge}
        )

    async def tags(self, request: web.Request) -> web.Response:
        self.hits["tags"] += 1
        denied = self._denied(request)
        if denied is not None:
            return denied
        start = TAGS.index(request.query["last"]) + 1 if "last" in request.query else 0
        page = TAGS[start : start + 2]
        headers = {}
        if start + 2 < len(TAGS):
            # an absolute link naming another host: only its path may be followed (credentials stay here)
            headers["Link"] = (
                f"<http://elsewhere.invalid/v2/{request.match_info['repo']}/tags/list?last={page[-1]}&n=2>; "
                'rel="next"'
            )
        return web.json_response({"name": request.match_info["repo"], "tags": page}, headers=headers)

    async def manifest(self, request: web.Request) -> web.Response:
        self.hits["manifest"] += 1
        denied = self._denied(request)
        if denied is not None:
            return denied
        ref = request.match_info["ref"]
        bodies = {tag: manifest_for(tag) for tag in TAGS}
        bodies.update({"sha256:" + hashlib.sha256(b).hexdigest(): b for b in list(bodies.values())})
        if ref not in bodies:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        digest = "sha256:" + hashlib.sha256(b"other" if self.wrong_digest else bodies[ref]).hexdigest()
        return web.Response(
            body=bodies[ref],
            content_type="application/vnd.oci.image.manifest.v1+json",
            headers={"Docker-Content-Digest": digest},
        )


async def serve(fake: FakeRegistry) -> AsyncIterator[FakeRegistry]:
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.host = f"127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def registry() -> AsyncIterator[FakeRegistry]:
    async for fake in serve(FakeRegistry()):
        yield fake


@pytest.fixture
async def public() -> AsyncIterator[FakeRegistry]:
    async for fake in serve(FakeRegistry(private=False)):
        yield fake


def spec(reg: FakeRegistry, **kw: Any) -> OCIChartSpec:
    return OCIChartSpec.from_spec({"url": f"oci://{reg.host}/charts/app", **kw})


CREDS = Credentials(username=USER, password=PASSWORD)


async def test_bearer_token_pagination_and_tag_mapping(registry: FakeRegistry, tmp_path: Any) -> None:
    async with OCISource(tmp_path, plain_http_hosts=[registry.host]) as src:
        pin = await src._lookup(spec(registry, version="~1.1"), CREDS, False)
        assert pin.tag == "1.1.0_build.2"
        assert pin.manifest_digest == "sha256:" + hashlib.sha256(manifest_for("1.1.0_build.2")).hexdigest()
        assert pin.layer_digest == "sha256:" + hashlib.sha256(b"1.1.0_build.2").hexdigest()
        newest = await src._lookup(spec(registry), CREDS, False)
        assert newest.tag == "1.3.0"  # newest stable across three pages
        # one challenge, one token, reused for every later request of the repository
        assert registry.hits["token"] == 1 and src.tag_lists == 2
        assert registry.hits["tags"] == 1 + 3 + 3 and registry.hits["manifest"] == 2
        assert (await src._lookup(spec(registry, version="~1.1"), CREDS, False)) == pin
        assert src.lookup_cache_hits == 1 and registry.hits["manifest"] == 2


async def test_digest_pin_and_exact_version(registry: FakeRegistry, tmp_path: Any) -> None:
    digest = "sha256:" + hashlib.sha256(manifest_for("1.0.0")).hexdigest()
    async with OCISource(tmp_path, plain_http_hosts=[registry.host]) as src:
        assert (await src._lookup(spec(registry, digest=digest), CREDS, False)).manifest_digest == digest
        assert (await src._lookup(spec(registry, version="1.0.0"), CREDS, False)).manifest_digest == digest
        assert src.tag_lists == 0
        with pytest.raises(SourceError, match=r"version 1.2.0 not found \(no tag 1.2.0; newest: 1.3.0\)"):
            await src._lookup(spec(registry, version="1.2.0"), CREDS, False)
        registry.wrong_digest = True
        with pytest.raises(SourceError, match="does not match its digest"):
            await src._lookup(spec(registry, version="1.3.0"), CREDS, False)


async def test_token_refused_and_server_errors(registry: FakeRegistry, tmp_path: Any) -> None:
    async with OCISource(tmp_path, plain_http_hosts=[registry.host]) as src:
        wrong = Credentials(username=USER, password="not-the-password")
        with pytest.raises(SourceError, match=r"denied access to charts/app: HTTP 401 \(check the cred") as e:
            await src._lookup(spec(registry, version="1.0.0"), wrong, False)
        assert "not-the-password" not in str(e.value) and not e.value.transient
        registry.status = 503
        with pytest.raises(SourceError, match="answered HTTP 503") as e:
            await src._lookup(spec(registry, version="1.0.0"), CREDS, False)
        assert e.value.transient


async def test_anonymous_token(public: FakeRegistry, tmp_path: Any) -> None:
    async with OCISource(tmp_path, plain_http_hosts=[public.host]) as src:
        assert (await src._lookup(spec(public, version="<1"), None, False)).tag == "0.9.0"
        assert public.hits["token"] == 1
