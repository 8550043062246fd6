"""Issue 18's scale rows of the benchmark: N = 10,000 (merged from hack/bench.py) and 2 shards x 500.

    PATH=.bin:$PATH .venv/bin/python hack/bench_scale.py sharded [--shards 2] [--per-shard 500]
        [--interval 60] [--steady-intervals 2] [--concurrent 4] [--leader-elect] [--out bench/]
    PATH=.bin:$PATH .venv/bin/python hack/bench_scale.py merge-scale /tmp/bench10k/results.json

`sharded`: one kubesim, N = shards x per-shard HelmReleases (10 to a namespace, as hack/bench.py
lays them out), HelmRelease i labelled `helmrelease.dev/shard: shard-<i mod shards>` (so every
namespace holds objects of every shard: the split is by label, not by namespace), one controller
process per shard (`--shard-key shard-<k>`, its own work directory, chart cache and helm shim call
log; leader election off unless `--leader-elect`, as the controller's default). It measures the
converge of all N (until all are Ready), per replica its helm processes, CPU and RSS, then a steady
window: no-op reconciles per replica (its `helmrelease_reconcile_duration_seconds_count`), the
controllers' API requests and writes per no-op reconcile (kubesim's request log: both replicas
send the same User-Agent, so over both), CPU per 1,000 no-op reconciles per replica. Ownership is
checked, not assumed: every helm process a replica ran names a release of its own shard, every
HelmRelease was installed by exactly its shard's replica, and each replica's per-HelmRelease
series (/metrics) are exactly its shard's objects; a mismatch fails the bench (exit 1).

`merge-scale FILE`: the single run of a results.json written by `hack/bench.py --sizes 10000
--skip-bare ...` stored under the key `scale` of `<out>/results.json`.

Both merge into `<out>/results.json` (every other key kept, as `bench.py --gitsync-only` does) and
rewrite results.md; `markdown` renders both sections for `bench.markdown` (`bench.py --render`).
See docs/benchmarks.md, "Scale: 10,000 HelmReleases and shards".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import storage_memory

import bench
from bench import BenchError, ControllerRun, KubeSimProcess, ReadyWatcher, Release, fmt, log

SHARD_LABEL = "helmrelease.dev/shard"
LEASE_NAMESPACE = "helmrelease-system"
RECONCILES = "helmrelease_reconcile_duration_seconds_count"
HELM_STARTED = "helmrelease_helm_processes_started_total"
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# --- pure: who owns what, who did what -------------------------------------------------------------


def shard_of(index: int, shards: int) -> str:
    """The shard of the index-th HelmRelease: round robin, so every namespace mixes shards."""
    return f"shard-{index % shards}"


def sharded_object(rel: Release, shard: str, repo_url: str, interval: float) -> dict[str, Any]:
    obj = bench.hr_object(rel, repo_url, interval)
    obj["metadata"]["labels"] = {SHARD_LABEL: shard}
    return obj


def release_of_call(call: str) -> str | None:
    """ "ns/name" of the release a logged helm command line names (`upgrade NAME CHART --namespace
    NS ...`), None when it names none."""
    args = call.split()
    if len(args) < 2 or args[1].startswith("-"):
        return None
    namespace = ""
    for i, arg in enumerate(args):
        if arg in ("--namespace", "-n") and i + 1 < len(args):
            namespace = args[i + 1]
        elif arg.startswith("--namespace="):
            namespace = arg.split("=", 1)[1]
    return f"{namespace}/{args[1]}" if namespace else None


def served_keys(metrics_text: str) -> set[str]:
    """ "ns/name" of every `helmrelease_ready` series: the HelmReleases a replica's informer holds."""
    keys = set()
    for line in metrics_text.splitlines():
        if line.startswith("helmrelease_ready{"):
            labels = dict(_LABEL.findall(line[: line.index("}")]))
            keys.add(f"{labels.get('namespace', '')}/{labels.get('name', '')}")
    return keys


def ownership_errors(
    owner: dict[str, str],
    named: dict[str, set[str]],
    installed: dict[str, set[str]],
    served: dict[str, set[str]],
) -> list[str]:
    """Why the replicas did not each serve exactly their own shard: `owner` maps "ns/name" to its
    shard; per shard, the releases its helm processes named, those it installed
    (`upgrade --install`) and its per-HelmRelease series. [] when each HelmRelease was installed by
    exactly its own shard's replica, touched by no other and served by it only."""
    errors = []
    for shard, keys in named.items():
        foreign = sorted(k for k in keys if owner.get(k) != shard)
        if foreign:
            errors.append(
                f"{shard} ran helm for {len(foreign)} release(s) not of its shard, e.g. {foreign[:3]}"
            )
    for key, shard in sorted(owner.items()):
        by = sorted(s for s, keys in installed.items() if key in keys)
        if by != [shard]:
            errors.append(f"{key} (of {shard}) was installed by {by or 'no replica'}")
            if len(errors) > 20:
                break
    for shard, keys in served.items():
        mine = {k for k, s in owner.items() if s == shard}
        if keys != mine:
            extra, missing = sorted(keys - mine), sorted(mine - keys)
            errors.append(
                f"{shard} serves {len(extra)} HelmRelease(s) of other shards (e.g. {extra[:3]}) and "
                f"lacks {len(missing)} of its own (e.g. {missing[:3]})"
            )
    return errors


# --- the sharded run ---------------------------------------------------------------------------------


@dataclass
class ShardedConfig:
    shards: int
    per_shard: int
    leader_elect: bool
    bench: bench.Config

    @property
    def n(self) -> int:
        return self.shards * self.per_shard


@dataclass
class Replica:
    """One shard's controller process and what was measured of it."""

    shard: str
    ctl: ControllerRun
    keys: set[str]
    mem_idle: dict[str, float] = field(default_factory=dict)
    cpu0: bench.Cpu | None = None
    out: dict[str, Any] = field(default_factory=dict)

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.ctl.metrics_url, timeout=30) as resp:
            return str(resp.read().decode())


def start_replicas(
    cfg: ShardedConfig, env: bench.Env, sim: KubeSimProcess, work: Path, owner: dict[str, str],
    replicas: list[Replica],
) -> None:  # fmt: skip
    """One controller per shard, each appended to `replicas` as soon as it runs (to be stopped)."""
    for k in range(cfg.shards):
        shard = f"shard-{k}"
        extra = ("--shard-key", shard, *(("--leader-elect",) if cfg.leader_elect else ()))
        ctl = ControllerRun(cfg.bench, env, sim, work / shard, extra)
        replicas.append(Replica(shard, ctl, {key for key, s in owner.items() if s == shard}))
        if not ctl.metrics_url:
            raise BenchError("the controller does not serve --metrics-addr: no per-replica reconcile count")


def converge(
    cfg: ShardedConfig, env: bench.Env, sim: KubeSimProcess, replicas: list[Replica],
    watcher: ReadyWatcher, objects: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    """Every HelmRelease POSTed at once, until all N are Ready; per replica its own numbers."""
    sim.api.clear_requests()
    sim_cpu0 = bench.proc_cpu(sim.pid)
    for r in replicas:
        r.cpu0, r.mem_idle = bench.proc_cpu(r.ctl.pid), bench.proc_mem_mib(r.ctl.pid)
    t0 = time.monotonic()
    for obj in objects:
        ns = obj["metadata"]["namespace"]
        sim.api.ok("POST", f"/apis/helmrelease.dev/v1/namespaces/{ns}/helmreleases", obj)
    created = time.monotonic() - t0
    keys = set().union(*(r.keys for r in replicas))

    def alive() -> None:
        for r in replicas:
            r.ctl.alive()

    last = watcher.wait(keys, 60 + cfg.bench.timeout_per_release * cfg.n, alive)
    sim_cpu1 = bench.proc_cpu(sim.pid)
    for r in replicas:
        cpu1, mem = bench.proc_cpu(r.ctl.pid), bench.proc_mem_mib(r.ctl.pid)
        assert r.cpu0 is not None
        r.out = {
            "shard": r.shard,
            "helmreleases": len(r.keys),
            "converge_s": round(max(watcher.met[k] for k in r.keys) - t0, 3),
            "helm_processes": len(r.ctl.helm_calls()),
            "controller_cpu_s": round(cpu1.own - r.cpu0.own, 2),
            "helm_cpu_s": round(cpu1.children - r.cpu0.children, 2),
            "rss_mib": {
                "idle": round(r.mem_idle.get("VmRSS", 0), 1),
                "after_converge": round(mem.get("VmRSS", 0), 1),
            },
        }
    requests = sim.api.requests()
    log(f"  {len(keys)} HelmReleases in {len(replicas)} shards converged in {last - t0:.1f}s")
    return {
        "converge_s": round(last - t0, 3),
        "create_s": round(created, 3),
        "kubesim_cpu_s": round(sim_cpu1.own - sim_cpu0.own, 2),
        "converge_requests": bench.summarize_requests(requests),
    }


def steady(cfg: ShardedConfig, sim: KubeSimProcess, replicas: list[Replica]) -> dict[str, Any]:
    """Nothing changes for `steady_intervals` intervals: reconciles per replica, the requests of all."""
    time.sleep(1.0)  # the last status writes and events of the converge land
    sim.api.clear_requests()
    before = [(len(r.ctl.helm_calls()), r.ctl.metrics(), bench.proc_cpu(r.ctl.pid)) for r in replicas]
    sim0 = bench.proc_cpu(sim.pid)
    t0 = time.monotonic()
    deadline = t0 + cfg.bench.interval * cfg.bench.steady_intervals
    while time.monotonic() < deadline:
        for r in replicas:
            r.ctl.alive()
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    wall = time.monotonic() - t0
    sim1 = bench.proc_cpu(sim.pid)
    total_reconciles = total_helm = 0
    total_cpu = 0.0
    for r, (helm0, metrics0, cpu0) in zip(replicas, before, strict=True):
        cpu1, metrics1 = bench.proc_cpu(r.ctl.pid), r.ctl.metrics()
        reconciles = bench.metric_delta(metrics0, metrics1, RECONCILES)
        if reconciles is None:
            raise BenchError(f"{r.shard}: no {RECONCILES} in its /metrics")
        helm = len(r.ctl.helm_calls()) - helm0
        cpu = cpu1.own - cpu0.own
        total_reconciles, total_helm, total_cpu = (
            total_reconciles + reconciles,
            total_helm + helm,
            total_cpu + cpu,
        )
        r.out["steady"] = {
            "reconciles": reconciles,
            "expected_reconciles": round(len(r.keys) * wall / cfg.bench.interval),
            "helm_processes": helm,
            "helm_processes_by_metrics": bench.metric_delta(metrics0, metrics1, HELM_STARTED),
            "controller_cpu_s": round(cpu, 2),
            "controller_cpu_s_per_1000_reconciles": bench.ratio(cpu * 1000, reconciles, 2),
            "rss_mib": round(bench.proc_mem_mib(r.ctl.pid).get("VmRSS", 0), 1),
        }
    requests = bench.summarize_requests(sim.api.requests())
    mine = requests["by_client"].get("controller", {})
    lease = sum(v for k, v in requests["controller_by_verb"].items() if " leases." in k)  # --leader-elect
    log(
        f"  steady: {total_reconciles} reconciles, {total_helm} helm, {mine.get('requests', 0)} requests, "
        f"{mine.get('writes', 0)} writes, {total_cpu:.2f}s CPU (all replicas)"
    )
    return {
        "window_s": round(wall, 2),
        "reconciles": total_reconciles,
        "expected_reconciles": round(cfg.n * wall / cfg.bench.interval),
        "helm_processes": total_helm,
        "api_requests": mine.get("requests", 0),
        "api_writes": mine.get("writes", 0),
        "api_requests_per_reconcile": bench.ratio(mine.get("requests", 0), total_reconciles, 3),
        "api_writes_per_reconcile": bench.ratio(mine.get("writes", 0), total_reconciles, 3),
        "lease_requests": lease,
        "controller_cpu_s": round(total_cpu, 2),
        "controller_cpu_s_per_1000_reconciles": bench.ratio(total_cpu * 1000, total_reconciles, 2),
        "kubesim_cpu_s": round(sim1.own - sim0.own, 2),
        "requests": requests,
    }


def check_ownership(owner: dict[str, str], replicas: list[Replica]) -> dict[str, Any]:
    """Every helm process and every per-HelmRelease series of each replica against the labels;
    a BenchError when any HelmRelease was touched or served by another shard's replica."""
    named: dict[str, set[str]] = {}
    installed: dict[str, set[str]] = {}
    served: dict[str, set[str]] = {}
    for r in replicas:
        calls = r.ctl.helm_calls()
        releases = [release_of_call(c) for c in calls]
        named[r.shard] = {k for k in releases if k}
        installed[r.shard] = {
            k
            for c, k in zip(calls, releases, strict=True)
            if k and c.startswith("upgrade ") and " --install" in c
        }
        served[r.shard] = served_keys(r.metrics_text())
        r.out["helm_processes_total"] = len(calls)
        r.out["helm_calls_naming_no_release"] = sum(1 for k in releases if k is None)
        r.out["releases_named_by_helm"] = len(named[r.shard])
        r.out["releases_installed"] = len(installed[r.shard])
        r.out["helmreleases_served"] = len(served[r.shard])
    errors = ownership_errors(owner, named, installed, served)
    if errors:
        raise BenchError("sharding violated: " + "; ".join(errors))
    log(
        f"  ownership: each of {len(owner)} HelmReleases installed and served by its own shard's replica only"
    )
    return {
        "helmreleases_checked": len(owner),
        "installed_by_own_shard_only": True,
        "served_by_own_shard_only": True,
        "how": "helm shim call log per replica (release and --namespace of each command) and each "
        "replica's helmrelease_ready series, against the helmrelease.dev/shard labels",
    }


def bench_sharded(cfg: ShardedConfig, env: bench.Env, work: Path) -> dict[str, Any]:
    releases = bench.releases_for(cfg.n, cfg.bench.per_namespace)
    owner = {rel.key: shard_of(i, cfg.shards) for i, rel in enumerate(releases)}
    objects = [sharded_object(rel, owner[rel.key], env.repo.url, cfg.bench.interval) for rel in releases]
    sim = KubeSimProcess(work, env.env)
    replicas: list[Replica] = []
    watcher: ReadyWatcher | None = None
    try:
        bench.setup_cluster(sim, env, releases, with_crd=True)
        if cfg.leader_elect:
            sim.api.ok("POST", "/api/v1/namespaces", {"metadata": {"name": LEASE_NAMESPACE}})
        start_replicas(cfg, env, sim, work, owner, replicas)
        watcher = ReadyWatcher(sim.api)
        log(
            f"sharded: {cfg.n} HelmReleases, {cfg.shards} shards x {cfg.per_shard}, "
            f"{cfg.bench.concurrent} at a time each"
        )
        out = converge(cfg, env, sim, replicas, watcher, objects)
        out["steady"] = steady(cfg, sim, replicas)
        out["ownership"] = check_ownership(owner, replicas)
        for r in replicas:
            r.out["rss_mib"]["peak"] = round(bench.proc_mem_mib(r.ctl.pid).get("VmHWM", 0), 1)
            r.out["log_lines"] = dict(r.ctl.log_counts().most_common(10))
        out["replicas"] = [r.out for r in replicas]
        return {"n": cfg.n, **out}
    finally:
        bench.stop_all(watcher, *(r.ctl for r in replicas), sim)


# --- results.json ------------------------------------------------------------------------------------


def merge_results(out: Path, key: str, value: dict[str, Any]) -> None:
    """`value` under `key` of `<out>/results.json` (every other key kept); results.md rewritten."""
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[key] = value
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    bench.write_outputs(results, out)
    log(f"wrote {path} (key {key!r}) and {out / 'results.md'}")


def run_sharded(a: argparse.Namespace) -> int:
    cfg = ShardedConfig(
        shards=a.shards,
        per_shard=a.per_shard,
        leader_elect=a.leader_elect,
        bench=bench.Config(
            sizes=[a.shards * a.per_shard], concurrent=a.concurrent, interval=a.interval,
            steady_intervals=a.steady_intervals, out=Path(a.out), work=Path(), profile=False,
            profile_rate=0, skip_bare=True, repeat=1, per_namespace=max(0, a.per_namespace),
            timeout_per_release=a.timeout_per_release,
        ),
    )  # fmt: skip
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    load_before = bench.loadavg()
    started = time.monotonic()
    result: dict[str, Any] = {}
    with bench.guarded() as guard, bench.prepared(a.keep) as (work, env):
        machine = bench.machine_info(env)
        result = bench_sharded(cfg, env, work / f"sharded-{cfg.shards}x{cfg.per_shard}")
    if guard.code:
        return guard.code
    merge_results(
        cfg.bench.out,
        "sharded",
        {
            "date": date,
            "machine": machine,
            "load": {"before": load_before, "after": bench.loadavg()},
            "wall_s": round(time.monotonic() - started, 1),
            "config": {
                "shards": cfg.shards,
                "per_shard": cfg.per_shard,
                "concurrent_per_replica": cfg.bench.concurrent,
                "interval_s": cfg.bench.interval,
                "steady_intervals": cfg.bench.steady_intervals,
                "per_namespace": cfg.bench.per_namespace,
                "leader_elect": cfg.leader_elect,
                "assignment": "HelmRelease i labelled helmrelease.dev/shard=shard-<i mod shards>",
                "chart": f"webapp-{bench.CHART_VERSION}.tgz (tests/charts/webapp)",
            },
            **result,
        },
    )
    return 0


def run_merge_scale(a: argparse.Namespace) -> int:
    source = json.loads(Path(a.file).read_text())
    runs = source.get("runs") or []
    if len(runs) != 1 or not (runs[0].get("controller") or {}).get("steady"):
        log(
            f"error: {a.file} must hold exactly one run with the controller's steady state "
            f"(it has {len(runs)} runs)"
        )
        return 1
    scale = {k: source[k] for k in ("date", "machine", "config", "load", "bench") if k in source}
    # The run installs each release once; what full histories (maxHistory 5) add to the storage
    # watch's memory is measured apart (hack/storage_memory.py).
    history = storage_memory.measure(int(runs[0]["n"]), 5)
    log(f"storage cache with {history['secrets']:,} Secrets: {history['heap_mib']} MiB")
    merge_results(
        Path(a.out), "scale", {**scale, "source": str(a.file), "run": runs[0], "storage_cache": history}
    )
    return 0


# --- rendering (called by bench.markdown) -------------------------------------------------------------


def header(section: dict[str, Any]) -> str:
    m, load = section.get("machine") or {}, section.get("load") or {}
    before, after = load.get("before", load.get("start")), load.get("after", load.get("end"))
    git = m.get("git") or {}
    commit = str(git.get("commit", ""))[:12] or "?"
    return (
        f"Run of {section.get('date', '?')}: {m.get('cpu_count', '?')} CPUs, load average {before} before, "
        f"{after} after; commit {commit}{' (dirty tree)' if git.get('dirty') else ''}."
    )


def rss(r: dict[str, Any]) -> str:
    m = r.get("rss_mib") or {}
    return " / ".join(fmt(m.get(k)) for k in ("idle", "after_converge", "peak"))


def scale_markdown(s: dict[str, Any]) -> str:
    run = s["run"]
    ctl = run["controller"]
    st = ctl["steady"]
    cfg = s.get("config") or {}
    rows: list[tuple[str, Any, str]] = [
        ("converge: all Ready (s)", ctl.get("converge_s"), ""),
        ("RSS idle / after converge / peak (MiB)", rss(ctl), "peak <= 250"),
        ("RSS at the end of the steady window (MiB)", st.get("rss_mib"), ""),
        ("steady: no-op reconciles (window s)", f"{st.get('reconciles')} ({fmt(st.get('window_s'))})", ""),
        ("steady: API requests / no-op reconcile", st.get("api_requests_per_reconcile"), "0"),
        ("steady: API writes / no-op reconcile", st.get("api_writes_per_reconcile"), "0"),
        (
            "steady: controller CPU s / 1,000 no-op reconciles",
            st.get("controller_cpu_s_per_1000_reconciles"),
            "",
        ),
        ("steady: helm processes", st.get("helm_processes"), "0"),
    ]
    if history := s.get("storage_cache"):
        rows.append(
            (
                f"Helm storage watch with {history['history']} revisions per release: "
                f"{history['secrets']:,} Secrets, heap (MiB; `hack/storage_memory.py`)",
                history["heap_mib"],
                "",
            )
        )
    return (
        f"\n## Scale: N = {run['n']:,}\n\n{header(s)} One controller, --concurrent {cfg.get('concurrent')}, "
        f"interval {cfg.get('interval_s', 0):g}s, steady window of {cfg.get('steady_intervals', 0):g} "
        "interval(s) "
        f"(`hack/bench.py --sizes {run['n']} --skip-bare`, merged by `hack/bench_scale.py merge-scale`).\n\n"
        "| | value | target |\n|---|---:|---|\n" + "".join(f"| {a} | {fmt(b)} | {c} |\n" for a, b, c in rows)
    )


def _sum(values: Iterable[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals), 2) if vals else None


def sharded_markdown(s: dict[str, Any]) -> str:
    cfg, reps, st = s.get("config") or {}, s.get("replicas") or [], s.get("steady") or {}

    def row(name: str, r: dict[str, Any], converge: Any) -> str:
        rs = r.get("steady") or {}
        return (
            f"| {name} | {r.get('helmreleases')} | {fmt(converge)} | {r.get('helm_processes')} | {rss(r)} "
            f"| {fmt(r.get('controller_cpu_s'))} | {rs.get('reconciles')} | {rs.get('helm_processes')} "
            f"| {fmt(rs.get('controller_cpu_s_per_1000_reconciles'))} |\n"
        )

    total = {
        "helmreleases": s.get("n"),
        "helm_processes": _sum(r.get("helm_processes") for r in reps),
        "rss_mib": {
            k: _sum((r.get("rss_mib") or {}).get(k) for r in reps) for k in ("idle", "after_converge", "peak")
        },
        "controller_cpu_s": _sum(r.get("controller_cpu_s") for r in reps),
        "steady": st,
    }
    own = s.get("ownership") or {}
    checked = (
        f"Each of the {own.get('helmreleases_checked')} HelmReleases was installed and served by its own "
        "shard's replica only (helm call logs, /metrics series)."
        if own.get("installed_by_own_shard_only") and own.get("served_by_own_shard_only")
        else "Ownership was not checked."
    )
    election = "on" if cfg.get("leader_elect") else "off"
    return (
        f"\n## Sharded: {cfg.get('shards')} shards x {cfg.get('per_shard')} HelmReleases\n\n{header(s)} "
        f"One kubesim, one controller process per shard (`--shard-key shard-<k>`, --concurrent "
        f"{cfg.get('concurrent_per_replica')} each, leader election {election}), "
        f"interval {cfg.get('interval_s', 0):g}s, steady window {fmt(st.get('window_s'))}s. {checked}\n\n"
        "| replica | HelmReleases | converge (s) | helm processes | RSS idle / after converge / peak (MiB) "
        "| CPU converge (s) | steady: no-op reconciles | steady: helm processes "
        "| steady: CPU s / 1,000 reconciles |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "".join(row(r.get("shard", "?"), r, r.get("converge_s")) for r in reps)
        + row("**total**", total, s.get("converge_s"))
        + f"\nAll replicas in the steady window (one User-Agent, so counted together): "
        f"{fmt(st.get('api_requests_per_reconcile'))} API requests and "
        f"{fmt(st.get('api_writes_per_reconcile'))} writes per no-op reconcile (targets 0 and 0)"
        + (
            f"; {st['lease_requests']} of the requests were Lease renewals"
            if st.get("lease_requests")
            else ""
        )
        + ".\n"
    )


def markdown(results: dict[str, Any]) -> str:
    """The "scale" and "sharded" sections of results.md, for those of them results.json has."""
    return (scale_markdown(results["scale"]) if results.get("scale") else "") + (
        sharded_markdown(results["sharded"]) if results.get("sharded") else ""
    )


# --- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Issue 18's scale rows: merge the N = 10,000 run; the sharded run."
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sharded", help="N = shards x per-shard HelmReleases, one controller per shard")
    s.add_argument("--shards", type=int, default=2)
    s.add_argument("--per-shard", type=int, default=500)
    s.add_argument("--interval", type=float, default=60.0, help="HelmRelease spec.interval in seconds")
    s.add_argument("--steady-intervals", type=float, default=2.0, help="steady-state window, in intervals")
    s.add_argument("--concurrent", type=int, default=4, help="--concurrent of each replica")
    s.add_argument("--per-namespace", type=int, default=10, help="HelmReleases per namespace")
    s.add_argument("--leader-elect", action="store_true", help="run each replica with --leader-elect")
    s.add_argument(
        "--timeout-per-release", type=float, default=3.0, help="converge timeout per HelmRelease (s)"
    )
    s.add_argument("--keep", action="store_true", help="keep the work directory (every process's log)")
    s.add_argument(
        "--out", default=str(bench.ROOT / "bench"), help="results.json's directory (default bench/)"
    )
    m = sub.add_parser("merge-scale", help="store FILE's single run under the key scale")
    m.add_argument("file", help="a results.json of `hack/bench.py --sizes 10000 --skip-bare ...`")
    m.add_argument(
        "--out", default=str(bench.ROOT / "bench"), help="results.json's directory (default bench/)"
    )
    a = p.parse_args(argv)
    if a.command == "sharded" and (a.shards < 1 or a.per_shard < 1):
        p.error("--shards and --per-shard must be positive")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    return run_sharded(a) if a.command == "sharded" else run_merge_scale(a)


if __name__ == "__main__":
    sys.exit(main())
