"""A full disk under the database: the write is refused whole, the store says why, and writing
resumes once space returns. On a real small filesystem (tmpfs) filled to its last byte."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from contracts import ConversationEvent
from event_store.app import create_app
from event_store.database import Database
from event_store.disk_space import DiskFullError
from event_store.repository import Repository
from event_store.settings import Settings
from harness.small_disk import SmallDisk, small_disk

MB = 1024 * 1024


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", size_mb=8) as mounted:
        yield mounted


async def _open(path: Path, min_free_bytes: int = 0) -> Database:
    db = Database(path, min_free_bytes=min_free_bytes)
    await db.open()
    return db


def _events(count: int, *, payload_kb: int = 0, tag: str = "e") -> list[ConversationEvent]:
    filler = "x" * (payload_kb * 1024)
    return [
        ConversationEvent(
            id=f"{tag}-{i}",
            conversation_id="conv-disk",
            source="voice",
            type="transcript",
            payload={"text": f"turn {i}", "filler": filler},
        )
        for i in range(count)
    ]


async def _stored(db: Database) -> int:
    async with db.reader.execute("SELECT count(*) FROM conversation_events") as cursor:
        row = await cursor.fetchone()
    return int(row[0])  # type: ignore[index]


async def _intact(db: Database) -> bool:
    async with db.reader.execute("PRAGMA integrity_check") as cursor:
        return (await cursor.fetchone())[0] == "ok"  # type: ignore[index]


async def test_a_write_on_a_full_disk_stores_nothing_and_resumes_when_space_returns(
    disk: SmallDisk,
) -> None:
    db = await _open(disk.path / "events.db")
    repo = Repository(db)
    try:
        await repo.insert_events(_events(10, tag="before"))
        disk.fill()
        # Larger than any room SQLite's files already hold, so it must grow them and cannot.
        batch = _events(200, payload_kb=16, tag="during")
        with pytest.raises(DiskFullError, match="full"):
            await repo.insert_events(batch)
        assert await _stored(db) == 10  # nothing of the refused batch
        assert await _intact(db)
        assert db.space.full

        disk.empty()
        assert not db.space.full  # readiness sees the space return before the next write
        outcome = await repo.insert_events(batch)
        assert len(outcome.inserted) == 200
        assert await _stored(db) == 210
        assert await _intact(db)
    finally:
        await db.close()


async def test_the_free_space_floor_refuses_before_the_disk_is_full(disk: SmallDisk) -> None:
    db = await _open(disk.path / "events.db", min_free_bytes=1 * MB)
    repo = Repository(db)
    try:
        await repo.insert_events(_events(5, tag="before"))
        disk.fill()
        with pytest.raises(DiskFullError, match="under the floor"):
            await repo.insert_events(_events(1, tag="during"))
        assert db.space.full
        assert await _stored(db) == 5
        disk.empty()
        assert not db.space.full
        await repo.insert_events(_events(1, tag="during"))
        assert await _stored(db) == 6
    finally:
        await db.close()


@pytest.fixture
async def client(disk: SmallDisk, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(redis_url=redis_url, db_path=disk.path / "api.db", min_free_mb=1)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_the_api_answers_507_and_readiness_names_the_disk(
    client: httpx.AsyncClient, disk: SmallDisk
) -> None:
    base = "/api/realtime/conversations"
    assert (await client.post(base, json={"id": "c1"})).status_code == 201
    event = {"source": "voice", "type": "transcript", "payload": {"text": "hello"}}
    disk.fill()
    refused = await client.post(f"{base}/c1/events", json=event)
    assert refused.status_code == 507
    assert "disk is full" in refused.json()["detail"]
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reason"] == "disk full"
    # Reading history goes on while writing cannot.
    assert (await client.get(f"{base}/c1")).status_code == 200

    disk.empty()
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.post(f"{base}/c1/events", json=event)).status_code == 201
