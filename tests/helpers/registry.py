"""A real OCI registry on loopback, for tests: Debian's `docker-registry` (CNCF distribution v2).

Filesystem storage in a temporary directory, plain HTTP on 127.0.0.1 (an ephemeral port), optionally
htpasswd basic auth (the bcrypt entry made by `htpasswd -nBi` from Debian's apache2-utils, the password
on stdin). Charts are packaged and pushed by the real helm (`helm push ... --plain-http`, after
`helm registry login` when auth is on), with a registry config private to the helper::

    with Registry(tmp_path / "registry", auth=("alice", "s3cret")) as reg:
        digest = reg.publish("podinfo", "1.0.0")   # manifest digest, as helm push reports it
        reg.url                                      # oci://127.0.0.1:<port>/charts
        reg.down(); reg.up()                         # stop listening, come back on the same port

`push_artifact` pushes a non-Helm artifact through the registry API (for "not a helm chart" tests).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.helpers.chartrepo import helm_binary, make_chart

__all__ = ["Registry", "registry_binary"]

_DIGEST = re.compile(r"^Digest:\s*(sha256:[0-9a-f]{64})", re.MULTILINE)


def registry_binary() -> str:
    """The registry server: Debian's /usr/bin/docker-registry (hack/apt-packages.txt)."""
    found = shutil.which("docker-registry") or shutil.which("registry")
    if found is None:
        raise RuntimeError(
            "docker-registry not found: apt-get install docker-registry (hack/apt-packages.txt)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """A docker-registry process serving `root`; a context manager (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        auth: tuple[str, str] | None = None,
        helm: str | None = None,
        repo: str = "charts",
    ) -> None:
        self.root = Path(root)
        self.auth = auth
        self.helm = helm or helm_binary()
        self.repo = repo
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._logged_in = False
        self.pushed: dict[tuple[str, str], str] = {}  # (chart, version) -> manifest digest of the last push
        self.root.mkdir(parents=True, exist_ok=True)
        self._home = self.root / "helm-home"
        self._write_config()

    # lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Registry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The OCI URL charts are pushed under: oci://127.0.0.1:<port>/<repo>."""
        return f"oci://{self.host}/{self.repo}"

    def chart_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def _write_config(self) -> None:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "test-only-secret"},
        }
        if self.auth is not None:
            entry = subprocess.run(
                ["htpasswd", "-nBi", self.auth[0]],
                input=self.auth[1],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            (self.root / "htpasswd").write_text(entry + "\n")
            config["auth"] = {"htpasswd": {"realm": "test-registry", "path": str(self.root / "htpasswd")}}
        (self.root / "config.yml").write_text(json.dumps(config))  # JSON is YAML

    def start(self, timeout: float = 10.0) -> None:
        """Start the registry and wait until `/v2/` answers (200, or 401 with auth on)."""
        log = (self.root / "registry.log").open("ab")
        self.proc = subprocess.Popen(
            [registry_binary(), "serve", str(self.root / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited {self.proc.returncode}: {self.log_tail()}")
            if self.status("/v2/") in (200, 401):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"docker-registry did not answer on {self.host}: {self.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def down(self) -> None:
        """Stop listening (the port refuses connections); `up()` brings the same registry back."""
        self.stop()

    def up(self) -> None:
        self.start()

    def log_tail(self, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            return " | ".join((self.root / "registry.log").read_text(errors="replace").splitlines()[-lines:])
        return ""

    # HTTP API ----------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, data: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        url = path if path.startswith("http") else f"http://{self.host}{path}"
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if self.auth is not None:
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def status(self, path: str) -> int | None:
        try:
            return self._request("GET", path)[0]
        except OSError:
            return None

    def tags(self, name: str) -> list[str]:
        status, _, body = self._request("GET", f"/v2/{self.repo}/{name}/tags/list")
        return list(json.loads(body).get("tags") or []) if status == 200 else []

    def manifest_digest(self, name: str, ref: str) -> str | None:
        accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
        status, headers, _ = self._request("HEAD", f"/v2/{self.repo}/{name}/manifests/{ref}", headers=accept)
        return headers.get("Docker-Content-Digest") if status == 200 else None

    def push_artifact(
        self, name: str, tag: str, *, config_media_type: str, layer: bytes, layer_media_type: str
    ) -> str:
        """Push a one-layer artifact of any type through the registry API; return its manifest digest."""

        octet = {"Content-Type": "application/octet-stream"}

        def blob(data: bytes) -> dict[str, Any]:
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            status, headers, _ = self._request("POST", f"/v2/{self.repo}/{name}/blobs/uploads/")
            assert status == 202, status
            location = headers["Location"]
            sep = "&" if "?" in location else "?"
            status, _, _ = self._request("PUT", f"{location}{sep}digest={digest}", data, octet)
            assert status == 201, status
            return {"digest": digest, "size": len(data)}

        config = {"mediaType": config_media_type, **blob(b"{}")}
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [{"mediaType": layer_media_type, **blob(layer)}],
        }
        body = json.dumps(manifest).encode()
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        status, _, _ = self._request("PUT", f"/v2/{self.repo}/{name}/manifests/{tag}", body, headers)
        assert status == 201, status
        return "sha256:" + hashlib.sha256(body).hexdigest()

    # helm --------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        home = self._home
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "HELM_REGISTRY_CONFIG": str(home / "registry.json"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
            "DOCKER_CONFIG": str(home / "docker"),
        }

    def _helm(self, *args: str, input: str | None = None) -> str:
        proc = subprocess.run(
            [self.helm, *args], env=self._env(), capture_output=True, text=True, input=input, timeout=60
        )
        if proc.returncode != 0:
            raise RuntimeError(f"helm {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout + proc.stderr

    def login(self) -> None:
        if self.auth is None or self._logged_in:
            return
        major = int(self._helm("version", "--template", "{{ .Version }}").strip().lstrip("v").split(".")[0])
        plain = "--plain-http" if major >= 4 else "--insecure"
        self._helm("registry", "login", self.host, "--username", self.auth[0], "--password-stdin", plain,
                   input=self.auth[1])  # fmt: skip
        self._logged_in = True

    def push(self, archive: Path) -> str:
        """`helm push <archive> oci://127.0.0.1:<port>/<repo> --plain-http`; return the manifest digest."""
        self.login()
        out = self._helm("push", str(archive), self.url, "--plain-http")
        m = _DIGEST.search(out)
        if m is None:
            raise RuntimeError(f"helm push printed no digest: {out!r}")
        return m.group(1)

    def package(self, name: str, version: str, *, values: Mapping[str, Any] | None = None) -> Path:
        """A chart archive made by `make_chart` + `helm package` (in root/packages/<n>)."""
        work = self.root / "packages"
        n = sum(1 for _ in work.iterdir()) if work.exists() else 0
        chart_dir = make_chart(work / str(n), name, version, values=values)
        dest = work / str(n)
        self._helm("package", str(chart_dir), "--destination", str(dest))
        return dest / f"{name}-{version}.tgz"

    def publish(self, name: str, version: str, *, values: Mapping[str, Any] | None = None) -> str:
        """Package and push a chart; return its manifest digest (also kept in `pushed`)."""
        digest = self.push(self.package(name, version, values=values))
        self.pushed[(name, version)] = digest
        return digest
