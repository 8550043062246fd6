"""Production-hardening experiments (issue 10): a chart source that never answers, and an API outage.

    make experiments                     # or: PATH=.bin:$PATH .venv/bin/python hack/experiments.py [options]
    hack/experiments.py slowsource       # experiment A only (about 1-3 minutes)
    hack/experiments.py outage --outage 20       # experiment B only, a 20 s outage
    hack/experiments.py outage --outage 20,60    # one run per outage length

Both run, as processes on 127.0.0.1, a fresh kubesim and `python -m helmrelease_controller run
--concurrent 4 --log-format json` (hack/bench.py's KubeSimProcess and ControllerRun), with
tests/charts/webapp served by the bench's chart-repository thread; every HelmRelease has
`interval: 5s`. A watch on HelmReleases (against kubesim's own port) times each change.

A, slow chart source (`slowsource`). A "black hole" thread accepts TCP connections and never answers.
10 healthy HelmReleases are created and become Ready; then 5 whose chart.repository.url is the black
hole; after `--settle` (2) s the Ready condition of those 5 is recorded, then `--changes` (5) values
edits of healthy releases, one at a time, each `--spacing` (10) s after the previous one was done,
so that they meet the dead fetches at different points of their retries. Each is timed from the
PATCH until the release is Ready at the new generation with a new, deployed helm revision of the
new values. No edit starts once `--budget` (120) s have gone by since the first.
Issue 10's target: every delay under 2 s; the dead ones Ready=Unknown, reason Progressing, while
the fetch is in flight, with a message naming the URL.

B, API outage (`outage`). The controller (and the helm processes it starts) reach kubesim only
through a TCP proxy thread of this script: kubesim's kubeconfig is rewritten to point at it. 20
HelmReleases become Ready; then 4 get a values edit whose upgrade is slowed down by a kubesim fault
(`--upgrade-latency` s on helm's PATCH of each release's Deployment), and as soon as those 4
PATCHes are in flight the API goes away for `--outage` seconds: the proxy closes its listener (new
connections are refused) and every open connection. `--edit-after` (2) s into the outage the spec
of 5 other HelmReleases is changed directly on kubesim's port, bypassing the proxy (as if another
API server replica had taken the write). Then the proxy listens again on the same port.
Measured from that moment: per release, when it last became Ready at its latest generation (the 9
changed ones: a new deployed helm revision of the new values), and the time until all 20 are
(and stay so for `--hold` s); the controller's warning/error log lines during the outage and after
it. Issue 10's target: all converged within 5 s of recovery, far fewer than 140 error lines.

`--controller-tree DIR` runs the controller and kubesim from another source tree (e.g. `git archive`
of an older commit unpacked there) for before/after numbers. Both experiments read each edited
release's ConfigMap (`<name>-config`, data.message) to check that the new values reached the
cluster, and end by timing the controller's exit on SIGTERM (killed after 30 s, as in the bench).
Results are merged into bench/experiments.json (one key per experiment, `outage` keyed by its
length) and a short table is printed. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench import (
    ROOT,
    Api,
    BenchError,
    Config,
    ControllerRun,
    Env,
    KubeSimProcess,
    ReadyWatcher,
    Release,
    _ready,
    git_describe,
    guarded,
    hr_object,
    hr_path,
    loadavg,
    log,
    median,
    prepared,
    setup_cluster,
    stop_all,
    values_for,
)

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]
BAD_LEVELS = frozenset({"warning", "error", "critical"})


# --- network pieces: a black hole and a proxy that can go away -------------------------------------


class BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers: every socket is held open until stop()."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)  # never read, never written: the request sits in the buffer

    @property
    def connections(self) -> int:
        return len(self.held)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.listener.close()
        for conn in self.held:
            conn.close()


class OutageProxy:
    """A TCP proxy on 127.0.0.1 in front of kubesim. `down()` closes its listener (connections are then
    refused) and every proxied connection; `up()` listens again on the same port."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.accepted = 0
        self.port = 0
        self._listen()
        self.url = f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=256, reuse_port=False)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="api-proxy", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        listener, stop = self.listener, self._stop
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.accepted += 1
                self.conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst), name="api-proxy-pump", daemon=True
                ).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self.lock:
                self.conns.discard(src)
            src.close()

    def down(self) -> int:
        """The API goes away: no listener, every open connection closed. How many were open."""
        self._stop.set()
        self.thread.join(5)
        self.listener.close()
        with self.lock:
            conns = list(self.conns)
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        return len(conns) // 2

    def up(self) -> None:
        self._listen()

    def stop(self) -> None:
        self.down()


def point_kubeconfig_at(path: Path, url: str) -> None:
    """Rewrite a kubeconfig so that every cluster's server is `url`."""
    cfg = yaml.safe_load(path.read_text())
    for cluster in cfg.get("clusters") or []:
        cluster["cluster"]["server"] = url
    path.write_text(yaml.safe_dump(cfg))


# --- watching -----------------------------------------------------------------------------------------


class StableWatcher(ReadyWatcher):
    """ReadyWatcher that also knows, per HelmRelease, since when it satisfies the predicate (None: it
    does not now), so that a release that becomes Ready and then flips back is not counted as done."""

    def __init__(self, api: Api) -> None:
        self.since: dict[str, float | None] = {}
        super().__init__(api)

    def expect(self, predicate: Predicate) -> None:
        now = time.monotonic()
        with self.cond:
            super().expect(predicate)
            self.since = {name: (now if predicate(obj) else None) for name, obj in self.objects.items()}

    def _seen(self, obj: Obj) -> None:
        super()._seen(obj)
        name = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        with self.cond:
            if self.predicate(obj):
                if self.since.get(name) is None:
                    self.since[name] = time.monotonic()
            else:
                self.since[name] = None
            self.cond.notify_all()

    def wait_stable(
        self, names: set[str], hold: float, timeout: float, alive: Callable[[], None]
    ) -> tuple[float | None, dict[str, float | None]]:
        """Until every name has satisfied the predicate for `hold` s: (the time the last one started
        to, since-times per name); on timeout (None, since-times)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                alive()
                now = time.monotonic()
                since = {n: self.since.get(n) for n in names}
                times = [t for t in since.values() if t is not None]
                if len(times) == len(names) and now - max(times) >= hold:
                    return max(times), since
                if now > deadline:
                    return None, since
                self.cond.wait(0.2)

    def ready_condition(self, key: str) -> Obj:
        obj = self.objects.get(key) or {}
        for c in (obj.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready":
                return {k: c.get(k) for k in ("status", "reason", "message")}
        return {"status": None, "reason": None, "message": "no Ready condition"}


def newest(obj: Obj) -> Obj:
    return ((obj.get("status") or {}).get("history") or [{}])[0]


def snapshot(obj: Obj) -> tuple[int, int, str]:
    """(generation, helm revision, config digest) of a HelmRelease now."""
    h = newest(obj)
    return (
        int(obj["metadata"].get("generation") or 0),
        int(h.get("revision") or 0),
        str(h.get("configDigest")),
    )


def upgraded_since(before: tuple[int, int, str]) -> Predicate:
    """Ready at a newer generation than `before`, with a newer deployed helm revision of other values."""
    gen, rev, digest = before

    def pred(obj: Obj) -> bool:
        h = newest(obj)
        return (
            int(obj["metadata"].get("generation") or 0) > gen
            and _ready(obj)
            and int(h.get("revision") or 0) > rev
            and h.get("status") == "deployed"
            and h.get("configDigest") != digest
        )

    return pred


def per_key(preds: dict[str, Predicate]) -> Predicate:
    """The predicate of the object's own key; `_ready` for keys without one."""

    def pred(obj: Obj) -> bool:
        key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        return preds.get(key, _ready)(obj)

    return pred


# --- common steps ---------------------------------------------------------------------------------------


def controller_config(concurrent: int, interval: float) -> Config:
    return Config(
        sizes=[], concurrent=concurrent, interval=interval, steady_intervals=0, out=Path(), work=Path(),
        profile=False, profile_rate=0, skip_bare=True, repeat=1, per_namespace=0, timeout_per_release=3.0,
    )  # fmt: skip


def create(sim: KubeSimProcess, rel: Release, repo_url: str, interval: float) -> None:
    sim.api.ok("POST", hr_path(rel), hr_object(rel, repo_url, interval))


def edit(api: Api, rel: Release, n: int) -> None:
    patch = {"spec": {"values": values_for(rel.name, edit=n)}}
    api.ok("PATCH", f"{hr_path(rel)}/{rel.name}", patch, "application/merge-patch+json")


def deployed_messages(api: Api, edits: dict[Release, int]) -> dict[str, bool]:
    """Per edited release: does its ConfigMap carry the edited message?"""
    out = {}
    for rel, n in edits.items():
        status, cm = api.request("GET", f"/api/v1/namespaces/{rel.namespace}/configmaps/{rel.name}-config")
        got = ((cm or {}).get("data") or {}).get("message") if status == 200 else None
        out[rel.key] = got == values_for(rel.name, edit=n)["message"]
    return out


class LogWindow:
    """Counts the controller's log lines (JSON) between two byte offsets of its log file."""

    def __init__(self, ctl: ControllerRun) -> None:
        self.ctl = ctl

    def offset(self) -> int:
        return self.ctl.log_path.stat().st_size

    def count(self, start: int, end: int | None = None) -> dict[str, Any]:
        with open(self.ctl.log_path, "rb") as f:
            f.seek(start)
            raw = f.read() if end is None else f.read(max(0, end - start))
        levels: Counter[str] = Counter()
        bad: Counter[str] = Counter()
        for line in raw.decode(errors="replace").splitlines():
            try:
                rec = json.loads(line)
                level = str(rec.get("level"))
                msg = str(rec.get("msg"))
            except (ValueError, AttributeError):
                level, msg = "not-json", line[:100]
            levels[level] += 1
            if level in BAD_LEVELS or level == "not-json":
                bad[f"{level}: {msg[:120]}"] += 1
        return {
            "lines": sum(levels.values()),
            "by_level": dict(levels),
            "warning_or_error": sum(n for lv, n in levels.items() if lv in BAD_LEVELS),
            "top_warning_or_error": dict(bad.most_common(8)),
        }


def stop_controller(ctl: ControllerRun) -> dict[str, Any]:
    """SIGTERM the controller (SIGKILL after 30 s, as the bench does): how long it took, its exit code."""
    t = time.monotonic()
    ctl.stop()
    took = time.monotonic() - t
    log(f"controller stopped in {took:.1f}s, exit code {ctl.proc.returncode}")
    return {"stop_s": round(took, 2), "exit_code": ctl.proc.returncode}


def rnd(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


# --- experiment A: slow chart source ----------------------------------------------------------------------


def slow_source(args: argparse.Namespace, env: Env, work: Path) -> dict[str, Any]:
    healthy = [Release("slow-healthy", f"app-{i:02d}") for i in range(args.healthy)]
    dead = [Release("slow-dead", f"dead-{i}") for i in range(args.dead)]
    sim = KubeSimProcess(work, env.env)
    hole = BlackHole()
    ctl: ControllerRun | None = None
    watcher: StableWatcher | None = None
    try:
        setup_cluster(sim, env, healthy + dead, with_crd=True)
        ctl = ControllerRun(controller_config(args.concurrent, args.interval), env, sim, work)
        logs = LogWindow(ctl)
        watcher = StableWatcher(sim.api)
        t0 = time.monotonic()
        for rel in healthy:
            create(sim, rel, env.repo.url, args.interval)
        watcher.wait({r.key for r in healthy}, 120, ctl.alive)
        log(f"A: {len(healthy)} healthy HelmReleases Ready in {time.monotonic() - t0:.1f}s")
        log_start = logs.offset()
        t_dead = time.monotonic()
        for rel in dead:
            create(sim, rel, hole.url, args.interval)
        time.sleep(args.settle)
        dead_early = {r.key: watcher.ready_condition(r.key) for r in dead}
        log(
            f"A: {len(dead)} black-hole HelmReleases created; "
            f"after {args.settle:g}s: {dead_early[dead[0].key]}"
        )
        delays: list[float | None] = []
        edits: dict[Release, int] = {}
        started = time.monotonic()
        for i in range(args.changes):
            # Spaced out, so that the edits meet the dead fetches at different points of their retries.
            if i:
                time.sleep(args.spacing)
            if i and time.monotonic() - started > args.budget:
                log(f"A: budget of {args.budget:g}s spent after {i} change(s): no more")
                break
            rel = healthy[i % len(healthy)]
            n = edits.get(rel, 0) + 1
            watcher.expect(upgraded_since(snapshot(watcher.objects[rel.key])))
            t = time.monotonic()
            edit(sim.api, rel, n)
            edits[rel] = n
            try:
                took: float | None = watcher.wait({rel.key}, args.change_timeout, ctl.alive) - t
            except BenchError as e:
                log(f"A: change {i + 1}: {e}")
                took = None
            delays.append(rnd(took, 3))
            log(f"A: change {i + 1} ({rel.key}): " + (f"Ready after {took:.2f}s" if took else "timed out"))
        dead_late = {r.key: watcher.ready_condition(r.key) for r in dead}
        measured = [d for d in delays if d is not None]
        return {
            "config": {
                "healthy": len(healthy),
                "dead": len(dead),
                "concurrent": args.concurrent,
                "interval_s": args.interval,
                "settle_s": args.settle,
                "changes": args.changes,
                "spacing_s": args.spacing,
                "budget_s": args.budget,
                "change_timeout_s": args.change_timeout,
            },
            "delays_s": delays,
            "delay_median_s": rnd(median(measured), 3) if measured else None,
            "delay_max_s": max(measured) if measured else None,  # of those measured: see "timeouts"
            "timeouts": len(delays) - len(measured),
            "target_max_delay_s": 2.0,
            "dead_ready_after_settle": dead_early,
            "dead_ready_at_end": dead_late,
            "dead_ready_at_end_after_s": round(time.monotonic() - t_dead, 1),
            "black_hole_connections": hole.connections,
            "edited_values_deployed": deployed_messages(sim.api, edits),
            "controller_log": logs.count(log_start),
            "controller_sigterm": stop_controller(ctl),
        }
    finally:
        stop_all(watcher, ctl, hole, sim)


# --- experiment B: API outage ---------------------------------------------------------------------------


def wait_fault_hits(api: Api, ids: list[int], timeout: float) -> int:
    """Until every fault in `ids` was hit once (its request is in flight), or the timeout: how many were."""
    deadline = time.monotonic() + timeout
    while True:
        hit = sum(1 for f in api.ok("GET", "/kubesim/faults") if f.get("id") in ids and f.get("hits", 0) > 0)
        if hit == len(ids) or time.monotonic() > deadline:
            return hit
        time.sleep(0.05)


def outage(args: argparse.Namespace, env: Env, work: Path, seconds: float) -> dict[str, Any]:
    releases = [Release("outage", f"app-{i:02d}") for i in range(args.releases)]
    mid = releases[: args.mid_upgrade]
    during = releases[args.mid_upgrade : args.mid_upgrade + args.edited]
    sim = KubeSimProcess(work, env.env)
    proxy = OutageProxy(sim.api.port)
    point_kubeconfig_at(sim.kubeconfig, proxy.url)  # the controller and its helm go through the proxy
    ctl: ControllerRun | None = None
    watcher: StableWatcher | None = None
    try:
        setup_cluster(sim, env, releases, with_crd=True)
        ctl = ControllerRun(controller_config(args.concurrent, args.interval), env, sim, work)
        logs = LogWindow(ctl)
        watcher = StableWatcher(sim.api)  # kubesim's own port: sees everything during the outage
        t0 = time.monotonic()
        for rel in releases:
            create(sim, rel, env.repo.url, args.interval)
        watcher.wait({r.key for r in releases}, 180, ctl.alive)
        log(f"B: {len(releases)} HelmReleases Ready in {time.monotonic() - t0:.1f}s")
        time.sleep(1.0)  # the last status writes and events land
        before = {r.key: snapshot(watcher.objects[r.key]) for r in releases}
        # 1. Slow upgrades of `mid`: helm's PATCH of the Deployment waits `upgrade_latency` s in kubesim.
        fault_ids = [
            int(
                sim.api.ok(
                    "POST", "/kubesim/faults",
                    {"status": 0, "method": "PATCH", "resource": "deployments", "namespace": rel.namespace,
                     "name": rel.name, "latency": args.upgrade_latency, "times": 1},
                )["id"]
            )
            for rel in mid
        ]  # fmt: skip
        for rel in mid:
            edit(sim.api, rel, 1)
        in_flight = wait_fault_hits(sim.api, fault_ids, 30)
        log(f"B: {in_flight}/{len(mid)} upgrades in flight (Deployment PATCH held {args.upgrade_latency:g}s)")
        # 2. The outage.
        log_down = logs.offset()
        t_down = time.monotonic()
        open_conns = proxy.down()
        log(f"B: API down for {seconds:g}s ({open_conns} connections closed)")
        time.sleep(min(args.edit_after, seconds))
        for rel in during:
            edit(sim.api, rel, 1)  # straight to kubesim: another API server replica took the write
        log(f"B: {len(during)} HelmReleases edited during the outage, on kubesim's own port")
        time.sleep(max(0.0, t_down + seconds - time.monotonic()))
        log_up = logs.offset()
        t_up = time.monotonic()
        proxy.up()
        log("B: API back")
        # 3. Recovery: every release Ready at its latest generation (and helm revision), for `hold` s.
        changed = {r.key: upgraded_since(before[r.key]) for r in mid + during}
        watcher.expect(per_key(changed))
        last, since = watcher.wait_stable(
            {r.key for r in releases}, args.hold, args.recovery_timeout, ctl.alive
        )
        log_end = logs.offset()
        converged = None if last is None else max(0.0, last - t_up)
        per_release = {k: rnd(None if t is None else max(0.0, t - t_up), 3) for k, t in sorted(since.items())}
        not_converged = {k: watcher.ready_condition(k) for k, t in per_release.items() if t is None}
        log(
            "B: "
            + (f"all converged {converged:.1f}s after recovery" if converged is not None else
               f"{len(not_converged)} not converged after {args.recovery_timeout:g}s")
        )  # fmt: skip
        during_outage, after = logs.count(log_down, log_up), logs.count(log_up, log_end)
        return {
            "config": {
                "outage_s": seconds,
                "releases": len(releases),
                "mid_upgrade": len(mid),
                "edited_during_outage": len(during),
                "edit_after_s": args.edit_after,
                "edits_during_outage_via": "kubesim's own port, bypassing the proxy",
                "upgrade_latency_s": args.upgrade_latency,
                "hold_s": args.hold,
                "concurrent": args.concurrent,
                "interval_s": args.interval,
            },
            "upgrades_in_flight_at_outage": in_flight,
            "connections_closed_at_outage": open_conns,
            "converged_after_recovery_s": rnd(converged, 3),
            "target_s": 5.0,
            "per_release_after_recovery_s": per_release,
            "changed": sorted(changed),
            "not_converged": not_converged,
            "edited_values_deployed": deployed_messages(sim.api, {r: 1 for r in mid + during}),
            "log_during_outage": during_outage,
            "log_after_recovery": after,
            "warning_or_error_lines": during_outage["warning_or_error"] + after["warning_or_error"],
            "controller_sigterm": stop_controller(ctl),
        }
    finally:
        stop_all(watcher, ctl, proxy, sim)


# --- output ----------------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    lines = ["| experiment | measure | value | target |", "| --- | --- | --- | --- |"]
    a = results.get("slow_source")
    if a:
        delays = ", ".join("timeout" if d is None else f"{d:.2f}" for d in a["delays_s"])
        cond: dict[str, Any] = next(iter(a["dead_ready_after_settle"].values()), {})
        msg = str(cond.get("message"))[:80]
        lines += [
            f"| A slow source | healthy edit -> Ready, median (s) | {a['delay_median_s']} | < 2 |",
            f"| A slow source | healthy edit -> Ready, max (s) | {a['delay_max_s']}"
            + (f" ({a['timeouts']} timed out)" if a["timeouts"] else "") + " | < 2 |",
            f"| A slow source | every delay (s) | {delays} | |",
            f"| A slow source | dead-repo Ready after {a['config']['settle_s']:g}s | "
            f"{cond.get('status')} {cond.get('reason')}: {msg} | Unknown Progressing, URL |",
            f"| A slow source | black-hole connections | {a['black_hole_connections']} | |",
            f"| A slow source | controller exit on SIGTERM | {sigterm(a)} | |",
        ]  # fmt: skip
    for secs, b in sorted((results.get("outage") or {}).items(), key=lambda kv: float(kv[0])):
        name = f"B outage {float(secs):g}s"
        conv = b["converged_after_recovery_s"]
        windows = b["log_during_outage"], b["log_after_recovery"]
        errors = " + ".join(
            str(sum(w["by_level"].get(lv, 0) for lv in ("error", "critical"))) for w in windows
        )
        warnings = " + ".join(str(w["by_level"].get("warning", 0)) for w in windows)
        slowest = max(
            ((k, v) for k, v in b["per_release_after_recovery_s"].items() if v is not None),
            key=lambda kv: kv[1], default=("", None),
        )  # fmt: skip
        lines += [
            f"| {name} | all Ready at latest generation after recovery (s) | "
            f"{conv if conv is not None else 'not converged'} | < 5 |",
            f"| {name} | slowest release (s) | {slowest[0]} {slowest[1]} | |",
            f"| {name} | not converged | {len(b['not_converged'])} | 0 |",
            f"| {name} | error log lines (outage + after) | {errors} | << 140 |",
            f"| {name} | warning log lines (outage + after) | {warnings} | |",
            f"| {name} | upgrades in flight at outage | {b['upgrades_in_flight_at_outage']} | |",
            f"| {name} | controller exit on SIGTERM | {sigterm(b)} | |",
        ]  # fmt: skip
    return "\n".join(lines)


def sigterm(res: dict[str, Any]) -> str:
    got = res.get("controller_sigterm")
    return f"{got['stop_s']}s, exit code {got['exit_code']}" if got else "n/a"


def merge_results(path: Path, update: dict[str, Any]) -> dict[str, Any]:
    """Merge into the JSON file: a rerun of one experiment keeps the other's numbers."""
    results: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        results = json.loads(path.read_text())
    for key, value in update.items():
        if key == "outage":
            results.setdefault("outage", {}).update(value)
        else:
            results[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Issue 10 experiments: a chart source that never answers, an API outage."
    )
    p.add_argument("which", nargs="?", choices=["all", "slowsource", "outage"], default="all")
    p.add_argument("--concurrent", type=int, default=4, help="controller --concurrent")
    p.add_argument("--interval", type=float, default=5.0, help="HelmRelease spec.interval (s)")
    p.add_argument("--out", default=str(ROOT / "bench" / "experiments.json"), help="results file")
    p.add_argument("--keep", action="store_true", help="keep the work directory (every process's log)")
    p.add_argument("--label", default="", help="free text stored with the results, e.g. 'before: <commit>'")
    p.add_argument(
        "--controller-tree",
        help="run the controller and kubesim from this source tree, e.g. a `git archive` of an older "
        "commit for a before/after comparison (default: this checkout)",
    )
    a = p.add_argument_group("A, slow chart source")
    a.add_argument("--healthy", type=int, default=10, help="healthy HelmReleases")
    a.add_argument("--dead", type=int, default=5, help="HelmReleases whose repository never answers")
    a.add_argument(
        "--settle", type=float, default=2.0, help="seconds between the dead ones and the first edit"
    )
    a.add_argument("--changes", type=int, default=5, help="values edits of healthy releases, one at a time")
    a.add_argument("--spacing", type=float, default=10.0, help="seconds between one edit's end and the next")
    a.add_argument("--budget", type=float, default=120.0, help="no edit starts after this many s of edits")
    a.add_argument("--change-timeout", type=float, default=90.0, help="give up on one edit after (s)")
    b = p.add_argument_group("B, API outage")
    b.add_argument("--outage", default="60", help="outage length(s) in s, comma-separated (default 60)")
    b.add_argument("--releases", type=int, default=20, help="HelmReleases")
    b.add_argument("--mid-upgrade", type=int, default=4, help="releases upgrading when the API goes away")
    b.add_argument("--edited", type=int, default=5, help="releases whose spec changes during the outage")
    b.add_argument("--edit-after", type=float, default=2.0, help="seconds into the outage of those edits")
    b.add_argument(
        "--upgrade-latency", type=float, default=5.0, help="kubesim delay of the slow upgrades (s)"
    )
    b.add_argument("--hold", type=float, default=3.0, help="converged = all Ready for this long (s)")
    b.add_argument("--recovery-timeout", type=float, default=180.0, help="give up after recovery (s)")
    args = p.parse_args(argv)
    args.outages = [float(s) for s in args.outage.split(",") if s.strip()]
    if args.mid_upgrade + args.edited > args.releases:
        p.error("--mid-upgrade + --edited must not exceed --releases")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_describe(),  # of this checkout (see controller_tree when it ran from another)
        "controller_tree": str(ROOT),
        "label": args.label,
        "cpu_count": os.cpu_count(),
        "load_at_start": loadavg(),
    }
    update: dict[str, Any] = {}
    with guarded() as guard:
        try:
            with prepared(args.keep) as (work, env):
                if args.controller_tree:
                    tree = Path(args.controller_tree).resolve()
                    env.env["PYTHONPATH"] = os.pathsep.join([str(tree), env.env["PYTHONPATH"]])
                    meta["controller_tree"] = str(tree)
                if args.which in ("all", "slowsource"):
                    log("A: slow chart source")
                    update["slow_source"] = {**meta, **slow_source(args, env, work / "slowsource")}
                if args.which in ("all", "outage"):
                    update["outage"] = {}
                    for secs in args.outages:
                        log(f"B: API outage of {secs:g}s")
                        res = outage(args, env, work / f"outage-{secs:g}", secs)
                        update["outage"][f"{secs:g}"] = {**meta, "load_at_end": loadavg(), **res}
        finally:
            if update:
                merge_results(out, update)
    if guard.code:
        return guard.code
    print(table(update))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
