"""A git server on 127.0.0.1 for hack/demo.py: `git daemon` serving the bare repositories of a folder.

    daemon = GitDaemon(work / "srv", env)      # serves srv/<name>.git on a free port
    daemon.start(log); daemon.url("platform")  # git://127.0.0.1:<port>/platform.git
    daemon.stop()

Pushes are allowed (`--enable=receive-pack`, no authentication: it listens on loopback only), so the
demo clones from and pushes to the same URL its GitSyncs fetch from, as a team would with a git
host. GitSync refuses file:// URLs and local paths, hence a real server. Stdlib only: hack/ does not
import tests/ (tests/helpers/gitserver.py has the test suite's equivalent).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import subprocess
import time
from pathlib import Path

from procs import kill_group, terminate


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the daemon binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def github_signature(token: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value GitHub sends: HMAC-SHA256 of the body with the secret."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class GitDaemon:
    """`git daemon --export-all --enable=receive-pack --base-path=<root>` on 127.0.0.1."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        return [
            "git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--informative-errors",
            f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.port}", str(self.root),
        ]  # fmt: skip

    def start(self, log: Path, timeout: float = 10) -> None:
        """Start it (its own process group) and wait until it accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv(), env=self.env, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"git daemon exited with status {self.proc.returncode} (log: {log})")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"git daemon not listening on 127.0.0.1:{self.port} after {timeout:.0f}s")

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            terminate(proc, 5)
            kill_group(proc)  # the per-connection children it forked, if any are left
