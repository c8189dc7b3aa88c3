"""Versioned schema migrations, tracked with SQLite's `user_version`.

Version 1 is exactly the schema of the single-process voice server this stack replaced
(`CREATE ... IF NOT EXISTS`), so a database file from that server opens and upgrades in place;
later versions add what this service needs.
"""

import aiosqlite
import structlog

log = structlog.get_logger(__name__)

MIGRATIONS: tuple[str, ...] = (
    # 1: the single-process voice server's conversation store.
    """
    CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY,
        name TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        voice_model TEXT,
        metadata JSON
    );
    CREATE TABLE IF NOT EXISTS conversation_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        timestamp TEXT NOT NULL,
        source TEXT NOT NULL,
        type TEXT NOT NULL,
        payload JSON
    );
    """,
    # 2: producer event ids (the idempotency key), indexes for paging/filtering, dead letters.
    """
    ALTER TABLE conversation_events ADD COLUMN event_id TEXT;
    UPDATE conversation_events SET event_id = 'legacy-' || id WHERE event_id IS NULL;
    CREATE UNIQUE INDEX IF NOT EXISTS conversation_events_event_id
        ON conversation_events(event_id);
    CREATE INDEX IF NOT EXISTS conversation_events_conversation
        ON conversation_events(conversation_id, id);
    CREATE INDEX IF NOT EXISTS conversations_updated_at ON conversations(updated_at);
    CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stream_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL
    );
    """,
    # 3: session recordings (event_store/recordings/); their audio lives beside the database.
    """
    CREATE TABLE IF NOT EXISTS recordings (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        session_id TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        duration_s REAL NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        format TEXT NOT NULL,
        sample_rate INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('recording', 'finished'))
    );
    CREATE INDEX IF NOT EXISTS recordings_conversation
        ON recordings(conversation_id, started_at);
    CREATE INDEX IF NOT EXISTS recordings_started_at ON recordings(started_at);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply pending migrations, each atomically; returns the resulting schema version."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this service knows ({SCHEMA_VERSION})"
        )
    for target, sql in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; the script's own BEGIN/COMMIT makes each step atomic.
        await conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {target};\nCOMMIT;")
        log.info("schema_migrated", version=target)
    return SCHEMA_VERSION
