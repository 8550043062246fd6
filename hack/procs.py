"""Stopping the processes hack/demo.py and hack/bench.py start (each leads its own process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """SIGTERM and wait up to `timeout` s; if it hangs, SIGKILL its process group. Its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait(5)
    return proc.returncode


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of the process group `proc` led (started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
