"""Whether the database's disk has room to write, and what a write does when it has none.

A full disk must never lose or half-write an event. SQLite already rolls a failed transaction
back whole; what this adds is the behaviour around it: the write is refused with
`DiskFullError` (so the ingest loop leaves its batch unacknowledged in Redis and the API answers
507), the service reports itself not ready, and writing resumes on its own once space returns.

Two ways of noticing: SQLite's own "database or disk is full" (SQLITE_FULL), and a free-space
floor (`EVENT_STORE_MIN_FREE_MB`) checked before each write, which stops the store before the
disk is completely full, leaving room for whatever else on the board writes to the same disk
(Redis's append-only file, the logs).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import structlog

from event_store import metrics

log = structlog.get_logger(__name__)

# After a refused write, this much more free space than at the refusal counts as "space
# returned" for readiness, even before the next write proves it.
RECOVERY_MARGIN_BYTES = 1024 * 1024


class DiskFullError(Exception):
    """The database's disk has no room: nothing of the write was stored."""


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL ("database or disk is full"), however it surfaced."""
    return (
        isinstance(exc, sqlite3.Error)
        and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    )


class DiskSpace:
    """The free space of the filesystem holding the database, and whether the last write found
    it full."""

    def __init__(self, directory: Path, min_free_bytes: int = 0) -> None:
        self._directory = directory
        self._min_free = min_free_bytes
        self._free_at_refusal: int | None = None  # set while the disk counts as full

    def free_bytes(self) -> int:
        stats = os.statvfs(self._directory)
        free = stats.f_bavail * stats.f_frsize
        metrics.DISK_FREE_BYTES.set(free)
        return free

    @property
    def full(self) -> bool:
        """True from a refused write until space returns (or a write succeeds)."""
        if self._free_at_refusal is None:
            return False
        needed = max(self._min_free, self._free_at_refusal + RECOVERY_MARGIN_BYTES)
        return self.free_bytes() < needed

    def check(self) -> None:
        """Before a write: refuse it if the free space is under the floor."""
        if self._min_free and (free := self.free_bytes()) < self._min_free:
            self.mark_full(free)
            raise DiskFullError(
                f"{free} bytes free on the database's disk, under the floor of {self._min_free}"
            )

    def mark_full(self, free: int | None = None) -> None:
        if self._free_at_refusal is None:
            log.error("disk_full", directory=str(self._directory), min_free_bytes=self._min_free)
        self._free_at_refusal = self.free_bytes() if free is None else free
        metrics.DISK_FULL.set(1)

    def mark_room(self) -> None:
        """A write committed: the disk has room."""
        if self._free_at_refusal is not None:
            log.info("disk_space_returned", free_bytes=self.free_bytes())
            self._free_at_refusal = None
            metrics.DISK_FULL.set(0)
