"""The one process boundary: every helm, git and kubectl process the controller starts goes through `run`.

- `run` starts a program with exec (never a shell) in its own process group, feeds `stdin`, and
  returns `Done(rc, stdout, stderr)` whatever the exit code (callers read their tool's failures
  their own way). On timeout or cancellation the whole group (the program and every child it
  started: ssh, git-remote-http, helm plugins) is sent SIGTERM, then SIGKILL after `grace`
  seconds; nothing it started outlives it. It never blocks the event loop.
- `ProcessError`, the one error type: the program could not start, timed out, or (`check=True`)
  exited non-zero. `summary` is one line, passed through the caller's `redact`.
- `counts(tool)`: processes started and running per tool ("helm", "git"), process-wide, which the
  `helmrelease_helm_processes_*` metrics sample (docs/metrics.md).
- `helm_version`: `helm version`, probed once per executable and shared by everyone (preflight,
  the helm runner, the OCI source); concurrent callers share one probe, a failure is not cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["Counts", "Done", "ProcessError", "counts", "helm_major", "helm_version", "run"]

Redact = Callable[[str], str]


class Done(NamedTuple):
    """A finished process: its exit code, stdout (raw) and stderr (decoded, redacted)."""

    rc: int
    stdout: bytes
    stderr: str


class ProcessError(Exception):
    """A process did not run to a good end. `summary` is one redacted line ("<what> <why>"), `why`
    its cause alone; `rc` is None when the process did not start or timed out."""

    def __init__(
        self, what: str, why: str, *, rc: int | None = None, stderr: str = "", timed_out: bool = False,
        not_found: bool = False,
    ) -> None:  # fmt: skip
        self.summary, self.why = _one_line(f"{what} {why}"), why
        super().__init__(self.summary)
        self.rc, self.stderr, self.timed_out, self.not_found = rc, stderr, timed_out, not_found


@dataclass
class Counts:
    started: int = 0
    running: int = 0


_COUNTS: dict[str, Counts] = {}


def counts(tool: str) -> Counts:
    """Processes of `tool` started and running in this process (live; never reset)."""
    return _COUNTS.setdefault(tool, Counts())


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


STOP_WAIT = 5.0  # seconds a stopped process is waited for after SIGKILL


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds (and always: leftover children)."""
    try:
        if grace > 0 and proc.returncode is None:
            _signal_group(proc.pid, signal.SIGTERM)
            # Not proc.wait(): it also waits for the pipes, which a child ignoring SIGTERM holds.
            deadline = asyncio.get_running_loop().time() + grace
            while proc.returncode is None and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
    finally:
        _signal_group(proc.pid, signal.SIGKILL)
    # Bounded: asyncio's wait also waits for the pipes and its own exit callback; a stop must never
    # hang the caller (a cancelled reconcile, a shutdown) even when those are late.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STOP_WAIT):
            await proc.wait()


async def _start(argv: Sequence[str], grace: float, **options: Any) -> asyncio.subprocess.Process:
    """`create_subprocess_exec`, safe to cancel. asyncio's own start is not (CPython 3.11): cancelled
    while it still connects the pipes, it SIGKILLs the program alone and then waits, forever, for
    pipes the program's children still hold: the caller hangs and the children outlive it. Here
    the start is shielded; a cancel lets it finish (milliseconds) and then stops the whole group,
    as a cancel during the run does."""
    start = asyncio.ensure_future(asyncio.create_subprocess_exec(*argv, **options))
    try:
        return await asyncio.shield(start)
    except asyncio.CancelledError:
        try:
            await asyncio.wait([start])  # cancelled again: the start still ends, and is killed then
        except asyncio.CancelledError:
            start.add_done_callback(_kill_started)
            raise
        if not start.cancelled() and start.exception() is None:
            await _stop(start.result(), grace)
        raise


def _kill_started(start: asyncio.Future[asyncio.subprocess.Process]) -> None:
    if not start.cancelled() and start.exception() is None:
        _signal_group(start.result().pid, signal.SIGKILL)


async def run(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    redact: Redact | None = None,
    grace: float = 0.0,
    check: bool = False,
    tool: str | None = None,
    what: str | None = None,
) -> Done:
    """Run `argv` (see the module docstring). `what` names it in summaries (default: the first two
    words of argv); `tool` keys `counts` (default: the program's file name)."""
    scrub = redact or (lambda s: s)
    name = tool or os.path.basename(argv[0])
    label = what or " ".join([name, *argv[1:2]])
    try:
        proc = await _start(
            argv,
            grace,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # its own process group: a timeout kills what it started too
        )
    except OSError as exc:
        why = scrub(exc.strerror or str(exc))
        not_found = isinstance(exc, FileNotFoundError) and (cwd is None or exc.filename != str(cwd))
        raise ProcessError(scrub(f"cannot run {name} ({argv[0]}):"), why, not_found=not_found) from None
    stats = counts(name)
    stats.started += 1
    stats.running += 1
    try:
        async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel on 3.11
            out, err = await proc.communicate(stdin)
    except TimeoutError:
        await _stop(proc, grace)
        raise ProcessError(scrub(label), f"timed out after {timeout:g}s", timed_out=True) from None
    except BaseException:  # cancelled: the group goes too
        await _stop(proc, grace)
        raise
    finally:
        stats.running -= 1
    done = Done(
        proc.returncode if proc.returncode is not None else -1, out, scrub(err.decode(errors="replace"))
    )
    if check and done.rc != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else f"exit code {done.rc}"
        raise ProcessError(scrub(label), f"failed: {why}", rc=done.rc, stderr=done.stderr)
    return done


_versions: dict[str, str] = {}
_version_locks: dict[tuple[str, int], asyncio.Lock] = {}  # per event loop (tests run many)


async def helm_version(helm: str, timeout: float = 30.0) -> str:
    """`helm version --template {{ .Version }}` ("v4.3.1"), once per executable (see the docstring).
    ProcessError when helm does not run or fails."""
    if helm in _versions:
        return _versions[helm]
    lock = _version_locks.setdefault((helm, id(asyncio.get_running_loop())), asyncio.Lock())
    async with lock:
        if helm not in _versions:
            argv = [helm, "version", "--template", "{{ .Version }}"]
            done = await run(argv, timeout=timeout, check=True, tool="helm", what="`helm version`")
            _versions[helm] = done.stdout.decode(errors="replace").strip()
    return _versions[helm]


async def helm_major(helm: str) -> int:
    """The major version of `helm` (3 or 4); ProcessError as `helm_version`, ValueError if unreadable."""
    version = await helm_version(helm)
    return int(version.lstrip("v").split(".")[0])
