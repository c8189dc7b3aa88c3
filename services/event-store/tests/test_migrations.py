import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from event_store.database import Database
from event_store.migrations import MIGRATIONS, SCHEMA_VERSION, migrate


def _old_store(path: Path) -> None:
    """A database as the single-process voice server left it: its schema, no user_version,
    some rows."""
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO conversations VALUES ('old', 'Old talk', '2025-01-01T00:00:00+00:00',"
        " '2025-01-01T00:00:00+00:00', 'gpt-realtime', '{}')"
    )
    conn.executemany(
        "INSERT INTO conversation_events (conversation_id, timestamp, source, type, payload)"
        " VALUES ('old', '2025-01-01T00:00:01+00:00', 'voice', 'transcription', ?)",
        [('{"text": "one"}',), ('{"text": "two"}',)],
    )
    conn.commit()
    conn.close()


async def test_old_store_upgrades_in_place_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    db = Database(path)
    await db.open()
    try:
        async with db.reader.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == SCHEMA_VERSION  # type: ignore[index]
        async with db.reader.execute(
            "SELECT id, event_id, payload FROM conversation_events ORDER BY id"
        ) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
        assert rows == [(1, "legacy-1", '{"text": "one"}'), (2, "legacy-2", '{"text": "two"}')]
    finally:
        await db.close()


async def test_migrating_twice_changes_nothing(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "x.db", isolation_level=None) as conn:
        assert await migrate(conn) == SCHEMA_VERSION
        assert await migrate(conn) == SCHEMA_VERSION


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "x.db", isolation_level=None) as conn:
        await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        with pytest.raises(RuntimeError, match="newer"):
            await migrate(conn)
