"""The pure parts of chart provenance verification (sources/provenance.py): helm verify's errors as
our reasons (the error lines are helm 3's and helm 4's own), keyrings, file names and URLs."""

from __future__ import annotations

import base64

import pytest

from helmrelease_controller.sources.base import SourceError
from helmrelease_controller.sources.provenance import (
    Keyring,
    archive_file_name,
    dearmor,
    failure_reason,
    provenance_url,
)

KEYRING = "Secret apps/keys key pubring.gpg"
PREFIX = "chart web 1.0.0 failed verification: "


@pytest.mark.parametrize(
    ("helm_error", "meaning"),
    [
        (
            "Error: openpgp: signature made by unknown entity",
            f"its provenance is signed by a key not in the keyring ({KEYRING})",
        ),
        (
            'Error: sha256 sum does not match for web-1.0.0.tgz: "sha256:4b91" != "sha256:d29a"',
            "the archive does not match its provenance file (another sha256: altered after signing)",
        ),
        (
            "Error: openpgp: invalid signature: RSA verification failure",  # helm 4
            "the provenance file's signature is invalid (its text was altered after signing)",
        ),
        (
            "Error: openpgp: invalid signature: hash tag doesn't match",  # helm 3
            "the provenance file's signature is invalid (its text was altered after signing)",
        ),
        ("Error: signature block not found", "the provenance file is not PGP-signed"),  # helm 4
        (
            "Error: failed to decode signature: signature block not found",  # helm 3
            "the provenance file is not PGP-signed",
        ),
        (
            'Error: provenance does not contain a SHA for a file named "web-1.0.0.tgz"',
            "the provenance file does not name the archive web-1.0.0.tgz",
        ),
        (
            "Error: failed to load keyring: openpgp: invalid data: tag byte does not have MSB set",
            f"the keyring ({KEYRING}) is not a PGP public keyring",
        ),
        ("Error: something new\nmore", "helm verify: something new"),
        ("", "helm verify: failed"),
    ],
)
def test_failure_reasons(helm_error: str, meaning: str) -> None:
    reason = failure_reason(helm_error, chart="web 1.0.0", archive="web-1.0.0.tgz", keyring=KEYRING)
    assert reason == PREFIX + meaning


ARMORED = (
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
    "Comment: a header\n"
    "\n"
    f"{base64.b64encode(b'first key').decode()}\n"
    "=abcd\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n"
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
    "\n"
    f"{base64.b64encode(b' and second').decode()}\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n"
)


@pytest.mark.parametrize(
    ("raw", "binary"),
    [
        (b"\x99\x01\x0dbinary", b"\x99\x01\x0dbinary"),  # binary packets are left as they are
        (ARMORED.encode(), b"first key and second"),
        (ARMORED.replace("\n", "\r\n").encode(), b"first key and second"),
    ],
)
def test_dearmor(raw: bytes, binary: bytes) -> None:
    assert dearmor(raw) == binary


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "chart.verify: the keyring (here) is empty"),
        (b"  \n", "chart.verify: the keyring (here) is empty"),
        (
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot*base64\n-----END PGP PUBLIC KEY BLOCK-----\n",
            "chart.verify: the keyring (here) is not usable: an ASCII-armored block is not valid base64",
        ),
        (
            b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n",
            "chart.verify: the keyring (here) is not usable: an ASCII-armored block has no end line",
        ),
    ],
)
def test_unusable_keyrings(raw: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as err:
        Keyring.from_bytes(raw, "here")
    assert str(err.value) == reason


def test_keyring_fingerprint_follows_the_keys() -> None:
    a, b = Keyring.from_bytes(b"\x99one", "x"), Keyring.from_bytes(b"\x99two", "x")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == Keyring.from_bytes(b"\x99one", "elsewhere").fingerprint
    assert "one" not in repr(a)


@pytest.mark.parametrize(
    ("url", "file_name", "prov"),
    [
        ("https://c.example/charts/web-1.0.0.tgz", "web-1.0.0.tgz", "https://c.example/charts/web-1.0.0.tgz.prov"),
        ("https://c.example/dl/web-1.0.0.tgz?token=x", "web-1.0.0.tgz", "https://c.example/dl/web-1.0.0.tgz.prov?token=x"),
        ("https://c.example/a%20b.tgz", "a b.tgz", "https://c.example/a%20b.tgz.prov"),
        ("https://c.example/", "web-1.0.0.tgz", "https://c.example/.prov"),
        ("https://c.example/..", "web-1.0.0.tgz", "https://c.example/...prov"),
    ],
)  # fmt: skip
def test_file_name_and_provenance_url(url: str, file_name: str, prov: str) -> None:
    assert archive_file_name(url, "web", "1.0.0") == file_name
    assert provenance_url(url) == prov
