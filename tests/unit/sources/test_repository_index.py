"""Pure parts of the repository source: index parsing and version selection, URLs, credentials,
chart archive reading, and the on-disk archive cache's LRU bookkeeping. No network."""

from __future__ import annotations

import asyncio
import hashlib
import io
import tarfile
from pathlib import Path

import aiohttp
import pytest

from helmrelease_controller.sources.archive import ArchiveError, read_chart_archive
from helmrelease_controller.sources.base import Credentials, SourceError, redact_url, spec_field
from helmrelease_controller.sources.cache import ArchiveCache, IndexCache, SingleFlight
from helmrelease_controller.sources.httperrors import network_reason
from helmrelease_controller.sources.repoindex import chart_download_url, index_url, parse_index
from helmrelease_controller.sources.repository import RepositoryChartSpec

INDEX = b"""
apiVersion: v1
generated: "2026-11-21T23:51:34Z"
entries:
  podinfo:
  - name: podinfo
    version: 6.5.0
    appVersion: 6.5.0
    created: 2026-01-02T03:04:05Z
    digest: 7a3f0c9d8e1b2a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4
    urls: [podinfo-6.5.0.tgz]
  - name: podinfo
    version: 6.10.1
    appVersion: "6.10.1"
    digest: sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
    urls: [https://cdn.example.com/charts/podinfo-6.10.1.tgz, podinfo-6.10.1.tgz]
  - name: podinfo
    version: 7.0.0-rc.1
    urls: [podinfo-7.0.0-rc.1.tgz]
  - name: podinfo
    version: 6.9.0
    digest: not-a-sha256
    urls: [podinfo-6.9.0.tgz]
  - name: podinfo
    version: latest
    urls: [podinfo-latest.tgz]
  - name: podinfo
    urls: [no-version.tgz]
  - just a string
  onlypre:
  - version: 1.0.0-beta.1
    urls: [onlypre-1.0.0-beta.1.tgz]
  broken: not-a-list
  float:
  - version: 1.10
    appVersion: 1.10
    urls: []
"""


def test_parse_index_entries() -> None:
    index = parse_index(INDEX)
    assert index.names() == ["float", "onlypre", "podinfo"]  # "broken" is not a list: skipped
    versions = [e.version for e in index.entries["podinfo"]]
    assert versions == ["6.5.0", "6.10.1", "7.0.0-rc.1", "6.9.0", "latest"]  # invalid entries skipped
    first = index.entries["podinfo"][0]
    assert first.digest == "7a3f0c9d8e1b2a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
    assert first.urls == ("podinfo-6.5.0.tgz",) and first.app_version == "6.5.0"
    assert index.entries["podinfo"][1].digest == "a" * 64  # sha256: prefix dropped, lowercased
    assert index.entries["podinfo"][3].digest == ""  # not a sha256: not verified
    # scalars stay strings as in Go's typed structs: 1.10 is not the float 1.1
    assert index.entries["float"][0].version == "1.10" and index.entries["float"][0].app_version == "1.10"


def test_versions_newest_first_skips_non_semver() -> None:
    index = parse_index(INDEX)
    assert [e.version for _, e in index.versions("podinfo")] == ["7.0.0-rc.1", "6.10.1", "6.9.0", "6.5.0"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("*", "6.10.1"),
        ("", "6.10.1"),
        ("^6.0", "6.10.1"),
        ("~6.5", "6.5.0"),
        ("6.9.0", "6.9.0"),
        ("v6.9.0", "6.9.0"),
        (">=6.0.0 <6.10.0", "6.9.0"),
        ("7.0.0-rc.1", "7.0.0-rc.1"),
        (">=7.0.0-0", "7.0.0-rc.1"),
        ("6.5.0 || 6.9.0", "6.9.0"),
    ],
)
def test_select(version: str, expected: str) -> None:
    assert parse_index(INDEX).select("podinfo", version).version == expected


def test_select_errors_are_one_clear_line() -> None:
    index = parse_index(INDEX)
    where = "https://charts.example.com/index.yaml"
    with pytest.raises(SourceError) as exc:
        index.select("podinfo", "^9.0", where=where)
    assert str(exc.value) == f"chart podinfo version ^9.0 not found in {where} (newest: 6.10.1)"
    assert not exc.value.transient
    with pytest.raises(SourceError, match=r"only pre-releases, newest: 1\.0\.0-beta\.1"):
        index.select("onlypre", "*", where=where)
    with pytest.raises(SourceError) as exc:
        index.select("nginx", "*", where=where)
    assert str(exc.value) == f"chart nginx not found in {where} (it has float, onlypre, podinfo)"
    with pytest.raises(SourceError, match="invalid version or range 'latest'"):
        index.select("podinfo", "latest")  # Helm too rejects a non-semver version before matching
    with pytest.raises(SourceError, match=r"the index lists no charts"):
        parse_index(b"apiVersion: v1\nentries: {}\n").select("podinfo", "*")


def test_many_charts_hint_is_bounded() -> None:
    doc = "apiVersion: v1\nentries:\n" + "".join(f"  c{i:02d}: [{{version: 1.0.0}}]\n" for i in range(30))
    with pytest.raises(SourceError, match=r"\(it has c00, c01, c02, c03, c04 and 25 more\)"):
        parse_index(doc).select("x", "*")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"apiVersion: v1\nentries: {a: [\n", "index.yaml is not valid YAML: "),
        (b"", "not a Helm repository index (empty)"),
        (b"<html><body>hello</body></html>", "not a Helm repository index (a str, not a map)"),
        (b"- 1\n- 2\n", "not a Helm repository index (a list, not a map)"),
        (b"entries: {}\n", "not a Helm repository index (no apiVersion)"),
        (b"apiVersion: v1\nentries: [1]\n", "entries is not a map"),
    ],
)
def test_malformed_index(body: bytes, message: str) -> None:
    with pytest.raises(SourceError) as exc:
        parse_index(body)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_json_index_is_accepted() -> None:
    doc = b'{"apiVersion": "v1", "entries": {"a": [{"version": "1.0.0", "urls": ["a-1.0.0.tgz"]}]}}'
    assert parse_index(doc).select("a", "*").urls == ("a-1.0.0.tgz",)


@pytest.mark.parametrize(
    ("repo", "ref", "expected"),
    [
        ("https://h/charts", "podinfo-1.0.0.tgz", "https://h/charts/podinfo-1.0.0.tgz"),
        ("https://h/charts/", "podinfo-1.0.0.tgz", "https://h/charts/podinfo-1.0.0.tgz"),
        ("https://h", "podinfo-1.0.0.tgz", "https://h/podinfo-1.0.0.tgz"),
        ("https://h/charts", "sub/p.tgz", "https://h/charts/sub/p.tgz"),
        ("https://h/charts", "/abs/p.tgz", "https://h/abs/p.tgz"),
        ("https://h/charts", "https://cdn/p.tgz", "https://cdn/p.tgz"),
        ("https://h/charts", "  p.tgz ", "https://h/charts/p.tgz"),
    ],
)
def test_chart_download_url(repo: str, ref: str, expected: str) -> None:
    assert chart_download_url(repo, ref) == expected


def test_index_url() -> None:
    assert index_url("https://h/charts/") == index_url("https://h/charts") == "https://h/charts/index.yaml"


def test_redact_url() -> None:
    assert redact_url("https://user:s3cret@h:8443/charts?token=abc#x") == "https://h:8443/charts"
    assert redact_url("http://[::1]:80/x") == "http://[::1]:80/x"
    assert redact_url("https://h/charts") == "https://h/charts"


class _Model:
    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)


def test_spec_from_models_and_mappings() -> None:
    expected = RepositoryChartSpec("https://h/charts", "podinfo", "^6")
    sub = {"url": "https://h/charts", "name": "podinfo", "version": "^6", "secretRef": {"name": "x"}}
    assert RepositoryChartSpec.from_spec(sub) == expected
    assert RepositoryChartSpec.from_spec({"repository": sub}) == expected
    assert RepositoryChartSpec.from_spec(_Model(repository=_Model(**sub), git=None)) == expected
    assert RepositoryChartSpec.from_spec({"url": "https://h/", "chart": "podinfo"}).version == "*"
    assert RepositoryChartSpec.from_spec({"url": "https://h/", "name": "p", "version": " "}).version == "*"
    with pytest.raises(SourceError, match="needs both url and name"):
        RepositoryChartSpec.from_spec({"git": {"url": "https://g"}})
    assert spec_field({"a": None, "b": 2}, "a", "b") == 2


def test_credentials_never_show_secrets() -> None:
    creds = Credentials.from_secret_data(
        {
            "username": b"admin",
            "password": b"hunter22",
            "tls.crt": b"CERT",
            "tls.key": b"KEYKEY",
            "ca.crt": "",
        }
    )
    assert creds.basic_auth == ("admin", "hunter22") and creds.cert == b"CERT" and creds.ca is None
    assert "hunter22" not in repr(creds) and "KEYKEY" not in str(creds)
    assert repr(creds) == "Credentials(<redacted: username, password, cert, key>)"
    assert creds.scrub("failed for hunter22 with KEYKEY") == "failed for *** with ***"
    flux_names = Credentials.from_secret_data({"certFile": "C", "keyFile": "K", "caFile": "A"})
    assert (flux_names.cert, flux_names.key, flux_names.ca) == (b"C", b"K", b"A")
    assert creds.fingerprint() != Credentials(username="admin", password="hunter23").fingerprint()
    assert (
        creds.fingerprint()
        == Credentials(**{k: getattr(creds, k) for k in creds.__dataclass_fields__}).fingerprint()
    )
    with pytest.raises(SourceError, match="no password"):
        Credentials.from_secret_data({"username": b"admin"})
    with pytest.raises(SourceError, match="no key"):
        Credentials.from_secret_data({"tls.crt": b"CERT"})


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_read_chart_archive() -> None:
    data = _tgz(
        {
            "demo/Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 1.10\nappVersion: 2.0\n",
            "demo/values.yaml": b"replicas: 2\non: yes\ndate: 2026-01-01\nnested: {a: [1, 2]}\n",
            "demo/charts/sub/Chart.yaml": b"name: sub\nversion: 9.9.9\n",
            "demo/charts/sub/values.yaml": b"sub: true\n",
        }
    )
    meta = read_chart_archive(data)
    assert (meta.name, meta.version, meta.app_version) == ("demo", "1.10", "2.0")
    # As Helm reads it (YAML to JSON): `on` is the key "true", dates stay strings; subchart files
    # are not the chart's own
    assert meta.values == {"replicas": 2, "true": True, "date": "2026-01-01", "nested": {"a": [1, 2]}}
    assert read_chart_archive(_tgz({"demo/Chart.yaml": b"name: demo\nversion: 1.0.0\n"})).values == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text", "not a valid chart archive (.tgz)"),
        (_tgz({"demo/values.yaml": b"a: 1\n"}), "no Chart.yaml"),
        (_tgz({"demo/Chart.yaml": b"name: [\n"}), "Chart.yaml is not valid YAML"),
        (_tgz({"demo/Chart.yaml": b"name: demo\n"}), "Chart.yaml has no name or version"),
        (_tgz({"demo/Chart.yaml": b"name: d\nversion: 1.0.0\n", "demo/values.yaml": b"- 1\n"}), "not a map"),
        (
            _tgz({"demo/Chart.yaml": b"name: d\nversion: 1.0.0\n", "demo/values.yaml": b"a: [\n"}),
            "values.yaml",
        ),
    ],
)
def test_bad_chart_archives(data: bytes, message: str) -> None:
    with pytest.raises(
        ArchiveError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        read_chart_archive(data)


def test_truncated_archive() -> None:
    data = _tgz({"demo/Chart.yaml": b"name: d\nversion: 1.0.0\n", "demo/big": bytes(range(256)) * 400})
    with pytest.raises(ArchiveError, match="not a valid chart archive"):
        read_chart_archive(data[: len(data) // 2])


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _hex(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_archive_cache_lru_eviction(tmp_path: Path) -> None:
    clock = _Clock()
    cache = ArchiveCache(tmp_path / "c", max_bytes=250, min_age=0, clock=clock)
    for i in range(3):
        clock.now += 1
        cache.store(_hex(i), bytes(100))
    # three 100-byte archives do not fit in 250: the oldest went
    assert _hex(0) not in cache and not cache.path_for(_hex(0)).exists()
    assert cache.total_bytes == 200 and cache.evictions == 1
    clock.now += 1
    assert cache.lookup(_hex(1)) is not None  # 1 is now the most recently used
    clock.now += 1
    cache.store(_hex(3), bytes(100))
    assert _hex(2) not in cache and _hex(1) in cache and _hex(3) in cache


def test_archive_cache_keeps_recently_used_files(tmp_path: Path) -> None:
    clock = _Clock()
    cache = ArchiveCache(tmp_path, max_bytes=150, min_age=30, clock=clock)
    cache.store(_hex(0), bytes(100))
    clock.now += 10
    cache.store(_hex(1), bytes(100))
    assert len(cache) == 2  # over the bound, but 0 was used 10s ago: a reconcile may be installing it
    clock.now += 60
    cache.store(_hex(2), bytes(100))
    assert _hex(0) not in cache and _hex(1) not in cache and len(cache) == 1


def test_archive_cache_survives_deletion_and_restart(tmp_path: Path) -> None:
    clock = _Clock()
    cache = ArchiveCache(tmp_path / "c", max_bytes=10_000, min_age=0, clock=clock)
    for i in range(3):
        clock.now += 1
        cache.store(_hex(i), bytes(10 + i))
    cache.path_for(_hex(1)).unlink()
    assert cache.lookup(_hex(1)) is None and _hex(1) not in cache
    (tmp_path / "c" / ".tmp-leftover").write_bytes(b"partial")
    restarted = ArchiveCache(tmp_path / "c", max_bytes=10, min_age=0, clock=clock)
    assert len(restarted) == 2 and restarted.total_bytes == 22
    assert not (tmp_path / "c" / ".tmp-leftover").exists()
    assert restarted.evict() == [_hex(0), _hex(2)]  # oldest mtime first
    for p in (tmp_path / "c").iterdir():
        p.unlink()
    (tmp_path / "c").rmdir()
    assert restarted.lookup(_hex(0)) is None
    assert restarted.store(_hex(5), b"x").exists()  # the directory is recreated


def test_index_cache_ttl() -> None:
    clock = _Clock()
    cache: IndexCache[str] = IndexCache(ttl=60, max_entries=2, clock=clock)
    from helmrelease_controller.sources.cache import CachedIndex

    cache.put("a", CachedIndex("A", clock(), "sha"))
    clock.now += 59
    assert cache.fresh("a") is not None
    clock.now += 2
    assert cache.fresh("a") is None and cache.get("a") is not None
    cache.touch("a")
    assert cache.fresh("a") is not None
    cache.put("b", CachedIndex("B", clock(), "sha"))
    cache.put("c", CachedIndex("C", clock(), "sha"))
    assert len(cache) == 2 and cache.get("a") is None


async def test_single_flight_shares_and_survives_cancelled_callers() -> None:
    flight: SingleFlight[int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    tasks = [asyncio.create_task(flight.do("k", work)) for _ in range(5)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1 and results[1:] == [42] * 4 and isinstance(results[0], asyncio.CancelledError)
    assert len(flight) == 0

    async def fail() -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await flight.do("k", fail)
    assert await flight.do("k", work) == 42  # a failure is not remembered


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)"), "connection refused"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), "connection reset by peer"),
        # aiohttp re-raises some TLS alerts as an OSError whose errno is the SSL error code (1 = EPERM)
        (
            aiohttp.ClientOSError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert (_ssl.c:2580)"),
            "TLS handshake failed (TLSV13_ALERT_CERTIFICATE_REQUIRED)",
        ),
        (TimeoutError(), "timed out after 30s"),
        (aiohttp.ServerDisconnectedError(), "the server closed the connection"),
        (aiohttp.ClientPayloadError("Response payload is not completed"), "the transfer was interrupted"),
        (aiohttp.ClientError("https://u:pw@h/x?token=t went wrong"), "ClientError"),  # never the raw text
    ],
)
def test_network_reasons(exc: BaseException, reason: str) -> None:
    assert network_reason(exc, 30) == reason
