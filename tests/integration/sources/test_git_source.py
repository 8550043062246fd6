"""GitSource against real git servers on loopback: `git daemon` (git://), sshd from openssh-server
(ssh://, deploy key, known_hosts) and smart HTTP (`git http-backend`, basic auth). Nothing is mocked;
charts are built by the real helm (`helm dependency build`) from a real chart repository."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from helmrelease_controller.sources import ChartSource, Credentials, SourceError
from helmrelease_controller.sources.git import GitSource
from tests.helpers.chartrepo import ChartRepo, helm_binary
from tests.helpers.gitserver import GitDaemon, GitRepo, HTTPGitServer, SSHServer, self_signed_tls
from tests.helpers.processes import gone

CHART = "charts/webapp"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """main: webapp 1.0.0 (tag v1.0.0), 1.1.0 (annotated v1.1.0), 2.0.0 (v2.0.0); branch dev: 3.0.0-dev."""
    r = GitRepo(tmp_path_factory.mktemp("history") / "srv")
    r.copy_chart(CHART)
    r.write("README.md", "charts\n")
    r.commit("webapp 1.0.0")
    r.tag("v1.0.0")
    r.set_chart(CHART, version="1.1.0")
    r.commit("webapp 1.1.0")
    r.tag("v1.1.0", message="release 1.1.0")
    r.set_chart(CHART, version="2.0.0")
    r.commit("webapp 2.0.0")
    r.tag("v2.0.0")
    r.branch("dev")
    r.set_chart(CHART, version="3.0.0-dev")
    r.commit("dev")
    r.checkout("main")
    return r


@pytest.fixture
def repo(history: GitRepo, tmp_path: Path) -> GitRepo:
    return history.copy_to(tmp_path / "srv")


@pytest.fixture
def daemon(repo: GitRepo) -> Iterator[GitDaemon]:
    with GitDaemon(repo.serve_root) as d:
        yield d


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[GitSource]:
    async with GitSource(tmp_path / "cache", helm=helm_binary(), eviction_min_age=0) as s:
        yield s


def spec(url: str, path: str = CHART, **ref: str) -> dict[str, object]:
    return {"url": url, "path": path, **({"ref": ref} if ref else {})}


# --- refs ----------------------------------------------------------------------------------------


async def test_branch_tag_semver_commit_and_default_branch(
    repo: GitRepo, daemon: GitDaemon, source: GitSource
) -> None:
    assert isinstance(source, ChartSource)
    url = daemon.url("charts")
    main, dev = repo.head("main"), repo.head("dev")
    chart = await source.resolve(spec(url))  # no ref: the remote's default branch
    assert (chart.version, chart.revision) == ("2.0.0", f"main@sha1:{main}")
    assert chart.name == "webapp" and chart.source == url and chart.default_values["replicas"] == 1
    assert (chart.path / "Chart.yaml").is_file() and (chart.path / "templates" / "app.yaml").is_file()
    assert (await source.resolve(spec(url, branch="dev"))).revision == f"dev@sha1:{dev}"
    assert (await source.resolve(spec(url, branch="dev"))).version == "3.0.0-dev"
    v1 = await source.resolve(spec(url, tag="v1.0.0"))
    assert (v1.version, v1.revision) == ("1.0.0", f"v1.0.0@sha1:{repo.head('v1.0.0')}")
    # semver: the newest matching tag; the annotated v1.1.0 is peeled to its commit
    newest_1x = await source.resolve(spec(url, semver="^1.0"))
    assert (newest_1x.version, newest_1x.revision) == ("1.1.0", f"v1.1.0@sha1:{repo.head('v1.1.0')}")
    assert (await source.resolve(spec(url, semver=">=1.0.0"))).revision.startswith("v2.0.0@sha1:")
    pinned = await source.resolve(spec(url, commit=repo.head("v1.0.0")))
    assert (pinned.version, pinned.revision) == ("1.0.0", f"sha1:{repo.head('v1.0.0')}")
    short = await source.resolve(spec(url, commit=repo.head("v1.1.0")[:10]))
    assert short.revision == f"sha1:{repo.head('v1.1.0')}"
    assert source.fetches == 1  # everything above came from one fetch of the shared mirror
    # the real helm accepts the exported directory
    shown = subprocess.run([helm_binary(), "show", "chart", str(pinned.path)], capture_output=True, text=True)
    assert shown.returncode == 0 and yaml.safe_load(shown.stdout)["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("ref", "path", "reason"),
    [
        ({"branch": "nope"}, CHART, "branch 'nope' not found in {url}"),
        ({"tag": "v9"}, CHART, "tag 'v9' not found in {url}"),
        ({"semver": ">=5.0.0"}, CHART, "no tag in {url} matches semver range '>=5.0.0'"),
        ({"semver": "not a range"}, CHART, "spec.chart.git.ref.semver: invalid version range 'not a range'"),
        ({"commit": "deadbeefdeadbeef"}, CHART, "commit deadbeefdeadbeef not found in {url}"),
        ({}, "charts/other", "path 'charts/other' not found in {url} at main"),
        ({}, "charts", "path 'charts' in {url} at main {short} is not a chart: no Chart.yaml"),
        ({}, "README.md", "path 'README.md' is not a directory in {url} at main"),
    ],
)
async def test_clear_reasons(
    repo: GitRepo, daemon: GitDaemon, source: GitSource, ref: dict[str, str], path: str, reason: str
) -> None:
    with pytest.raises(SourceError) as err:
        await source.resolve(spec(daemon.url("charts"), path, **ref))
    assert reason.format(url=daemon.url("charts"), short=repo.head("main")[:12]) in str(err.value)
    assert "\n" not in str(err.value) and not err.value.transient


async def test_unreachable_is_transient_and_recovers(repo: GitRepo, tmp_path: Path) -> None:
    daemon = GitDaemon(repo.serve_root)
    daemon.start()
    url = daemon.url("charts")
    daemon.stop()
    # Hold the port, bound but not listening: connections are refused, and no other test's server
    # can take it meanwhile (under load one did, and answered).
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", daemon.port))
    async with GitSource(tmp_path / "cache", fetch_interval=0) as source:
        with pytest.raises(SourceError) as err:
            await source.resolve(spec(url))
        assert err.value.transient and str(err.value).startswith(f"git repository {url} unreachable:")
        assert "Connection refused" in str(err.value)
        holder.close()
        daemon.start()  # the same port again
        try:
            assert (await source.resolve(spec(url))).version == "2.0.0"
        finally:
            daemon.stop()
        assert source.fetch_failures == 1 and source.fetches == 2


# --- change detection ----------------------------------------------------------------------------


async def test_digest_follows_the_chart_tree_not_the_commit(
    repo: GitRepo, daemon: GitDaemon, tmp_path: Path
) -> None:
    now = [0.0]
    async with GitSource(tmp_path / "cache", fetch_interval=60, clock=lambda: now[0]) as source:
        url = daemon.url("charts")
        first = await source.resolve(spec(url))
        # a commit touching another directory: new revision, same digest, no new export
        repo.write("docs/notes.md", "unrelated\n")
        elsewhere = repo.commit("docs only")
        now[0] += 30
        assert (await source.resolve(spec(url))).revision == first.revision  # within the interval: no fetch
        now[0] += 31
        second = await source.resolve(spec(url))
        assert second.revision == f"main@sha1:{elsewhere}" != first.revision
        assert second.digest == first.digest and second.path == first.path
        assert source.exports == 1 and source.fetches == 2
        # a commit under the chart path: new digest, new export, new default values
        repo.write(
            f"{CHART}/values.yaml",
            (repo.work / CHART / "values.yaml").read_text().replace("replicas: 1", "replicas: 3"),
        )
        changed = repo.commit("scale")
        third = await source.resolve(spec(url), refresh=True)
        assert third.revision == f"main@sha1:{changed}" and third.digest != first.digest
        assert third.default_values["replicas"] == 3 and source.exports == 2
        # the digest is the chart tree's: the same tree anywhere gives the same digest
        assert first.digest == (await source.resolve(spec(url, tag="v2.0.0"))).digest
        assert source.fetches == 3


async def test_concurrent_resolves_share_one_fetch(repo: GitRepo, tmp_path: Path) -> None:
    with HTTPGitServer(repo.serve_root) as http:
        http.latency = 0.1  # the resolves really overlap
        async with GitSource(tmp_path / "cache") as source:
            charts = await asyncio.gather(*(source.resolve(spec(http.url("charts"))) for _ in range(20)))
            assert {c.revision for c in charts} == {charts[0].revision}
            assert source.fetches == 1 and source.shared_fetches == 19 and source.exports == 1
            assert http.requests["/charts.git/info/refs?service=git-upload-pack"] == 1


@pytest.mark.slow
async def test_fifty_releases_cost_one_network_fetch_per_interval(repo: GitRepo, tmp_path: Path) -> None:
    """50 HelmReleases on one repository (5 charts, 10 releases each) over three intervals."""
    for i in range(5):
        repo.copy_chart(f"apps/app{i}", name=f"app{i}")
    repo.commit("five apps")
    now = [0.0]
    with HTTPGitServer(repo.serve_root, auth=("ci", "tok-50")) as http:
        creds = Credentials(username="ci", password="tok-50")
        async with GitSource(tmp_path / "cache", fetch_interval=60, clock=lambda: now[0]) as source:
            specs = [spec(http.url("charts"), f"apps/app{i % 5}") for i in range(50)]
            refs = "/charts.git/info/refs?service=git-upload-pack"
            fetches, requests = [], []
            for _ in range(3):
                before = (source.fetches, http.requests[refs], len(http.auth_headers))
                await asyncio.gather(*(source.resolve(s, creds) for s in specs))  # one reconcile wave
                for s in specs:  # and a second wave within the same interval
                    await source.resolve(s, creds)
                fetches.append(source.fetches - before[0])
                requests.append((http.requests[refs] - before[1], len(http.auth_headers) - before[2]))
                now[0] += 61
            print(f"\n50 releases on one repository, 100 resolves per interval: git fetches per interval "
                  f"{fetches}; ref advertisements requested (all, authenticated) {requests}")  # fmt: skip
            assert fetches == [1, 1, 1] and source.shared_fetches == 3 * 49 and source.fresh_hits == 3 * 50
            # one fetch: a 401 challenge, then one authenticated advertisement (and the upload-pack POSTs)
            assert [r[0] for r in requests] == [2, 2, 2]
            # the first wave waits for the 5 exports; every later resolve is served from the cache
            assert source.exports == 5 and source.cache_hits >= 3 * 100 - 50


@pytest.mark.slow
async def test_mirror_fetch_time_for_1000_commits(repo: GitRepo, daemon: GitDaemon, tmp_path: Path) -> None:
    started = time.perf_counter()
    repo.many_commits(1000)
    generated = time.perf_counter() - started
    async with GitSource(tmp_path / "cache") as source:
        chart = await source.resolve(spec(daemon.url("charts")))
        initial = source.fetch_seconds
        repo.many_commits(10)
        moved = await source.resolve(spec(daemon.url("charts")), refresh=True)
        incremental = source.fetch_seconds - initial
        again = await source.resolve(spec(daemon.url("charts")), refresh=True)
        unchanged = source.fetch_seconds - initial - incremental
    commits = subprocess.run(["git", "--git-dir", str(repo.bare), "rev-list", "--count", "main"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    print(f"\n{commits} commits (generated in {generated:.2f}s): initial mirror fetch {initial:.3f}s, "
          f"+10 commits {incremental:.3f}s, no change {unchanged:.3f}s")  # fmt: skip
    assert int(commits) >= 1000 and chart.version == "2.0.0"
    # Timings are printed, not asserted (speed targets live in the benchmark): what must hold is that
    # the incremental fetch brought the new head and the unchanged one kept it.
    assert moved.revision != chart.revision and again.revision == moved.revision


# --- auth ----------------------------------------------------------------------------------------


async def test_ssh_deploy_key_and_known_hosts(repo: GitRepo, tmp_path: Path, source: GitSource) -> None:
    with SSHServer(repo.serve_root, tmp_path / "ssh") as ssh:
        url = ssh.url("charts")
        good = Credentials.from_secret_data(
            {"identity": ssh.client_key, "identity.pub": ssh.client_pub, "known_hosts": ssh.known_hosts}
        )
        chart = await source.resolve(spec(url, tag="v1.0.0"), good)
        assert chart.version == "1.0.0" and chart.source == url.replace(f"{ssh.user}@", "")
        # a changed host key is refused, with the reason
        wrong_host = Credentials(identity=ssh.client_key, known_hosts=ssh.other_known_hosts())
        with pytest.raises(SourceError) as err:
            await source.resolve(spec(url), wrong_host, refresh=True)
        assert str(err.value).startswith(f"ssh host key for 127.0.0.1:{ssh.port} does not match known_hosts")
        # an unknown host, a key the server does not accept, no known_hosts at all
        unknown = Credentials(
            identity=ssh.client_key, known_hosts=b"example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv\n"
        )
        with pytest.raises(SourceError, match=f"ssh host key for 127.0.0.1:{ssh.port} is not in known_hosts"):
            await source.resolve(spec(url), unknown)
        with pytest.raises(SourceError, match=r"ssh authentication failed for .*the deploy key"):
            await source.resolve(spec(url), Credentials(identity=ssh.new_key(), known_hosts=ssh.known_hosts))
        fetches = source.fetches
        with pytest.raises(SourceError, match="ssh needs known_hosts in the secretRef Secret"):
            await source.resolve(spec(url), Credentials(identity=ssh.client_key))
        with pytest.raises(SourceError, match="ssh needs known_hosts"):
            await source.resolve(spec(url), None)
        assert source.fetches == fetches  # refused before any connection
    assert not any(source.tmp_root.iterdir())  # key files are gone
    assert ssh.client_key.decode().strip() not in (source.mirror_path(url) / "config").read_text()


async def test_https_basic_auth_never_shows_the_password(
    repo: GitRepo, tmp_path: Path, source: GitSource
) -> None:
    password = "pa55-w0rd-XYZ-never-shown"
    with HTTPGitServer(repo.serve_root, auth=("alice", password)) as http:
        url = http.url("charts")
        http.latency = 0.3  # slow enough to look at the process list while git runs
        seen: list[str] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                ps = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True).stdout
                seen.append(ps)
                for pid in os.listdir("/proc"):
                    if pid.isdigit():
                        with contextlib.suppress(OSError):
                            seen.append(Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace"))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            chart = await source.resolve(spec(url), Credentials(username="alice", password=password))
        finally:
            stop.set()
            watcher.join()
        assert chart.version == "2.0.0"
        assert any("git" in s and "fetch" in s and "127.0.0.1" in s for s in seen)  # we did see git running
        assert not any(password in s for s in seen)
        assert http.auth_headers  # the password went over HTTP only, in the Authorization header
        http.latency = 0
        for creds, hint in ((Credentials(username="alice", password="wrong-" + password), ""),
                            (None, " (no username/password in a secretRef)")):  # fmt: skip
            with pytest.raises(SourceError) as err:
                await source.resolve(spec(url), creds, refresh=True)
            assert str(err.value) == f"authentication failed for {url}{hint}" and not err.value.transient
            assert password not in repr(err.value)
    with pytest.raises(SourceError, match="must not contain a password"):
        await source.resolve(spec(url.replace("http://", f"http://alice:{password}@")))
    mirror = source.mirror_path(url)
    assert password not in (mirror / "config").read_text()
    assert not any(source.tmp_root.iterdir())


async def test_https_with_a_private_ca(repo: GitRepo, tmp_path: Path, source: GitSource) -> None:
    tls, ca = self_signed_tls(tmp_path / "tls")
    with HTTPGitServer(repo.serve_root, auth=("bob", "t0ken"), tls=tls) as http:
        with pytest.raises(SourceError) as err:
            await source.resolve(spec(http.url("charts")), Credentials(username="bob", password="t0ken"))
        assert str(err.value) == f"TLS certificate of {http.url('charts')} is not trusted " + (
            "(put its CA in ca.crt in the secretRef Secret)"
        )
        creds = Credentials(username="bob", password="t0ken", ca=ca)
        assert (await source.resolve(spec(http.url("charts")), creds)).version == "2.0.0"


# --- dependencies ---------------------------------------------------------------------------------


async def test_chart_with_dependencies(
    repo: GitRepo, daemon: GitDaemon, source: GitSource, tmp_path: Path
) -> None:
    with ChartRepo(tmp_path / "chartrepo") as chartrepo:
        chartrepo.publish("redis", "1.2.0")
        chartrepo.publish("redis", "1.3.0")
        repo.copy_chart("charts/common", name="common", version="0.1.0")
        repo.copy_chart("charts/stack", name="stack", version="1.0.0")
        chart_yaml = yaml.safe_load((repo.work / "charts/stack/Chart.yaml").read_text())
        chart_yaml["dependencies"] = [
            {"name": "redis", "version": "~1.2", "repository": chartrepo.url},
            {"name": "common", "version": "0.1.0", "repository": "file://../common"},
        ]
        repo.write("charts/stack/Chart.yaml", yaml.safe_dump(chart_yaml))
        repo.commit("stack with dependencies")
        url = daemon.url("charts")
        stack = await source.resolve(spec(url, "charts/stack"), refresh=True)
        assert sorted(p.name for p in (stack.path / "charts").iterdir()) == [
            "common-0.1.0.tgz",
            "redis-1.2.0.tgz",
        ]
        assert source.dependency_builds == 1
        rendered = subprocess.run(
            [helm_binary(), "template", "x", str(stack.path)], capture_output=True, text=True
        )
        assert rendered.returncode == 0, rendered.stderr
        # cached per tree: a commit elsewhere changes nothing, not even a rebuild
        repo.write("docs/x.md", "x\n")
        repo.commit("docs")
        again = await source.resolve(spec(url, "charts/stack"), refresh=True)
        assert (again.digest, again.path, source.dependency_builds) == (stack.digest, stack.path, 1)
        # a change in the file:// dependency's directory changes the digest
        repo.write("charts/common/values.yaml", "message: changed\n")
        repo.commit("common changed")
        changed = await source.resolve(spec(url, "charts/stack"), refresh=True)
        assert changed.digest != stack.digest and source.dependency_builds == 2
        # an unsatisfiable dependency: a clear reason
        chart_yaml["dependencies"][0]["version"] = "~9.9"
        repo.write("charts/stack/Chart.yaml", yaml.safe_dump(chart_yaml))
        repo.commit("impossible")
        with pytest.raises(SourceError) as err:
            await source.resolve(spec(url, "charts/stack"), refresh=True)
        assert "chart charts/stack in" in str(err.value) and "dependency build failed:" in str(err.value)
        assert "redis" in str(err.value)


async def test_file_dependency_outside_the_repository_is_refused(
    repo: GitRepo, daemon: GitDaemon, source: GitSource
) -> None:
    repo.copy_chart("chart", name="top")
    repo.write("chart/Chart.yaml", (repo.work / "chart/Chart.yaml").read_text()
               + "dependencies:\n- name: x\n  version: 1.0.0\n  repository: file://../../etc\n")  # fmt: skip
    repo.commit("escape")
    with pytest.raises(SourceError, match=r"dependency x \(file://../../etc\) is outside the repository"):
        await source.resolve(spec(daemon.url("charts"), "chart"), refresh=True)


def stack_with_a_file_dependency(repo: GitRepo) -> None:
    """charts/stack needs `helm dependency build` for charts/common (file://, so no network)."""
    repo.copy_chart("charts/common", name="common", version="0.1.0")
    repo.copy_chart("charts/stack", name="stack", version="1.0.0")
    chart_yaml = yaml.safe_load((repo.work / "charts/stack/Chart.yaml").read_text())
    chart_yaml["dependencies"] = [{"name": "common", "version": "0.1.0", "repository": "file://../common"}]
    repo.write("charts/stack/Chart.yaml", yaml.safe_dump(chart_yaml))
    repo.commit("stack with a file:// dependency")


def helm_shim(tmp_path: Path, dependency_build: str) -> str:
    """A helm that runs `dependency_build` (sh) for `helm dependency build`, the real helm otherwise."""
    shim = tmp_path / "helm-shim"
    shim.write_text(
        f'#!/bin/sh\nif [ "$1" = dependency ]; then\n{dependency_build}\nfi\nexec {helm_binary()} "$@"\n'
    )
    shim.chmod(0o755)
    return str(shim)


async def appears(path: Path) -> None:
    for _ in range(3000):
        if path.exists():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never appeared")


async def test_dependency_build_holds_no_thread_and_never_stops_the_loop(
    repo: GitRepo, daemon: GitDaemon, tmp_path: Path
) -> None:
    """While one chart's `helm dependency build` runs (here: until the test lets it go), the event
    loop goes on and another chart of the same source resolves, even with a single thread."""
    stack_with_a_file_dependency(repo)
    started, release = tmp_path / "started", tmp_path / "release"
    helm = helm_shim(tmp_path, f"touch {started}; while [ ! -e {release} ]; do sleep 0.05; done")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    url = daemon.url("charts")
    async with GitSource(tmp_path / "cache", helm=helm, workers=1, eviction_min_age=0) as source:
        building = asyncio.create_task(source.resolve(spec(url, "charts/stack")))
        tick = asyncio.create_task(ticker())
        try:
            await appears(started)
            before = ticks
            other = await asyncio.wait_for(source.resolve(spec(url, CHART)), 60)  # a hang guard only
            assert other.name == "webapp" and not building.done() and ticks > before
            release.touch()
            stack = await asyncio.wait_for(building, 60)
            assert (stack.path / "charts" / "common-0.1.0.tgz").is_file()
        finally:
            release.touch()
            tick.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(building, 60)


async def test_dependency_build_timeout_kills_helm_and_what_it_started(
    repo: GitRepo, daemon: GitDaemon, tmp_path: Path
) -> None:
    """helm (a plugin, a getter) may start children: on timeout they go too, none is left running."""
    stack_with_a_file_dependency(repo)
    pidfile = tmp_path / "child.pid"
    helm = helm_shim(tmp_path, f"sleep 1000 & echo $! > {pidfile}; wait; exit 1")
    async with GitSource(tmp_path / "cache", helm=helm, helm_timeout=1, eviction_min_age=0) as source:
        with pytest.raises(SourceError, match=r"dependency build timed out after 1s") as err:
            await asyncio.wait_for(source.resolve(spec(daemon.url("charts"), "charts/stack")), 60)
    assert err.value.transient
    child = int(pidfile.read_text())
    try:
        assert await gone(child), "helm's child outlived the timeout"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


# --- the cache -----------------------------------------------------------------------------------


async def test_damaged_or_missing_mirror_is_rebuilt(
    repo: GitRepo, daemon: GitDaemon, source: GitSource
) -> None:
    url = daemon.url("charts")
    first = await source.resolve(spec(url))
    mirror = source.mirror_path(url)

    def destroy_objects() -> None:
        for pack in (mirror / "objects" / "pack").iterdir():
            pack.write_bytes(b"garbage")
        for obj in (mirror / "objects").glob("[0-9a-f][0-9a-f]"):
            shutil.rmtree(obj)

    # objects destroyed: git notices they are missing and fetches them again
    destroy_objects()
    shutil.rmtree(source.export_root)  # and no export to fall back on
    assert (await source.resolve(spec(url, tag="v1.1.0"), refresh=True)).version == "1.1.0"
    # a mirror git cannot open at all: rebuilt from scratch
    (mirror / "config").write_text("[core\n garbage")
    assert (await source.resolve(spec(url, tag="v1.0.0"), refresh=True)).version == "1.0.0"
    assert source.mirror_rebuilds == 1
    # objects gone while the mirror is fresh (no fetch due): noticed when reading a new tree, rebuilt
    destroy_objects()
    assert (await source.resolve(spec(url, branch="dev"))).version == "3.0.0-dev"
    assert source.mirror_rebuilds == 2 and source.fetches == 4
    shutil.rmtree(mirror)  # deleted: created again
    third = await source.resolve(spec(url), refresh=True)
    assert third.revision == first.revision and mirror.is_dir()


async def test_mirrors_are_bounded_least_recently_used_first(
    repo: GitRepo, daemon: GitDaemon, tmp_path: Path
) -> None:
    other = GitRepo(tmp_path / "srv2", "other")
    other.copy_chart(CHART)
    other.commit("other")
    with GitDaemon(other.serve_root) as daemon2:
        async with GitSource(
            tmp_path / "cache", max_mirror_bytes=1, max_export_bytes=1, eviction_min_age=0
        ) as source:
            a, b = daemon.url("charts"), daemon2.url("other")
            await source.resolve(spec(a))
            assert source.mirror_path(a).is_dir()
            chart_b = await source.resolve(spec(b))
            assert not source.mirror_path(a).exists() and source.mirror_path(b).is_dir()
            assert source.stats()["mirror_evictions"] == 1 and chart_b.path.is_dir()
            again = await source.resolve(spec(a))  # evicted: fetched again, works
            assert again.version == "2.0.0" and not source.mirror_path(b).exists()
            assert source.fetches == 3


async def test_cache_survives_a_restart(repo: GitRepo, daemon: GitDaemon, tmp_path: Path) -> None:
    async with GitSource(tmp_path / "cache") as first:
        chart = await first.resolve(spec(daemon.url("charts")))
    async with GitSource(tmp_path / "cache") as second:
        again = await second.resolve(spec(daemon.url("charts")))
        assert again == chart and second.exports == 0 and second.cache_hits == 1
        assert second.fetches == 1  # an incremental fetch into the existing mirror
