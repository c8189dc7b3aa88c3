"""A small real filesystem (tmpfs of a fixed size) that a test can fill to the last byte and
empty again: the event-store's disk filling up, as it does on a board with a small card.

Mounting needs root, as `make test` runs here; without it the test fails (it is not skipped).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

CHUNK = 64 * 1024


class SmallDisk:
    def __init__(self, mount_point: Path, size_mb: int) -> None:
        self.path = mount_point
        self._size_mb = size_mb
        self._ballast = mount_point / "ballast"

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self._size_mb}m,mode=0755", "tmpfs", self.path],
            check=True,
        )

    def unmount(self) -> None:
        subprocess.run(["umount", "--lazy", self.path], check=False)

    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def fill(self) -> int:
        """Write a ballast file until the filesystem refuses even one byte (ENOSPC); returns
        how much was written."""
        written, size = 0, CHUNK
        fd = os.open(self._ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            while size:
                try:
                    written += os.write(fd, b"\0" * size)  # unbuffered: a partial write counts
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    size //= 2
        finally:
            os.close(fd)
        return written

    def empty(self) -> None:
        """Space returns: the ballast is deleted."""
        self._ballast.unlink(missing_ok=True)


@contextlib.contextmanager
def small_disk(mount_point: Path, size_mb: int = 16) -> Iterator[SmallDisk]:
    disk = SmallDisk(mount_point, size_mb)
    disk.mount()
    try:
        yield disk
    finally:
        disk.unmount()
