"""Chart fetches retried within one resolve: a 429 or 503 asking (Retry-After) for a short pause is
tried again after exactly that pause, three attempts at most; every other failure is raised at once,
as before. Real HTTP on loopback: a scripted front server before a real chart repository (charts
packaged and indexed by the real helm), and a scripted registry API; waits are a FakeClock's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from helmrelease_controller.sources import RepositorySource, SourceError
from helmrelease_controller.sources.ociregistry import RegistryClient
from tests.helpers.chartrepo import ChartRepo
from tests.helpers.clock import FakeClock

Answer = tuple[int, dict[str, str]]


@dataclass
class Front:
    """Answers from `script` (status, headers) for `path`, in turn; everything else from `upstream`."""

    upstream: str = ""
    path: str = "/index.yaml"
    script: list[Answer] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.path == self.path and self.script:
            status, headers = self.script.pop(0)
            return web.Response(status=status, headers=headers, text="busy\n")
        if request.path.endswith("/tags/list"):
            return web.json_response({"name": "charts/app", "tags": ["1.0.0"]})
        async with aiohttp.ClientSession() as s, s.get(self.upstream + request.path) as r:
            return web.Response(status=r.status, body=await r.read())


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with ChartRepo(tmp_path / "repo") as r:
        r.publish("podinfo", "1.0.0")
        yield r


@pytest.fixture
async def front(repo: ChartRepo) -> AsyncIterator[Front]:
    f = Front(upstream=repo.url)
    app = web.Application()
    app.router.add_get("/{tail:.*}", f.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    f.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield f
    await runner.cleanup()


async def resolve(front: Front, tmp_path: Path, clock: FakeClock) -> str:
    async with RepositorySource(tmp_path / "cache", retry_clock=clock) as source:
        return (await source.resolve({"url": front.url, "name": "podinfo"})).version


async def test_throttled_index_is_fetched_after_the_pause_asked(front: Front, tmp_path: Path) -> None:
    clock = FakeClock(auto=True)
    date = "Fri, 20 Nov 2026 10:00:03 GMT"  # the fake clock's wall time starts at 10:00:00
    front.script = [(503, {"Retry-After": "2"}), (429, {"Retry-After": date})]
    assert await resolve(front, tmp_path, clock) == "1.0.0"
    assert clock.sleeps == [2.0, 1.0]  # 2 s; then until 10:00:03, one second after 10:00:02
    assert front.hits.count("/index.yaml") == 3


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ([(503, {})], "HTTP 503 Service Unavailable"),  # no Retry-After: as before, at once
        ([(503, {"Retry-After": "3600"})], "HTTP 503 Service Unavailable"),  # too long: left to spec.backoff
        ([(500, {"Retry-After": "1"})], "HTTP 500 Internal Server Error"),  # not 429/503
        ([(429, {"Retry-After": "0"})] * 3, "HTTP 429 Too Many Requests"),  # three attempts at most
    ],
)
async def test_other_failures_are_raised_at_once(
    front: Front, tmp_path: Path, script: list[Answer], reason: str
) -> None:
    clock = FakeClock(auto=True)
    front.script = list(script)
    with pytest.raises(SourceError) as exc:
        await resolve(front, tmp_path, clock)
    assert str(exc.value) == f"chart repository {front.url} failed to serve index.yaml: {reason}"
    assert exc.value.transient
    assert front.hits.count("/index.yaml") == len(script)
    assert clock.sleeps == [0.0] * (len(script) - 1)


@dataclass(frozen=True)
class Repo:
    host: str
    repository: str = "charts/app"

    @property
    def url(self) -> str:
        return f"oci://{self.host}/{self.repository}"


async def test_registry_answers_are_retried_the_same_way(front: Front) -> None:
    clock = FakeClock(auto=True)
    front.path = "/v2/charts/app/tags/list"
    front.script = [(429, {"Retry-After": "1.5"})]
    host = front.url.removeprefix("http://")
    client = RegistryClient(plain_http_hosts=[host], retry_clock=clock)
    try:
        assert await client.tags(Repo(host), None) == ["1.0.0"]
        assert clock.sleeps == [1.5]
        front.script = [(503, {})]
        with pytest.raises(SourceError, match=r"answered HTTP 503 for charts/app") as exc:
            await client.tags(Repo(host), None)
        assert exc.value.transient and clock.sleeps == [1.5]
    finally:
        await client.close()
