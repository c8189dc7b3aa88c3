"""All SQL lives here, and every value reaches SQL as a parameter."""

import json
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import ConversationEvent
from event_store.database import Database
from event_store.models import (
    ConversationSummary,
    DeadLetter,
    StoredDeadLetter,
    StoredEvent,
)
from event_store.recordings.models import Recording


def _ts(value: datetime) -> str:
    # Fixed width, so timestamps also sort correctly as text.
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _now() -> str:
    return _ts(datetime.now(UTC))


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _event_from_row(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(
        id=row["id"],
        event_id=row["event_id"],
        conversation_id=row["conversation_id"],
        timestamp=row["timestamp"],
        source=row["source"],
        type=row["type"],
        payload=json.loads(row["payload"]) if row["payload"] else {},
    )


def _summary_from_row(row: sqlite3.Row) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"],
        name=row["name"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        voice_model=row["voice_model"],
        metadata=json.loads(row["metadata"]) if row["metadata"] else {},
        event_count=row["event_count"],
    )


def stored_event(row_id: int, event: ConversationEvent) -> StoredEvent:
    """The stored form of an event just inserted (already validated: no re-parsing)."""
    return StoredEvent.model_construct(
        id=row_id,
        event_id=event.id,
        conversation_id=event.conversation_id,
        timestamp=event.timestamp,
        source=event.source,
        type=event.type,
        payload=event.payload,
    )


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    inserted: list[tuple[int, ConversationEvent]]  # (row id, event), newly stored, in order
    duplicates: int


_SUMMARY_SQL = """
    SELECT c.*, (SELECT count(*) FROM conversation_events e WHERE e.conversation_id = c.id)
        AS event_count
    FROM conversations c
"""


class Repository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- writes -------------------------------------------------------------------------------

    async def insert_events(
        self, events: Sequence[ConversationEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> InsertOutcome:
        """Store a batch in one transaction; events already stored (same id) are skipped.

        Conversations that do not exist yet are created, so producers need no setup call.
        """
        span: dict[str, tuple[str, str]] = {}
        rows = []
        for event in events:
            ts = _ts(event.timestamp)
            first, last = span.get(event.conversation_id, (ts, ts))
            span[event.conversation_id] = (min(first, ts), max(last, ts))
            rows.append(
                (
                    event.id,
                    event.conversation_id,
                    ts,
                    event.source,
                    event.type,
                    _json(event.payload),
                )
            )
        async with self._db.transaction() as conn:
            async with conn.execute("SELECT coalesce(max(id), 0) FROM conversation_events") as cur:
                before = (await cur.fetchone())[0]  # type: ignore[index]
            await conn.executemany(
                "INSERT INTO conversations (id, created_at, updated_at, metadata)"
                " VALUES (?, ?, ?, '{}')"
                " ON CONFLICT(id) DO UPDATE SET updated_at = max(updated_at, excluded.updated_at)",
                [(cid, first, last) for cid, (first, last) in span.items()],
            )
            await conn.executemany(
                "INSERT INTO conversation_events"
                " (event_id, conversation_id, timestamp, source, type, payload)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
                rows,
            )
            if dead_letters:
                received = _now()
                await conn.executemany(
                    "INSERT INTO dead_letters (stream_id, received_at, reason, raw)"
                    " VALUES (?, ?, ?, ?)",
                    [(d.stream_id, received, d.reason, d.raw) for d in dead_letters],
                )
            async with conn.execute(
                "SELECT id, event_id FROM conversation_events WHERE id > ? ORDER BY id", (before,)
            ) as cur:
                new_rows = await cur.fetchall()
        by_id = {event.id: event for event in events}
        inserted = [(row_id, by_id[event_id]) for row_id, event_id in new_rows]
        return InsertOutcome(inserted=inserted, duplicates=len(events) - len(inserted))

    async def create_conversation(
        self,
        *,
        conversation_id: str | None,
        name: str | None,
        voice_model: str | None,
        metadata: dict[str, Any],
    ) -> ConversationSummary | None:
        """Create a conversation; None when the requested id is taken."""
        cid = conversation_id or uuid.uuid4().hex
        now = _now()
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO conversations"
                " (id, name, created_at, updated_at, voice_model, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                (cid, name, now, now, voice_model, _json(metadata)),
            )
            created = cur.rowcount == 1
        return await self.get_conversation(cid) if created else None

    async def update_conversation(
        self, conversation_id: str, *, name: str | None, metadata: dict[str, Any] | None
    ) -> ConversationSummary | None:
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE conversations SET name = coalesce(?, name),"
                " metadata = coalesce(?, metadata), updated_at = ? WHERE id = ?",
                (name, None if metadata is None else _json(metadata), _now(), conversation_id),
            )
            found = cur.rowcount == 1
        return await self.get_conversation(conversation_id) if found else None

    async def delete_conversation(self, conversation_id: str) -> bool:
        async with self._db.transaction() as conn:
            cur = await conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            return cur.rowcount == 1

    async def delete_inactive(self, inactive_minutes: int) -> list[str]:
        cutoff = _ts(datetime.now(UTC) - timedelta(minutes=inactive_minutes))
        async with (
            self._db.transaction() as conn,
            conn.execute(
                "DELETE FROM conversations WHERE updated_at < ? RETURNING id", (cutoff,)
            ) as cur,
        ):
            return sorted(row[0] for row in await cur.fetchall())

    # --- reads --------------------------------------------------------------------------------

    async def list_conversations(self, *, limit: int, offset: int) -> list[ConversationSummary]:
        async with self._db.reader.execute(
            f"{_SUMMARY_SQL} ORDER BY c.updated_at DESC, c.id LIMIT ? OFFSET ?", (limit, offset)
        ) as cur:
            return [_summary_from_row(row) for row in await cur.fetchall()]

    async def get_conversation(self, conversation_id: str) -> ConversationSummary | None:
        async with self._db.reader.execute(
            f"{_SUMMARY_SQL} WHERE c.id = ?", (conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        return _summary_from_row(row) if row else None

    async def list_events(
        self,
        conversation_id: str,
        *,
        after: int | None = None,
        limit: int,
        source: str | None = None,
        type_: str | None = None,
    ) -> list[StoredEvent]:
        """Events of one conversation in the order they were stored, after a row id."""
        async with self._db.reader.execute(
            "SELECT * FROM conversation_events WHERE conversation_id = ? AND id > ?"
            " AND (? IS NULL OR source = ?) AND (? IS NULL OR type = ?)"
            " ORDER BY id LIMIT ?",
            (conversation_id, after or 0, source, source, type_, type_, limit),
        ) as cur:
            return [_event_from_row(row) for row in await cur.fetchall()]

    async def count_events(self) -> int:
        async with self._db.reader.execute("SELECT count(*) FROM conversation_events") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def list_dead_letters(self, *, limit: int, after: int | None) -> list[StoredDeadLetter]:
        async with self._db.reader.execute(
            "SELECT * FROM dead_letters WHERE id > ? ORDER BY id LIMIT ?", (after or 0, limit)
        ) as cur:
            return [StoredDeadLetter(**dict(row)) for row in await cur.fetchall()]

    # --- recordings (event_store/recordings/) ------------------------------------------------

    async def insert_recording(self, recording: Recording) -> None:
        """A new recording; its conversation is created if it does not exist yet (the gateway
        may start recording before the session's first event is ingested)."""
        started = _ts(recording.started_at)
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO conversations (id, created_at, updated_at, metadata)"
                " VALUES (?, ?, ?, '{}') ON CONFLICT(id) DO NOTHING",
                (recording.conversation_id, started, started),
            )
            await conn.execute(
                "INSERT INTO recordings (id, conversation_id, session_id, started_at,"
                " duration_s, bytes, format, sample_rate, channels, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    recording.id,
                    recording.conversation_id,
                    recording.session_id,
                    started,
                    recording.duration_s,
                    recording.bytes,
                    recording.format,
                    recording.sample_rate,
                    recording.channels,
                    recording.state,
                ),
            )

    async def get_recording(self, conversation_id: str, recording_id: str) -> Recording | None:
        async with self._db.reader.execute(
            "SELECT * FROM recordings WHERE id = ? AND conversation_id = ?",
            (recording_id, conversation_id),
        ) as cur:
            row = await cur.fetchone()
        return Recording(**dict(row)) if row else None

    async def list_recordings(self, conversation_id: str | None = None) -> list[Recording]:
        """One conversation's recordings (every recording when None), oldest first."""
        async with self._db.reader.execute(
            "SELECT * FROM recordings WHERE ? IS NULL OR conversation_id = ?"
            " ORDER BY started_at, id",
            (conversation_id, conversation_id),
        ) as cur:
            return [Recording(**dict(row)) for row in await cur.fetchall()]

    async def finish_recording(
        self, recording_id: str, *, duration_s: float, size: int, finished_at: datetime
    ) -> bool:
        """False when the recording is gone, or no longer recording."""
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE recordings SET state = 'finished', duration_s = ?, bytes = ?,"
                " finished_at = ? WHERE id = ? AND state = 'recording'",
                (duration_s, size, _ts(finished_at), recording_id),
            )
            return cur.rowcount == 1

    async def delete_recordings(self, recording_ids: Sequence[str]) -> None:
        async with self._db.transaction() as conn:
            await conn.executemany(
                "DELETE FROM recordings WHERE id = ?", [(rid,) for rid in recording_ids]
            )
