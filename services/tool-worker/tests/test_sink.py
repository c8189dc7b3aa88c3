"""The worker's event sink against a real Redis, including Redis going away and coming back."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM, live_events_channel
from harness.redis_server import RedisServer
from harness.waiting import async_wait_until
from tool_worker.sink import EventSink


def _event(n: int) -> ConversationEvent:
    return ConversationEvent(
        conversation_id="c", source="nested_agent", type="textmessage", payload={"n": n}
    )


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=1)
    yield client
    await client.aclose()


async def _stream_ids(redis: Redis) -> list[str]:
    entries: Any = await redis.xrange(EVENTS_STREAM)
    return [ConversationEvent.from_stream_fields(fields).id for _, fields in entries]


async def _count(redis: Redis, n: int) -> bool:
    try:
        return int(await redis.xlen(EVENTS_STREAM)) >= n
    except (RedisError, OSError):  # the first command after a restart may find it closed
        return False


async def test_events_go_out_at_once_on_the_stream_and_the_live_channel(redis: Redis) -> None:
    sink = EventSink(redis)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(live_events_channel("c"))
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        await sink.emit(_event(0))
        assert sink.buffered == 0
        live = await pubsub.get_message(timeout=5)
    assert live is not None
    assert ConversationEvent.model_validate_json(live["data"]).payload == {"n": 0}
    assert len(await _stream_ids(redis)) == 1


async def test_events_wait_while_redis_is_away_and_none_are_lost(
    redis: Redis, redis_server: RedisServer
) -> None:
    sink = EventSink(redis)
    before = [_event(n) for n in range(3)]
    for event in before:
        await sink.emit(event)
    redis_server.stop()
    during = [_event(n) for n in range(3, 20)]
    for event in during:
        await sink.emit(event)  # never raises
    assert sink.buffered == len(during)
    redis_server.start()
    await async_wait_until(lambda: _count(redis, 20), timeout_s=15, what="buffered events flushed")
    await sink.close()
    assert sink.buffered == 0
    assert await _stream_ids(redis) == [e.id for e in before + during]  # in order, once each


async def test_a_full_buffer_drops(redis: Redis, redis_server: RedisServer) -> None:
    redis_server.stop()
    sink = EventSink(redis, max_buffered=3)
    for n in range(5):
        await sink.emit(_event(n))
    assert sink.buffered == 3
    redis_server.start()
    await async_wait_until(lambda: _count(redis, 3), timeout_s=15, what="buffered events flushed")
    await sink.close()
    assert len(await _stream_ids(redis)) == 3
