"""The one process boundary: every helm, git and kubectl process the controller starts goes through `run`.

- `run` starts a program with exec (never a shell) in its own process group, feeds `stdin`, and
  returns `Done(rc, stdout, stderr)` whatever the exit code (callers read their tool's failures
  their own way). On timeout or cancellation the whole group (the program and every child it
  started: ssh, git-remote-http, helm plugins) is sent SIGTERM, then SIGKILL after `grace`
  seconds; nothing it started outlives it. Only the fork/exec itself runs in the event loop's
  thread (as in asyncio's own subprocess support); the waiting is all on the loop.
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
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

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
_CHUNK = 65536


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class _Child:
    """A started program as the event loop sees it: stdout and stderr read and stdin written by
    readers and writers on their file descriptors, its exit seen through a pidfd (or a waiting thread
    where there are none). Started synchronously (`subprocess.Popen`, as asyncio itself does), so no
    cancel can find a program started but not yet ours to stop.

    Why not `asyncio.create_subprocess_exec`: on CPython 3.11 a cancel that reaches it while it still
    connects the pipes (a shutdown's cancel-everything included) SIGKILLs the program alone and then
    waits, forever, for the pipes its children hold: the caller hangs and the children outlive it."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes | None) -> None:
        self.proc, self.pid = proc, proc.pid
        self._loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = self._loop.create_future()
        self._pipes: dict[int, IO[bytes]] = {}
        self._eof: list[asyncio.Future[None]] = []
        self._out, self._err = bytearray(), bytearray()
        self._pidfd: int | None = None
        assert proc.stdout is not None and proc.stderr is not None
        self._read(proc.stdout, self._out)
        self._read(proc.stderr, self._err)
        if proc.stdin is not None:
            self._write(proc.stdin, memoryview(stdin or b""))
        self._watch_exit()

    @property
    def returncode(self) -> int | None:
        return self.exited.result() if self.exited.done() else None

    async def communicate(self) -> tuple[bytes, bytes]:
        """The output, once the program exited and its pipes closed (also by every child holding them)."""
        waits: list[asyncio.Future[Any]] = [self.exited, *self._eof]
        await asyncio.wait(waits)  # not gather: a cancel must leave them be
        return bytes(self._out), bytes(self._err)

    def _read(self, pipe: IO[bytes], buf: bytearray) -> None:
        fd, eof = self._open(pipe), self._loop.create_future()
        self._eof.append(eof)

        def readable() -> None:
            try:
                data = os.read(fd, _CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            buf.extend(data)
            if not data:
                self._release(fd)
                if not eof.done():
                    eof.set_result(None)

        self._loop.add_reader(fd, readable)

    def _write(self, pipe: IO[bytes], data: memoryview) -> None:
        fd, sent = self._open(pipe), 0

        def writable() -> None:
            nonlocal sent
            try:
                sent += os.write(fd, data[sent : sent + _CHUNK])
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # the program closed its stdin or exited: what it did not read is moot
                sent = len(data)
            if sent >= len(data):
                self._release(fd)  # EOF for the program

        if data:
            self._loop.add_writer(fd, writable)
        else:
            self._release(fd)

    def _open(self, pipe: IO[bytes]) -> int:
        fd = pipe.fileno()
        os.set_blocking(fd, False)
        self._pipes[fd] = pipe
        return fd

    def _release(self, fd: int) -> None:
        pipe = self._pipes.pop(fd, None)
        if pipe is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
            with contextlib.suppress(OSError):
                pipe.close()

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # no pidfds (an old kernel): a thread waits, as asyncio's does
            threading.Thread(target=self._wait_in_thread, name=f"waitpid-{self.pid}", daemon=True).start()
            return
        self._loop.add_reader(self._pidfd, self._reap)

    def _wait_in_thread(self) -> None:
        self.proc.wait()
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._reap)

    def _reap(self) -> None:
        rc = self.proc.poll()
        if rc is None:
            return
        self._unwatch()
        if not self.exited.done():
            self.exited.set_result(rc)

    def _unwatch(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def close(self) -> None:
        """Stop watching. Children still holding the pipes get EOF or SIGPIPE, never a hang of ours; a
        program not yet reaped is reaped by `subprocess` later (it keeps a list of those)."""
        for fd in list(self._pipes):
            self._release(fd)
        self._unwatch()
        self.exited.cancel()
        for eof in self._eof:
            eof.cancel()


async def _stop(child: _Child, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds (and always: leftover children)."""
    try:
        if grace > 0 and child.returncode is None:
            _signal_group(child.pid, signal.SIGTERM)
            # The exit alone: a child ignoring SIGTERM may hold the pipes until the SIGKILL.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await asyncio.shield(child.exited)
    finally:
        _signal_group(child.pid, signal.SIGKILL)
    # Bounded: a stop must never hang its caller (a cancelled reconcile, a shutdown).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STOP_WAIT):
            await asyncio.shield(child.exited)


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
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # its own process group: a timeout kills what it started too
        )
    except OSError as exc:
        why = scrub(exc.strerror or str(exc))
        not_found = isinstance(exc, FileNotFoundError) and (cwd is None or exc.filename != str(cwd))
        raise ProcessError(scrub(f"cannot run {name} ({argv[0]}):"), why, not_found=not_found) from None
    child = _Child(proc, stdin)
    stats = counts(name)
    stats.started += 1
    stats.running += 1
    try:
        async with asyncio.timeout(timeout):  # not wait_for: it can swallow a cancel on 3.11
            out, err = await child.communicate()
    except TimeoutError:
        await _stop(child, grace)
        raise ProcessError(scrub(label), f"timed out after {timeout:g}s", timed_out=True) from None
    except BaseException:  # cancelled: the group goes too
        await _stop(child, grace)
        raise
    finally:
        stats.running -= 1
        child.close()
    done = Done(child.exited.result(), out, scrub(err.decode(errors="replace")))
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
