"""The end-to-end demo: the real controller, the real helm and kubectl, against kubesim. No cluster needed.

    make demo                      # or: PATH=.bin:$PATH .venv/bin/python hack/demo.py [--keep] [--no-color]

It starts three processes and a thread, all on 127.0.0.1:

- kubesim (`python -m kubesim`), the in-memory Kubernetes API server of this repository;
- a chart repository: tests/charts/webapp packaged at 1.0.0 and 1.1.0 by `helm package`, indexed
  by `helm repo index`, served by `http.server` in a thread;
- the controller (`python -m helmrelease_controller run`), logging text to a file in the work dir;

then walks through install, upgrade, a failing upgrade that is retried and rolled back, a failed
release kept for debugging, and suspend/resume, printing every `kubectl` and `helm` command it
runs and their real output. Everything lives in a temporary work directory (KUBECONFIG,
KUBECACHEDIR and HELM_*_HOME point into it; nothing in your home is touched), removed at the
end unless `--keep` is given or something failed.

On any failure it prints what went wrong and the tail of the controller log, and exits 1.
Stdlib + PyYAML only: the controller and kubesim are driven as separate processes, as a user would.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from procs import kill_group, terminate

ROOT = Path(__file__).resolve().parents[1]
CHART_SRC = ROOT / "tests" / "charts" / "webapp"
CRD = ROOT / "crds" / "helmrelease.yaml"
CHART_VERSIONS = ("1.0.0", "1.1.0")
T = TypeVar("T")


class DemoError(Exception):
    """Something the demo expected did not happen; the message says what."""


# --- output ---------------------------------------------------------------------------------------


class Out:
    """Narration: section headers, paragraphs, `$ command` lines and indented command output."""

    def __init__(self, color: bool, started: float) -> None:
        self.color = color
        self.started = started
        self.sections = 0

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def section(self, title: str) -> None:
        self.sections += 1
        head = f"== {self.sections}. {title} "
        head += "=" * max(3, 78 - len(head))
        print(f"\n{self._c('1;36', head)} {self._c('2', f'[{self.elapsed():.1f}s]')}")

    def say(self, text: str) -> None:
        print(textwrap.fill(" ".join(text.split()), width=100))

    def note(self, text: str) -> None:
        print(self._c("2", textwrap.fill(" ".join(text.split()), width=100)))

    def ok(self, text: str) -> None:
        print(self._c("32", "  ok: ") + text)

    def command(self, shown: str) -> None:
        print(self._c("1;32", "$ ") + self._c("1", shown))

    def output(self, text: str) -> None:
        for line in text.rstrip("\n").splitlines():
            print("    " + line.rstrip())

    def error(self, text: str) -> None:
        print(self._c("1;31", "error: ") + text)


# --- the pieces -------------------------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the chart repository directory; request lines are not printed."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ChartRepository:
    """A directory served over HTTP on 127.0.0.1 (an ephemeral port) from a background thread."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(QuietHandler, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="chart-repo", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Demo:
    def __init__(self, work: Path, out: Out) -> None:
        self.work = work
        self.out = out
        self.kubeconfig = work / "kubeconfig"
        self.controller_log = work / "controller.log"
        self.kubesim_log = work / "kubesim.log"
        self.kubesim: subprocess.Popen[bytes] | None = None
        self.controller: subprocess.Popen[bytes] | None = None
        self.repo: ChartRepository | None = None
        self.api_url = ""
        path = os.environ.get("PATH", "")
        if (ROOT / ".bin").is_dir():
            path = f"{ROOT / '.bin'}{os.pathsep}{path}"
        self.env = {
            **os.environ,
            "PATH": path,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(work / "kube-cache"),
            "HELM_CACHE_HOME": str(work / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(work / "helm" / "config"),
            "HELM_DATA_HOME": str(work / "helm" / "data"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
            "PYTHONUNBUFFERED": "1",
        }
        for tool in ("kubectl", "helm"):
            if shutil.which(tool, path=path) is None:
                raise DemoError(f"{tool} not found on PATH or in {ROOT / '.bin'}: run `make tools` first")

    # -- running commands ----------------------------------------------------------------------------
    def sh(self, cmdline: str, check: bool = True) -> str:
        """Print `$ cmdline`, run it (split like a shell would, no shell) in the work directory, print its
        output indented; return stdout. What is printed is exactly what runs: it can be pasted as is."""
        self.out.command(cmdline)
        argv = shlex.split(cmdline)
        try:
            proc = subprocess.run(
                argv, cwd=self.work, env=self.env, capture_output=True, text=True, timeout=120
            )
        except subprocess.TimeoutExpired as e:
            raise DemoError(f"`{cmdline}` did not finish within {e.timeout:.0f}s") from None
        self.out.output(proc.stdout + proc.stderr)
        if check and proc.returncode != 0:
            raise DemoError(f"`{cmdline}` exited with status {proc.returncode}")
        return proc.stdout

    def watch(self, cmdline: str, until: Callable[[], bool], timeout: float, what: str) -> None:
        """Stream a `kubectl ... --watch` (consecutive repeated lines folded) until `until()` holds."""
        self.out.command(cmdline)
        proc = subprocess.Popen(
            shlex.split(cmdline),
            cwd=self.work,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        stream = proc.stdout

        def pump() -> None:
            last = None
            for line in stream:
                if line != last:
                    self.out.output(line)
                last = line

        reader = threading.Thread(target=pump, name="watch", daemon=True)
        reader.start()
        try:
            self.wait(until, timeout, what)
            time.sleep(0.5)  # let the watch print the state that satisfied us
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            reader.join(5)
        self.out.note(f"(watch stopped by the demo: {what})")

    # -- reading the API directly (for the demo's own waits; not shown) ----------------------------------
    def get(self, path: str) -> dict[str, Any] | None:
        req = urllib.request.Request(self.api_url + path, headers={"Authorization": "Bearer kubesim"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                obj: dict[str, Any] = json.loads(resp.read())
                return obj
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise DemoError(f"GET {path}: HTTP {e.code}") from None
        except OSError as e:
            raise DemoError(f"GET {path}: {e}") from None

    def hr(self, ns: str, name: str) -> dict[str, Any]:
        return self.get(f"/apis/helmrelease.dev/v1/namespaces/{ns}/helmreleases/{name}") or {}

    def status(self, ns: str, name: str) -> dict[str, Any]:
        return dict(self.hr(ns, name).get("status") or {})

    def condition(self, ns: str, name: str, type_: str) -> dict[str, Any]:
        for c in self.status(ns, name).get("conditions") or []:
            if c.get("type") == type_:
                return dict(c)
        return {}

    def release_revision(self, ns: str, release: str) -> int:
        """The newest revision in Helm's storage (the release Secrets' `version` label); 0 when none."""
        sel = urllib.parse.quote(f"owner=helm,name={release}")
        items = (self.get(f"/api/v1/namespaces/{ns}/secrets?labelSelector={sel}") or {}).get("items") or []
        return max((int(s["metadata"]["labels"]["version"]) for s in items), default=0)

    def wait(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = fn()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.2)

    def check_alive(self) -> None:
        if self.kubesim is not None and self.kubesim.poll() is not None:
            raise DemoError(f"kubesim exited with status {self.kubesim.returncode} (log: {self.kubesim_log})")
        if self.controller is not None and self.controller.poll() is not None:
            raise DemoError(f"the controller exited with status {self.controller.returncode}")

    # -- processes ---------------------------------------------------------------------------------------
    def start_kubesim(self) -> None:
        argv = [sys.executable, "-m", "kubesim", "--port", "0", "--kubeconfig-out", str(self.kubeconfig)]
        self.out.command(shlex.join(["python", *argv[1:]]) + " &")
        log = open(self.kubesim_log, "wb")  # noqa: SIM115 - the process owns it
        self.kubesim = subprocess.Popen(
            argv, cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=log, start_new_session=True
        )
        log.close()
        assert self.kubesim.stdout is not None
        ready, _, _ = select.select([self.kubesim.stdout], [], [], 20)
        line = self.kubesim.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http"):
            self.check_alive()
            raise DemoError(f"kubesim did not print its URL within 20s (log: {self.kubesim_log})")
        self.api_url = line
        self.out.output(line)

    def start_controller(self) -> list[str]:
        argv = [
            sys.executable, "-m", "helmrelease_controller", "run",
            "--kubeconfig", str(self.kubeconfig),
            "--cache-dir", str(self.work / "cache"),
            "--log-format", "text",
            "--metrics-addr", "127.0.0.1:0",  # any free port: the demo must not clash with :8080
        ]  # fmt: skip
        log = open(self.controller_log, "wb")  # noqa: SIM115 - the process owns it
        self.controller = subprocess.Popen(
            argv, cwd=self.work, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return ["python", *argv[1:]]

    def controller_log_text(self) -> str:
        return self.controller_log.read_text(errors="replace") if self.controller_log.exists() else ""

    def stop_controller(self, timeout: float = 20) -> int | None:
        """SIGTERM (graceful: running helm actions may finish), SIGKILL to its group if it hangs."""
        proc, self.controller = self.controller, None
        if proc is None:
            return None
        if terminate(proc, timeout) != 0:
            # It died or was killed: its helm processes (same process group) must not outlive the demo.
            kill_group(proc)
        return proc.returncode

    def stop_all(self) -> None:
        self.stop_controller()
        if self.repo is not None:
            self.repo.stop()
            self.repo = None
        proc, self.kubesim = self.kubesim, None
        if proc is not None:
            terminate(proc, 10)
            if proc.stdout is not None:
                proc.stdout.close()

    # -- files the user reads ------------------------------------------------------------------------------
    def write(self, rel: str, text: str) -> Path:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        yaml.safe_load(text)  # the demo only ships YAML that parses
        path.write_text(text)
        return path

    def patch_values(self, ns: str, name: str, values: dict[str, Any]) -> None:
        """`kubectl patch` a HelmRelease's spec.values (a JSON merge patch: only the given keys change)."""
        body = json.dumps({"spec": {"values": values}}, separators=(",", ":"))
        self.sh(f"kubectl patch hr {name} -n {ns} --type merge -p {shlex.quote(body)}")


# --- the HelmReleases -------------------------------------------------------------------------------


def helmrelease_yaml(name: str, ns: str, repo_url: str, version: str, message: str, extra: str = "") -> str:
    comment = {
        "1.x": "newest 1.x in the repository index",
        "1.0.0": "pinned: prod moves only when this line changes",
    }.get(version, "")
    return f"""\
apiVersion: helmrelease.dev/v1
kind: HelmRelease
metadata:
  name: {name}
  namespace: {ns}
spec:
  interval: 1m             # compare the cluster with this spec every minute (no helm call if equal)
  timeout: 4s              # per helm action; short for the demo (default 5m)
  chart:
    repository:
      url: {repo_url}
      name: webapp
      version: {f'"{version}"':<13}{f"# {comment}" if comment else ""}
  values:
    message: {message}
  upgrade:
    remediation:
      retries: 1           # a failed upgrade is retried once, then rolled back
  backoff:
    initial: 1s            # wait between retries: 1s, 2s, ... (default 10s up to 10m)
    max: 2s
{extra}"""


# Columns for `kubectl get hr -o jsonpath=...`: every condition; and one line per change while watching.
CONDITIONS = shlex.quote(
    'jsonpath={range .status.conditions[*]}{.type}{"\\t"}{.status}{"\\t"}{.reason}'
    '{"\\t"}{.message}{"\\n"}{end}'
)
WATCH_LINE = shlex.quote(
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}{"\\t"}upgradeFailures={.status.upgradeFailures}'
    '{"\\t"}{.status.conditions[?(@.type=="Ready")].message}{"\\n"}'
)
MESSAGE = shlex.quote('jsonpath={.data.message}{"\\n"}')


# --- the story --------------------------------------------------------------------------------------


def story(d: Demo, out: Out) -> None:
    out.say(
        """This demo runs the real controller, the real helm and the real kubectl against kubesim, an
        in-memory Kubernetes API server: install, upgrade, a failing upgrade retried then rolled back,
        a failed release kept for debugging, suspend and resume. Every command it runs is printed
        with its real output."""
    )

    out.section("A Kubernetes API server: kubesim")
    out.say(
        """No cluster is needed: kubesim is this repository's in-memory Kubernetes API server. It speaks
        the real HTTP API, so kubectl, helm and the controller talk to it as to a cluster. Workloads
        become ready by themselves, except those annotated kubesim.dev/never-ready."""
    )
    out.command(f"cd {d.work}")
    d.start_kubesim()
    out.command(f"export KUBECONFIG={d.kubeconfig}")
    d.sh("kubectl version")

    out.section("A chart repository")
    out.say(
        """The chart tests/charts/webapp (a Deployment, a Service and a ConfigMap holding the value
        `message`) is packaged at two versions with `helm package`, indexed with `helm repo index`,
        and served over HTTP on 127.0.0.1 by a thread of this script."""
    )
    for version in CHART_VERSIONS:
        chart_dir = d.work / "charts" / f"webapp-{version}" / "webapp"
        shutil.copytree(CHART_SRC, chart_dir)
        meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        meta.update(version=version, appVersion=version)
        (chart_dir / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
        d.sh(f"helm package charts/webapp-{version}/webapp --destination repo")
    d.sh("helm repo index repo")
    d.repo = ChartRepository(d.work / "repo")
    url = d.repo.url
    out.note(f"(serving ./repo at {url})")
    d.sh(f"helm repo add demo {url}")
    d.sh("helm search repo demo/webapp --versions")

    out.section("The HelmRelease CRD and two namespaces")
    d.sh(f"kubectl apply -f {CRD}")
    d.sh("kubectl create namespace dev")
    d.sh("kubectl create namespace prod")

    out.section("The controller")
    shown = d.start_controller()
    out.command(shlex.join(shown) + " > controller.log 2>&1 &")
    out.note(f"(log: {d.controller_log}; `tail -f` it in another terminal to follow along)")
    d.wait(lambda: "informer synced" in d.controller_log_text(), 30, "the controller to start")
    d.sh("cat controller.log")

    out.section("Declare the releases: dev follows 1.x, prod is pinned to 1.0.0")
    d.write("releases/dev/webapp.yaml", helmrelease_yaml("dev-webapp", "dev", url, "1.x", "hello from dev"))
    d.write(
        "releases/prod/webapp.yaml", helmrelease_yaml("prod-webapp", "prod", url, "1.0.0", "hello from prod")
    )
    out.say(
        """A platform team keeps one HelmRelease per environment in git. The fields follow Flux's
        HelmRelease; the API is helmrelease.dev/v1:"""
    )
    d.sh("cat releases/dev/webapp.yaml")
    d.sh("diff -u releases/dev/webapp.yaml releases/prod/webapp.yaml", check=False)
    d.sh("kubectl apply -R -f releases/")
    d.sh("kubectl wait hr --all -A --for=condition=Ready --timeout=60s")
    out.say(
        """`kubectl get hr` (hr is short for helmreleases) is the summary: READY and STATUS come from the
        Ready condition, CHART is what was resolved from the index, REVISION the chart version and the
        digest of the chart archive last applied, SUSPENDED whether the controller keeps its hands off."""
    )
    d.sh("kubectl get hr -A")
    out.say("They are ordinary Helm releases, installed by the real helm:")
    d.sh("helm list -A")
    d.sh("kubectl get deployments -A")

    out.section("Upgrade: change a value")
    out.say("Changing the spec (here with kubectl patch; with git you would edit the file) upgrades it.")
    d.patch_values("dev", "dev-webapp", {"message": "hello again"})
    d.sh("kubectl wait hr/dev-webapp -n dev --for=condition=Ready --timeout=60s")
    d.sh("helm history dev-webapp -n dev")
    d.sh(f"kubectl get configmap dev-webapp-config -n dev -o {MESSAGE}")
    if d.release_revision("dev", "dev-webapp") != 2:
        raise DemoError("expected dev-webapp at revision 2 after the values change")
    out.say(
        """An unchanged spec never starts helm. Ask for a reconcile of prod now with the annotation
        helmrelease.dev/reconcile-requested-at: the controller looks, finds prod in sync and records
        the token it handled; prod stays at revision 1."""
    )
    d.sh("kubectl annotate hr prod-webapp -n prod helmrelease.dev/reconcile-requested-at=demo-1")
    d.sh("kubectl wait hr/prod-webapp -n prod --for=jsonpath={.status.lastHandledReconcileAt}=demo-1")
    d.sh("helm history prod-webapp -n prod")
    if d.release_revision("prod", "prod-webapp") != 1:
        raise DemoError("a reconcile of the unchanged prod-webapp changed its release")

    out.section("A failing upgrade: retried, then rolled back")
    out.say(
        """Now a bad change: `neverReady: true` makes the Deployment never become ready, so helm's wait
        times out after 4s. The spec says `upgrade.remediation.retries: 1` with a 1s backoff: the
        controller retries once on top of the failed release, then rolls back to the last deployed
        revision and stops (Stalled) until the spec changes. About 10 seconds:"""
    )
    d.patch_values("dev", "dev-webapp", {"neverReady": True})
    d.watch(
        f"kubectl get hr dev-webapp -n dev --watch -o {WATCH_LINE}",
        lambda: d.condition("dev", "dev-webapp", "Stalled").get("status") == "True",
        60,
        "Stalled=True",
    )
    d.sh("helm history dev-webapp -n dev")
    out.say("Revisions 3 and 4 failed; revision 5 is the rollback to revision 2. The conditions say so too:")
    d.sh(f"kubectl get hr dev-webapp -n dev -o {CONDITIONS}")
    d.sh(f"kubectl get configmap dev-webapp-config -n dev -o {MESSAGE}")
    remediated = d.condition("dev", "dev-webapp", "Remediated")
    if remediated.get("reason") != "RollbackSucceeded":
        raise DemoError(f"expected Remediated=True RollbackSucceeded, got {remediated or 'no condition'}")
    out.say(
        """Stalled means no more attempts for this spec: no upgrade loop. Fixing the spec starts over with
        fresh retries (so do the annotations helmrelease.dev/force-at and helmrelease.dev/reset-at):"""
    )
    d.patch_values("dev", "dev-webapp", {"neverReady": False, "message": "fixed"})
    d.sh("kubectl wait hr/dev-webapp -n dev --for=condition=Ready --timeout=60s")
    d.sh("kubectl get hr dev-webapp -n dev")

    out.section("Keep a failed release for debugging")
    out.say(
        """With `keepFailedRelease: true` the controller makes the same retries but never rolls back or
        uninstalls: the failed revision stays in place for you to inspect."""
    )
    keep = "  keepFailedRelease: true   # on failure: no rollback, no uninstall\n"
    debug = helmrelease_yaml("dev-webapp-debug", "dev", url, "1.x", "hello from dev", keep)
    d.write("releases/dev/webapp-debug.yaml", debug)
    d.sh("diff -u releases/dev/webapp.yaml releases/dev/webapp-debug.yaml", check=False)
    d.sh("kubectl apply -f releases/dev/webapp-debug.yaml")
    d.sh("kubectl wait hr/dev-webapp-debug -n dev --for=condition=Ready --timeout=60s")
    d.patch_values("dev", "dev-webapp-debug", {"neverReady": True})
    out.note("(about 10s: two 4s timeouts and a 1s backoff)")
    d.sh("kubectl wait hr/dev-webapp-debug -n dev --for=condition=Stalled --timeout=60s")
    d.sh("helm history dev-webapp-debug -n dev")
    stalled = shlex.quote('jsonpath={.status.conditions[?(@.type=="Stalled")].message}{"\\n"}')
    d.sh(f"kubectl get hr dev-webapp-debug -n dev -o {stalled}")
    d.sh("kubectl get deployment dev-webapp-debug -n dev")
    if d.condition("dev", "dev-webapp-debug", "Remediated"):
        raise DemoError("dev-webapp-debug has keepFailedRelease: true but was remediated")

    out.section("Suspend and resume")
    out.say(
        """An incident in prod: freeze it. The annotation helmrelease.dev/suspend=true stops all
        reconciling of that HelmRelease; spec changes wait until it is removed."""
    )
    d.sh("kubectl annotate hr prod-webapp -n prod helmrelease.dev/suspend=true")
    d.patch_values("prod", "prod-webapp", {"message": "prod v2"})
    d.wait(lambda: d.status("prod", "prod-webapp").get("suspended") is True, 30, "status.suspended")
    out.note("(giving the controller 3 seconds to do nothing)")
    time.sleep(3)
    d.sh("kubectl get hr prod-webapp -n prod")
    d.sh("helm history prod-webapp -n prod")
    d.sh(f"kubectl get configmap prod-webapp-config -n prod -o {MESSAGE}")
    if d.release_revision("prod", "prod-webapp") != 1:
        raise DemoError("prod-webapp changed while suspended")
    out.say("Resume by removing the annotation: the waiting change is applied at once.")
    t0 = time.monotonic()
    d.sh("kubectl annotate hr prod-webapp -n prod helmrelease.dev/suspend-")
    d.sh("kubectl wait hr/prod-webapp -n prod --for=jsonpath={.status.history[0].revision}=2 --timeout=60s")
    out.note(f"(applied {time.monotonic() - t0:.1f}s after the annotation was removed)")
    d.sh("helm history prod-webapp -n prod")
    d.sh(f"kubectl get configmap prod-webapp-config -n prod -o {MESSAGE}")
    d.wait(lambda: d.condition("prod", "prod-webapp", "Ready").get("status") == "True", 30, "prod Ready")

    out.section("Where things stand")
    d.sh("kubectl get hr -A")
    out.say(
        """Every action is also an Event on its HelmRelease. Repeats are folded into one Event with a
        count, which `kubectl events -n dev` and `kubectl describe hr` show as (x2 over ...):"""
    )
    d.sh("kubectl get events -n dev --sort-by=.eventTime")


def shutdown(d: Demo, out: Out) -> None:
    out.section("Shut down")
    out.say("SIGTERM: the controller stops taking work and lets running helm actions finish first.")
    rc = d.stop_controller()
    d.sh("tail -n 3 controller.log")
    if rc != 0:
        raise DemoError(f"the controller exited with status {rc} on SIGTERM")
    d.stop_all()
    out.ok("controller, kubesim and the chart repository stopped")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The helmrelease-controller demo: no cluster needed.")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, YAML, charts)")
    p.add_argument("--no-color", action="store_true", help="no ANSI colours (default: colours on a TTY)")
    args = p.parse_args(argv)
    started = time.monotonic()
    out = Out(sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ, started)
    work = Path(tempfile.mkdtemp(prefix="helmrelease-demo-"))
    keep = args.keep
    d: Demo | None = None
    code = 0
    try:
        d = Demo(work, out)
        story(d, out)
        shutdown(d, out)
    except (DemoError, KeyboardInterrupt) as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        code = 130 if interrupted else 1
        keep = True
        out.error("interrupted" if interrupted else str(e))
        if d is not None and not interrupted:
            tail = d.controller_log_text().splitlines()[-40:]
            if tail:
                print(f"\n--- last {len(tail)} lines of {d.controller_log} ---")
                print("\n".join(tail))
    finally:
        if d is not None:
            d.stop_all()
    if keep:
        print(f"\nwork directory kept: {work} (controller.log, kubesim.log, releases/, charts/, repo/)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    result = {0: "done", 130: "interrupted"}.get(code, "FAILED")
    print(f"\n{result} in {time.monotonic() - started:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
