"""The benchmark: the controller against bare helm at the same parallelism, on kubesim + real helm.

    make bench                     # or: PATH=.bin:$PATH .venv/bin/python hack/bench.py [options]
    hack/bench.py --large          # N = 10, 100 and 1,000
    hack/bench.py --sizes 100 --profile   # also sample the controller with py-spy (bench/profile/)

For each N (default 10 and 100) it starts, as separate processes on 127.0.0.1:

- bare helm: a fresh kubesim; N `helm upgrade --install --wait=watcher` of the same chart archive and
  values as the controller uses, 4 at a time (`--concurrent`); then one values change (`helm upgrade`);
- the controller: a fresh kubesim, `python -m helmrelease_controller run --concurrent 4`;
  N HelmReleases (`interval: 5s`) created at once by HTTP POSTs; converge = first POST until the
  last one is Ready (a watch on HelmReleases tells); then a steady-state window of
  `--steady-intervals` intervals with nothing changed (helm processes, API requests and writes per
  reconcile from kubesim's request log, controller CPU from /proc); then one values edit until that
  release is Ready at helm revision 2; peak and steady RSS from /proc.

Both sides run helm through the same logging shim (one /bin/sh per helm process each). Each N up to
100 runs both sides `--repeat` (5) times in alternating order; converge times are medians.

The chart repository is tests/charts/webapp packaged once by `helm package` and served by a thread
of this script that counts requests per path (index and archive downloads).

Writes bench/results.json (every number, the machine, the load, the date), bench/results.md (the
table, also printed) and bench/converge.png (matplotlib, from the `bench` extra that `make bench`
installs; skipped with a message without it).
Stdlib + PyYAML only otherwise: the controller, kubesim and helm are driven as a user would.
See docs/benchmarks.md for how to read the numbers.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import http.client
import http.server
import json
import os
import platform
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from procs import kill_group, terminate

ROOT = Path(__file__).resolve().parents[1]
CHART_SRC = ROOT / "tests" / "charts" / "webapp"
CRD = ROOT / "crds" / "helmrelease.yaml"
NAMESPACE_PREFIX = "bench"
CHART_VERSION = "1.0.0"
USER_AGENT = "helmrelease-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
T = TypeVar("T")


class BenchError(Exception):
    """Something the benchmark needs did not happen; the message says what."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def wait_for(fn: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- /proc ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cpu:
    """CPU seconds of one process: its own (user+system) and its waited-for children's."""

    own: float
    children: float


def proc_cpu(pid: int) -> Cpu:
    """utime+stime and cutime+cstime from /proc/<pid>/stat (fields 14-17), in seconds."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": state is fields[0] (field 3)
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return Cpu((utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK)


def proc_mem_mib(pid: int) -> dict[str, float]:
    """VmHWM (peak RSS) and VmRSS of a process, in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(rest.split()[0]) / 1024  # kB
    return out


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# --- the chart repository -------------------------------------------------------------------------


class _RepoHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the repository directory and counts GETs per path; prints nothing."""

    counts: Counter[str]
    lock: threading.Lock

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        with self.lock:
            self.counts[urllib.parse.urlsplit(self.path).path] += 1
        super().do_GET()


class ChartRepository:
    """A directory served over HTTP on 127.0.0.1 from a thread, counting requests per path."""

    def __init__(self, directory: Path) -> None:
        self.counts: Counter[str] = Counter()
        handler = type("Handler", (_RepoHandler,), {"counts": self.counts, "lock": threading.Lock()})
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="chart-repo", daemon=True)
        self.thread.start()

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --- kubesim and its API --------------------------------------------------------------------------


class Api:
    """A small JSON client for kubesim over one keep-alive connection (one per thread)."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return conn

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Authorization": "Bearer kubesim", "User-Agent": USER_AGENT, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        return resp.status, (json.loads(raw) if raw else None)

    def ok(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        status, out = self.request(method, path, body, content_type)
        if status >= 300:
            msg = out.get("message") if isinstance(out, dict) else out
            raise BenchError(f"{method} {path}: HTTP {status}: {msg}")
        return out

    def requests(self) -> list[dict[str, Any]]:
        """kubesim's request log (every API request since the last clear)."""
        return list(self.ok("GET", "/kubesim/requests"))

    def clear_requests(self) -> None:
        self.ok("DELETE", "/kubesim/requests")


def kubesim_argv(kubeconfig: Path) -> list[str]:
    """`python -m kubesim` on an ephemeral port, writing its kubeconfig to `kubeconfig`."""
    return [sys.executable, "-m", "kubesim", "--port", "0", "--kubeconfig-out", str(kubeconfig)]


def spawn_kubesim(
    argv: list[str], work: Path, env: dict[str, str], log_path: Path, timeout: float
) -> tuple[subprocess.Popen[bytes], str]:
    """Start kubesim (`argv`, stderr into `log_path`, its own session): the process and the first
    line it printed within `timeout` seconds (its URL; "" when it printed none)."""
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(
            argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=logf, start_new_session=True
        )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc, proc.stdout.readline().decode().strip() if ready else ""


class KubeSimProcess:
    """`python -m kubesim` on an ephemeral port, writing a kubeconfig into `work`."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = work / "kubeconfig"
        self.log_path = work / "kubesim.log"
        self.proc, line = spawn_kubesim(kubesim_argv(self.kubeconfig), work, env, self.log_path, 30)
        if not line.startswith("http"):
            self.stop()
            raise BenchError(f"kubesim did not print its URL within 30s (log: {self.log_path})")
        self.url = line
        self.api = Api(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        stop_process(self.proc, 10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL to the process group it leads (start_new_session) if it hangs or died."""
    terminate(proc, timeout)
    kill_group(proc)  # leftover children (helm) must not outlive the bench


# --- watching HelmReleases ------------------------------------------------------------------------


def _ready(obj: dict[str, Any]) -> bool:
    """Ready=True for the current generation."""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != (obj.get("metadata") or {}).get("generation"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


class ReadyWatcher:
    """Watches HelmReleases in a thread; records when each first satisfied a predicate.

    A watch (not polling) so that 1,000 objects cost kubesim nothing between changes and the
    time of each change is known to a few milliseconds.
    """

    def __init__(self, api: Api) -> None:
        self.api = api
        self.path = "/apis/helmrelease.dev/v1/helmreleases"  # every namespace; keys are "ns/name"
        self.objects: dict[str, dict[str, Any]] = {}
        self.met: dict[str, float] = {}
        self.predicate: Callable[[dict[str, Any]], bool] = _ready
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        listed = api.ok("GET", self.path)
        self.rv = str(listed["metadata"].get("resourceVersion") or "")
        for obj in listed.get("items") or []:
            self._seen(obj)
        self.thread = threading.Thread(target=self._run, name="hr-watch", daemon=True)
        self.thread.start()

    def expect(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        """Start recording against a new predicate (objects already seen are checked at once)."""
        now = time.monotonic()
        with self.cond:
            self.predicate = predicate
            self.met = {name: now for name, obj in self.objects.items() if predicate(obj)}

    def _seen(self, obj: dict[str, Any]) -> None:
        name = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        now = time.monotonic()
        with self.cond:
            self.objects[name] = obj
            if name not in self.met and self.predicate(obj):
                self.met[name] = now
                self.cond.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            query = urllib.parse.urlencode(
                {"watch": "true", "allowWatchBookmarks": "true", "resourceVersion": self.rv,
                 "timeoutSeconds": "3600"}
            )  # fmt: skip
            conn = self._conn = http.client.HTTPConnection(self.api.host, self.api.port, timeout=None)
            try:
                conn.request("GET", f"{self.path}?{query}", headers={"User-Agent": USER_AGENT})
                resp = conn.getresponse()
                if resp.status == 410:
                    listed = self.api.ok("GET", self.path)
                    self.rv = str(listed["metadata"].get("resourceVersion") or "")
                    for obj in listed.get("items") or []:
                        self._seen(obj)
                    continue
                while not self._stop.is_set():
                    line = resp.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.rv = str(rv)
                    if ev.get("type") in ("ADDED", "MODIFIED"):
                        self._seen(obj)
            except (OSError, http.client.HTTPException, ValueError):
                if self._stop.is_set():
                    return
                time.sleep(0.2)
            finally:
                conn.close()

    def wait(self, names: set[str], timeout: float, alive: Callable[[], None]) -> float:
        """Until every name met the predicate; returns the monotonic time the last one did."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not names <= self.met.keys():
                alive()
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sorted(names - self.met.keys())
                    raise BenchError(
                        f"timed out after {timeout:.0f}s: {len(missing)} HelmRelease(s) not Ready, "
                        f"e.g. {missing[:3]}: {self._describe(missing[0])}"
                    )
                self.cond.wait(min(left, 1.0))
            return max(self.met[n] for n in names)

    def _describe(self, name: str) -> str:
        obj = self.objects.get(name) or {}
        conds = (obj.get("status") or {}).get("conditions") or []
        return (
            "; ".join(f"{c.get('type')}={c.get('status')} {c.get('message', '')}" for c in conds)
            or "no status"
        )

    def stop(self) -> None:
        self._stop.set()
        if self._conn is not None and self._conn.sock is not None:
            with contextlib.suppress(OSError):
                self._conn.sock.shutdown(2)
        self.thread.join(5)


# --- request log analysis -------------------------------------------------------------------------


def client_of(user_agent: str) -> str:
    ua = user_agent.lower()
    for prefix, name in (
        ("helmrelease-controller", "controller"),
        (USER_AGENT, "bench"),
        ("helm", "helm"),
        ("kubectl", "kubectl"),
    ):
        if ua.startswith(prefix):
            return name
    return "other"


def summarize_requests(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Requests and writes per client (controller, helm, bench ...), and the controller's by verb."""
    per: dict[str, Counter[str]] = {}
    verbs: Counter[str] = Counter()
    for e in entries:
        who = client_of(e.get("user_agent") or "")
        c = per.setdefault(who, Counter())
        c["requests"] += 1
        if e.get("method") in WRITE_METHODS:
            c["writes"] += 1
        if who == "controller":
            sub = f"/{e['subresource']}" if e.get("subresource") else ""
            verbs[f"{e.get('verb')} {e.get('resource') or e.get('path')}{sub}"] += 1
    return {
        "by_client": {k: dict(v) for k, v in sorted(per.items())},
        "controller_by_verb": dict(verbs.most_common()),
    }


def reconciles_in(entries: list[dict[str, Any]]) -> int:
    """Reconciles seen in the request log: each one lists its release's Helm storage exactly once per
    step (`GET secrets?labelSelector=owner=helm,name=<release>`), and a no-op reconcile has one step."""
    n = 0
    for e in entries:
        if client_of(e.get("user_agent") or "") != "controller" or e.get("verb") != "list":
            continue
        if e.get("resource") != "secrets":
            continue
        sel = urllib.parse.parse_qs(e.get("query") or "").get("labelSelector", [""])[0]
        if "owner=helm" in sel and "name=" in sel:
            n += 1
    return n


# --- the bench --------------------------------------------------------------------------------------


@dataclass
class Config:
    sizes: list[int]
    concurrent: int
    interval: float
    steady_intervals: float
    out: Path
    work: Path
    profile: bool
    profile_rate: int
    skip_bare: bool
    repeat: int
    per_namespace: int
    timeout_per_release: float
    gitsync: bool = False  # also the GitSync row
    gitsync_only: bool = False  # only the GitSync row, merged into an existing results.json
    gitsync_n: int = 500
    gitsync_environments: int = 5
    drift: str = "disabled"  # spec.driftDetection.mode of every HelmRelease (the drift-check cost row)
    repeat_large: int = 1  # converge runs per side if N > 100 (median)


@dataclass
class Env:
    """Paths and the environment every process of the bench runs with."""

    work: Path
    env: dict[str, str]
    helm: str
    chart_archive: Path
    repo: ChartRepository


def helm_env(work: Path) -> dict[str, str]:
    path = os.environ.get("PATH", "")
    if (ROOT / ".bin").is_dir():
        path = f"{ROOT / '.bin'}{os.pathsep}{path}"
    return {
        **os.environ,
        "PATH": path,
        "HOME": str(work),
        "HELM_CACHE_HOME": str(work / "helm" / "cache"),
        "HELM_CONFIG_HOME": str(work / "helm" / "config"),
        "HELM_DATA_HOME": str(work / "helm" / "data"),
        "KUBECACHEDIR": str(work / "kube-cache"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "PYTHONUNBUFFERED": "1",
    }


def prepare(work: Path) -> Env:
    """Package tests/charts/webapp once (`helm package`, `helm repo index`) and serve it."""
    env = helm_env(work)
    helm = shutil.which("helm", path=env["PATH"])
    if helm is None or shutil.which("kubectl", path=env["PATH"]) is None:
        raise BenchError(f"helm or kubectl not found on PATH or in {ROOT / '.bin'}: run `make tools` first")
    repo_dir = work / "repo"
    repo_dir.mkdir(parents=True)
    run([helm, "package", str(CHART_SRC), "--version", CHART_VERSION, "--destination", str(repo_dir)], env)
    run([helm, "repo", "index", str(repo_dir)], env)
    archive = repo_dir / f"webapp-{CHART_VERSION}.tgz"
    if not archive.is_file():
        raise BenchError(f"helm package did not write {archive}")
    return Env(work, env, helm, archive, ChartRepository(repo_dir))


def run(argv: list[str], env: dict[str, str], input: bytes | None = None, timeout: float = 600) -> bytes:
    proc = subprocess.run(argv, env=env, input=input, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[:4])} ... exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return proc.stdout


def values_for(name: str, edit: int = 0) -> dict[str, Any]:
    return {"message": f"hello from {name}" + (f" (edit {edit})" if edit else "")}


@dataclass(frozen=True)
class Release:
    """One HelmRelease and the Helm release it makes (same name, same namespace)."""

    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def releases_for(n: int, per_namespace: int) -> list[Release]:
    """N releases, `per_namespace` to a namespace (bench-000, bench-001 ...); 0: all in one."""
    width = max(4, len(str(n - 1)))
    per = per_namespace if per_namespace > 0 else n
    nwidth = max(3, len(str((n - 1) // per)))
    return [Release(f"{NAMESPACE_PREFIX}-{i // per:0{nwidth}d}", f"app-{i:0{width}d}") for i in range(n)]


def setup_cluster(sim: KubeSimProcess, env: Env, releases: list[Release], with_crd: bool) -> None:
    for ns in sorted({r.namespace for r in releases}):
        sim.api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    if with_crd:
        run(["kubectl", "--kubeconfig", str(sim.kubeconfig), "apply", "-f", str(CRD)], env.env)
        wait_for(
            lambda: sim.api.request("GET", "/apis/helmrelease.dev/v1/helmreleases")[0] == 200,
            20,
            "the HelmRelease CRD to be served",
        )


# --- bare helm ------------------------------------------------------------------------------------


def helm_shim(work: Path, helm: str, call_log: Path) -> Path:
    """`work/shim/helm`: logs its arguments, then execs the real helm. Both sides run helm through
    it, so the one extra /bin/sh per helm process is paid equally and the counts are independent."""
    shim_dir = work / "shim"
    shim_dir.mkdir(parents=True, exist_ok=True)
    call_log.touch()
    shim = shim_dir / "helm"
    shim.write_text(f'#!/bin/sh\necho "$*" >> "{call_log}"\nexec "{helm}" "$@"\n')
    shim.chmod(0o755)
    return shim


def bare_helm_argv(env: Env, helm: Path, kubeconfig: Path, rel: Release) -> list[str]:
    """What the controller runs for an install, minus its own --labels/--description: same chart
    archive, values on stdin, `--wait=watcher --wait-for-jobs` (the controller's wait on helm 4)."""
    return [
        str(helm), "upgrade", rel.name, str(env.chart_archive), "--install",
        "--namespace", rel.namespace, "--history-max", "5", "--timeout", "5m",
        "--values", "-", "--output", "json", "--wait=watcher", "--wait-for-jobs",
        "--kubeconfig", str(kubeconfig),
    ]  # fmt: skip


def bench_bare(cfg: Config, env: Env, n: int, work: Path, profile_dir: Path | None = None) -> dict[str, Any]:
    """N `helm upgrade --install --wait` with `cfg.concurrent` at a time, then one values change;
    with `profile_dir`, kubesim is sampled over the converge (to compare with the controller's)."""
    sim = KubeSimProcess(work, env.env)
    try:
        releases = releases_for(n, cfg.per_namespace)
        setup_cluster(sim, env, releases, with_crd=False)
        call_log = work / "helm-calls.log"
        helm = helm_shim(work, env.helm, call_log)
        before = os.times()
        sim_cpu0 = proc_cpu(sim.pid)

        def one(rel: Release) -> float:
            t = time.monotonic()
            values = json.dumps(values_for(rel.name)).encode()
            run(bare_helm_argv(env, helm, sim.kubeconfig, rel), env.env, values)
            return time.monotonic() - t

        sim_prof = None
        if profile_dir:
            sim_prof = Profiler(sim.pid, profile_dir / f"converge-kubesim-bare-{n}.txt", cfg.profile_rate)
        t0 = time.monotonic()
        pool = ThreadPoolExecutor(cfg.concurrent)
        try:
            durations = list(pool.map(one, releases))
        finally:  # on an error or Ctrl-C, start no more helm processes
            pool.shutdown(wait=True, cancel_futures=True)
        wall = time.monotonic() - t0
        sim_profile = sim_prof.stop() if sim_prof else None
        processes = len(call_log.read_text().splitlines())  # the converge's, without the change below
        after = os.times()
        sim_cpu1 = proc_cpu(sim.pid)
        # One change among N: the same edit the controller gets, as one `helm upgrade`.
        t1 = time.monotonic()
        edited = values_for(releases[0].name, edit=1)
        run(bare_helm_argv(env, helm, sim.kubeconfig, releases[0]), env.env, json.dumps(edited).encode())
        change = time.monotonic() - t1
        return {
            "converge_s": round(wall, 3),
            "helm_cpu_s": round(
                (after.children_user - before.children_user)
                + (after.children_system - before.children_system),
                2,
            ),
            "kubesim_cpu_s": round(sim_cpu1.own - sim_cpu0.own, 2),
            "per_release_s": stats(durations),
            "helm_busy_s": round(sum(durations), 2),
            "helm_processes": processes,
            "one_change_s": round(change, 3),
            **({"profile": {"kubesim_converge": sim_profile}} if sim_profile else {}),
        }
    finally:
        sim.stop()


# --- the controller -------------------------------------------------------------------------------


class Profiler:
    """py-spy record of one process for one phase (raw collapsed stacks), stopped with SIGINT."""

    def __init__(self, pid: int, out: Path, rate: int) -> None:
        self.out = out
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.proc: subprocess.Popen[bytes] | None = None
        if not Path(exe).exists():
            log("py-spy not found (pip install py-spy): no profile")
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--gil",
                "--format",
                "raw",
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)

    def stop(self) -> dict[str, Any] | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not self.out.exists():
            log(f"py-spy wrote no profile: {err.decode(errors='replace')[-300:]}")
            return None
        return top_functions(self.out)


def top_functions(raw: Path, top: int = 25) -> dict[str, Any]:
    """From py-spy's collapsed stacks: samples, and the functions with most self and total samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        samples += count
        leaf = frames[-1]
        if "select (selectors.py" in leaf:
            idle += count
        own[leaf] += count
        for frame in set(frames):
            total[frame] += count

    def fmt(c: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": f, "samples": s, "pct": round(100 * s / samples, 1) if samples else 0.0}
            for f, s in c.most_common(top)
        ]

    return {"file": str(raw), "samples": samples, "idle_samples": idle, "self": fmt(own), "total": fmt(total)}


class ControllerRun:
    """The controller process with a counting helm shim, against one kubesim."""

    def __init__(
        self, cfg: Config, env: Env, sim: KubeSimProcess, work: Path, extra: tuple[str, ...] = ()
    ) -> None:
        self.work = work
        self.call_log = work / "helm-calls.log"
        shim_dir = helm_shim(work, env.helm, self.call_log).parent
        self.log_path = work / "controller.log"
        cenv = {**env.env, "PATH": f"{shim_dir}{os.pathsep}{env.env['PATH']}"}
        argv = [
            sys.executable, "-m", "helmrelease_controller", "run",
            "--kubeconfig", str(sim.kubeconfig),
            "--cache-dir", str(work / "cache"),
            "--concurrent", str(cfg.concurrent),
            "--log-format", "json",
            *extra,
        ]  # fmt: skip
        self.metrics_url = ""
        if controller_supports("--metrics-addr", cenv):
            # Loopback only (the default listens on every interface, port 8080): a free port of ours.
            port = free_port()
            argv += ["--metrics-addr", f"127.0.0.1:{port}"]
            self.metrics_url = f"http://127.0.0.1:{port}/metrics"
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                argv, cwd=work, env=cenv, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
            )

        def started() -> bool:
            self.alive()
            return "informer synced" in self.logs()

        wait_for(started, 60, "the controller to start", 0.1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.logs().splitlines()[-20:])
            raise BenchError(f"the controller exited with status {self.proc.returncode}:\n{tail}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def helm_version_probes(self) -> int:
        return sum(1 for ln in self.call_log.read_text().splitlines() if ln.startswith("version"))

    def helm_calls(self) -> list[str]:
        """helm processes started (the one-off `helm version` probe excluded)."""
        lines = self.call_log.read_text().splitlines()
        return [ln for ln in lines if ln and not ln.startswith("version")]

    def metrics(self) -> dict[str, float]:
        """The controller's Prometheus metrics (families summed over labels); {} when not served."""
        if not self.metrics_url:
            return {}
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=10) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            with contextlib.suppress(ValueError):
                out[name] = out.get(name, 0.0) + float(value)
        return out

    def helm_durations(self) -> list[float]:
        """Seconds each helm action took, from the controller's "install ok"/"upgrade ok" log lines."""
        out = []
        for line in self.logs().splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                rec = json.loads(line)
                if rec.get("msg", "").endswith((" ok", " failed")) and "duration" in rec:
                    out.append(float(rec["duration"]))
        return out

    def log_counts(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for line in self.logs().splitlines():
            with contextlib.suppress(ValueError):
                rec = json.loads(line)
                out[f"{rec.get('level')}: {rec.get('msg')}"] += 1
        return out

    def stop(self) -> None:
        stop_process(self.proc, 30)


@functools.cache
def _run_help(python: str, pythonpath: str) -> str:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.run(
        [python, "-m", "helmrelease_controller", "run", "--help"], env=env, capture_output=True, text=True
    )
    return proc.stdout


def controller_supports(flag: str, env: dict[str, str]) -> bool:
    return flag in _run_help(sys.executable, env.get("PYTHONPATH", ""))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hr_object(rel: Release, repo_url: str, interval: float, drift: str = "disabled") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": f"{interval:g}s",
        "chart": {"repository": {"url": repo_url, "name": "webapp", "version": CHART_VERSION}},
        "values": values_for(rel.name),
    }
    if drift != "disabled":
        spec["driftDetection"] = {"mode": drift}
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": rel.name, "namespace": rel.namespace},
        "spec": spec,
    }


def bench_controller(
    cfg: Config, env: Env, n: int, work: Path, profile_dir: Path | None, converge_only: bool = False
) -> dict[str, Any]:
    """Converge N HelmReleases; unless `converge_only`, then the steady state and one change."""
    sim = KubeSimProcess(work, env.env)
    ctl: ControllerRun | None = None
    watcher: ReadyWatcher | None = None
    try:
        releases = releases_for(n, cfg.per_namespace)
        setup_cluster(sim, env, releases, with_crd=True)
        ctl = ControllerRun(cfg, env, sim, work)
        watcher = ReadyWatcher(sim.api)
        out = converge_controller(cfg, env, releases, work, sim, ctl, watcher, profile_dir)
        if not converge_only:
            out["steady"] = steady_state(cfg, n, sim, ctl, profile_dir)
            out.update(one_change(watcher, sim, ctl, releases[0]))
            mem_end = proc_mem_mib(ctl.pid)
            out["rss_mib"]["peak"] = round(mem_end.get("VmHWM", 0), 1)
            out["chart_repo"] = chart_fetches(env, out.pop("_repo0"))
        else:
            out.pop("_repo0")
        out["helm_busy_all_phases_s"] = round(sum(ctl.helm_durations()), 2)
        out["log_lines"] = dict(ctl.log_counts().most_common(15))
        return out
    finally:
        stop_all(watcher, ctl, sim)


def hr_path(rel: Release) -> str:
    return f"/apis/helmrelease.dev/v1/namespaces/{rel.namespace}/helmreleases"


def converge_controller(
    cfg: Config,
    env: Env,
    releases: list[Release],
    work: Path,
    sim: KubeSimProcess,
    ctl: ControllerRun,
    watcher: ReadyWatcher,
    profile_dir: Path | None,
) -> dict[str, Any]:
    """1. Every HelmRelease created at once (HTTP POSTs), until all are Ready."""
    n = len(releases)
    repo0 = env.repo.snapshot()
    sim.api.clear_requests()
    cpu0, sim_cpu0 = proc_cpu(ctl.pid), proc_cpu(sim.pid)
    mem_idle = proc_mem_mib(ctl.pid)
    prof = sim_prof = None
    if profile_dir:
        prof = Profiler(ctl.pid, profile_dir / f"converge-{n}.txt", cfg.profile_rate)
        sim_prof = Profiler(sim.pid, profile_dir / f"converge-kubesim-{n}.txt", cfg.profile_rate)
    t0 = time.monotonic()
    (work / "t0").write_text(f"{time.time()}\n")  # for reading converge-requests.json by hand
    for rel in releases:
        sim.api.ok("POST", hr_path(rel), hr_object(rel, env.repo.url, cfg.interval, cfg.drift))
    created = time.monotonic() - t0
    keys = {rel.key for rel in releases}
    last = watcher.wait(keys, 60 + cfg.timeout_per_release * n, ctl.alive)
    converge = last - t0
    cpu1, sim_cpu1 = proc_cpu(ctl.pid), proc_cpu(sim.pid)
    mem = proc_mem_mib(ctl.pid)
    profile = prof.stop() if prof else None
    sim_profile = sim_prof.stop() if sim_prof else None
    ready_times = sorted(watcher.met[k] - t0 for k in keys)
    requests = sim.api.requests()
    (work / "converge-requests.json").write_text(json.dumps(requests))
    helm = len(ctl.helm_calls())
    helm_busy = sum(ctl.helm_durations())
    log(f"  controller converged {n} in {converge:.1f}s ({helm} helm processes)")
    return {
        "converge_s": round(converge, 3),
        "helm_busy_s": round(helm_busy, 2),
        "create_s": round(created, 3),
        "ready_at_s": {
            "p50": pct(ready_times, 50),
            "p90": pct(ready_times, 90),
            "max": pct(ready_times, 100),
        },
        "controller_cpu_s": round(cpu1.own - cpu0.own, 2),
        "helm_cpu_s": round(cpu1.children - cpu0.children, 2),
        "kubesim_cpu_s": round(sim_cpu1.own - sim_cpu0.own, 2),
        "helm_processes": helm,
        "helm_version_probes": ctl.helm_version_probes(),
        "converge_requests": summarize_requests(requests),
        "rss_mib": {
            "idle": round(mem_idle.get("VmRSS", 0), 1),
            "after_converge": round(mem.get("VmRSS", 0), 1),
            "peak": round(mem.get("VmHWM", 0), 1),
        },
        "profile": {"converge": profile, "kubesim_converge": sim_profile},
        "_repo0": repo0,
    }


def steady_state(
    cfg: Config, n: int, sim: KubeSimProcess, ctl: ControllerRun, profile_dir: Path | None
) -> dict[str, Any]:
    """2. Nothing changes for `steady_intervals` intervals: what does the controller still do?"""
    time.sleep(1.0)  # let the last status writes and events of the converge land
    sim.api.clear_requests()
    helm0 = len(ctl.helm_calls())
    metrics0 = ctl.metrics()
    cpu0, sim0 = proc_cpu(ctl.pid), proc_cpu(sim.pid)
    prof = Profiler(ctl.pid, profile_dir / f"steady-{n}.txt", cfg.profile_rate) if profile_dir else None
    t0 = time.monotonic()
    deadline = t0 + cfg.interval * cfg.steady_intervals
    while time.monotonic() < deadline:
        ctl.alive()
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    wall = time.monotonic() - t0
    cpu1, sim1 = proc_cpu(ctl.pid), proc_cpu(sim.pid)
    metrics1 = ctl.metrics()
    profile = prof.stop() if prof else None
    entries = sim.api.requests()
    helm = len(ctl.helm_calls()) - helm0
    mem = proc_mem_mib(ctl.pid)
    requests = summarize_requests(entries)
    mine = requests["by_client"].get("controller", {})
    cpu = cpu1.own - cpu0.own

    def delta(name: str) -> int | None:
        return metric_delta(metrics0, metrics1, name)

    # The controller's own count; a no-op reconcile sends no request since Helm's storage is
    # watched, so the request log (one storage list per reconcile before) only counts older builds.
    by_metrics = delta("helmrelease_reconcile_duration_seconds_count")
    reconciles = by_metrics if by_metrics is not None else reconciles_in(entries)

    log(
        f"  steady: {reconciles} reconciles, {helm} helm, {mine.get('requests', 0)} requests, "
        f"{mine.get('writes', 0)} writes, {cpu:.2f}s CPU"
    )
    return {
        "window_s": round(wall, 2),
        "reconciles": reconciles,
        "expected_reconciles": round(n * wall / cfg.interval),
        "reconciles_by_metrics": delta("helmrelease_reconcile_duration_seconds_count"),
        "helm_processes_by_metrics": delta("helmrelease_helm_processes_started_total"),
        "helm_processes": helm,
        "api_requests": mine.get("requests", 0),
        "api_writes": mine.get("writes", 0),
        "api_requests_per_reconcile": ratio(mine.get("requests", 0), reconciles, 3),
        "api_writes_per_reconcile": ratio(mine.get("writes", 0), reconciles, 3),
        "controller_cpu_s": round(cpu, 2),
        "controller_cpu_s_per_1000_reconciles": ratio(cpu * 1000, reconciles, 2),
        "kubesim_cpu_s": round(sim1.own - sim0.own, 2),
        "rss_mib": round(mem.get("VmRSS", 0), 1),
        "requests": requests,
        "profile": profile,
    }


def one_change(
    watcher: ReadyWatcher, sim: KubeSimProcess, ctl: ControllerRun, rel: Release
) -> dict[str, Any]:
    """3. A values edit of one HelmRelease among N, until it is Ready at helm revision 2."""
    gen = int(watcher.objects[rel.key]["metadata"]["generation"])

    def upgraded(obj: dict[str, Any]) -> bool:
        hist = (obj.get("status") or {}).get("history") or [{}]
        return (
            obj["metadata"]["name"] == rel.name
            and obj["metadata"].get("namespace") == rel.namespace
            and int(obj["metadata"].get("generation") or 0) > gen
            and _ready(obj)
            and hist[0].get("revision") == 2
        )

    watcher.expect(upgraded)
    helm0 = len(ctl.helm_calls())
    t0 = time.monotonic()
    patch = {"spec": {"values": values_for(rel.name, edit=1)}}
    sim.api.ok("PATCH", f"{hr_path(rel)}/{rel.name}", patch, "application/merge-patch+json")
    took = watcher.wait({rel.key}, 120, ctl.alive) - t0
    log(f"  one change: Ready at revision 2 after {took:.2f}s")
    return {"one_change_s": round(took, 3), "one_change_helm_processes": len(ctl.helm_calls()) - helm0}


def metric_delta(before: dict[str, float], after: dict[str, float], name: str) -> int | None:
    if name not in before or name not in after:
        return None
    return round(after[name] - before[name])


def chart_fetches(env: Env, before: Counter[str]) -> dict[str, Any]:
    """5. Requests the chart repository saw from this controller (one chart version in play)."""
    now = env.repo.snapshot()
    archive = "/" + env.chart_archive.name
    downloads = now[archive] - before[archive]
    return {
        "archive_downloads": downloads,
        "distinct_versions": 1,
        "downloads_per_version": downloads,
        "index_gets": now["/index.yaml"] - before["/index.yaml"],
    }


# --- GitSync: one push among 500 HelmReleases (--gitsync) ------------------------------------------

GITSYNC_NAMESPACE = "gitops"
GITSYNC_TOKEN = "bench-push-token"


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}  # fmt: skip
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise BenchError(f"git {' '.join(args[:2])} exited {proc.returncode}: {proc.stderr[-300:]}")
    return proc.stdout.strip()


class GitServer:
    """A bare repository served by `git daemon` on 127.0.0.1, and a work tree that pushes to it."""

    def __init__(self, work: Path) -> None:
        self.root, self.tree = work / "git-serve", work / "git-work"
        self.root.mkdir(parents=True)
        self.tree.mkdir(parents=True)
        git(self.root, "init", "-q", "--bare", "-b", "main", "platform.git")
        git(self.tree, "init", "-q", "-b", "main")
        git(self.tree, "remote", "add", "origin", str(self.root / "platform.git"))
        self.port = free_port()
        argv = ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={self.root}",
                "--listen=127.0.0.1", f"--port={self.port}", str(self.root)]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 20, "git daemon to listen")
        self.url = f"git://127.0.0.1:{self.port}/platform.git"

    def commit_and_push(self, message: str) -> str:
        git(self.tree, "add", "-A")
        git(self.tree, "commit", "-q", "-m", message)
        git(self.tree, "push", "-q", "origin", "main")
        return git(self.tree, "rev-parse", "HEAD")

    def stop(self) -> None:
        stop_process(self.proc, 5)


def gitsync_release(rel: Release, repo_url: str, edit: int = 0) -> str:
    """One HelmRelease file as a user commits it (namespace = its environment)."""
    return (
        json.dumps(
            {
                "apiVersion": "helmrelease.dev/v1",
                "kind": "HelmRelease",
                "metadata": {"name": rel.name, "namespace": rel.namespace},
                "spec": {
                    "interval": "10m",  # nothing periodic muddies the push's numbers
                    "chart": {"repository": {"url": repo_url, "name": "webapp", "version": CHART_VERSION}},
                    "values": values_for(rel.name, edit),
                },
            },
            indent=2,
        )
        + "\n"
    )  # JSON is YAML: the same bytes as a hand-written file, without a YAML dependency here


def gitsync_releases(n: int, environments: int) -> list[Release]:
    per = max(1, -(-n // environments))
    return [Release(f"env-{i // per}", f"app-{i:04d}") for i in range(n)]


def gitsync_path(rel: Release) -> str:
    return f"releases/{rel.namespace}/{rel.name}.yaml"


def gitsync_status(sim: KubeSimProcess) -> dict[str, Any]:
    path = f"/apis/helmrelease.dev/v1/namespaces/{GITSYNC_NAMESPACE}/gitsyncs/releases"
    status, obj = sim.api.request("GET", path)
    return dict((obj or {}).get("status") or {}) if status == 200 else {}


def bench_gitsync(cfg: Config, env: Env, n: int, environments: int, work: Path) -> dict[str, Any]:
    """One GitSync applying N HelmReleases from `environments` folders, installed by the same
    controller; then one push changing one file, announced by the signed push webhook: time until
    that HelmRelease is Ready at helm revision 2, API writes to the other N-1, the sync's CPU."""
    sim = KubeSimProcess(work, env.env)
    server = GitServer(work)
    ctl: ControllerRun | None = None
    watcher: ReadyWatcher | None = None
    try:
        releases = gitsync_releases(n, environments)
        for ns in sorted({r.namespace for r in releases} | {GITSYNC_NAMESPACE}):
            sim.api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        run(["kubectl", "--kubeconfig", str(sim.kubeconfig), "apply", "-k", str(ROOT / "crds")], env.env)
        wait_for(
            lambda: sim.api.request("GET", "/apis/helmrelease.dev/v1/gitsyncs")[0] == 200,
            20,
            "the GitSync CRD to be served",
        )
        token = base64.b64encode(GITSYNC_TOKEN.encode()).decode()
        sim.api.ok(
            "POST",
            f"/api/v1/namespaces/{GITSYNC_NAMESPACE}/secrets",
            {"metadata": {"name": "push"}, "data": {"token": token}},
        )
        for rel in releases:
            path = server.tree / gitsync_path(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(gitsync_release(rel, env.repo.url))
        first = server.commit_and_push(f"{n} releases in {environments} environments")
        ctl = ControllerRun(cfg, env, sim, work, ("--gitsync-cross-namespace",))
        if not ctl.metrics_url:
            raise BenchError("the controller does not serve --metrics-addr: no push webhook to call")
        watcher = ReadyWatcher(sim.api)

        # 1. The first commit: the GitSync applies N HelmReleases, the controller installs them.
        t0 = time.monotonic()
        gitsync = {
            "apiVersion": "helmrelease.dev/v1",
            "kind": "GitSync",
            "metadata": {"name": "releases", "namespace": GITSYNC_NAMESPACE},
            "spec": {
                "url": server.url,
                "ref": {"branch": "main"},
                "path": "releases",
                "interval": "1h",  # only the push webhook makes it look again
                "timeout": "5m",
                "webhook": {"secretRef": {"name": "push"}},
            },
        }
        sim.api.ok("POST", f"/apis/helmrelease.dev/v1/namespaces/{GITSYNC_NAMESPACE}/gitsyncs", gitsync)
        wait_for(
            lambda: gitsync_status(sim).get("lastAppliedRevision") == f"main@sha1:{first}",
            120,
            "the first commit applied",
        )
        applied = time.monotonic() - t0
        all_ready = watcher.wait({r.key for r in releases}, 60 + cfg.timeout_per_release * n, ctl.alive) - t0
        log(f"  gitsync: first commit applied in {applied:.1f}s, {n} Ready after {all_ready:.1f}s")
        time.sleep(2.0)  # the last status writes of the installs land

        # 2. Pushes changing one file each (one per environment, up to GITSYNC_PUSHES): medians.
        step = max(1, len(releases) // GITSYNC_PUSHES)
        pushes = [
            gitsync_push(env, sim, server, ctl, watcher, rel)
            for rel in releases[step // 2 :: step][:GITSYNC_PUSHES]
        ]

        def mid(key: str) -> float:
            return round(median([p[key] for p in pushes]), 3)

        return {
            "n": n,
            "environments": environments,
            "first_commit_applied_s": round(applied, 2),
            "first_commit_all_ready_s": round(all_ready, 2),
            "pushes": len(pushes),
            "push_to_applied_s": mid("push_to_applied_s"),
            "push_to_ready_s": mid("push_to_ready_s"),
            "api_writes_other_releases": sum(p["api_writes_other_releases"] for p in pushes),
            "sync_wall_s": mid("sync_wall_s"),
            "sync_controller_cpu_s": mid("sync_controller_cpu_s"),
            "rss_mib": round(proc_mem_mib(ctl.pid).get("VmRSS", 0), 1),
            "per_push": pushes,
        }
    finally:
        stop_all(watcher, ctl, server, sim)


GITSYNC_PUSHES = 3


def gitsync_push(
    env: Env,
    sim: KubeSimProcess,
    server: GitServer,
    ctl: ControllerRun,
    watcher: ReadyWatcher,
    changed: Release,
) -> dict[str, Any]:
    """One push changing `changed`'s file, announced by the signed push webhook: until the commit is
    applied (the GitSync's status) and until that HelmRelease is Ready at its next helm revision."""
    obj = watcher.objects[changed.key]
    gen = int(obj["metadata"]["generation"])
    revision = int((((obj.get("status") or {}).get("history") or [{}])[0]).get("revision") or 0)

    def upgraded(obj: dict[str, Any]) -> bool:
        hist = (obj.get("status") or {}).get("history") or [{}]
        return (
            f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}" == changed.key
            and int(obj["metadata"].get("generation") or 0) > gen
            and _ready(obj)
            and hist[0].get("revision") == revision + 1
        )

    watcher.expect(upgraded)
    (server.tree / gitsync_path(changed)).write_text(gitsync_release(changed, env.repo.url, edit=1))
    metrics0 = ctl.metrics()
    sim.api.clear_requests()
    helm0 = len(ctl.helm_calls())
    cpu0 = proc_cpu(ctl.pid)
    t0 = time.monotonic()
    commit = server.commit_and_push(f"{changed.key}: one value")
    pushed = time.monotonic() - t0
    body = json.dumps({"ref": "refs/heads/main", "after": commit}).encode()
    signature = "sha256=" + hmac.new(GITSYNC_TOKEN.encode(), body, hashlib.sha256).hexdigest()
    hook = ctl.metrics_url.replace("/metrics", f"/hooks/gitsync/{GITSYNC_NAMESPACE}/releases")
    req = urllib.request.Request(
        hook, data=body, method="POST",
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        if resp.status != 202:
            raise BenchError(f"push webhook answered {resp.status}")
    wait_for(
        lambda: gitsync_status(sim).get("lastAppliedRevision") == f"main@sha1:{commit}",
        60,
        "the pushed commit applied",
        0.02,
    )
    synced = time.monotonic() - t0
    cpu1 = proc_cpu(ctl.pid)
    ready = watcher.wait({changed.key}, 120, ctl.alive) - t0
    time.sleep(2.0)  # anything the push caused elsewhere has time to show in the request log
    metrics1 = ctl.metrics()
    entries = sim.api.requests()
    hr_writes = [
        e for e in entries
        if e.get("method") in WRITE_METHODS and str(e.get("resource") or "").startswith("helmreleases")
    ]  # fmt: skip
    others = [e for e in hr_writes if f"{e.get('namespace')}/{e.get('name')}" != changed.key]
    sync_wall = (metrics1.get("helmrelease_gitsync_sync_duration_seconds_sum", 0.0)
                 - metrics0.get("helmrelease_gitsync_sync_duration_seconds_sum", 0.0))  # fmt: skip
    log(
        f"  gitsync push ({changed.key}): applied after {synced:.2f}s, Ready after {ready:.2f}s; "
        f"{len(others)} writes to the other HelmReleases; controller CPU {cpu1.own - cpu0.own:.2f}s"
    )
    return {
        "changed": changed.key,
        "push_s": round(pushed, 3),
        "push_to_applied_s": round(synced, 3),
        "push_to_ready_s": round(ready, 3),
        "api_writes_other_releases": len(others),
        "api_writes_changed_release": len(hr_writes) - len(others),
        "api_writes_by_verb": dict(
            Counter(
                f"{e.get('verb')} {e.get('resource')}"
                + (f"/{e['subresource']}" if e.get("subresource") else "")
                for e in entries
                if e.get("method") in WRITE_METHODS and client_of(e.get("user_agent") or "") == "controller"
            ).most_common()
        ),
        "sync_wall_s": round(sync_wall, 3),
        "sync_controller_cpu_s": round(cpu1.own - cpu0.own, 3),
        "sync_children_cpu_s": round(cpu1.children - cpu0.children, 3),
        "helm_processes": len(ctl.helm_calls()) - helm0,
    }


def gitsync_markdown(g: dict[str, Any]) -> str:
    return (
        f"\nGitSync (`--gitsync`): one GitSync, {g['n']} HelmReleases in {g['environments']} environment "
        f"folders; a push changing one file, announced by the signed push webhook "
        f"(medians of {g.get('pushes', 1)} pushes, each in another folder).\n\n"
        "| | value | target |\n|---|---:|---|\n"
        f"| push -> changed HelmRelease Ready (s) | {fmt(g['push_to_ready_s'])} | |\n"
        f"| push -> commit applied (s) | {fmt(g['push_to_applied_s'])} | |\n"
        f"| API writes to the other {g['n'] - 1} HelmReleases (all pushes) "
        f"| {g['api_writes_other_releases']} | 0 |\n"
        f"| the sync's CPU: controller process, push -> applied (s) | {fmt(g['sync_controller_cpu_s'])} | |\n"
        f"| the sync's wall time, metric (s) | {fmt(g['sync_wall_s'])} | |\n"
        f"| first commit: {g['n']} applied (s) | {fmt(g['first_commit_applied_s'])} | |\n"
        f"| first commit: {g['n']} installed and Ready (s) | {fmt(g['first_commit_all_ready_s'])} | |\n"
    )


# --- results ----------------------------------------------------------------------------------------


def ratio(a: float, b: float, digits: int) -> float | None:
    return round(a / b, digits) if b else None


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return round(sorted_values[i], 3)


def stats(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {"mean": round(sum(s) / len(s), 3), "p50": pct(s, 50), "max": round(s[-1], 3)} if s else {}


def git_describe() -> dict[str, Any]:
    def git(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        return ""

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def machine_info(env: Env) -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_gib = 0.0
    with contextlib.suppress(OSError, ValueError):
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    helm_version = run([env.helm, "version", "--template", "{{ .Version }}"], env.env).decode().strip()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "helm": helm_version,
        "git": git_describe(),
    }


def fmt(v: Any, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v}{unit}"


def markdown(results: dict[str, Any]) -> str:
    gitsync = gitsync_markdown(results["gitsync"]) if results.get("gitsync") else ""
    sections = gitsync + scale_markdown(results)
    if not results.get("runs"):
        return sections.lstrip("\n")
    return converge_markdown(results) + sections


def scale_markdown(results: dict[str, Any]) -> str:
    """The "scale" and "sharded" sections (hack/bench_scale.py writes them), if results.json has them."""
    if not (results.get("scale") or results.get("sharded")):
        return ""
    import bench_scale  # here, not at the top: bench_scale imports this module

    return bench_scale.markdown(results)


def converge_markdown(results: dict[str, Any]) -> str:
    runs = results["runs"]
    sizes = [r["n"] for r in runs]
    m, load = results["machine"], results["load"]
    head = "| | " + " | ".join(f"N = {n:,}" for n in sizes) + " | target |"
    sep = "|---|" + "---:|" * len(sizes) + "---|"

    def ctl(r: dict[str, Any]) -> dict[str, Any]:
        return dict(r["controller"])

    def steady(r: dict[str, Any]) -> dict[str, Any]:
        return dict(r["controller"]["steady"])

    def bare(r: dict[str, Any]) -> dict[str, Any]:
        return dict(r.get("bare") or {})

    def converge(side: dict[str, Any]) -> str:
        if not side:
            return "n/a"
        samples = side.get("converge_samples_s") or []
        more = f" ({', '.join(f'{v:.1f}' for v in samples)})" if len(samples) > 1 else ""
        return fmt(side["converge_s"]) + more

    def both(key: str) -> Callable[[dict[str, Any]], str]:
        return lambda r: f"{fmt(ctl(r).get(key))} / {fmt(bare(r).get(key))}"

    rows: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
        ("converge, controller (s)", lambda r: converge(ctl(r)), ""),
        ("converge, bare helm (s)", lambda r: converge(bare(r)), ""),
        ("ratio controller / bare helm", lambda r: r.get("converge_ratio"), "<= 1.10 at N = 100 and 1,000"),
        ("ratio, each back-to-back pair (median)", pair_ratios, ""),
        ("per release: helm process, controller / bare (ms)", both("helm_per_release_ms"), ""),
        ("per release: time outside helm, controller / bare (ms)", both("own_per_release_ms"), ""),
        ("CPU ratio (controller + its helm + kubesim) / (helm + kubesim)", lambda r: r.get("cpu_ratio"), ""),
        ("controller CPU during converge (s)", lambda r: ctl(r)["controller_cpu_s"], ""),
        ("helm CPU: controller's / bare (s)", both("helm_cpu_s"), ""),
        ("kubesim CPU: controller / bare (s)", both("kubesim_cpu_s"), ""),
        ("steady: no-op reconciles (window)",
         lambda r: f"{steady(r)['reconciles']} ({steady(r)['window_s']:.0f}s)", ""),
        ("steady: helm processes", lambda r: steady(r)["helm_processes"], "0"),
        ("steady: API requests / reconcile", lambda r: steady(r)["api_requests_per_reconcile"], ""),
        ("steady: API writes / reconcile", lambda r: steady(r)["api_writes_per_reconcile"], "0"),
        ("steady: controller CPU s / 1,000 reconciles",
         lambda r: steady(r)["controller_cpu_s_per_1000_reconciles"], ""),
        ("one change: edit -> Ready, controller (s)", lambda r: ctl(r)["one_change_s"], ""),
        ("one change: `helm upgrade`, bare (s)", lambda r: bare(r).get("one_change_s"), ""),
        ("RSS peak (MiB)", lambda r: ctl(r)["rss_mib"]["peak"], "<= 150 at N = 1,000"),
        ("RSS steady (MiB)", lambda r: steady(r)["rss_mib"], ""),
        ("chart downloads per chart version", lambda r: ctl(r)["chart_repo"]["downloads_per_version"], "1"),
        ("index.yaml GETs", lambda r: ctl(r)["chart_repo"]["index_gets"], ""),
    ]  # fmt: skip
    lines = [
        f"Benchmark of {results['date']}: {m['cpu_count']} CPUs ({m['cpu_model'] or 'unknown model'}), "
        f"{m['mem_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, helm {m['helm']}, "
        f"--concurrent {results['config']['concurrent']}, interval {results['config']['interval_s']:g}s, "
        f"{results['config']['per_namespace'] or 'all'} HelmReleases per namespace.",
        f"Load average at start {load['start']}, at end {load['end']}; the bench took "
        f"{results['bench']['wall_s']:.0f}s wall. Commit {m['git']['commit'][:12]}"
        f"{' (dirty tree)' if m['git']['dirty'] else ''}.",
        "",
        head,
        sep,
    ]
    for label, get, target in rows:
        cells = []
        for r in runs:
            try:
                cells.append(fmt(get(r)))
            except (KeyError, TypeError):
                cells.append("n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines) + "\n"


def pair_ratios(r: dict[str, Any]) -> str:
    """The median of the per-repetition ratios (each pair ran back to back), then all of them."""
    ratios = [x for x in r.get("converge_ratio_per_repetition") or [] if x is not None]
    if len(ratios) < 2:
        return "n/a"
    return f"{median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)})"


def plot(results: dict[str, Any], out: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: skipped converge.png (pip install matplotlib)"
    from matplotlib.ticker import FuncFormatter

    runs = results["runs"]
    ns = [r["n"] for r in runs]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for side, label, style in (
        ("controller", "helmrelease-controller", "o-"),
        ("bare", "bare helm, same parallelism", "s--"),
    ):
        points = [(r["n"], r[side]) for r in runs if r.get(side)]
        if not points:
            continue
        (line,) = ax.plot([p[0] for p in points], [p[1]["converge_s"] for p in points], style, label=label)
        for n, res in points:  # every repetition, faint; the line goes through the medians
            samples = res.get("converge_samples_s") or []
            ax.plot([n] * len(samples), samples, ".", color=line.get_color(), alpha=0.35)
    for r in runs:
        if r.get("converge_ratio") is not None:
            ax.annotate(
                f"x{r['converge_ratio']:.2f}",
                (r["n"], r["controller"]["converge_s"]),
                textcoords="offset points",
                xytext=(6, 6),
                fontsize=9,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ns)
    ax.set_xticklabels([f"{n:,}" for n in ns])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    # Minor ticks labelled at 2x and 5x only, so that a decade does not turn into a wall of numbers.
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 1.4)  # room for the ratio labels
    ax.set_xlabel("HelmReleases created at once (N)")
    ax.set_ylabel("seconds until all are Ready")
    m = results["machine"]
    ax.set_title(
        f"Converge time, {results['config']['concurrent']} at a time "
        f"({m['cpu_count']} CPUs, load avg {results['load']['start'][0]:.1f} at start)",
        fontsize=11,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return f"wrote {out}"


def bench_size(cfg: Config, env: Env, n: int, work: Path, profile_dir: Path | None) -> dict[str, Any]:
    """Both sides at one N, `cfg.repeat` times in alternating order (N > 100: `cfg.repeat_large`
    times); the first repetition measures everything, later ones only the converge. Converge times
    are medians."""
    out: dict[str, Any] = {"n": n, "load_before": loadavg()}
    samples: dict[str, list[float]] = {"controller": [], "bare": []}
    # Per release: the mean helm process time, and the rest of each worker slot's time ("own"):
    # (converge x concurrency - the sum of helm process times) / N.
    helm_each: dict[str, list[float]] = {"controller": [], "bare": []}
    own_each: dict[str, list[float]] = {"controller": [], "bare": []}
    for rep in range(cfg.repeat if n <= 100 else cfg.repeat_large):
        sides = ["bare", "controller"] if rep % 2 == 0 else ["controller", "bare"]
        for side in sides:
            if side == "bare" and cfg.skip_bare:
                continue
            tag = f"{side}-{n}" + (f"-{rep}" if rep else "")
            log(f"N = {n}{f' (repetition {rep + 1})' if rep else ''}: {side}, {cfg.concurrent} at a time")
            if side == "bare":
                res = bench_bare(cfg, env, n, work / tag, profile_dir if rep == 0 else None)
                log(f"  bare helm converged {n} in {res['converge_s']:.1f}s")
            else:
                res = bench_controller(cfg, env, n, work / tag, profile_dir if rep == 0 else None, rep > 0)
            samples[side].append(res["converge_s"])
            helm_each[side].append(res["helm_busy_s"] / n)
            own_each[side].append((res["converge_s"] * cfg.concurrent - res["helm_busy_s"]) / n)
            if rep == 0:
                out[side] = res
    for side, values in samples.items():
        if values and side in out:
            out[side]["converge_samples_s"] = values
            out[side]["converge_s"] = round(median(values), 3)
            out[side]["helm_per_release_ms"] = round(median(helm_each[side]) * 1000, 1)
            out[side]["own_per_release_ms"] = round(median(own_each[side]) * 1000, 1)
            out[side]["own_per_release_samples_ms"] = [round(v * 1000, 1) for v in own_each[side]]
    bare, ctl = out.get("bare"), out["controller"]
    out["converge_ratio"] = ratio(ctl["converge_s"], bare["converge_s"], 3) if bare else None
    # Per repetition (each pair ran back to back), and a load-insensitive view: CPU spent by everything
    # involved (controller + its helm processes + kubesim) against bare helm's (helm + kubesim).
    out["converge_ratio_per_repetition"] = [
        ratio(c, b, 3) for c, b in zip(samples["controller"], samples["bare"], strict=False)
    ]
    out["cpu_ratio"] = (
        ratio(
            ctl["controller_cpu_s"] + ctl["helm_cpu_s"] + ctl["kubesim_cpu_s"],
            bare["helm_cpu_s"] + bare["kubesim_cpu_s"],
            3,
        )
        if bare
        else None
    )
    out["load_after"] = loadavg()
    return out


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


# --- main ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="helmrelease-bench-"))
    ok = False
    try:
        yield work
        ok = True
    finally:
        if keep or not ok:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def prepared(keep: bool) -> Iterator[tuple[Path, Env]]:
    """A work directory (`workdir`) with the chart packaged and served (`prepare`); the chart
    repository is stopped at the end."""
    with workdir(keep) as work:
        env = prepare(work)
        try:
            yield work, env
        finally:
            env.repo.stop()


@dataclass
class Guard:
    """The exit code of a guarded run: 0, 1 (a BenchError, logged) or 130 (interrupted)."""

    code: int = 0


@contextlib.contextmanager
def guarded() -> Iterator[Guard]:
    """Run the body; a BenchError is one logged line and exit code 1, Ctrl-C exit code 130."""
    guard = Guard()
    try:
        yield guard
    except BenchError as e:
        log(f"error: {e}")
        guard.code = 1
    except KeyboardInterrupt:
        log("interrupted")
        guard.code = 130


class Stoppable(Protocol):
    def stop(self) -> Any: ...


def stop_all(*parts: Stoppable | None) -> None:
    """Stop each part that was started, in order (watchers, the controller, servers, kubesim last)."""
    for part in parts:
        if part is not None:
            part.stop()


def parse_args(argv: list[str] | None) -> tuple[Config, bool, bool]:
    p = argparse.ArgumentParser(description="Benchmark helmrelease-controller against bare helm on kubesim.")
    p.add_argument("--sizes", default="10,100", help="comma-separated N values (default 10,100)")
    p.add_argument("--large", action="store_true", help="also N = 1,000 (about 10 more minutes)")
    p.add_argument(
        "--concurrent", type=int, default=4, help="controller --concurrent and bare helm parallelism"
    )
    p.add_argument("--interval", type=float, default=5.0, help="HelmRelease spec.interval in seconds")
    p.add_argument("--steady-intervals", type=float, default=3.0, help="steady-state window, in intervals")
    p.add_argument("--out", default=str(ROOT / "bench"), help="output directory (default bench/)")
    p.add_argument("--profile", action="store_true", help="py-spy the controller (bench/profile/)")
    p.add_argument("--profile-rate", type=int, default=50, help="py-spy samples per second")
    p.add_argument("--repeat", type=int, default=5, help="converge runs per side if N <= 100 (median)")
    p.add_argument("--repeat-large", type=int, default=1, help="converge runs per side if N > 100 (median)")
    p.add_argument(
        "--per-namespace", type=int, default=10, help="HelmReleases per namespace (0: all in one namespace)"
    )
    p.add_argument("--skip-bare", action="store_true", help="controller only (quicker iterations)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs of every process)")
    p.add_argument("--timeout-per-release", type=float, default=3.0, help="converge timeout per N (s)")
    p.add_argument(
        "--gitsync",
        action="store_true",
        help="also the GitSync row: one push among --gitsync-n HelmReleases (about 2 more minutes)",
    )
    p.add_argument(
        "--gitsync-only",
        action="store_true",
        help="only the GitSync row, merged into the existing results.json (key gitsync)",
    )
    p.add_argument("--gitsync-n", type=int, default=500, help="HelmReleases in the GitSync row")
    p.add_argument("--gitsync-environments", type=int, default=5, help="environment folders (namespaces)")
    p.add_argument(
        "--drift",
        choices=["disabled", "warn", "enabled"],
        default="disabled",
        help="spec.driftDetection.mode of every HelmRelease: the steady state then measures drift checks",
    )
    p.add_argument(
        "--render",
        action="store_true",
        help="rewrite results.md, converge.png from results.json",
    )
    a = p.parse_args(argv)
    sizes = sorted({int(s) for s in a.sizes.split(",") if s.strip()} | ({1000} if a.large else set()))
    if not sizes or min(sizes) < 1:
        p.error("--sizes needs positive integers")
    cfg = Config(
        sizes=sizes,
        concurrent=a.concurrent,
        interval=a.interval,
        steady_intervals=a.steady_intervals,
        out=Path(a.out),
        work=Path(),
        profile=a.profile,
        profile_rate=a.profile_rate,
        skip_bare=a.skip_bare,
        repeat=max(1, a.repeat),
        repeat_large=max(1, a.repeat_large),
        per_namespace=max(0, a.per_namespace),
        timeout_per_release=a.timeout_per_release,
        gitsync=a.gitsync or a.gitsync_only,
        gitsync_only=a.gitsync_only,
        gitsync_n=max(1, a.gitsync_n),
        gitsync_environments=max(1, a.gitsync_environments),
        drift=a.drift,
    )
    return cfg, a.keep, a.render


# Sections of results.json measured by their own runs (--gitsync-only, hack/bench_scale.py): a
# converge run keeps them.
SEPARATE_ROWS = ("gitsync", "scale", "sharded")


def write_outputs(results: dict[str, Any], out: Path) -> None:
    """results.md (also printed) and converge.png, from the results."""
    table = markdown(results)
    (out / "results.md").write_text("# Benchmark results\n\n" + table)
    print(table)
    if results.get("runs"):
        log(plot(results, out / "converge.png"))


def main(argv: list[str] | None = None) -> int:
    cfg, keep, render = parse_args(argv)
    if render:
        write_outputs(json.loads((cfg.out / "results.json").read_text()), cfg.out)
        return 0
    started = time.monotonic()
    cpu_start = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    load_start = loadavg()
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    log(f"bench: N = {cfg.sizes}, {os.cpu_count()} CPUs, load average {load_start}")
    runs: list[dict[str, Any]] = []
    gitsync: dict[str, Any] | None = None
    machine: dict[str, Any] = {}
    with guarded() as guard, prepared(keep) as (work, env):
        machine = machine_info(env)
        profile_dir = cfg.out / "profile" if cfg.profile else None
        for n in [] if cfg.gitsync_only else cfg.sizes:
            runs.append(bench_size(cfg, env, n, work, profile_dir))
        if cfg.gitsync:
            n, envs = cfg.gitsync_n, cfg.gitsync_environments
            log(f"GitSync: {n} HelmReleases in {envs} environments, {GITSYNC_PUSHES} pushes")
            gitsync = bench_gitsync(cfg, env, n, envs, work / f"gitsync-{n}")
            gitsync.update(date=date, load={"start": load_start, "end": loadavg()})
    if guard.code:
        return guard.code
    self_end, children_end = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    results: dict[str, Any] = {
        "date": date,
        "machine": machine,
        "load": {"start": load_start, "end": loadavg()},
        "config": {
            "sizes": cfg.sizes,
            "concurrent": cfg.concurrent,
            "interval_s": cfg.interval,
            "steady_intervals": cfg.steady_intervals,
            "chart": f"webapp-{CHART_VERSION}.tgz (tests/charts/webapp)",
            "repeat": cfg.repeat,
            "repeat_large": cfg.repeat_large,
            "per_namespace": cfg.per_namespace,
            "profiled": cfg.profile,
            "drift_detection": cfg.drift,
        },
        "bench": {
            "wall_s": round(time.monotonic() - started, 1),
            "cpu_self_s": round(
                self_end.ru_utime + self_end.ru_stime - cpu_start[0].ru_utime - cpu_start[0].ru_stime, 1
            ),
            "cpu_children_s": round(
                children_end.ru_utime + children_end.ru_stime - cpu_start[1].ru_utime - cpu_start[1].ru_stime,
                1,
            ),
        },
        "runs": runs,
    }
    if gitsync is not None:
        results["gitsync"] = gitsync
    previous = cfg.out / "results.json"
    if cfg.gitsync_only and previous.exists():  # the converge runs stay as they were
        results = {**json.loads(previous.read_text()), "gitsync": gitsync}
    elif previous.exists():  # rows this run did not measure stay, with their own dates
        kept = json.loads(previous.read_text())
        results.update({k: kept[k] for k in SEPARATE_ROWS if k in kept and k not in results})
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_outputs(results, cfg.out)
    log(f"wrote {cfg.out / 'results.json'} and {cfg.out / 'results.md'} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
