"""procs: the one process boundary, against real processes (sh, sleep)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from helmrelease_controller import procs
from tests.helpers.processes import gone


async def child_pid(pidfile: Path) -> int:
    for _ in range(500):
        if pidfile.is_file() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        await asyncio.sleep(0.01)
    raise AssertionError("the child never started")


async def test_returns_exit_code_output_and_redacted_stderr(tmp_path: Path) -> None:
    script = 'cat; echo "$WHO in $(pwd)"; echo "token hunter2 refused" >&2; exit 3'
    done = await procs.run(
        ["sh", "-c", script], stdin=b"in\n", env={"WHO": "me", "PATH": os.environ["PATH"]},
        cwd=tmp_path, redact=lambda s: s.replace("hunter2", "***"),
    )  # fmt: skip
    assert done == (3, f"in\nme in {tmp_path}\n".encode(), "token *** refused\n")


async def test_check_raises_one_redacted_line() -> None:
    with pytest.raises(procs.ProcessError) as err:
        await procs.run(["sh", "-c", "echo 'first\nError: bad hunter2' >&2; exit 1"], check=True,
                        redact=lambda s: s.replace("hunter2", "***"), what="helm pull")  # fmt: skip
    assert (err.value.summary, err.value.rc) == ("helm pull failed: Error: bad ***", 1)


async def test_missing_program() -> None:
    with pytest.raises(procs.ProcessError, match=r"cannot run no-tool \(/nonexistent/no-tool\)") as err:
        await procs.run(["/nonexistent/no-tool"])
    assert err.value.not_found


async def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    """A child the program started (an ssh, a helm plugin) holds its pipes: it is killed too, and the
    timeout is not held up by it."""
    pidfile = tmp_path / "child.pid"
    script = f"sleep 1000 & echo $! > {pidfile}; wait"
    with pytest.raises(procs.ProcessError, match=r"^sh -c timed out after 0.5s$") as err:
        await procs.run(["sh", "-c", script], timeout=0.5)
    assert err.value.timed_out
    assert await gone(await child_pid(pidfile))


async def test_cancel_asks_then_kills_the_process_group(tmp_path: Path) -> None:
    pidfile, termed = tmp_path / "child.pid", tmp_path / "termed"
    # the program ignores nothing: SIGTERM ends it (and is recorded); its child ignores SIGTERM
    child = "sh -c 'trap \"\" TERM; exec sleep 1000'"
    script = f"trap 'touch {termed}; exit 1' TERM; {child} & echo $! > {pidfile}; wait"
    before = procs.counts("sh").running
    task = asyncio.create_task(procs.run(["sh", "-c", script], grace=60))
    pid = await child_pid(pidfile)
    assert procs.counts("sh").running == before + 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert termed.exists()  # asked politely first
    assert await gone(pid)  # then the group was killed
    assert procs.counts("sh").running == before


async def test_a_cancel_while_the_process_starts_stops_it_too(tmp_path: Path) -> None:
    """A reconcile can be cancelled (shutdown, a deleted HelmRelease) at any moment, also while asyncio
    is still connecting the new process's pipes: the cancel still ends promptly and nothing the
    program started survives. (asyncio's own start, cancelled there, killed the program alone and
    then waited forever for the pipes its child held: the cancel hung and the child was orphaned.)"""
    for steps in range(8):  # cancel after 0..7 event-loop steps: before, during and after the start
        pidfile = tmp_path / f"child{steps}.pid"
        task = asyncio.create_task(
            procs.run(["sh", "-c", f"sleep 1000 & echo $! > {pidfile}; wait"], grace=5)
        )
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        async with asyncio.timeout(20):
            with pytest.raises(asyncio.CancelledError):
                await task
        if pidfile.is_file() and pidfile.read_text().strip():
            assert await gone(int(pidfile.read_text())), (
                f"cancelled after {steps} steps: the child outlived it"
            )


def test_a_shutdown_cancelling_every_task_stops_the_program_and_its_children(tmp_path: Path) -> None:
    """At shutdown `asyncio.run` cancels every task still pending, whatever it awaits and at any
    moment: the shutdown still ends and nothing a program started survives it. (With asyncio's own
    start, a start in flight at that moment killed the program alone and hung the shutdown forever
    waiting for the pipes the program's child held.)"""
    for steps in [*range(12), None]:  # shut down after 0..11 loop steps, then once the child runs
        pidfile = tmp_path / f"child{steps}.pid"

        async def main(steps: int | None = steps, pidfile: Path = pidfile) -> None:
            argv = ["sh", "-c", f"sleep 1000 & echo $! > {pidfile}; wait"]
            running = [asyncio.create_task(procs.run(argv, grace=5))]
            if steps is None:
                await child_pid(pidfile)
            for _ in range(steps or 0):
                await asyncio.sleep(0)
            assert not running[0].done()

        shutdown = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        shutdown.start()
        shutdown.join(30)
        assert not shutdown.is_alive(), f"the shutdown after {steps} steps hung"
        if pidfile.is_file() and pidfile.read_text().strip():
            assert asyncio.run(gone(int(pidfile.read_text()))), (
                f"shut down after {steps} steps: the child lived"
            )
        else:
            assert steps is not None


async def test_helm_version_is_probed_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    helm = tmp_path / "helm"
    helm.write_text(f"#!/bin/sh\necho x >> {calls}\nprintf v3.17.3\n")
    helm.chmod(0o755)
    got = await asyncio.gather(*(procs.helm_version(str(helm)) for _ in range(5)))
    assert got == ["v3.17.3"] * 5 and await procs.helm_major(str(helm)) == 3
    assert calls.read_text().count("x") == 1


async def test_helm_version_failure_is_one_line_and_not_cached(tmp_path: Path) -> None:
    helm = tmp_path / "helm"
    helm.write_text("#!/bin/sh\necho 'Error: broken install' >&2\nexit 1\n")
    helm.chmod(0o755)
    with pytest.raises(procs.ProcessError, match=r"^`helm version` failed: Error: broken install$"):
        await procs.helm_version(str(helm))
    helm.write_text("#!/bin/sh\nprintf v4.3.1\n")
    assert await procs.helm_version(str(helm)) == "v4.3.1"
