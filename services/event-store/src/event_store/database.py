"""SQLite connections: one writer (serialised by a lock) and one reader, both in WAL mode."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from event_store.disk_space import DiskFullError, DiskSpace, is_disk_full
from event_store.migrations import migrate


class Database:
    """Owns the connections.

    SQLite allows one writer at a time; a single writer connection behind an asyncio lock keeps
    batch transactions from interleaving, while WAL lets the reader serve the API concurrently.
    """

    def __init__(self, path: Path, *, synchronous: str = "FULL", min_free_bytes: int = 0) -> None:
        self.path = path
        self._synchronous = synchronous
        self.space = DiskSpace(path.parent, min_free_bytes)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await migrate(self._writer)
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute(f"PRAGMA synchronous={self._synchronous}")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: committed when the block exits, rolled back if it raises.

        On a full disk it raises `DiskFullError`, with nothing of the transaction stored.
        """
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            self.space.check()
            conn = self._writer
            try:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    # SQLite may already have rolled back on its own (it does on some
                    # SQLITE_FULL failures); a second ROLLBACK would hide the real error.
                    if conn.in_transaction:
                        await conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if is_disk_full(exc):
                    self.space.mark_full()
                    raise DiskFullError(str(exc)) from exc
                raise
            self.space.mark_room()
