"""The consumer loop against a real Redis and a real SQLite file."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from contracts import ConversationEvent
from contracts.keys import EVENT_STORE_GROUP, EVENTS_STREAM
from event_store.hub import EventHub
from event_store.ingest import StreamIngestor, parse_entries
from event_store.repository import Repository
from event_store.settings import Settings
from event_store.writer import EventWriter
from harness.waiting import async_wait_until


def _event(n: int, cid: str = "c1") -> ConversationEvent:
    return ConversationEvent(
        conversation_id=cid, source="voice", type="transcript", payload={"n": n}
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def ingestor(redis: Redis, repo: Repository) -> AsyncIterator[StreamIngestor]:
    settings = Settings(consumer_name="unit", block_ms=50, claim_idle_ms=100)
    ingestor = StreamIngestor(redis, EventWriter(repo, EventHub()), settings)
    task = asyncio.create_task(ingestor.run())
    yield ingestor
    ingestor.stop()
    await asyncio.wait_for(task, 5)


async def _pending(redis: Redis) -> int:
    summary: Any = await redis.xpending(EVENTS_STREAM, EVENT_STORE_GROUP)
    return int(summary["pending"])


def test_parse_entries_sets_malformed_ones_aside() -> None:
    good = _event(1)
    entries: list[Any] = [
        (b"1-0", {b"event": good.model_dump_json().encode()}),
        (b"2-0", {b"event": b"{not json"}),
        (b"3-0", {b"other": b"x"}),
        (b"4-0", None),  # deleted from the stream while pending
    ]
    events, dead = parse_entries(entries)
    assert events == [good]
    assert [d.stream_id for d in dead] == ["2-0", "3-0"]
    assert "no 'event' field" in dead[1].reason


async def test_stream_entries_are_stored_once_and_acknowledged(
    redis: Redis, repo: Repository, ingestor: StreamIngestor
) -> None:
    events = [_event(i) for i in range(50)]
    for event in events + events[:10]:  # the first ten delivered twice
        await redis.xadd(EVENTS_STREAM, event.to_stream_fields())  # type: ignore[arg-type]
    await async_wait_until(lambda: _stored(repo, 50), what="50 rows")
    stored = await repo.list_events("c1", limit=1000)
    assert [e.event_id for e in stored] == [e.id for e in events]
    await async_wait_until(lambda: _no_pending(redis), what="all acknowledged")


async def test_entries_left_pending_by_a_dead_consumer_are_reclaimed(
    redis: Redis, repo: Repository
) -> None:
    await redis.xgroup_create(EVENTS_STREAM, EVENT_STORE_GROUP, id="0", mkstream=True)
    for i in range(5):
        await redis.xadd(EVENTS_STREAM, _event(i).to_stream_fields())  # type: ignore[arg-type]
    # Another consumer reads them and dies before acknowledging.
    await redis.xreadgroup(EVENT_STORE_GROUP, "dead", {EVENTS_STREAM: ">"}, count=10)
    assert await _pending(redis) == 5

    settings = Settings(consumer_name="survivor", block_ms=50, claim_idle_ms=100)
    ingestor = StreamIngestor(redis, EventWriter(repo, EventHub()), settings)
    task = asyncio.create_task(ingestor.run())
    try:
        await async_wait_until(lambda: _stored(repo, 5), what="reclaimed rows", timeout_s=15)
        await async_wait_until(lambda: _no_pending(redis), what="reclaimed entries acknowledged")
    finally:
        ingestor.stop()
        await asyncio.wait_for(task, 5)


async def _stored(repo: Repository, n: int) -> bool:
    return await repo.count_events() >= n


async def _no_pending(redis: Redis) -> bool:
    return await _pending(redis) == 0
