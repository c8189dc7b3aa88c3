"""The interface lock keeps Chromium and interface changes apart, across processes.

Probed with non-blocking flock calls on a lock file of the test's own, as another process (a
second test worker) would take it: a probe either gets the lock at once or is refused at once.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from harness.host_network import browsing, changing_interfaces


def _can_take(lock_file: Path, kind: int) -> bool:
    with lock_file.open("a") as handle:
        try:
            fcntl.flock(handle, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_no_browser_opens_while_interfaces_change(tmp_path: Path) -> None:
    lock = tmp_path / "interfaces.lock"
    with changing_interfaces(lock):
        assert not _can_take(lock, fcntl.LOCK_SH), "a browser could open mid-change"
        assert not _can_take(lock, fcntl.LOCK_EX), "two changes could overlap"
    assert _can_take(lock, fcntl.LOCK_SH), "the change kept the lock after it ended"


async def test_browsers_share_and_no_interface_changes_while_one_is_open(tmp_path: Path) -> None:
    lock = tmp_path / "interfaces.lock"
    async with browsing(lock):
        assert _can_take(lock, fcntl.LOCK_SH), "a second browser has to wait for the first"
        assert not _can_take(lock, fcntl.LOCK_EX), "an interface could change under a browser"
    assert _can_take(lock, fcntl.LOCK_EX), "the browser kept the lock after it closed"


async def test_changing_interfaces_with_a_browser_open_here_is_refused_not_a_deadlock(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "interfaces.lock"
    async with browsing(lock):
        with pytest.raises(RuntimeError, match="has a Chromium open"), changing_interfaces(lock):
            pass
    with changing_interfaces(lock):  # and allowed once it is closed
        pass
