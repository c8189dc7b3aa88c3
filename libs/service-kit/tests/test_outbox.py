"""The event outbox against a real Redis, including Redis going away and coming back."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM, live_events_channel
from harness.redis_server import RedisServer
from harness.waiting import async_wait_until
from service_kit.outbox import EventOutbox, OutboxMetrics


def _event(n: int) -> ConversationEvent:
    return ConversationEvent(conversation_id="c", source="voice", type="t", payload={"n": n})


@pytest.fixture
def metrics() -> OutboxMetrics:
    """Metrics of this test's own (the process-wide registry takes each name once)."""
    registry = CollectorRegistry()
    return OutboxMetrics(
        Counter("test_events_published_total", "", registry=registry),
        Counter("test_events_dropped_total", "", registry=registry),
        Gauge("test_events_buffered", "", registry=registry),
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


async def test_events_reach_the_stream_in_order(redis: Redis, metrics: OutboxMetrics) -> None:
    outbox = EventOutbox(redis, metrics)
    outbox.start()
    events = [_event(n) for n in range(1200)]  # more than one batch
    for event in events:
        assert outbox.publish(event)
    await outbox.close()
    assert await _stream_ids(redis) == [e.id for e in events]
    assert _total(metrics.published) == 1200


async def test_a_live_outbox_also_publishes_on_the_conversations_channel(
    redis: Redis, metrics: OutboxMetrics
) -> None:
    outbox = EventOutbox(redis, metrics, live=True)
    outbox.start()
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(live_events_channel("c"))
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        outbox.publish(_event(0))
        live = await pubsub.get_message(timeout=5)
    await outbox.close()
    assert live is not None
    assert ConversationEvent.model_validate_json(live["data"]).payload == {"n": 0}
    assert len(await _stream_ids(redis)) == 1


async def test_events_wait_while_redis_is_away_and_none_are_lost(
    redis: Redis, redis_server: RedisServer, metrics: OutboxMetrics
) -> None:
    outbox = EventOutbox(redis, metrics, live=True)
    outbox.start()
    before = [_event(n) for n in range(5)]
    for event in before:
        outbox.publish(event)
    await async_wait_until(lambda: _drained(outbox), what="first events written")

    redis_server.stop()
    during = [_event(n) for n in range(5, 50)]
    for event in during:
        assert outbox.publish(event)  # never blocks, never raises
    assert outbox.buffered == len(during)

    redis_server.start()
    await async_wait_until(lambda: _count(redis, 50), timeout_s=15, what="buffered events flushed")
    await outbox.close()
    assert outbox.buffered == 0
    assert await _stream_ids(redis) == [e.id for e in before + during]  # in order, once each


async def test_a_full_buffer_drops_and_counts(
    redis: Redis, redis_server: RedisServer, metrics: OutboxMetrics
) -> None:
    redis_server.stop()
    outbox = EventOutbox(redis, metrics, max_buffered=3)
    outbox.start()
    accepted = [outbox.publish(_event(n)) for n in range(5)]
    assert accepted == [True, True, True, False, False]
    assert _total(metrics.dropped) == 2
    redis_server.start()
    await async_wait_until(lambda: _count(redis, 3), timeout_s=15, what="buffered events flushed")
    await outbox.close()
    assert len(await _stream_ids(redis)) == 3


def _total(counter: Counter) -> float:
    [metric] = counter.collect()
    return next(s.value for s in metric.samples if s.name.endswith("_total"))


async def _drained(outbox: EventOutbox) -> bool:
    return outbox.buffered == 0
