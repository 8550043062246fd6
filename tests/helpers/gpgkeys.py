"""Throwaway PGP keys for signing charts in tests (the real gpg, Debian package gnupg).

`make_signing_key(dir, "Chart Signer <signer@example.test>")` generates an RSA signing key without a
passphrase in a private GNUPGHOME and exports what helm needs: the secret key as a legacy keyring
(`helm package --sign --key NAME --keyring secring.gpg`, see `ChartRepo.add_charts(sign=...)`), the
public key as a binary keyring (`helm verify --keyring pubring.gpg`) and ASCII-armored. The gpg-agent
the generation started is stopped before returning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SigningKey", "make_signing_key", "signer_and_other"]


@dataclass(frozen=True)
class SigningKey:
    name: str  # the user id; `helm package --key` finds the key by (a part of) it
    secring: Path  # the secret key, binary (a legacy secring.gpg for helm package --sign)
    pubring: Path  # the public key, binary (a keyring for helm verify)
    armored: bytes  # the public key, ASCII-armored


def make_signing_key(directory: Path, name: str) -> SigningKey:
    gpg = shutil.which("gpg")
    if gpg is None:
        raise RuntimeError("gpg not found (Debian package gnupg)")
    directory.mkdir(parents=True, exist_ok=True)
    home = directory / "gnupg"
    home.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "GNUPGHOME": str(home)}

    def run(*args: str) -> bytes:
        return subprocess.run(
            [gpg, "--batch", *args], env=env, check=True, capture_output=True, timeout=120
        ).stdout

    try:
        run("--passphrase", "", "--quick-gen-key", name, "rsa2048", "sign", "never")
        secring, pubring = directory / "secring.gpg", directory / "pubring.gpg"
        secring.write_bytes(run("--export-secret-keys", name))
        pubring.write_bytes(run("--export", name))
        armored = run("--armor", "--export", name)
    finally:
        gpgconf = shutil.which("gpgconf")
        if gpgconf is not None:
            subprocess.run([gpgconf, "--kill", "all"], env=env, capture_output=True, timeout=30, check=False)
    return SigningKey(name, secring, pubring, armored)


def signer_and_other(directory: Path) -> tuple[SigningKey, SigningKey]:
    """Two keys: the one that signs the charts, and another one (a keyring that trusts only it
    must refuse the charts the first one signed)."""
    return (
        make_signing_key(directory / "signer", "Chart Signer <signer@example.test>"),
        make_signing_key(directory / "other", "Other Signer <other@example.test>"),
    )
