"""Git transport without a server: URL checks, the credentials environment, error reasons, Credentials."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from helmrelease_controller.sources.base import Credentials, SourceError
from helmrelease_controller.sources.gitauth import check_credentials, git_auth_env, git_error, parse_git_url

KEY = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
    b"-----END OPENSSH PRIVATE KEY-----"
)
HOSTS = b"[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKv\n"


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme", "host_port", "display"),
    [
        ("https://github.com/org/charts.git", "https", "github.com:443", "https://github.com/org/charts.git"),
        ("http://127.0.0.1:8080/r.git", "http", "127.0.0.1:8080", "http://127.0.0.1:8080/r.git"),
        ("https://bot@git.example.com/r", "https", "git.example.com:443", "https://git.example.com/r"),
        ("ssh://git@127.0.0.1:2222/srv/r.git", "ssh", "127.0.0.1:2222", "ssh://127.0.0.1:2222/srv/r.git"),
        ("git@github.com:org/charts.git", "ssh", "github.com:22", "github.com:org/charts.git"),
        ("git://127.0.0.1/r.git", "git", "127.0.0.1:9418", "git://127.0.0.1/r.git"),
        ("  HTTPS://example.com/r?token=x  ", "https", "example.com:443", "https://example.com/r"),
    ],
)
def test_accepted_urls(url: str, scheme: str, host_port: str, display: str) -> None:
    parsed = parse_git_url(url)
    assert (parsed.scheme, parsed.host_port, parsed.display) == (scheme, host_port, display)
    assert parsed.is_ssh == (scheme == "ssh")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme file:// is not supported"),
        ("ext::sh -c touch% /tmp/pwned", "is not a git URL"),
        ("/srv/git/charts.git", "is not a git URL"),
        ("ftp://example.com/r.git", "scheme ftp:// is not supported"),
        ("https://user:hunter22@example.com/r.git", "must not contain a password"),
        ("https:///r.git", "has no host"),
        ("-oProxyCommand=touch /tmp/x:r.git", "is not a git URL"),
        ("ssh://-oProxyCommand=x/r.git", "has no host"),
    ],
)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(SourceError, match=reason) as err:
        parse_git_url(url)
    assert "hunter22" not in str(err.value)


def test_ssh_needs_known_hosts_and_a_key() -> None:
    url = parse_git_url("ssh://git@example.com/r.git")
    with pytest.raises(SourceError, match="ssh needs known_hosts in the secretRef Secret"):
        check_credentials(url, None)
    with pytest.raises(SourceError, match="ssh needs known_hosts"):
        check_credentials(url, Credentials(identity=KEY))
    with pytest.raises(SourceError, match=r"ssh needs a private key \(identity\)"):
        check_credentials(url, Credentials(known_hosts=HOSTS))
    check_credentials(url, Credentials(identity=KEY, known_hosts=HOSTS))
    check_credentials(parse_git_url("https://example.com/r.git"), None)  # only ssh needs anything


# --- the credentials environment ----------------------------------------------------------------


def test_ssh_environment(tmp_path: Path) -> None:
    url = parse_git_url("ssh://git@127.0.0.1:2222/r.git")
    with git_auth_env(url, Credentials(identity=KEY, known_hosts=HOSTS), tmp_path) as env:
        command = env["GIT_SSH_COMMAND"]
        for option in ("-F /dev/null", "-o IdentitiesOnly=yes", "-o StrictHostKeyChecking=yes",
                       "-o GlobalKnownHostsFile=/dev/null", "-o BatchMode=yes"):  # fmt: skip
            assert option in command
        (auth_dir,) = tmp_path.iterdir()
        assert stat.S_IMODE(auth_dir.stat().st_mode) == 0o700
        key, hosts = auth_dir / "identity", auth_dir / "known_hosts"
        assert f"-i {key}" in command and f"UserKnownHostsFile={hosts}" in command
        assert key.read_bytes() == KEY + b"\n"  # a key without its final newline is not loadable by ssh
        assert hosts.read_bytes() == HOSTS
        assert stat.S_IMODE(key.stat().st_mode) == stat.S_IMODE(hosts.stat().st_mode) == 0o600
        assert not any(b"PRIVATE KEY" in v.encode() for v in env.values())
    assert not any(tmp_path.iterdir())  # removed on exit


def test_files_are_removed_when_the_command_fails(tmp_path: Path) -> None:
    url = parse_git_url("ssh://git@127.0.0.1:2222/r.git")
    with (
        pytest.raises(RuntimeError),
        git_auth_env(url, Credentials(identity=KEY, known_hosts=HOSTS), tmp_path),
    ):
        raise RuntimeError("git failed")
    assert not any(tmp_path.iterdir())


def test_askpass_answers_only_its_own_origin(tmp_path: Path) -> None:
    url = parse_git_url("https://git.example.com:8443/org/charts.git")
    creds = Credentials(username="bot", password="s3cret-t0ken")
    with git_auth_env(url, creds, tmp_path) as env:
        assert set(env) == {"GIT_ASKPASS"} and "s3cret" not in env["GIT_ASKPASS"]
        script = Path(env["GIT_ASKPASS"])
        assert "s3cret" not in script.read_text()

        def ask(prompt: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(script), prompt], capture_output=True, text=True)

        assert ask("Username for 'https://git.example.com:8443': ").stdout == "bot"
        assert ask("Password for 'https://bot@git.example.com:8443': ").stdout == "s3cret-t0ken"
        assert ask("Password for 'https://git.example.com:8443': ").stdout == "s3cret-t0ken"
        foreign_prompts = (
            "Username for 'https://evil.example.com': ",
            "Password for 'https://bot@evil.example.com': ",
            "Password for 'http://git.example.com:8443': ",
            "Enter passphrase for key: ",
        )
        for foreign in foreign_prompts:
            answer = ask(foreign)
            assert answer.returncode != 0 and answer.stdout == ""
    assert not any(tmp_path.iterdir())


def test_tls_material_and_no_files_when_nothing_is_needed(tmp_path: Path) -> None:
    creds = Credentials(ca=b"CA PEM", cert=b"CERT PEM", key=b"KEY PEM")
    with git_auth_env(parse_git_url("https://example.com/r.git"), creds, tmp_path) as env:
        assert Path(env["GIT_SSL_CAINFO"]).read_bytes() == b"CA PEM"
        assert Path(env["GIT_SSL_KEY"]).read_bytes() == b"KEY PEM"
        assert stat.S_IMODE(os.stat(env["GIT_SSL_KEY"]).st_mode) == 0o600
    for url, c in (("git://example.com/r.git", creds), ("https://example.com/r.git", None)):
        with git_auth_env(parse_git_url(url), c, tmp_path) as env:
            assert env == {} and not any(tmp_path.iterdir())


# --- error reasons -------------------------------------------------------------------------------

SSH = parse_git_url("ssh://git@127.0.0.1:2222/r.git")
HTTP = parse_git_url("http://127.0.0.1:8080/r.git")
GIT = parse_git_url("git://127.0.0.1:9418/r.git")
UNABLE = "fatal: unable to access 'http://127.0.0.1:8080/r.git/': The requested URL returned error:"


@pytest.mark.parametrize(
    ("url", "stderr", "reason", "transient"),
    [
        (SSH, "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\n"
              "fatal: Could not read from remote repository.",
         "ssh host key for 127.0.0.1:2222 does not match known_hosts (ssh://127.0.0.1:2222/r.git)", False),
        (SSH, "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\n"
              "Host key verification failed.",
         "ssh host key for 127.0.0.1:2222 is not in known_hosts (ssh://127.0.0.1:2222/r.git)", False),
        (SSH, "git@127.0.0.1: Permission denied (publickey).\nfatal: Could not read from remote repository.",
         "ssh authentication failed for ssh://127.0.0.1:2222/r.git: the deploy key (identity) was rejected",
         False),
        (SSH, "ssh: connect to host 127.0.0.1 port 2222: Connection refused\nfatal: Could not read",
         "git repository ssh://127.0.0.1:2222/r.git unreachable: connect to host 127.0.0.1 port 2222: "
         "Connection refused", True),
        (HTTP, "fatal: Authentication failed for 'http://127.0.0.1:8080/r.git/'",
         "authentication failed for http://127.0.0.1:8080/r.git", False),
        (HTTP, "fatal: could not read Username for 'http://127.0.0.1:8080': terminal prompts disabled",
         "authentication failed for http://127.0.0.1:8080/r.git", False),
        (HTTP, f"{UNABLE} 403",
         "access to http://127.0.0.1:8080/r.git denied (HTTP 403)", False),
        (HTTP, f"{UNABLE} 502",
         "git repository http://127.0.0.1:8080/r.git unreachable: unable to access", True),
        (HTTP, "fatal: repository 'http://127.0.0.1:8080/r.git/' not found",
         "git repository http://127.0.0.1:8080/r.git not found (or no access)", False),
        (HTTP, "fatal: unable to access 'https://x/': Could not resolve host: x",
         "git repository http://127.0.0.1:8080/r.git unreachable: unable to access", True),
        (GIT, "fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused",
         "git repository git://127.0.0.1:9418/r.git unreachable: unable to connect to 127.0.0.1: "
         "Connection refused", True),
        (GIT, "fatal: remote error: access denied or repository not exported: /r.git",
         "git repository git://127.0.0.1:9418/r.git not found (or no access)", False),
        (GIT, "Timeout: the command git fetch did not complete in 60 secs.",
         "git repository git://127.0.0.1:9418/r.git unreachable: timed out after 60s", True),
        (GIT, "error: something odd\nfatal: the remote end sent garbage",
         "git fetch from git://127.0.0.1:9418/r.git failed: something odd", True),
    ],
)  # fmt: skip
def test_reasons(url: object, stderr: str, reason: str, transient: bool) -> None:
    err = git_error(stderr, url, None, timeout=60)  # type: ignore[arg-type]
    assert str(err).startswith(reason) and err.transient is transient and "\n" not in str(err)


def test_reasons_are_scrubbed() -> None:
    creds = Credentials(username="bot", password="p4ssw0rd-long", identity=KEY, known_hosts=HOSTS)
    key_line = KEY.decode().splitlines()[1]
    stderr = f"fatal: odd failure talking to https://bot:p4ssw0rd-long@host/r.git with {key_line}"
    err = git_error(stderr, HTTP, creds)
    assert "p4ssw0rd" not in str(err) and "bot:" not in str(err) and "b3BlbnNzaC1rZXktdjE" not in str(err)


# --- Credentials for ssh -------------------------------------------------------------------------


def test_credentials_from_flux_secret_keys() -> None:
    creds = Credentials.from_secret_data(
        {"identity": KEY, "identity.pub": b"ssh-ed25519 AAAA", "known_hosts": HOSTS}
    )
    assert (creds.identity, creds.known_hosts, creds.username) == (KEY, HOSTS, None)
    assert repr(creds) == "Credentials(<redacted: identity, known_hosts>)" and "BEGIN" not in str(creds)
    assert creds.scrub(f"x {KEY.decode()} y") == "x *** y"


def test_fingerprint_of_existing_fields_is_unchanged() -> None:
    old = Credentials(username="u", password="p", ca=b"ca")
    h = hashlib.sha256()
    for raw in (b"u", b"p", None, None, b"ca"):
        h.update(b"\x00" if raw is None else b"\x01" + len(raw).to_bytes(8, "big") + raw)
    assert old.fingerprint() == h.hexdigest()
    ssh_a = Credentials(identity=KEY, known_hosts=HOSTS)
    ssh_b = Credentials(identity=KEY, known_hosts=HOSTS + b"other ssh-rsa AAAA\n")
    assert len({Credentials().fingerprint(), ssh_a.fingerprint(), ssh_b.fingerprint()}) == 3
