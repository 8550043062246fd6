"""drop_checkouts: removing old exported commits must not remove another GitSync's export in flight.

Two GitSyncs on one repository moving to a new commit at once (one push, two webhooks) export it
concurrently under `.tmp-*`; the first to finish drops what it no longer needs. A fresh `.tmp-*`
is another sync's export in progress and must stay (removing it failed that sync with
"cannot export commit ...: No such file or directory" until its next interval); only a stale one,
left by a crash, goes. The same holds for a finished export not recorded yet by its GitSync (two
GitSyncs on one repository following different commits): only old unused exports go.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from helmrelease_controller.gitsync.checkout import STALE_EXPORT_SECONDS, drop_checkouts


@pytest.mark.parametrize(
    ("entry", "age", "kept"),
    [
        ("c-aaa", 0, True),  # a commit some GitSync is at
        ("c-bbb", STALE_EXPORT_SECONDS + 60, False),  # a commit nobody has been at for a while
        ("c-ccc", 0, True),  # just exported by a GitSync that has not recorded it yet
        (".tmp-0123", 0, True),  # an export in progress (another GitSync's sync)
        (".tmp-4567", STALE_EXPORT_SECONDS + 60, False),  # left by a crash
        ("notes", 0, True),  # not ours
    ],
)
def test_drop_checkouts(tmp_path: Path, entry: str, age: float, kept: bool) -> None:
    path = tmp_path / entry
    (path / "tree").mkdir(parents=True)
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    drop_checkouts(tmp_path, keep={"aaa"})
    assert path.exists() is kept
