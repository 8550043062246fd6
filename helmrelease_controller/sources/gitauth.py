"""What a git chart source is given and how git reaches it: spec and URL checks, credentials, errors.

- `GitChartSpec.from_spec` reads `spec.chart.git` (url, ref, path) from the API model or a mapping.
- `parse_git_url` accepts https://, http://, ssh://, git:// and scp-like `user@host:path` URLs and
  refuses anything else (file://, ext::, local paths) and URLs that carry a password.
- `git_auth_env` (a context manager, blocking) turns `Credentials` into environment variables for one
  git command: SSH through `GIT_SSH_COMMAND` with the deploy key and known_hosts written to 0600 files
  (host keys are always checked: no known_hosts, no ssh); HTTP(S) basic auth through a `GIT_ASKPASS`
  script that reads username and password from 0600 files and answers only prompts for the
  repository's own origin. Credentials are never in a URL, an argument list (`ps`) or the
  environment; the files live in a private directory removed when the command ends.
- `run_git` runs one git command (async, through `procs.run`: its own process group, killed with
  its ssh on timeout) with an isolated configuration (no system or global config, so no credential
  helper stores anything; only the allowed protocols; C locale). Without a git executable the
  controller still runs, and a git source fails with the one-line `NO_GIT` reason.
- `git_error` maps git's and ssh's stderr to a one-line, credential-free `SourceError`.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from .. import procs
from .base import Credentials, SourceError, SourceSpec, redact_url, spec_field

__all__ = [
    "GitChartSpec",
    "GitFailed",
    "GitURL",
    "check_credentials",
    "git_auth_env",
    "git_error",
    "parse_git_url",
    "run_git",
    "scrub",
]

ALLOWED_SCHEMES = ("https", "http", "ssh", "git")
_SCP_URL = re.compile(  # [user@]host:path as git reads it; no option-like user or host
    r"^(?:(?P<user>[^@/:\s-][^@/:\s]*)@)?(?P<host>[A-Za-z0-9._][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]):(?P<path>[^:].*)$"
)
_SAFE_HOSTPORT = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")
_SSH_TIMEOUT = 15

# Configuration for every git command (as GIT_CONFIG_* variables, so nothing extra is in argv).
_GIT_CONFIG = {
    "gc.autoDetach": "false",  # no background gc outliving the command
    "credential.helper": "",  # never store or look up credentials elsewhere
    "core.askPass": "",
    "protocol.version": "2",
    "http.lowSpeedLimit": "1000",
    "http.lowSpeedTime": "60",
}
_BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_ALLOW_PROTOCOL": "https:http:ssh:git",
    "GIT_SSH_COMMAND": "ssh -F /dev/null -o BatchMode=yes",
    "GIT_SSH_VARIANT": "ssh",
    "SSH_AUTH_SOCK": "",
    "LC_ALL": "C",
    "LANGUAGE": "C",
    "GIT_CONFIG_COUNT": str(len(_GIT_CONFIG)),
    **{f"GIT_CONFIG_KEY_{i}": k for i, k in enumerate(_GIT_CONFIG)},
    **{f"GIT_CONFIG_VALUE_{i}": v for i, v in enumerate(_GIT_CONFIG.values())},
}


@dataclass(frozen=True)
class GitChartSpec(SourceSpec):
    """What `spec.chart.git` asks for; `path` is normalized ("" is the repository root)."""

    KIND: ClassVar[str] = "git"
    url: str
    ref_kind: str = ""  # branch | tag | semver | commit; "" means the remote's default branch
    ref: str = ""
    path: str = ""

    @classmethod
    def _read(cls, src: Any) -> GitChartSpec:
        url, ref = spec_field(src, "url"), spec_field(src, "ref")
        if not url:
            raise SourceError("spec.chart.git needs a url")
        kinds = ("branch", "tag", "semver", "commit")
        refs = [(k, str(v).strip()) for k in kinds if ref is not None and (v := spec_field(ref, k))]
        if len(refs) > 1:
            raise SourceError("spec.chart.git.ref: set only one of branch, tag, semver or commit")
        kind, value = refs[0] if refs else ("", "")
        raw = str(spec_field(src, "path", default=".")).strip().replace("\\", "/")
        path = posixpath.normpath(raw or ".")
        if raw.startswith("/") or path == ".." or path.startswith("../"):
            raise SourceError(f"spec.chart.git.path {raw!r} must be relative to the repository root")
        return cls(str(url).strip(), kind, value, "" if path == "." else path)


@dataclass(frozen=True)
class GitURL:
    """A checked git repository URL. `display` is safe for messages (no user info, query or fragment)."""

    url: str
    scheme: str  # https | http | ssh | git (scp-like URLs are ssh)
    host: str
    port: int | None
    netloc: str  # host[:port] as written, without user info
    display: str

    @property
    def is_ssh(self) -> bool:
        return self.scheme == "ssh"

    @property
    def host_port(self) -> str:
        default = {"ssh": 22, "git": 9418, "http": 80, "https": 443}[self.scheme]
        return f"{self.host}:{self.port or default}"


def parse_git_url(url: str) -> GitURL:
    """Check `url` and split it; SourceError (credential-free) when it is not usable."""
    url = url.strip()
    if "::" in url.split("/", 1)[0] or url.startswith("-"):  # git's <transport>::<address>, or an option
        raise SourceError(
            f"git url {scrub(url)!r} is not a git URL (https://, ssh://, git:// or user@host:path)"
        )
    if "://" in url:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise SourceError(f"git url {redact_url(url)} is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise SourceError(
                f"git url {redact_url(url)}: scheme {scheme}:// is not supported "
                "(use https, http, ssh or git)"
            )
        if parts.password is not None:
            raise SourceError(
                f"git url {redact_url(url)} must not contain a password: put it in the secretRef Secret"
            )
        if not parts.hostname or parts.hostname.startswith("-"):
            raise SourceError(f"git url {redact_url(url)} has no host")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return GitURL(url, scheme, parts.hostname, port, netloc, redact_url(url))
    m = _SCP_URL.match(url)
    if m is None:
        raise SourceError(
            f"git url {scrub(url)!r} is not a git URL (https://, ssh://, git:// or user@host:path)"
        )
    host = m.group("host").strip("[]")
    return GitURL(url, "ssh", host, None, m.group("host"), f"{m.group('host')}:{m.group('path')}")


def scrub(text: str, creds: Credentials | None = None) -> str:
    """`text` without user info in URLs and without the credentials' secrets."""
    text = _USERINFO.sub(r"\1", text)
    return creds.scrub(text) if creds is not None else text


def _write_private(path: Path, data: bytes, mode: int = 0o600) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def check_credentials(url: GitURL, creds: Credentials | None) -> None:
    """SourceError when `url` cannot be used with `creds` at all (ssh needs a key and known_hosts)."""
    if not url.is_ssh:
        return
    if creds is None or not creds.known_hosts:
        raise SourceError(
            f"git url {url.display}: ssh needs known_hosts in the secretRef Secret "
            "(host keys are always verified)"
        )
    if not creds.identity:
        raise SourceError(
            f"git url {url.display}: ssh needs a private key (identity) in the secretRef Secret"
        )


@contextlib.contextmanager
def git_auth_env(url: GitURL, creds: Credentials | None, tmp_root: Path) -> Iterator[dict[str, str]]:
    """Environment variables that authenticate one git command against `url` (see the module docstring).

    Secret material is written below a fresh 0700 directory in `tmp_root`, removed on exit.
    Raises SourceError when ssh lacks a key or known_hosts.
    """
    env: dict[str, str] = {}
    wants_http_auth = url.scheme in ("http", "https") and creds is not None
    if not url.is_ssh and not wants_http_auth:
        yield env
        return
    check_credentials(url, creds)
    assert creds is not None
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="auth-", dir=tmp_root))  # mode 0700
    try:
        if url.is_ssh:
            assert creds.identity is not None and creds.known_hosts is not None
            key = creds.identity if creds.identity.endswith(b"\n") else creds.identity + b"\n"
            key_file = _write_private(tmp / "identity", key)
            hosts_file = _write_private(tmp / "known_hosts", creds.known_hosts)
            env["GIT_SSH_COMMAND"] = " ".join(
                [
                    "ssh -F /dev/null",
                    f"-i {shlex.quote(str(key_file))}",
                    "-o IdentitiesOnly=yes -o IdentityAgent=none",
                    f"-o UserKnownHostsFile={shlex.quote(str(hosts_file))}",
                    "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o UpdateHostKeys=no",
                    f"-o BatchMode=yes -o PasswordAuthentication=no -o ConnectTimeout={_SSH_TIMEOUT}",
                ]
            )
        else:
            if creds.basic_auth is not None:
                if not _SAFE_HOSTPORT.match(url.netloc):
                    raise SourceError(f"git url {url.display}: unusual host, cannot pass credentials safely")
                user, password = creds.basic_auth
                _write_private(tmp / "username", user.encode())
                _write_private(tmp / "password", password.encode())
                origin, d = f"{url.scheme}://{url.netloc}", shlex.quote(str(tmp))
                script = (
                    "#!/bin/sh\n"
                    f"# answers git's prompts for {origin} only\n"
                    'case "$1" in\n'
                    f"  \"Username for '{origin}'\"*) exec cat {d}/username ;;\n"
                    f'  "Password for \'{origin}\'"*|"Password for \'{url.scheme}://"*"@{url.netloc}\'"*)'
                    f" exec cat {d}/password ;;\n"
                    "esac\nexit 1\n"
                )
                env["GIT_ASKPASS"] = str(_write_private(tmp / "askpass.sh", script.encode(), 0o700))
            if creds.ca is not None:
                env["GIT_SSL_CAINFO"] = str(_write_private(tmp / "ca.crt", creds.ca))
            if creds.cert is not None and creds.key is not None:
                env["GIT_SSL_CERT"] = str(_write_private(tmp / "tls.crt", creds.cert))
                env["GIT_SSL_KEY"] = str(_write_private(tmp / "tls.key", creds.key))
        yield env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class GitFailed(Exception):
    """A git command exited non-zero (or timed out); `stderr` is git's own, not yet scrubbed."""

    def __init__(self, stderr: str, status: int | str | None = None) -> None:
        super().__init__(stderr)
        self.stderr = stderr
        self.status = status


NO_GIT = "git is not installed (no git executable on the controller's PATH): git chart sources need it"


async def run_git(
    git_dir: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> str:
    """Run `git <args>` on the bare repository `git_dir` (procs.run) and return its stdout.

    Raises GitFailed with git's stderr on a non-zero exit or when `timeout` seconds pass (git and
    what it started, ssh included, are killed), SourceError(NO_GIT) without a git executable.
    """
    full_env = {**os.environ, **_BASE_ENV, "GIT_DIR": str(git_dir), **(env or {})}
    try:  # from the mirror's parent: the mirror itself may not exist yet (init)
        done = await procs.run(["git", *args], env=full_env, timeout=timeout, cwd=git_dir.parent, tool="git")
    except procs.ProcessError as exc:
        if exc.not_found:
            raise SourceError(NO_GIT) from None
        raise GitFailed(exc.why, "timeout" if exc.timed_out else None) from None
    if done.rc != 0:
        raise GitFailed(done.stderr.strip(), done.rc)
    return done.stdout.decode(errors="replace")


def _first(lines: list[str], *needles: str) -> str | None:
    for line in lines:
        if any(n in line for n in needles):
            return line
    return None


def git_error(
    stderr: str, url: GitURL, creds: Credentials | None, *, timeout: float | None = None
) -> SourceError:
    """One line saying why talking to `url` failed, from git's (and ssh's) stderr."""
    where = url.display
    text = scrub(stderr, creds)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    low = text.lower()
    if "cannot run ssh" in low:  # git found, ssh not (an image without openssh-client)
        return SourceError(f"ssh is not installed (no ssh on the controller's PATH): {where} needs it")
    if "remote host identification has changed" in low or "has changed and you have requested strict" in low:
        return SourceError(f"ssh host key for {url.host_port} does not match known_hosts ({where})")
    if "host key is known for" in low or "host key verification failed" in low:
        return SourceError(f"ssh host key for {url.host_port} is not in known_hosts ({where})")
    if "permission denied (publickey" in low or "too many authentication failures" in low:
        return SourceError(f"ssh authentication failed for {where}: the deploy key (identity) was rejected")
    if "authentication failed for" in low or "could not read username" in low or "returned error: 401" in low:
        hint = "" if creds is not None and creds.basic_auth else " (no username/password in a secretRef)"
        return SourceError(f"authentication failed for {where}{hint}")
    if "certificate verification failed" in low or "ssl certificate problem" in low:
        return SourceError(
            f"TLS certificate of {where} is not trusted (put its CA in ca.crt in the secretRef Secret)"
        )
    if "returned error: 403" in low:
        return SourceError(f"access to {where} denied (HTTP 403)")
    if "did not complete in" in low or "timed out" in low or "timeout" in low:
        after = f" after {timeout:g}s" if timeout else ""
        return SourceError(f"git repository {where} unreachable: timed out{after}", transient=True)
    unreachable = _first(
        lines,
        "Connection refused",
        "Could not resolve host",
        "Failed to connect",
        "Could not resolve hostname",
        "No route to host",
        "Network is unreachable",
        "unable to connect",
        "Connection reset",
        "Connection closed by",
        "hung up unexpectedly",
        "returned error: 5",
        "Empty reply from server",
    )
    if unreachable is not None:
        reason = unreachable.removeprefix("fatal: ").removeprefix("ssh: ").rstrip(":")
        errno = next((ln.split("errno=", 1)[1] for ln in lines if "errno=" in ln), None)
        reason = f"{reason}: {errno}" if errno and errno not in reason else reason
        return SourceError(f"git repository {where} unreachable: {reason}", transient=True)
    if _first(
        lines, "not found", "does not appear to be a git repository", "not exported", "returned error: 404"
    ):
        return SourceError(f"git repository {where} not found (or no access)")
    detail = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "")
    detail = detail.removeprefix("fatal: ").removeprefix("error: ")
    return SourceError(f"git fetch from {where} failed: {detail or 'no reason given'}", transient=True)
