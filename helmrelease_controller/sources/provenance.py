"""Helm provenance verification of repository and OCI charts (`spec.chart.verify`, provider helm).

A signed chart has a provenance file: next to its archive in a chart repository (`<archive URL>.prov`),
a layer of its manifest in a registry (`helm push` uploads it). It is a PGP clear-signed document
holding the chart's metadata and the archive's sha256; the sources fetch it. The real helm
checks it (`helm verify <archive> --keyring <keyring>`): the signature must be made by a key of the
keyring and the sha256 must be the archive's. helm wants the `.prov` beside the archive and the
archive under the file name the provenance names, so both are laid out in a private temporary
directory (the archive as a link to the cached file) with the keyring, written 0600; the directory
is removed when helm is done.

- `Keyring`: the PGP public keys of the verify Secret (binary as `gpg --export` writes them, or
  ASCII-armored: dearmored here, as helm 3 reads binary keyrings only), with a fingerprint for
  cache keys and where it came from for messages.
- `Verifier`: verifies once per (archive sha256, keyring): a success is remembered (LRU), so an
  unchanged chart costs no helm process and no provenance fetch per reconcile; a changed keyring
  is another key, verified again. A failure is remembered per (archive, keyring, provenance
  sha256): a retry fetches the .prov again (it may have been re-signed) but runs no helm for the
  same three. Concurrent resolves of one pair share one verification.
- `failure_reason`: helm's error as our one-line reason, distinct per cause (pure; table-tested).

Failures are `SourceError`s that need a change somewhere (not transient), except helm not
finishing in time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import posixpath
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from .. import procs
from .base import SourceError
from .cache import SingleFlight

__all__ = ["Keyring", "Verifier", "archive_file_name", "dearmor", "failure_reason", "provenance_url"]

log = logging.getLogger(__name__)
K = TypeVar("K")

MAX_PROVENANCE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 60.0
_ARMOR_BEGIN = "-----BEGIN PGP "


def dearmor(data: bytes) -> bytes:
    """ASCII-armored PGP blocks (one or more) as binary packets; binary input is returned as it is.
    ValueError when an armored block is damaged."""
    text = data.decode("ascii", errors="replace")
    if _ARMOR_BEGIN not in text:
        return data
    out, body, inside, in_headers = bytearray(), list[str](), False, False
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("-----BEGIN PGP "):
            body, inside, in_headers = [], True, True
        elif line.startswith("-----END PGP ") and inside:
            try:
                out += base64.b64decode("".join(body), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("an ASCII-armored block is not valid base64") from None
            inside = False
        elif inside and in_headers and ": " in line:
            continue  # an armor header (Version: ..., Comment: ...)
        elif inside and line:
            in_headers = False
            if not line.startswith("="):  # "=XXXX" is the CRC24 checksum line
                body.append(line)
        elif inside:
            in_headers = False
    if inside or not out:
        raise ValueError("an ASCII-armored block has no end line")
    return bytes(out)


@dataclass(frozen=True, repr=False)
class Keyring:
    """PGP public keys trusted to sign charts (binary packets) and where they came from (`where`,
    e.g. "Secret apps/keys key pubring.gpg"), for messages."""

    data: bytes
    where: str

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> Keyring:
        """From the Secret's value, binary or ASCII-armored. SourceError when empty or damaged."""
        if not raw.strip():
            raise SourceError(f"chart.verify: the keyring ({where}) is empty")
        try:
            return cls(dearmor(raw), where)
        except ValueError as exc:
            raise SourceError(f"chart.verify: the keyring ({where}) is not usable: {exc}") from None

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def __repr__(self) -> str:
        return f"Keyring({self.where}, sha256:{self.fingerprint[:12]})"


def provenance_url(archive_url: str) -> str:
    """Where a chart archive's provenance file is: the archive's URL with `.prov` appended (helm)."""
    parts = urlsplit(archive_url)
    return parts._replace(path=parts.path + ".prov").geturl()


def archive_file_name(archive_url: str, name: str, version: str) -> str:
    """The archive's file name as helm saves a download (the URL path's last segment), which the
    provenance must name; `<name>-<version>.tgz` when the URL has none."""
    base = posixpath.basename(unquote(urlsplit(archive_url).path))
    if not base or base in (".", "..") or "/" in base or "\x00" in base:
        return f"{name}-{version}.tgz"
    return base


# helm's error (its "Error: ..." line), what it means; the first that matches wins.
_FAILURES: tuple[tuple[str, str], ...] = (
    ("signature made by unknown entity", "its provenance is signed by a key not in the keyring ({keyring})"),
    (
        "sha256 sum does not match",
        "the archive does not match its provenance file (another sha256: altered after signing)",
    ),
    ("invalid signature", "the provenance file's signature is invalid (its text was altered after signing)"),
    ("signature block not found", "the provenance file is not PGP-signed"),
    ("failed to decode signature", "the provenance file is not PGP-signed"),
    ("does not contain a sha for a file named", "the provenance file does not name the archive {archive}"),
    ("failed to load keyring", "the keyring ({keyring}) is not a PGP public keyring"),
)


def failure_reason(helm_output: str, *, chart: str, archive: str, keyring: str) -> str:
    """helm verify's failure (its `Error:` line) as one line: `chart <chart> failed verification:
    <what it means>`; helm's own words when the error is not one of the known causes."""
    error = next(
        (ln.strip() for ln in helm_output.splitlines() if ln.strip().startswith("Error:")),
        " ".join(helm_output.split()),
    ).removeprefix("Error: ")
    lowered = error.lower()
    for sign, meaning in _FAILURES:
        if sign in lowered:
            return f"chart {chart} failed verification: {meaning.format(keyring=keyring, archive=archive)}"
    return f"chart {chart} failed verification: helm verify: {error or 'failed'}"


def _signer(output: str) -> str:
    """helm verify's "Signed by: ..." (and the key's fingerprint), for the log."""
    lines = dict(ln.split(": ", 1) for ln in output.splitlines() if ": " in ln)
    who, key = lines.get("Signed by", "?").strip(), lines.get("Using Key With Fingerprint", "").strip()
    return f"{who} (key {key})" if key else who


def _remember(entries: OrderedDict[K, str], key: K, value: str, max_entries: int) -> None:
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > max_entries:
        entries.popitem(last=False)


def _offline_env(home: Path) -> dict[str, str]:
    """helm verify reads local files only: a private HOME and helm homes, no PATH, nothing inherited."""
    return {
        "HOME": str(home),
        "PATH": str(home / "no-bin"),
        **{f"HELM_{d}_HOME": str(home / d.lower()) for d in ("CONFIG", "CACHE", "DATA")},
    }


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class Verifier:
    """Verifies chart archives against keyrings with the real `helm verify`, once per (archive
    sha256, keyring contents); see the module docstring. `runs` counts helm verify processes
    started. A failure's reason names the keyring's Secret, so failures are kept per Secret too."""

    def __init__(self, helm: str = "helm", *, timeout: float = DEFAULT_TIMEOUT, max_entries: int = 1024):
        self.helm = helm if os.sep in helm else (shutil.which(helm) or helm)
        self.timeout, self.max_entries = timeout, max_entries
        self._verified: OrderedDict[tuple[str, str], str] = OrderedDict()  # -> signer
        self._failed: OrderedDict[tuple[str, ...], str] = OrderedDict()  # (+ .prov sha256, where) -> reason
        self._flight: SingleFlight[str] = SingleFlight()
        self.runs = 0

    def cancel_all(self) -> None:
        self._flight.cancel_all()

    async def verify(
        self,
        archive: Path,
        hexdigest: str,
        file_name: str,
        chart: str,
        keyring: Keyring,
        fetch_provenance: Callable[[], Awaitable[bytes]],
    ) -> str:
        """Verify `archive` (sha256 `hexdigest`, named `file_name` in the repository) with the
        provenance `fetch_provenance` returns; the signer. SourceError (one line) when it does not
        verify. A pair verified before returns at once, fetching nothing."""
        key = (hexdigest, keyring.fingerprint)
        signer = self._verified.get(key)
        if signer is not None:
            self._verified.move_to_end(key)
            return signer

        async def run() -> str:
            prov = await fetch_provenance()
            tried = (*key, hashlib.sha256(prov).hexdigest(), keyring.where)  # the reason names the Secret
            if tried in self._failed:
                raise SourceError(self._failed[tried])
            try:
                signer = await self._helm_verify(archive, file_name, prov, chart, keyring)
            except SourceError as exc:
                if not exc.transient:
                    _remember(self._failed, tried, str(exc), self.max_entries)
                raise
            _remember(self._verified, key, signer, self.max_entries)
            log.info("chart %s verified: signed by %s", chart, signer)
            return signer

        return await self._flight.do((*key, keyring.where), run)

    async def _helm_verify(
        self, archive: Path, file_name: str, prov: bytes, chart: str, keyring: Keyring
    ) -> str:
        with tempfile.TemporaryDirectory(prefix="hrc-verify-") as tmp:  # mode 0700
            home = Path(tmp)
            chart_dir, keys = home / "chart", home / "keys"
            chart_dir.mkdir()
            keys.mkdir(mode=0o700)
            (chart_dir / file_name).symlink_to(archive.resolve())
            (chart_dir / f"{file_name}.prov").write_bytes(prov)
            _write_private(keys / "pubring.gpg", keyring.data)
            self.runs += 1
            args = [self.helm, "verify", str(chart_dir / file_name), "--keyring", str(keys / "pubring.gpg")]
            try:
                done = await procs.run(
                    args, env=_offline_env(home), timeout=self.timeout, tool="helm", what="helm verify"
                )
            except procs.ProcessError as exc:
                if exc.rc is None and not exc.timed_out:
                    raise SourceError(f"cannot run helm ({self.helm}): {exc.why}") from None
                raise SourceError(f"chart {chart}: {exc.summary}", transient=True) from None
            output = done.stdout.decode(errors="replace") + "\n" + done.stderr
        if done.rc != 0:
            raise SourceError(failure_reason(output, chart=chart, archive=file_name, keyring=keyring.where))
        return _signer(output)
