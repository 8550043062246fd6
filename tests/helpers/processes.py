"""Looking at processes from tests: is a pid still running, and waiting (bounded) for it to die."""

from __future__ import annotations

import asyncio
from pathlib import Path


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan may wait for its reaper a moment)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def gone(pid: int) -> bool:
    """True once `pid` has died (SIGKILL is delivered asynchronously); False if it still runs after
    about 5 seconds."""
    for _ in range(500):
        if not alive(pid):
            return True
        await asyncio.sleep(0.01)
    return False
