"""A real HTTP chart repository on loopback, for tests.

Charts are packaged by the real `helm package` and indexed by the real `helm repo index`; the
repository is served by `http.server` on 127.0.0.1 (an ephemeral port) in a background thread::

    with ChartRepo(tmp_path / "repo") as repo:
        repo.publish("podinfo", "1.0.0")
        repo.publish("podinfo", "1.1.0", values={"replicas": 2})
        repo.url            # http://127.0.0.1:<port>
        repo.count("/index.yaml")

It can also add versions at runtime (`publish`, `add_charts`), require basic auth (`auth=(user, pw)`),
serve TLS (`tls=` an `ssl.SSLContext`, see `make_tls_material`), answer errors (`fail(500)` /
`recover()`), stop listening and come back on the same port (`down()` / `up()`), slow down
(`latency`), count requests per path (`requests`, `count`, `authorized`), tamper with archives
(`corrupt`), and sign charts (`add_charts(..., sign=key)`: the `.prov` is served next to the archive).
Index and archives carry an ETag and Last-Modified and honour If-None-Match / If-Modified-Since.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.gpgkeys import SigningKey

__all__ = ["ChartRepo", "TLSMaterial", "helm_binary", "make_chart", "make_tls_material"]

_ROOT = Path(__file__).resolve().parents[2]


def helm_binary() -> str:
    """The helm to package with: $HELM, the project's .bin/helm, or helm on PATH."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    local = _ROOT / ".bin" / "helm"
    if local.exists():
        return str(local)
    found = shutil.which("helm")
    if found is None:
        raise RuntimeError("helm not found: run `make tools` first")
    return found


def make_chart(
    parent: Path,
    name: str,
    version: str,
    *,
    app_version: str | None = None,
    values: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Path:
    """Write a small chart directory (Chart.yaml, values.yaml, one ConfigMap template); return it.

    The directory is `parent/<name>-<version>/<name>` so that several versions can coexist.
    The ConfigMap renders every top-level value (as a string) so installs show the values in effect.
    """
    chart_dir = parent / f"{name}-{version}" / name
    (chart_dir / "templates").mkdir(parents=True, exist_ok=True)
    chart: dict[str, Any] = {
        "apiVersion": "v2",
        "name": name,
        "version": version,
        "appVersion": app_version if app_version is not None else version,
        "description": description or f"test chart {name}",
        "type": "application",
    }
    (chart_dir / "Chart.yaml").write_text(yaml.safe_dump(chart, sort_keys=False))
    default_values: Mapping[str, Any] = values if values is not None else {"message": f"hello from {version}"}
    (chart_dir / "values.yaml").write_text(yaml.safe_dump(dict(default_values), sort_keys=False))
    (chart_dir / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: {{ .Release.Name }}-{{ .Chart.Name }}\n"
        "  labels:\n"
        "    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}\n"
        '    helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | quote }}\n'
        "data:\n"
        "  chartVersion: {{ .Chart.Version | quote }}\n"
        "{{- range $k, $v := .Values }}\n"
        "  {{ $k }}: {{ $v | toJson | quote }}\n"
        "{{- end }}\n"
    )
    return chart_dir


@dataclass(frozen=True)
class TLSMaterial:
    """PEM files made by `make_tls_material`: one CA, a server cert for 127.0.0.1, a client cert."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self, *, require_client_cert: bool = True) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.ca_cert)
        return ctx


def make_tls_material(directory: Path) -> TLSMaterial:
    """Generate a throwaway CA plus server (SAN IP 127.0.0.1, DNS localhost) and client certs with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found (Debian package openssl)")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True, timeout=60)

    ca_ext = [
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.crt", *ca_ext)  # fmt: skip
    for who, ext in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (directory / f"{who}.ext").write_text(ext)
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}", "-keyout", f"{who}.key",
            "-out", f"{who}.csr")  # fmt: skip
        run("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{who}.ext", "-out", f"{who}.crt")  # fmt: skip
    return TLSMaterial(
        ca_cert=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    repo: ChartRepo

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Drop open (keep-alive) connections, as a server going down would."""
        with self.connections_lock:
            conns, self.connections = list(self.connections), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _send(self, status: int, data: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _serve(self, *, body: bool) -> None:
        repo = self.server.repo
        path = self.path.split("?", 1)[0]
        repo._record(path, with_auth=self.headers.get("Authorization") is not None)
        if repo.latency:
            time.sleep(repo.latency)
        if repo.fail_status is not None:
            self._send(repo.fail_status, b"injected failure\n", {"Content-Type": "text/plain"})
            return
        if repo.auth is not None:
            expected = "Basic " + base64.b64encode(f"{repo.auth[0]}:{repo.auth[1]}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._send(401, b"unauthorized\n", {"WWW-Authenticate": 'Basic realm="charts"'})
                return
        if not path.startswith(repo.prefix + "/"):
            self._send(404, b"not found\n")
            return
        rel = path[len(repo.prefix) + 1 :]
        file = (repo.root / rel).resolve()
        if not rel or repo.root.resolve() not in file.parents or not file.is_file():
            self._send(404, b"not found\n")
            return
        data = file.read_bytes()
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        mtime = file.stat().st_mtime
        headers = {
            "ETag": etag,
            "Last-Modified": email.utils.formatdate(mtime, usegmt=True),
            "Content-Type": "text/yaml" if file.suffix == ".yaml" else "application/gzip",
        }
        if repo.conditional:
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            fresh = inm == etag if inm is not None else False
            if inm is None and ims is not None:
                try:
                    fresh = int(mtime) <= email.utils.parsedate_to_datetime(ims).timestamp()
                except (TypeError, ValueError):
                    fresh = False
            if fresh:
                repo._record_not_modified(path)
                self._send(304, b"", headers)
                return
        self._send(200, data if body else b"", headers)


class ChartRepo:
    """An HTTP chart repository served from `root` on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        auth: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        prefix: str = "",
        absolute_urls: bool = False,
        conditional: bool = True,
        helm: str | None = None,
    ) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.auth = auth
        self.tls = tls
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.absolute_urls = absolute_urls
        self.conditional = conditional
        self.helm = helm or helm_binary()
        self.fail_status: int | None = None
        self.latency = 0.0
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.authorized: Counter[str] = Counter()  # requests that carried an Authorization header
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._charts_src = self.root.parent / f".{self.root.name}-src"
        self._helm_home = self.root.parent / f".{self.root.name}-helm"

    # lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> ChartRepo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.repo = self
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"chartrepo:{self._port}", daemon=True
        )
        self._thread.start()
        self.reindex()  # an empty repository still serves an index; absolute URLs need the port

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def down(self) -> None:
        """Stop listening and drop open connections (new ones are refused) until `up()` (same port)."""
        self.stop()

    def up(self) -> None:
        """Listen again on the same port as before `down()`."""
        self.start()

    def fail(self, status: int = 500) -> None:
        """Answer every request with `status` until `recover()`."""
        self.fail_status = status

    def recover(self) -> None:
        self.fail_status = None

    # addresses and counters -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}{self.prefix}"

    def count(self, path: str) -> int:
        """Requests seen for `path` (relative to the repository, e.g. "index.yaml" or "/index.yaml")."""
        with self._lock:
            return self.requests[self._full(path)]

    def archive_requests(self) -> int:
        """Requests for any .tgz."""
        with self._lock:
            return sum(n for p, n in self.requests.items() if p.endswith(".tgz"))

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.not_modified.clear()
            self.authorized.clear()

    def _full(self, path: str) -> str:
        path = path if path.startswith("/") else "/" + path
        return path if self.prefix and path.startswith(self.prefix + "/") else self.prefix + path

    def _record(self, path: str, *, with_auth: bool = False) -> None:
        with self._lock:
            self.requests[path] += 1
            if with_auth:
                self.authorized[path] += 1

    def _record_not_modified(self, path: str) -> None:
        with self._lock:
            self.not_modified[path] += 1

    # content ----------------------------------------------------------------------------------

    def _helm(self, *args: str) -> str:
        home = self._helm_home
        env = {
            **os.environ,
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }
        proc = subprocess.run([self.helm, *args], env=env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def add_charts(self, chart_dirs: Iterable[Path], *, sign: SigningKey | None = None) -> list[Path]:
        """`helm package` the chart directories into the repository and re-index; return the archives.
        With `sign` (tests/helpers/gpgkeys.py), `--sign`: each archive gets its `.prov` beside it."""
        dirs = [str(d) for d in chart_dirs]
        if not dirs:
            return []
        signing = ["--sign", "--key", sign.name, "--keyring", str(sign.secring)] if sign is not None else []
        out = self._helm("package", *dirs, *signing, "--destination", str(self.root))
        self.reindex()
        return [Path(line.rsplit(": ", 1)[1].strip()) for line in out.splitlines() if "saved it to:" in line]

    def add_archives(self, archives: Iterable[Path]) -> list[Path]:
        """Copy already packaged charts (e.g. from a session-wide cache) into the repository and re-index."""
        copied = [Path(shutil.copy2(a, self.root / Path(a).name)) for a in archives]
        self.reindex()
        return copied

    def publish(
        self,
        name: str,
        version: str,
        *,
        app_version: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Path:
        """Create, package and index one chart version; return its archive."""
        chart_dir = make_chart(self._charts_src, name, version, app_version=app_version, values=values)
        return self.add_charts([chart_dir])[0]

    def publish_many(self, name: str, versions: Iterable[str]) -> list[Path]:
        """Publish several versions of one chart with a single `helm package` and `helm repo index`."""
        return self.add_charts([make_chart(self._charts_src, name, v) for v in versions])

    def reindex(self) -> None:
        """Regenerate index.yaml from the archives in the repository (`helm repo index`)."""
        args = ["repo", "index", str(self.root)]
        if self.absolute_urls and self._port:
            args += ["--url", self.url]
        self._helm(*args)

    def index(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "index.yaml").read_text())

    def archive(self, name: str, version: str) -> Path:
        return self.root / f"{name}-{version}.tgz"

    def corrupt(self, name: str, version: str, data: bytes = b"this is not a chart archive\n", *,
                fix_digest: bool = False) -> Path:  # fmt: skip
        """Replace an archive's bytes; with `fix_digest` the index digest is updated to match them."""
        path = self.archive(name, version)
        path.write_bytes(data)
        if fix_digest:
            index = self.index()
            for entry in index["entries"][name]:
                if entry["version"] == version:
                    entry["digest"] = hashlib.sha256(data).hexdigest()
            self.write_index(index)
        return path

    def write_index(self, index: Mapping[str, Any] | str) -> None:
        """Serve `index` (a mapping, or raw text such as malformed YAML) as index.yaml."""
        text = index if isinstance(index, str) else yaml.safe_dump(dict(index), sort_keys=False)
        (self.root / "index.yaml").write_text(text)

    def remove(self, name: str, version: str) -> None:
        """Delete one archive but keep the index pointing at it (a dangling entry)."""
        self.archive(name, version).unlink()
