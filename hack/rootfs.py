#!/usr/bin/env python3
"""The image test (`make image-test`): deploy/Dockerfile's contents, built as a root filesystem, run for real.

There is no container engine on our machines, so the image is rebuilt the way its Dockerfile says,
with Debian's own tools, and the controller is started from it in a chroot:

 1. `mmdebstrap --variant=minbase bookworm` with this machine's apt sources (Debian packages come
    from the Debian archive), standing in for python:3.11-slim, which is Debian bookworm plus a
    CPython 3.11 in /usr/local: no image can be pulled here (no container engine or image
    registry client), so this machine's own CPython 3.11 build (`sys.base_prefix`, made by pyenv)
    is copied to /usr/local, with the Debian libraries it links (PYTHON_RUNTIME_PACKAGES). That
    is the one part of the image not built from its Dockerfile.
 2. In the chroot, as root: deploy/image-setup.sh (the Dockerfile's base RUN: the packages of
    deploy/image-packages.txt, the uid 65532 user), then deploy/image-build.sh in /src holding the
    files the Dockerfile COPYs (the build stage: /opt/venv from PyPI, helm via
    hack/install_tools.py); then, as the final stage does, only /opt/venv, helm and kubectl are kept.
 3. As uid 65532 with the image's PATH and HOME (chroot shares the network, so loopback servers on
    this machine are reachable): `helmrelease-controller --version` and `run --help`, `git`, `ssh`
    and `helm` present; then the controller runs against a kubesim on loopback and installs one
    release from a git:// chart source (git daemon) and one from an ssh:// source (sshd with a deploy
    key and known_hosts); both HelmReleases must become Ready, and SIGTERM must stop it with exit 0.

Needs root (mmdebstrap --mode=root, chroot, mounting /proc), mmdebstrap (Debian package), network
to the Debian archive and PyPI, and .bin/kubectl (make tools). Takes a few minutes.

    python3 hack/rootfs.py [--keep] [--rootfs DIR]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUITE = "bookworm"  # deploy/Dockerfile: FROM python:3.11-slim, which is Debian bookworm
# What python:3.11-slim's CPython needs from Debian (its own image keeps these for the same reason).
PYTHON_RUNTIME_PACKAGES = [
    "libbz2-1.0", "libexpat1", "libffi8", "libgdbm6", "liblzma5", "libncursesw6", "libreadline8",
    "libsqlite3-0", "libssl3", "libtirpc3", "libnsl2", "libuuid1", "zlib1g", "netbase", "tzdata",
]  # fmt: skip
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# What deploy/Dockerfile COPYs into its build stage (and deploy/image-build.sh), relative to ROOT.
BUILD_FILES = [
    "pyproject.toml",
    "constraints.txt",
    "README.md",
    "helmrelease_controller",
    "kubesim",
    "hack/install_tools.py",
    "hack/tools.sha256",
    "deploy/image-build.sh",
]
# The final image's environment (deploy/Dockerfile ENV and USER).
IMAGE_ENV = {
    "PATH": "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONUNBUFFERED": "1",
    "HOME": "/tmp",
}
IMAGE_USER = "65532:65532"


def step(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=True, text=True, **kw)


def in_image(rootfs: Path, *cmd: str, user: str = IMAGE_USER) -> list[str]:
    """argv running `cmd` in the root filesystem as the image would (its user, environment)."""
    env = [f"{k}={v}" for k, v in IMAGE_ENV.items()]
    return ["chroot", f"--userspec={user}", str(rootfs), "/usr/bin/env", "-i", *env, *cmd]


@contextlib.contextmanager
def mounted_proc(rootfs: Path) -> Iterator[None]:
    run(["mount", "-t", "proc", "proc", str(rootfs / "proc")])
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(rootfs / "proc")], check=False)


def build(rootfs: Path) -> None:
    if rootfs.exists():
        remove(rootfs)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    step(f"mmdebstrap {SUITE} (minbase) -> {rootfs}")
    mirror = [str(APT_SOURCES)] if APT_SOURCES.exists() else []
    include = "--include=" + ",".join(PYTHON_RUNTIME_PACKAGES)
    run(["mmdebstrap", "--quiet", "--mode=root", "--variant=minbase", include, SUITE, str(rootfs), *mirror])
    shutil.copy("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")  # apt and pip in the chroot
    install_python(rootfs)
    step("deploy/image-setup.sh (packages from deploy/image-packages.txt, uid 65532)")
    setup = rootfs / "tmp" / "image"
    setup.mkdir()
    for name in ("image-packages.txt", "image-setup.sh"):
        shutil.copy(ROOT / "deploy" / name, setup / name)
    run(in_image(rootfs, "sh", "/tmp/image/image-setup.sh", user="0:0"))
    shutil.rmtree(setup)
    step("deploy/image-build.sh (/opt/venv from PyPI, helm via hack/install_tools.py)")
    src = rootfs / "src"
    for rel in BUILD_FILES:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / rel).is_dir():
            shutil.copytree(ROOT / rel, src / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / rel, src / rel)
    wheels = ROOT / ".cache" / "wheels"  # install_tools.py reuses downloaded wheels (still sha256-checked)
    if wheels.is_dir():
        shutil.copytree(wheels, src / ".cache" / "wheels")
    build_env = [f"PATH={IMAGE_ENV['PATH']}", "HOME=/root"]
    # A machine whose HTTPS egress is intercepted trusts an extra CA (pip finds it through PIP_CERT
    # or SSL_CERT_FILE); the build step gets that bundle, as `docker build --secret` would. The
    # image keeps none of it: the file is removed with /src.
    host_ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if host_ca and os.path.isfile(host_ca):
        shutil.copy(host_ca, src / "build-ca.pem")
        build_env.append("PIP_CERT=/src/build-ca.pem")
    run(
        [
            "chroot",
            str(rootfs),
            "/usr/bin/env",
            "-i",
            *build_env,
            "sh",
            "-c",
            "cd /src && sh deploy/image-build.sh",
        ]
    )
    # The final stage: base + /opt/venv + helm and kubectl, nothing else from the build.
    for tool in ("helm", "kubectl"):
        shutil.copy(rootfs / "opt" / "bin" / tool, rootfs / "usr" / "local" / "bin" / tool)
    shutil.rmtree(rootfs / "opt" / "bin")
    shutil.rmtree(src)


def install_python(rootfs: Path) -> None:
    """This machine's CPython 3.11 in /usr/local, as python:3.11-slim has its own (see the docstring)."""
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"hack/rootfs.py needs CPython 3.11 (the image's), not {sys.version.split()[0]}")
    prefix, local = Path(sys.base_prefix), rootfs / "usr" / "local"
    step(f"CPython {sys.version.split()[0]} from {prefix} -> /usr/local (python:3.11-slim's stand-in)")
    shutil.copy2(prefix / "bin" / "python3.11", local / "bin" / "python3.11")
    for alias in ("python3", "python"):
        (local / "bin" / alias).symlink_to("python3.11")
    for lib in prefix.joinpath("lib").glob("libpython3*.so*"):
        shutil.copy2(lib, local / "lib" / lib.name, follow_symlinks=False)
    skip = shutil.ignore_patterns("site-packages", "test", "idlelib", "tkinter", "turtledemo", "__pycache__")
    shutil.copytree(prefix / "lib" / "python3.11", local / "lib" / "python3.11", ignore=skip)
    (local / "lib" / "python3.11" / "site-packages").mkdir()
    run(["chroot", str(rootfs), "/sbin/ldconfig"])


def mounts_under(path: Path) -> list[str]:
    base = str(path.resolve())
    with open("/proc/mounts") as f:
        points = [line.split()[1] for line in f]
    return [p for p in points if p == base or p.startswith(base + "/")]


def remove(rootfs: Path) -> None:
    """rm -rf a root filesystem, never across a mount (a left-over /proc from an interrupted run)."""
    for point in reversed(mounts_under(rootfs)):
        subprocess.run(["umount", "-l", point], check=False)
    if mounts_under(rootfs):
        raise SystemExit(f"still mounted under {rootfs}: {mounts_under(rootfs)}; not removing it")
    shutil.rmtree(rootfs)


def check_contents(rootfs: Path) -> None:
    step("contents, as uid 65532")
    for cmd in (
        ["helmrelease-controller", "--version"],
        ["git", "--version"],
        ["ssh", "-V"],
        ["helm", "version", "--short"],
        ["kubectl", "version", "--client"],
        [
            "python3",
            "-c",
            "import sys, tarfile; tarfile.data_filter; "
            "print('Python', sys.version.split()[0], sys.executable)",
        ],
    ):
        out = run(in_image(rootfs, *cmd), capture_output=True)
        print(f"  {' '.join(cmd[:2])}: {(out.stdout + out.stderr).strip().splitlines()[0]}")
    out = run(in_image(rootfs, "helmrelease-controller", "run", "--help"), capture_output=True)
    assert "--kubeconfig" in out.stdout and "(default" in out.stdout, out.stdout
    print(f"  run --help: {len(out.stdout.splitlines())} lines")


def _kubectl(kubeconfig: Path, *args: str, input: str | None = None) -> str:
    kubectl = ROOT / ".bin" / "kubectl"
    return run(
        [str(kubectl), "--kubeconfig", str(kubeconfig), *args], capture_output=True, input=input
    ).stdout


def _hr(name: str, url: str, secret: str | None = None) -> dict[str, Any]:
    git: dict[str, Any] = {"url": url, "ref": {"branch": "main"}, "path": "charts/webapp"}
    if secret:
        git["secretRef"] = {"name": secret}
    return {
        "apiVersion": "helmrelease.dev/v1",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"interval": "5m", "timeout": "30s", "chart": {"git": git}},
    }


def _ready(kubeconfig: Path, name: str) -> dict[str, Any]:
    obj = json.loads(_kubectl(kubeconfig, "get", "hr", name, "-n", "apps", "-o", "json"))
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == "Ready":
            return dict(c)
    return {}


def run_controller(rootfs: Path, work: Path, timeout: float) -> None:
    from kubesim import KubeSim
    from tests.helpers.gitserver import GitDaemon, GitRepo, SSHServer

    step("controller from the root filesystem against kubesim on loopback: git:// and ssh:// charts")
    repo = GitRepo(work / "srv", "charts")
    repo.copy_chart()
    commit = repo.commit("add webapp")
    sim = KubeSim()
    sim.start()
    kubeconfig = sim.write_kubeconfig(work / "kubeconfig")
    log_path = work / "controller.log"
    proc: subprocess.Popen[str] | None = None
    try:
        with GitDaemon(repo.serve_root) as daemon, SSHServer(repo.serve_root, work / "ssh") as ssh:
            _kubectl(kubeconfig, "apply", "-f", str(ROOT / "crds" / "helmrelease.yaml"))
            _kubectl(kubeconfig, "create", "namespace", "apps")
            secret = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "deploy-key", "namespace": "apps"},
                "data": {
                    "identity": base64.b64encode(ssh.client_key).decode(),
                    "known_hosts": base64.b64encode(ssh.known_hosts).decode(),
                },
            }
            _kubectl(kubeconfig, "apply", "-f", "-", input=json.dumps(secret))
            shutil.copy(kubeconfig, rootfs / "tmp" / "kubeconfig")
            os.chmod(rootfs / "tmp" / "kubeconfig", 0o644)
            with open(log_path, "w") as log:
                cmd = ["helmrelease-controller", "run", "--kubeconfig", "/tmp/kubeconfig", "--cache-dir",
                       "/tmp/cache", "--log-format", "json", "--metrics-addr", "127.0.0.1:0"]  # fmt: skip
                proc = subprocess.Popen(
                    in_image(rootfs, *cmd), stdout=log, stderr=subprocess.STDOUT, text=True
                )
            _kubectl(kubeconfig, "apply", "-f", "-", input=json.dumps(_hr("from-git", daemon.url("charts"))))
            _kubectl(
                kubeconfig,
                "apply",
                "-f",
                "-",
                input=json.dumps(_hr("from-ssh", ssh.url("charts"), "deploy-key")),
            )
            t0 = time.monotonic()
            pending = {"from-git", "from-ssh"}
            while pending and time.monotonic() - t0 < timeout:
                if proc.poll() is not None:
                    raise SystemExit(f"controller exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                for name in sorted(pending):
                    if _ready(kubeconfig, name).get("status") == "True":
                        print(f"  {name}: Ready after {time.monotonic() - t0:.1f}s")
                        pending.discard(name)
                time.sleep(0.5)
            if pending:
                states = {n: _ready(kubeconfig, n) for n in sorted(pending)}
                raise SystemExit(f"not Ready after {timeout:.0f}s: {states}\n{log_path.read_text()[-3000:]}")
            revision = _kubectl(kubeconfig, "get", "hr", "from-git", "-n", "apps", "-o",
                                "jsonpath={.status.lastAppliedRevision}")  # fmt: skip
            assert revision == f"main@sha1:{commit}", revision
            releases = _kubectl(kubeconfig, "get", "secrets", "-n", "apps", "-l", "owner=helm", "-o", "name")
            print(f"  helm release storage: {' '.join(sorted(releases.split()))}")
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(30)
            print(f"  SIGTERM: exit {rc} after {time.monotonic() - t0:.1f}s")
            assert rc == 0, log_path.read_text()[-3000:]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        sim.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument(
        "--rootfs", type=Path, default=ROOT / ".cache" / "image-rootfs", help="default: %(default)s"
    )
    p.add_argument("--keep", action="store_true", help="keep the root filesystem afterwards")
    p.add_argument("--reuse", action="store_true", help="skip the build: test an existing --rootfs")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds for both releases to be Ready")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("hack/rootfs.py needs root (mmdebstrap --mode=root, chroot, mount)", file=sys.stderr)
        return 2
    if not args.reuse and shutil.which("mmdebstrap") is None:
        print("mmdebstrap not found: apt-get install mmdebstrap (hack/apt-packages.txt)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: unmount /proc, stop servers
    started = time.monotonic()
    if not args.reuse:
        build(args.rootfs)
        step(f"built in {time.monotonic() - started:.0f}s ({_du(args.rootfs)})")
    t_test = time.monotonic()
    with mounted_proc(args.rootfs):
        check_contents(args.rootfs)
        work = args.rootfs.parent / "image-test-work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            run_controller(args.rootfs, work, args.timeout)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    step(f"image test passed: test {time.monotonic() - t_test:.0f}s, total {time.monotonic() - started:.0f}s")
    if not args.keep:
        remove(args.rootfs)
    return 0


def _du(path: Path) -> str:
    out = subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=False).stdout
    return out.split()[0] if out else "?"


if __name__ == "__main__":
    sys.exit(main())
