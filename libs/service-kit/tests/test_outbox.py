"""The event outbox against a real Redis, including Redis going away and coming back, the
stream at its cap (EVENTS_BACKLOG_MAX) and Redis at its maxmemory."""

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
from service_kit import outbox as outbox_module
from service_kit.outbox import DropReason, EventOutbox, OutboxMetrics


def _event(n: int) -> ConversationEvent:
    return ConversationEvent(conversation_id="c", source="voice", type="t", payload={"n": n})


@pytest.fixture
def metrics() -> OutboxMetrics:
    """Metrics of this test's own (the process-wide registry takes each name once)."""
    return OutboxMetrics.named("test", registry=CollectorRegistry())


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
    assert _dropped(metrics) == {"redis_unavailable": 2, "backlog_full": 0, "redis_full": 0}
    redis_server.start()
    await async_wait_until(lambda: _count(redis, 3), timeout_s=15, what="buffered events flushed")
    await outbox.close()
    assert len(await _stream_ids(redis)) == 3


def _total(counter: Counter) -> float:
    [metric] = counter.collect()
    return sum(s.value for s in metric.samples if s.name.endswith("_total"))


def _dropped(metrics: OutboxMetrics) -> dict[str, float]:
    [metric] = metrics.dropped.collect()
    return {s.labels["reason"]: s.value for s in metric.samples if s.name.endswith("_total")}


def _held_by(outbox: EventOutbox) -> DropReason | None:
    return outbox.held_by


def _gauge(gauge: Gauge) -> float:
    [metric] = gauge.collect()
    [sample] = metric.samples
    return sample.value


async def _drained(outbox: EventOutbox) -> bool:
    return outbox.buffered == 0


# --- the backlog cap (EVENTS_BACKLOG_MAX) and Redis's maxmemory ----------------------------------


def _settled(outbox: EventOutbox, metrics: OutboxMetrics, published: int, buffered: int) -> Any:
    async def probe() -> bool:
        return _total(metrics.published) == published and outbox.buffered == buffered

    return probe


async def test_a_capped_stream_takes_up_to_its_cap_and_the_rest_waits_in_order(
    redis: Redis, metrics: OutboxMetrics
) -> None:
    cap, extra = 50, 30
    outbox = EventOutbox(redis, metrics, backlog_max=cap)
    outbox.start()
    events = [_event(n) for n in range(cap + extra)]
    assert all(outbox.publish(event) for event in events)
    await async_wait_until(_settled(outbox, metrics, cap, extra), what="the stream full")
    assert await _stream_ids(redis) == [e.id for e in events[:cap]]
    assert outbox.held_by == "backlog_full"
    assert (outbox.backlog, _gauge(metrics.backlog), _gauge(metrics.backlog_limit)) == (50, 50, 50)

    # The event-store persists and trims: the waiting events follow, in order, and no more.
    await redis.xtrim(EVENTS_STREAM, maxlen=0)
    await async_wait_until(
        _settled(outbox, metrics, cap + extra, 0), timeout_s=15, what="the rest appended"
    )
    assert await _stream_ids(redis) == [e.id for e in events[cap:]]
    assert _held_by(outbox) is None  # (a call: mypy keeps the earlier assert's narrowing)
    assert _gauge(metrics.backlog) == extra
    await outbox.close()
    assert sum(_dropped(metrics).values()) == 0


async def test_the_stream_never_passes_its_cap_whatever_the_batches(
    redis: Redis, metrics: OutboxMetrics
) -> None:
    cap = 1234  # more than two batches, not a multiple of one
    outbox = EventOutbox(redis, metrics, backlog_max=cap, max_buffered=5000)
    outbox.start()
    for n in range(3000):
        outbox.publish(_event(n))
    await async_wait_until(_settled(outbox, metrics, cap, 3000 - cap), what="the stream full")
    assert await redis.xlen(EVENTS_STREAM) == cap
    # Entries the event-store has persisted (an XDEL here) make room for as many again.
    ids = [entry_id for entry_id, _ in await redis.xrange(EVENTS_STREAM, count=100)]
    await redis.xdel(EVENTS_STREAM, *ids)
    await async_wait_until(_settled(outbox, metrics, cap + 100, 3000 - cap - 100), timeout_s=15)
    assert await redis.xlen(EVENTS_STREAM) == cap
    await outbox.close(grace_s=0.1)


async def test_past_a_full_stream_and_a_full_buffer_drops_are_counted_as_backlog_full(
    redis: Redis, metrics: OutboxMetrics
) -> None:
    outbox = EventOutbox(redis, metrics, backlog_max=5, max_buffered=8)
    outbox.start()
    for n in range(8):
        assert outbox.publish(_event(n))
    await async_wait_until(_settled(outbox, metrics, 5, 3), what="the stream full")
    accepted = [outbox.publish(_event(n)) for n in range(8, 15)]
    assert accepted == [True] * 5 + [False] * 2
    assert _dropped(metrics) == {"redis_unavailable": 0, "backlog_full": 2, "redis_full": 0}
    # Nothing silent: each event produced is in the stream, buffered, or counted as dropped.
    assert _total(metrics.published) + outbox.buffered + sum(_dropped(metrics).values()) == 15
    assert await redis.xlen(EVENTS_STREAM) == 5
    await outbox.close(grace_s=0.1)


async def test_a_live_outbox_publishes_live_only_what_the_stream_took(
    redis: Redis, metrics: OutboxMetrics
) -> None:
    outbox = EventOutbox(redis, metrics, live=True, backlog_max=2)
    outbox.start()
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(live_events_channel("c"))
        await pubsub.get_message(timeout=1)  # the subscription's confirmation
        for n in range(3):
            outbox.publish(_event(n))
        await async_wait_until(_settled(outbox, metrics, 2, 1), what="the stream full")
        # Redis delivers in order: whatever the outbox published live comes before this marker.
        await redis.publish(live_events_channel("c"), b"marker")
        assert await _live_until_marker(pubsub) == [{"n": 0}, {"n": 1}]

        await redis.xtrim(EVENTS_STREAM, maxlen=0)
        await async_wait_until(_settled(outbox, metrics, 3, 0), timeout_s=15, what="appended")
        await redis.publish(live_events_channel("c"), b"marker")
        assert await _live_until_marker(pubsub) == [{"n": 2}]
    await outbox.close()


async def _live_until_marker(pubsub: Any) -> list[dict[str, Any]]:
    payloads: list[dict[str, Any]] = []
    while True:
        message = await pubsub.get_message(timeout=5)
        assert message is not None, "the marker never came"
        if message["data"] == b"marker":
            return payloads
        payloads.append(ConversationEvent.model_validate_json(message["data"]).payload)


async def test_at_redis_maxmemory_events_wait_and_drops_count_as_redis_full(
    redis: Redis, metrics: OutboxMetrics
) -> None:
    config: Any = await redis.config_get("maxmemory*")
    used = int((await redis.info("memory"))["used_memory"])
    outbox = EventOutbox(redis, metrics, max_buffered=10)
    outbox.start()
    try:
        # Below what Redis already uses: every write that could grow memory is refused (OOM).
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.config_set("maxmemory", str(used // 2))
        assert outbox.publish(_event(0))

        async def refused() -> bool:
            return outbox.held_by == "redis_full"

        await async_wait_until(refused, what="the OOM refusal")
        accepted = [outbox.publish(_event(n)) for n in range(1, 15)]
        assert accepted == [True] * 9 + [False] * 5
        assert _dropped(metrics) == {"redis_unavailable": 0, "backlog_full": 0, "redis_full": 5}
        assert (_total(metrics.published), outbox.buffered) == (0, 10)
    finally:
        await redis.config_set("maxmemory", config["maxmemory"])
        await redis.config_set("maxmemory-policy", config["maxmemory-policy"])
    # With room again, the writer (which never stopped) writes them all, in order.
    await async_wait_until(_settled(outbox, metrics, 10, 0), timeout_s=15, what="flushed")
    assert outbox.held_by is None
    await outbox.close()
    assert [e.payload["n"] for e in map(_parse, await redis.xrange(EVENTS_STREAM))] == list(
        range(10)
    )


def _parse(entry: Any) -> ConversationEvent:
    return ConversationEvent.from_stream_fields(entry[1])


async def test_the_backlog_gauge_follows_the_stream_down_while_idle(
    redis: Redis, metrics: OutboxMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "BACKLOG_REFRESH_S", 0.05)
    outbox = EventOutbox(redis, metrics, backlog_max=10)
    outbox.start()
    for n in range(3):
        outbox.publish(_event(n))
    await async_wait_until(_settled(outbox, metrics, 3, 0), what="written")
    assert _gauge(metrics.backlog) == 3
    await redis.xtrim(EVENTS_STREAM, maxlen=0)  # persisted by the event-store; no new events

    async def followed() -> bool:
        return _gauge(metrics.backlog) == 0

    await async_wait_until(followed, what="the gauge back at 0")
    await outbox.close()


def test_a_cap_below_one_is_refused(metrics: OutboxMetrics) -> None:
    with pytest.raises(ValueError, match="backlog_max"):
        EventOutbox(Redis(), metrics, backlog_max=0)


REASONS: tuple[DropReason, ...] = ("redis_unavailable", "backlog_full", "redis_full")


def test_every_drop_reason_is_exported_from_the_start(metrics: OutboxMetrics) -> None:
    EventOutbox(Redis(), metrics, backlog_max=7)
    assert _dropped(metrics) == dict.fromkeys(REASONS, 0)
    assert _gauge(metrics.backlog_limit) == 7
