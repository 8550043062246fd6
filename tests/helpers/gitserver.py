"""Real git servers on loopback, for tests: `git daemon` (git://), sshd (ssh://) and smart HTTP.

A `GitRepo` is a working repository whose commits and tags are pushed to a bare repository
`<serve_root>/<name>.git`; the servers serve everything under `serve_root`::

    repo = GitRepo(tmp_path / "srv", "charts")
    repo.copy_chart()                      # tests/charts/webapp -> charts/webapp
    first = repo.commit("add webapp")
    repo.tag("v1.0.0")
    with GitDaemon(repo.serve_root) as daemon:
        daemon.url("charts")               # git://127.0.0.1:<port>/charts.git
    with SSHServer(repo.serve_root, tmp_path / "ssh") as ssh:
        ssh.url("charts"), ssh.client_key, ssh.known_hosts
    with HTTPGitServer(repo.serve_root, auth=("user", "token")) as http:
        http.url("charts")                 # http://127.0.0.1:<port>/charts.git

All listen on 127.0.0.1 with an ephemeral port and stop cleanly on exit. sshd (Debian openssh-server)
runs from its own sshd_config with its own host key and an `AuthorizedKeysFile` holding a generated
client key; as root it needs /run/sshd, which is created when missing.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["GitDaemon", "GitRepo", "HTTPGitServer", "SSHServer", "free_port", "git", "self_signed_tls"]

CHARTS = Path(__file__).resolve().parents[1] / "charts"
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    """Run git in `cwd` with a clean configuration; raise with stderr on failure."""
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=input, capture_output=True, env={**os.environ, **_GIT_ENV}, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, bytes]:
    """A server TLS context for 127.0.0.1 with a fresh self-signed P-256 certificate (fast, unlike RSA),
    and that certificate's PEM for clients to trust."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
            str(cert)]  # fmt: skip
    subprocess.run(["openssl", *args], check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx, cert.read_bytes()


def _wait_listening(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class GitRepo:
    """A working repository on branch main; `commit` and `tag` push to `<serve_root>/<name>.git`."""

    def __init__(self, serve_root: Path, name: str = "charts", *, init: bool = True) -> None:
        self.serve_root, self.name = serve_root, name
        self.work = serve_root.parent / f"work-{name}"
        self.bare = serve_root / f"{name}.git"
        if init:
            self.work.mkdir(parents=True)
            serve_root.mkdir(parents=True, exist_ok=True)
            git(self.work, "init", "-q", "-b", "main")
            git(serve_root, "init", "-q", "--bare", "-b", "main", str(self.bare))

    def copy_to(self, serve_root: Path) -> GitRepo:
        """An independent copy (work tree and served bare repository) under `serve_root`'s parent:
        build a history once, copy it per test."""
        other = GitRepo(serve_root, self.name, init=False)
        shutil.copytree(self.work, other.work, symlinks=True)
        shutil.copytree(self.bare, other.bare, symlinks=True)
        return other

    def write(self, rel: str, text: str) -> Path:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def copy_chart(self, dest: str = "charts/webapp", src: Path = CHARTS / "webapp", **chart: str) -> Path:
        """Copy a chart directory into the work tree; `chart` overrides top-level Chart.yaml fields."""
        target = self.work / dest
        shutil.copytree(src, target, dirs_exist_ok=True)
        if chart:
            self.set_chart(dest, **chart)
        return target

    def set_chart(self, dest: str, **fields: str) -> None:
        """Replace top-level `key: value` lines of `<dest>/Chart.yaml` (appended when absent)."""
        path = self.work / dest / "Chart.yaml"
        lines = path.read_text().splitlines()
        for key, value in fields.items():
            key = "appVersion" if key == "app_version" else key
            new = f'{key}: "{value}"'
            idx = next((i for i, ln in enumerate(lines) if ln.startswith(f"{key}:")), None)
            if idx is None:
                lines.append(new)
            else:
                lines[idx] = new
        path.write_text("\n".join(lines) + "\n")

    def commit(self, message: str = "change", *, push: bool = True) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        if push:
            self.push()
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return git(self.work, "rev-parse", f"{ref}^{{commit}}").strip()

    def tag(self, name: str, *, message: str | None = None, ref: str = "HEAD") -> None:
        """A tag (annotated when `message` is given), pushed."""
        git(self.work, "tag", *(["-a", "-m", message] if message else []), name, ref)
        self.push()

    def branch(self, name: str, *, checkout: bool = True) -> None:
        git(self.work, "checkout", "-q", "-b", name) if checkout else git(self.work, "branch", name)
        self.push()

    def checkout(self, name: str) -> None:
        git(self.work, "checkout", "-q", name)

    def push(self) -> None:
        git(self.work, "push", "-q", "--mirror", "--force", str(self.bare))

    def tree(self, path: str, ref: str = "HEAD") -> str:
        return git(self.work, "rev-parse", f"{ref}:{path}").strip()

    def many_commits(self, n: int, rel: str = "history/log.txt") -> str:
        """Append `n` commits (each changing `rel`) to the current branch with `git fast-import`; pushed."""
        branch = git(self.work, "symbolic-ref", "HEAD").strip()
        parent = self.head()
        chunks: list[bytes] = []
        for i in range(n):
            msg, body = f"commit {i}\n".encode(), f"line {i}\n".encode() * (1 + i % 7)
            chunks.append(f"commit {branch}\nmark :{i + 1}\n".encode())
            chunks.append(f"committer test <test@example.com> {1_700_000_000 + i} +0000\n".encode())
            chunks.append(b"data %d\n%s" % (len(msg), msg))
            if i == 0:
                chunks.append(f"from {parent}\n".encode())
            chunks.append(f"M 100644 inline {rel}\n".encode() + b"data %d\n%s\n" % (len(body), body))
        git(self.work, "fast-import", "--quiet", input=b"".join(chunks))
        git(self.work, "reset", "-q", "--hard")
        self.push()
        return self.head()


class _Process:
    """A server subprocess: started by `start`, terminated (then killed) by `stop`."""

    proc: subprocess.Popen[bytes] | None = None
    port = 0

    def __enter__(self) -> Any:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class GitDaemon(_Process):
    """`git daemon --export-all --base-path=<root>` on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def start(self) -> None:
        self.port = self.port or free_port()
        self.proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
             f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.port}", str(self.root)],
            env={**os.environ, **_GIT_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_listening(self.port, self.proc)

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"


def _keygen(path: Path) -> tuple[bytes, bytes]:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True)  # fmt: skip
    return path.read_bytes(), path.with_suffix(".pub").read_bytes()


class SSHServer(_Process):
    """sshd (openssh-server) on 127.0.0.1 with its own config, host key and authorized client key."""

    SSHD = "/usr/sbin/sshd"

    def __init__(self, root: Path, state: Path) -> None:
        self.root, self.state = root, state
        state.mkdir(parents=True, exist_ok=True)
        os.chmod(state, 0o700)
        self.host_key, self.host_pub = _keygen(state / "host_key")
        self.client_key, self.client_pub = _keygen(state / "client_key")
        (state / "authorized_keys").write_bytes(self.client_pub)
        self.user = getpass.getuser()
        self.log = state / "sshd.log"

    @property
    def known_hosts(self) -> bytes:
        key_type, key = self.host_pub.split()[:2]
        return b"[127.0.0.1]:%d %s %s\n" % (self.port, key_type, key)

    def new_key(self) -> bytes:
        """A fresh private key the server does not accept."""
        return _keygen(self.state / f"stranger_{time.monotonic_ns()}")[0]

    def other_known_hosts(self) -> bytes:
        """A known_hosts line for this host and port with some other key (a "changed host key")."""
        _, pub = _keygen(self.state / f"other_{time.monotonic_ns()}")
        key_type, key = pub.split()[:2]
        return b"[127.0.0.1]:%d %s %s\n" % (self.port, key_type, key)

    def start(self) -> None:
        if not os.path.exists(self.SSHD):
            raise RuntimeError(
                "sshd not found: install Debian package openssh-server (hack/apt-packages.txt)"
            )
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.port = self.port or free_port()
        config = self.state / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {self.state / 'host_key'}\n"
            f"AuthorizedKeysFile {self.state / 'authorized_keys'}\nPidFile {self.state / 'sshd.pid'}\n"
            f"AllowUsers {self.user}\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PrintMotd no\nX11Forwarding no\nAllowTcpForwarding no\nMaxStartups 100\nLogLevel VERBOSE\n"
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
        _wait_listening(self.port, self.proc)

    def url(self, name: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root}/{name}.git"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    git: HTTPGitServer


class _CGIHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        srv = self.server.git
        path, _, query = self.path.partition("?")
        srv._record(self.path, self.headers.get("Authorization"))
        if srv.latency:
            time.sleep(srv.latency)
        if srv.auth is not None:
            token = base64.b64encode(f"{srv.auth[0]}:{srv.auth[1]}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        body = self._body() if self.command == "POST" else b""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **_GIT_ENV, "GIT_PROJECT_ROOT": str(srv.root),
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command, "PATH_INFO": path,
               "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": self.client_address[0],
               "REMOTE_USER": srv.auth[0] if srv.auth else "", "GATEWAY_INTERFACE": "CGI/1.1"}  # fmt: skip
        for key, value in self.headers.items():
            env["HTTP_" + key.upper().replace("-", "_")] = value
        proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class HTTPGitServer:
    """The smart HTTP protocol: `git http-backend` as CGI behind `http.server`, optional basic auth.

    `requests` counts request paths; `auth_headers` keeps every Authorization header seen (to check
    what a client sent); `latency` delays each answer.
    """

    def __init__(self, root: Path, *, auth: tuple[str, str] | None = None, tls: Any = None) -> None:
        self.root, self.auth, self.tls = root, auth, tls
        self.latency = 0.0
        self.requests: Counter[str] = Counter()
        self.auth_headers: list[str] = []
        self._lock = threading.Lock()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def __enter__(self) -> HTTPGitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, path: str, authorization: str | None) -> None:
        with self._lock:
            self.requests[path] += 1
            if authorization:
                self.auth_headers.append(authorization)

    def start(self) -> None:
        server = _HTTPServer(("127.0.0.1", self.port), _CGIHandler)
        server.git = self
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def url(self, name: str) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}/{name}.git"
