"""The end-to-end GitOps demo: a git push deploys, with the real controller, helm, kubectl and git,
against kubesim. No cluster needed.

    make demo                      # or: PATH=.bin:$PATH .venv/bin/python hack/demo.py [--keep] [--no-color]

It starts four processes and a thread, all on 127.0.0.1:

- kubesim (`python -m kubesim`), the in-memory Kubernetes API server of this repository;
- a chart repository: tests/charts/webapp packaged at 1.0.0 and 1.1.0 by `helm package`, indexed
  by `helm repo index`, served by `http.server` in a thread;
- a git server: `git daemon` serving the bare repository `platform.git` (pushes allowed), from which
  the GitSyncs fetch (GitSync refuses file:// URLs, as chart.git does): hack/gitdaemon.py;
- the controller (`python -m helmrelease_controller run`), serving HelmReleases and GitSyncs and
  the push webhook receiver on its metrics port, logging text to a file in the work dir;

then bootstraps one GitSync per environment with `kubectl apply` (the only apply) and lets git
drive: each step is a commit pushed to the git server followed by the signed push webhook a git host
would send (printed as the equivalent `curl`), so it takes seconds, not the GitSync's interval. The
pushes install dev and prod, upgrade dev, push broken YAML (rejected whole, naming file and line,
the last good commit stays applied), fix it, push a failing upgrade (retried, then rolled back),
delete files (pruned in dev, listed as orphans in prod), and promote prod while its HelmRelease is
suspended with `kubectl annotate` (the one kubectl action left). Every `git`, `kubectl` and `helm`
command is printed with its real output. Everything lives in a temporary work directory
(KUBECONFIG, KUBECACHEDIR, HELM_*_HOME and git's configuration point into it or nowhere; nothing
in your home is touched), removed at the end unless `--keep` is given or something failed.

It doubles as a smoke test: any step that does not reach its expected state prints what went
wrong and the tail of the controller log, and exits 1. Stdlib + PyYAML only: the controller, kubesim
and git are driven as separate processes, as a user would.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import secrets
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
from gitdaemon import GitDaemon, github_signature
from procs import kill_group, terminate

from bench import kubesim_argv, spawn_kubesim

ROOT = Path(__file__).resolve().parents[1]
CHART_SRC = ROOT / "tests" / "charts" / "webapp"
CRDS = ROOT / "crds"
CHART_VERSIONS = ("1.0.0", "1.1.0")
BRANCH = "main"
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
        self.git_server: GitDaemon | None = None
        self.api_url = ""
        self.metrics_url = ""
        self.webhook_token = secrets.token_hex(16)
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
            # git: no user or system configuration (no signing hooks, no default-branch surprises)
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Platform Team",
            "GIT_AUTHOR_EMAIL": "platform@example.com",
            "GIT_COMMITTER_NAME": "Platform Team",
            "GIT_COMMITTER_EMAIL": "platform@example.com",
        }
        for tool in ("kubectl", "helm", "git"):
            if shutil.which(tool, path=path) is None:
                hint = "install git" if tool == "git" else "run `make tools` first"
                raise DemoError(f"{tool} not found on PATH or in {ROOT / '.bin'}: {hint}")

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

    def release_revision(self, ns: str, release: str) -> int:
        """The newest revision in Helm's storage (the release Secrets' `version` label); 0 when none."""
        sel = urllib.parse.quote(f"owner=helm,name={release}")
        items = (self.get(f"/api/v1/namespaces/{ns}/secrets?labelSelector={sel}") or {}).get("items") or []
        return max((int(s["metadata"]["labels"]["version"]) for s in items), default=0)

    def wait(self, fn: Callable[[], T | None], timeout: float, what: str) -> T:
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
        daemon = self.git_server.proc if self.git_server is not None else None
        if daemon is not None and daemon.poll() is not None:
            raise DemoError(f"git daemon exited with status {daemon.returncode}")

    # -- processes ---------------------------------------------------------------------------------------
    def start_kubesim(self) -> None:
        argv = kubesim_argv(self.kubeconfig)
        self.out.command(shlex.join(["python", *argv[1:]]) + " &")
        self.kubesim, line = spawn_kubesim(argv, self.work, self.env, self.kubesim_log, 20)
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
        if self.git_server is not None:
            self.git_server.stop()
            self.git_server = None
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

    # -- git: the platform repository (work tree ./platform, pushed to the git server) ----------------------
    def start_git_server(self) -> None:
        self.sh(f"git init -q --bare -b {BRANCH} srv/platform.git")
        self.git_server = GitDaemon(self.work / "srv", self.env)
        self.out.command(shlex.join(self.git_server.argv()) + " &")
        try:
            self.git_server.start(self.work / "git-daemon.log")
        except RuntimeError as e:
            raise DemoError(str(e)) from None

    def git(self, args: str) -> str:
        return self.sh(f"git -C platform {args}")

    def head(self) -> str:
        proc = subprocess.run(
            ["git", "-C", "platform", "rev-parse", "HEAD"], cwd=self.work, env=self.env, capture_output=True,
            text=True, timeout=30,
        )  # fmt: skip
        if proc.returncode != 0:
            raise DemoError(f"git rev-parse HEAD: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def push(self, message: str | None) -> str:
        """Commit the work tree as it is (unless `message` is None: HEAD as it is), push it, and send both
        GitSyncs the push webhook, as a git host with one webhook per GitSync would. The commit's SHA."""
        if message is not None:
            self.git("add -A")
            self.git(f"commit -m {shlex.quote(message)}")
        self.git(f"push origin {BRANCH}")
        sha = self.head()
        for ns in ("dev", "prod"):
            self.webhook(ns, sha)
        return sha

    def webhook(self, ns: str, sha: str, signed: bool = True) -> None:
        """POST a GitHub-style push webhook to the controller, printed as the equivalent `curl`."""
        url = f"{self.metrics_url}/hooks/gitsync/{ns}/releases"
        body = json.dumps({"ref": f"refs/heads/{BRANCH}", "after": sha}, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = github_signature(self.webhook_token, body)
        shown = ["curl", "-sS", "-X", "POST", url]
        for key, value in headers.items():
            shown += ["-H", f"{key}: {value}"]
        self.out.command(shlex.join([*shown, "-d", body.decode()]))
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                code, text = int(resp.status), resp.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            code, text = int(e.code), e.read().decode(errors="replace")
        except OSError as e:
            raise DemoError(f"POST {url}: {e}") from None
        self.out.output(text)
        expected = 202 if signed else 401
        if code != expected:
            raise DemoError(f"POST {url}: HTTP {code}, expected {expected}")

    # -- the GitSyncs ----------------------------------------------------------------------------------------
    def gitsync(self, ns: str) -> dict[str, Any]:
        return self.get(f"/apis/helmrelease.dev/v1/namespaces/{ns}/gitsyncs/releases") or {}

    def synced(self, ns: str, sha: str, applied: bool = True, timeout: float = 30) -> dict[str, Any]:
        """Wait until GitSync <ns>/releases has tried commit `sha` and applied it (Ready=True) or, with
        applied=False, rejected it (Stalled=True). Its status."""
        revision = f"{BRANCH}@sha1:{sha}"

        def done() -> dict[str, Any] | None:
            obj = self.gitsync(ns)
            st: dict[str, Any] = obj.get("status") or {}
            if st.get("lastAttemptedRevision") != revision:
                return None
            ready, stalled = cond(obj, "Ready"), cond(obj, "Stalled")
            if ready.get("status") == "True" and st.get("lastAppliedRevision") == revision:
                if not applied:
                    raise DemoError(f"GitSync {ns}/releases applied {sha[:7]}, which it should have rejected")
                return st
            if stalled.get("status") == "True":
                if applied:
                    raise DemoError(f"GitSync {ns}/releases rejected {sha[:7]}: {ready.get('message')}")
                return st
            return None

        what = f"GitSync {ns}/releases to {'apply' if applied else 'reject'} {sha[:7]}"
        try:
            return self.wait(done, timeout, what)
        except DemoError as e:
            st = self.gitsync(ns).get("status") or {}
            conditions = "; ".join(
                f"{c.get('type')}={c.get('status')} {c.get('reason')}: {c.get('message')}"
                for c in st.get("conditions") or []
            )
            attempted = st.get("lastAttemptedRevision")
            raise DemoError(
                f"{e} (lastAttemptedRevision {attempted}; {conditions or 'no conditions'})"
            ) from None

    def push_dev_webapp(self, message: str, revision: int, also: str | None = None) -> None:
        """Show the diff and push it; wait for dev's GitSync (then `also`'s) to sync it and for
        dev-webapp to be Ready at `revision`."""
        self.git("diff")
        sha = self.push(message)
        for ns in ("dev", also) if also else ("dev",):
            self.synced(ns, sha)
        self.wait(
            lambda: (
                self.release_revision("dev", "dev-webapp") == revision and self.ready("dev", "dev-webapp")
            ),
            60,
            "dev-webapp upgraded",
        )

    def ready(self, ns: str, name: str) -> bool:
        """Is the HelmRelease Ready for its current spec (the condition's observedGeneration)?"""
        obj = self.hr(ns, name)
        c, generation = cond(obj, "Ready"), (obj.get("metadata") or {}).get("generation")
        return c.get("status") == "True" and c.get("observedGeneration", generation) == generation

    def edit(self, rel: str, old: str, new: str) -> None:
        """Replace `old` by `new` in a file of the work tree (as an editor would; `git diff` shows it)."""
        path = self.work / rel
        text = path.read_text()
        if old not in text:
            raise DemoError(f"the demo's edit of {rel} found no {old!r}")
        path.write_text(text.replace(old, new, 1))


def cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


# --- what is committed ------------------------------------------------------------------------------


def helmrelease_yaml(name: str, repo_url: str, version: str, message: str) -> str:
    comment = {
        "1.x": "newest 1.x in the repository index",
        "1.0.0": "pinned: prod moves only when this line changes",
    }.get(version, "")
    return f"""\
apiVersion: helmrelease.dev/v1
kind: HelmRelease
metadata:
  {f"name: {name}":<25}# no namespace: the GitSync's own
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
"""


def gitsync_yaml(ns: str, url: str, prune: bool) -> str:
    why = "delete what is removed from git" if prune else "keep what is removed from git, list it as orphan"
    return f"""\
apiVersion: helmrelease.dev/v1
kind: GitSync
metadata:
  name: releases
  namespace: {ns}
spec:
  url: {url}
  ref: {{branch: {BRANCH}}}
  {f"path: releases/{ns}":<34}# every YAML file under it: HelmRelease, ConfigMap, Namespace
  interval: 10m                     # the safety net; a push webhook syncs at once
  {f"prune: {str(prune).lower()}":<34}# {why}
  webhook:
    secretRef: {{name: push-webhook}} # key `token`: the webhook's shared secret
"""


# Columns for `kubectl get ... -o jsonpath=...`: every condition; one line per change while watching.
CONDITIONS = shlex.quote(
    'jsonpath={range .status.conditions[*]}{.type}{"\\t"}{.status}{"\\t"}{.reason}'
    '{"\\t"}{.message}{"\\n"}{end}'
)
WATCH_LINE = shlex.quote(
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}{"\\t"}upgradeFailures={.status.upgradeFailures}'
    '{"\\t"}{.status.conditions[?(@.type=="Ready")].message}{"\\n"}'
)
MESSAGE = shlex.quote('jsonpath={.data.message}{"\\n"}')
REVISIONS = shlex.quote(
    'jsonpath=applied:   {.status.lastAppliedRevision}  {.status.lastAppliedSubject}{"\\n"}'
    'attempted: {.status.lastAttemptedRevision}  {.status.lastAttemptedSubject}{"\\n"}'
)
ORPHANS = shlex.quote('jsonpath={range .status.orphans[*]}{.kind}/{.name}{"\\n"}{end}')


# --- the story --------------------------------------------------------------------------------------


def story(d: Demo, out: Out) -> None:
    out.say(
        """This demo runs the real controller, the real helm, kubectl and git against kubesim, an
        in-memory Kubernetes API server. After a one-time bootstrap, git drives everything: each step is
        a commit pushed to a git server, and the cluster follows. Every command it runs is printed
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
    charts = d.repo.url
    out.note(f"(serving ./repo at {charts})")
    d.sh(f"helm repo add demo {charts}")
    d.sh("helm search repo demo/webapp --versions")

    out.section("A git server with the platform repository")
    out.say(
        """The platform team keeps the HelmReleases of each environment in one git repository, one
        folder per environment. Here `git daemon` serves it on 127.0.0.1 (a GitSync refuses file://
        URLs and local paths: it must not read the controller's own disk)."""
    )
    d.start_git_server()
    assert d.git_server is not None
    repo_url = d.git_server.url("platform")
    d.sh(f"git init -q -b {BRANCH} platform")
    d.git(f"remote add origin {repo_url}")
    d.write("platform/releases/dev/README.md", "HelmReleases of dev: GitSync dev/releases applies them.\n")
    d.write("platform/releases/prod/README.md", "HelmReleases of prod: GitSync prod/releases applies them.\n")
    d.git("add -A")
    d.git("commit -m 'platform: one folder per environment'")
    d.git(f"push -u origin {BRANCH}")
    first = d.head()

    out.section("Bootstrap: the CRDs, the controller and one GitSync per environment")
    out.say(
        """This is the only `kubectl apply` of the demo. The CRDs (HelmRelease and GitSync), the two
        namespaces, and in each a Secret holding the push webhook's shared secret:"""
    )
    d.sh(f"kubectl apply -k {CRDS}")
    for ns in ("dev", "prod"):
        d.sh(f"kubectl create namespace {ns}")
        d.sh(f"kubectl create secret generic push-webhook -n {ns} --from-literal=token={d.webhook_token}")
    shown = d.start_controller()
    out.command(shlex.join(shown) + " > controller.log 2>&1 &")
    out.note(f"(log: {d.controller_log}; `tail -f` it in another terminal to follow along)")
    d.metrics_url = d.wait(lambda: metrics_url(d.controller_log_text()), 30, "the controller to start")
    d.wait(lambda: "informer synced" in d.controller_log_text(), 30, "the controller's informers")
    d.sh("cat controller.log")
    out.say(
        """One GitSync per environment, each following its folder of the main branch. dev prunes: a
        file removed from git is removed from the cluster. prod does not: what is removed is only
        listed, for a human to delete."""
    )
    d.write("bootstrap/dev.yaml", gitsync_yaml("dev", repo_url, prune=True))
    d.write("bootstrap/prod.yaml", gitsync_yaml("prod", repo_url, prune=False))
    d.sh("cat bootstrap/dev.yaml")
    d.sh("diff -u bootstrap/dev.yaml bootstrap/prod.yaml", check=False)
    d.sh("kubectl apply -f bootstrap/")
    for ns in ("dev", "prod"):
        d.synced(ns, first)
    out.say(
        """`kubectl get gs` (gs is short for gitsyncs): READY and STATUS say whether the commit is
        applied, REVISION which commit (branch@sha1:commit). Nothing to apply yet: a README is not YAML."""
    )
    d.sh("kubectl get gs -A")

    out.section("git push: install dev and prod")
    out.say(
        """From now on nobody runs `kubectl apply`. dev follows 1.x, prod is pinned to 1.0.0; each also
        gets a second, short-lived release (a preview in dev, a canary in prod). The fields follow
        Flux's HelmRelease; the API is helmrelease.dev/v1:"""
    )
    d.write(
        "platform/releases/dev/webapp.yaml", helmrelease_yaml("dev-webapp", charts, "1.x", "hello from dev")
    )
    d.write("platform/releases/dev/preview.yaml", helmrelease_yaml("dev-preview", charts, "1.x", "preview"))
    d.write(
        "platform/releases/prod/webapp.yaml",
        helmrelease_yaml("prod-webapp", charts, "1.0.0", "hello from prod"),
    )
    d.write("platform/releases/prod/canary.yaml", helmrelease_yaml("prod-canary", charts, "1.1.0", "canary"))
    d.sh("cat platform/releases/dev/webapp.yaml")
    d.sh("diff -u platform/releases/dev/webapp.yaml platform/releases/prod/webapp.yaml", check=False)
    d.git("add -A")
    d.git("commit -m 'dev and prod: webapp, a preview and a canary'")
    d.git(f"push origin {BRANCH}")
    sha = d.head()
    out.say(
        """The git host now sends its push webhook, one per GitSync, to the controller's metrics port
        (`/hooks/gitsync/<namespace>/<name>`), signed as GitHub signs it: HMAC-SHA256 of the body
        with the Secret's token (GitLab's X-Gitlab-Token works too). Without it the GitSyncs would
        see the push within their interval. A request without a valid signature triggers nothing:"""
    )
    d.webhook("dev", sha, signed=False)
    for ns in ("dev", "prod"):
        d.webhook(ns, sha)
    for ns in ("dev", "prod"):
        d.synced(ns, sha)
    d.sh("kubectl get gs -A")
    names = (("dev", "dev-webapp"), ("dev", "dev-preview"), ("prod", "prod-webapp"), ("prod", "prod-canary"))
    d.wait(lambda: all(d.ready(ns, n) for ns, n in names), 60, "the four HelmReleases to be Ready")
    d.sh("kubectl wait hr --all -A --for=condition=Ready --timeout=60s")
    out.say(
        """The GitSyncs applied the HelmReleases; the same controller installed them with the real helm.
        `kubectl get hr` (hr is short for helmreleases): CHART is what was resolved from the index,
        REVISION the chart version and the digest of the chart archive last applied."""
    )
    d.sh("kubectl get hr -A")
    d.sh("helm list -A")

    out.section("git push: upgrade dev")
    out.say("Change a value in dev's file, commit, push:")
    d.edit("platform/releases/dev/webapp.yaml", "message: hello from dev", "message: hello again")
    d.push_dev_webapp("dev: say hello again", 2, also="prod")
    d.sh("helm history dev-webapp -n dev")
    d.sh(f"kubectl get configmap dev-webapp-config -n dev -o {MESSAGE}")
    out.say(
        """Only the changed file was written: the other objects carry the digest of what was applied
        (annotation helmrelease.dev/gitsync-digest) and cost no write, and an unchanged HelmRelease never
        starts helm. prod's GitSync applied the same commit and found nothing to do:"""
    )
    d.sh("kubectl get gs -A")
    d.sh("helm history prod-webapp -n prod")
    if d.release_revision("prod", "prod-webapp") != 1 or d.release_revision("dev", "dev-preview") != 1:
        raise DemoError("a push changing only releases/dev/webapp.yaml changed another release")

    out.section("git push: broken YAML is rejected whole")
    out.say(
        """A typo: an unquoted colon in a value. The GitSync parses and validates the whole commit
        before writing anything; one problem rejects it, with file and line."""
    )
    d.edit("platform/releases/dev/webapp.yaml", "message: hello again", "message: hello again: now in git")
    d.git("diff")
    bad = d.push("dev: a colon in the greeting")
    st = d.synced("dev", bad, applied=False)
    d.sh("kubectl get gs releases -n dev")
    d.sh(f"kubectl get gs releases -n dev -o {REVISIONS}")
    message = cond(d.gitsync("dev"), "Ready").get("message", "")
    if "releases/dev/webapp.yaml:" not in message:
        raise DemoError(f"the rejection does not name the file and line: {message!r}")
    if st.get("lastAppliedRevision") == f"{BRANCH}@sha1:{bad}":
        raise DemoError("the rejected commit is recorded as applied")
    out.say("The last good commit stays applied; dev-webapp was not touched:")
    d.sh("helm history dev-webapp -n dev --max 1")
    if d.release_revision("dev", "dev-webapp") != 2:
        raise DemoError("a rejected commit changed dev-webapp")
    out.say("Fix it: quote the value and push again.")
    d.edit(
        "platform/releases/dev/webapp.yaml",
        "message: hello again: now in git",
        'message: "hello again: now in git"',
    )
    d.push_dev_webapp("dev: quote the greeting", 3)
    d.sh("kubectl get gs releases -n dev")
    d.sh(f"kubectl get configmap dev-webapp-config -n dev -o {MESSAGE}")

    out.section("git push: a failing upgrade, retried, then rolled back")
    out.say(
        """Now a change that deploys but does not work: `neverReady: true` makes the Deployment never
        become ready, so helm's wait times out after 4s. The HelmRelease says
        `upgrade.remediation.retries: 1` with a 1s backoff: the controller retries once on top of the
        failed release, then rolls back to the last deployed revision and stops (Stalled) until the
        spec changes. The GitSync is Ready all along: it applied the commit; the HelmRelease's own
        conditions say how the release went. About 10 seconds:"""
    )
    d.edit(
        "platform/releases/dev/webapp.yaml", "  upgrade:", "    neverReady: true       # the bug\n  upgrade:"
    )
    d.git("diff")
    good = d.release_revision("dev", "dev-webapp")
    sha = d.push("dev: the change that never becomes ready")
    d.synced("dev", sha)
    d.watch(
        f"kubectl get hr dev-webapp -n dev --watch -o {WATCH_LINE}",
        lambda: cond(d.hr("dev", "dev-webapp"), "Stalled").get("status") == "True",
        60,
        "Stalled=True",
    )
    d.sh("helm history dev-webapp -n dev")
    out.say(
        f"""Revisions {good + 1} and {good + 2} failed; revision {good + 3} is the rollback to revision
        {good}. The conditions say so too:"""
    )
    d.sh(f"kubectl get hr dev-webapp -n dev -o {CONDITIONS}")
    remediated = cond(d.hr("dev", "dev-webapp"), "Remediated")
    if remediated.get("reason") != "RollbackSucceeded":
        raise DemoError(f"expected Remediated=True RollbackSucceeded, got {remediated or 'no condition'}")
    out.say("Stalled means no more attempts for this spec: no upgrade loop. The fix is a revert, pushed:")
    d.git("revert --no-edit HEAD")
    sha = d.push(None)
    d.synced("dev", sha)
    d.wait(lambda: d.ready("dev", "dev-webapp"), 60, "dev-webapp Ready after the revert")
    d.sh("kubectl get hr dev-webapp -n dev")
    out.say(
        """The reverted spec is what the rollback runs already: Ready again, no new helm revision needed."""
    )
    if d.release_revision("dev", "dev-webapp") != good + 3:
        raise DemoError(
            f"the revert started helm: dev-webapp is at revision {d.release_revision('dev', 'dev-webapp')}"
        )

    out.section("git rm: pruned in dev, an orphan in prod")
    out.say(
        """The preview and the canary are done: delete their files. dev's GitSync has `prune: true`: it
        deletes the HelmRelease once the rest of the commit is applied, and the HelmRelease's finalizer
        uninstalls the release. prod's has `prune: false`: the canary stays and is listed as an orphan."""
    )
    d.git("rm -q releases/dev/preview.yaml releases/prod/canary.yaml")
    sha = d.push("retire the dev preview and the prod canary")
    d.synced("dev", sha)
    st = d.synced("prod", sha)
    d.wait(lambda: not d.hr("dev", "dev-preview") and d.release_revision("dev", "dev-preview") == 0, 60,
           "dev-preview pruned and uninstalled")  # fmt: skip
    d.sh("kubectl get hr -A")
    d.sh("helm list -A")
    d.sh(f"kubectl get gs releases -n prod -o {ORPHANS}")
    if {"kind": "HelmRelease", "namespace": "prod", "name": "prod-canary"} not in (st.get("orphans") or []):
        raise DemoError(f"prod-canary is not listed as an orphan: {st.get('orphans')}")
    d.sh("kubectl get events -n prod --field-selector reason=Orphaned")

    out.section("Suspend prod, push, resume")
    out.say(
        """An incident in prod: freeze it. The annotation helmrelease.dev/suspend=true stops all
        reconciling of that HelmRelease. It is the one kubectl action left: git does not set that
        annotation, so the GitSync keeps applying commits around it, and they wait."""
    )
    d.sh("kubectl annotate hr prod-webapp -n prod helmrelease.dev/suspend=true")
    d.wait(lambda: d.status("prod", "prod-webapp").get("suspended") is True, 30, "status.suspended")
    d.edit("platform/releases/prod/webapp.yaml", 'version: "1.0.0"', 'version: "1.1.0"')
    d.git("diff")
    sha = d.push("prod: webapp 1.1.0")
    d.synced("prod", sha)
    out.note("(giving the controller 3 seconds to do nothing)")
    time.sleep(3)
    d.sh("kubectl get hr prod-webapp -n prod")
    d.sh("helm history prod-webapp -n prod")
    if d.release_revision("prod", "prod-webapp") != 1:
        raise DemoError("prod-webapp changed while suspended")
    if (
        d.hr("prod", "prod-webapp").get("metadata", {}).get("annotations", {}).get("helmrelease.dev/suspend")
        != "true"
    ):
        raise DemoError("the GitSync removed the suspend annotation")
    out.say("Resume by removing the annotation: the commit waiting in the spec is applied at once.")
    t0 = time.monotonic()
    d.sh("kubectl annotate hr prod-webapp -n prod helmrelease.dev/suspend-")
    d.wait(lambda: d.release_revision("prod", "prod-webapp") == 2 and d.ready("prod", "prod-webapp"), 60,
           "prod-webapp upgraded to 1.1.0")  # fmt: skip
    out.note(f"(applied {time.monotonic() - t0:.1f}s after the annotation was removed)")
    d.sh("helm history prod-webapp -n prod")

    out.section("Where things stand")
    d.sh("git -C platform log --oneline")
    d.sh("kubectl get gs -A")
    d.sh("kubectl get hr -A")
    out.say("Every sync that changed something, and every rejected commit, is an Event on its GitSync:")
    d.sh("kubectl get events -n dev --field-selector involvedObject.kind=GitSync")


def metrics_url(log: str) -> str | None:
    """The address the controller logged for /metrics and the webhook receiver."""
    for line in log.splitlines():
        _, sep, url = line.partition("metrics and health on ")
        if sep:
            return url.strip()
    return None


def shutdown(d: Demo, out: Out) -> None:
    out.section("Shut down")
    out.say("SIGTERM: the controller stops taking work and lets running helm actions and syncs finish first.")
    rc = d.stop_controller()
    d.sh("tail -n 3 controller.log")
    if rc != 0:
        raise DemoError(f"the controller exited with status {rc} on SIGTERM")
    d.stop_all()
    out.ok("controller, kubesim, the git server and the chart repository stopped")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The helmrelease-controller GitOps demo: no cluster needed.")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, git, YAML, charts)")
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
        print(
            f"\nwork directory kept: {work} (controller.log, kubesim.log, platform/ (the git work tree),"
            " srv/ (the served repository), bootstrap/, charts/, repo/)"
        )
    else:
        shutil.rmtree(work, ignore_errors=True)
    result = {0: "done", 130: "interrupted"}.get(code, "FAILED")
    print(f"\n{result} in {time.monotonic() - started:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
