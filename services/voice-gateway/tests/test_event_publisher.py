"""The publisher against a real Redis, including Redis going away and coming back."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM
from harness.redis_server import RedisServer
from harness.waiting import async_wait_until
from voice_gateway.event_publisher import EventPublisher


def _event(n: int) -> ConversationEvent:
    return ConversationEvent(conversation_id="c", source="voice", type="t", payload={"n": n})


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=1)
    yield client
    await client.aclose()


async def _stream_ids(redis: Redis) -> list[str]:
    entries: Any = await redis.xrange(EVENTS_STREAM)
    return [ConversationEvent.from_stream_fields(fields).id for _, fields in entries]


async def test_events_reach_the_stream_in_order(redis: Redis) -> None:
    publisher = EventPublisher(redis)
    publisher.start()
    events = [_event(n) for n in range(1200)]
    for event in events:
        assert publisher.publish(event)
    await publisher.close()
    assert await _stream_ids(redis) == [e.id for e in events]


async def test_events_wait_while_redis_is_away_and_none_are_lost(
    redis: Redis, redis_server: RedisServer
) -> None:
    publisher = EventPublisher(redis)
    publisher.start()
    before = [_event(n) for n in range(5)]
    for event in before:
        publisher.publish(event)
    await async_wait_until(lambda: _drained(publisher), what="first events written")

    redis_server.stop()
    during = [_event(n) for n in range(5, 50)]
    for event in during:
        assert publisher.publish(event)  # never blocks, never raises
    assert publisher.buffered == len(during)

    redis_server.start()
    await async_wait_until(lambda: _count(redis, 50), timeout_s=15, what="buffered events flushed")
    await publisher.close()
    assert await _stream_ids(redis) == [e.id for e in before + during]


async def test_a_full_buffer_drops_and_counts(redis: Redis, redis_server: RedisServer) -> None:
    redis_server.stop()
    publisher = EventPublisher(redis, max_buffered=3)
    accepted = [publisher.publish(_event(n)) for n in range(5)]
    assert accepted == [True, True, True, False, False]
    redis_server.start()


async def _drained(publisher: EventPublisher) -> bool:
    return publisher.buffered == 0


async def _count(redis: Redis, n: int) -> bool:
    try:
        return int(await redis.xlen(EVENTS_STREAM)) >= n
    except (RedisError, OSError):  # the first command after a restart may find it closed
        return False
