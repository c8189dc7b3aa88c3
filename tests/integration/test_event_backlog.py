"""The events backlog, bounded by policy (docs/reliability.md): the event-store is down for a long
time while the producers write at a steady rate far beyond the stream's cap, into a real Redis
with a small `maxmemory` and `noeviction`, started as `make run` starts it (ops/local/stack.py).

With the cap sized under the memory limit, Redis stays under it, the producers' backlog gauges
reach the cap, what cannot be kept is dropped and counted (`backlog_full`), and Redis still takes
every other write (tickets, tool jobs). With a cap too large for the memory, Redis's own limit
holds instead: writes past it fail loudly, and the producers count their drops as `redis_full`.
Either way each event produced is in the stream, in a producer's buffer, or counted as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from contracts import ConversationEvent, EventSource, EventType
from contracts.keys import EVENTS_STREAM, TOOL_WAKE_KEY, ticket_key
from harness.waiting import async_wait_until
from service_kit.outbox import DROP_REASONS, EventOutbox, OutboxMetrics
from stack import ManagedProcess, free_port, redis_spec

MAXMEMORY = 8 * 1024 * 1024
# About 300 bytes of Redis memory per real event (docs/reliability.md): 3 MB, under the limit.
CAP = 10_000
RATE_PER_S = 4_000  # both producers together
MAX_BUFFERED = 2_000  # each producer's buffer


def _realistic_events(conversation_id: str) -> Iterator[tuple[bool, ConversationEvent]]:
    """(from the tool-worker?, event): a voice conversation with a team hand-off, over and over,
    shaped as the gateway and the tool-worker write them."""
    text = "Please ask the team to write a haiku about the sea and check the staging deploy."
    shapes: list[tuple[bool, str, str, dict[str, Any]]] = [
        (False, EventSource.VOICE, EventType.TRANSCRIPT, {"role": "user", "text": text}),
        (
            False,
            EventSource.VOICE,
            EventType.FUNCTION_CALL,
            {
                "call_id": "01a23b434333babfad2ac61dbe567204",
                "name": "send_to_nested",
                "arguments": {"text": text},
            },
        ),
        (
            False,
            EventSource.VOICE,
            EventType.FUNCTION_RESULT,
            {
                "call_id": "01a23b434333babfad2ac61dbe567204",
                "name": "send_to_nested",
                "ok": True,
                "result": "Sent to the team.",
            },
        ),
        (
            False,
            EventSource.VOICE,
            EventType.TRANSCRIPT,
            {"role": "assistant", "text": "I've passed that to the team."},
        ),
        (
            True,
            EventSource.NESTED_AGENT,
            "textmessage",
            {
                "type": "textmessage",
                "data": {
                    "id": "msg-1",
                    "source": "user",
                    "models_usage": {"prompt_tokens": 12, "completion_tokens": 7},
                    "content": text,
                    "type": "TextMessage",
                },
            },
        ),
        (
            True,
            EventSource.NESTED_AGENT,
            EventType.RUN_FINISHED,
            {
                "summary": "The team finished. Done: a haiku about the sea.",
                "outcome": "completed",
                "backend": "team",
            },
        ),
    ]
    for from_worker, source, kind, payload in itertools.cycle(shapes):
        event = ConversationEvent(
            conversation_id=conversation_id, source=source, type=kind, payload=payload
        )
        yield from_worker, event


@dataclass
class Producer:
    outbox: EventOutbox
    metrics: OutboxMetrics
    produced: int = 0

    @classmethod
    def on(cls, redis: Redis, name: str, *, live: bool, backlog_max: int) -> Producer:
        registry = CollectorRegistry()
        metrics = OutboxMetrics(
            Counter(f"{name}_events_published_total", "", registry=registry),
            Counter(f"{name}_events_dropped_total", "", ["reason"], registry=registry),
            Gauge(f"{name}_events_buffered", "", registry=registry),
            Gauge(f"{name}_events_backlog", "", registry=registry),
            Gauge(f"{name}_events_backlog_limit", "", registry=registry),
        )
        outbox = EventOutbox(
            redis, metrics, live=live, max_buffered=MAX_BUFFERED, backlog_max=backlog_max
        )
        outbox.start()
        return cls(outbox, metrics)

    def publish(self, event: ConversationEvent) -> None:
        self.produced += 1
        self.outbox.publish(event)

    @property
    def published(self) -> int:
        return round(_sum(self.metrics.published))

    def dropped(self) -> dict[str, int]:
        [metric] = self.metrics.dropped.collect()
        return {
            s.labels["reason"]: round(s.value) for s in metric.samples if s.name.endswith("_total")
        }

    @property
    def backlog_gauge(self) -> int:
        return round(_sum(self.metrics.backlog))

    def accounted(self) -> int:
        """Published + buffered + dropped: what this producer can say about its events."""
        return self.published + self.outbox.buffered + sum(self.dropped().values())


def _sum(metric_family: Counter | Gauge) -> float:
    [metric] = metric_family.collect()
    return sum(s.value for s in metric.samples if not s.name.endswith("_created"))


@pytest.fixture
def small_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis with an 8 MB maxmemory and noeviction, started with `make run`'s command line."""
    spec = redis_spec(free_port(), tmp_path / "redis", maxmemory=str(MAXMEMORY))
    process = ManagedProcess(spec, tmp_path / "logs")
    process.start(timeout=20)
    try:
        yield spec.url
    finally:
        process.stop()


@pytest.fixture
async def client(small_redis: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(small_redis, socket_connect_timeout=2, socket_timeout=5)
    yield redis
    await redis.aclose()


class MemoryWatch:
    """Redis's used_memory, sampled on its own connection while the producers run."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url, socket_timeout=5)
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> int:
        used = int((await self._redis.info("memory"))["used_memory"])
        self.peak = max(self.peak, used)
        return used

    async def _run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(0.02)  # the sampling interval

    async def __aenter__(self) -> MemoryWatch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.sample()
        await self._redis.aclose()


async def _produce_steadily(gateway: Producer, worker: Producer, total: int) -> None:
    """`total` events at RATE_PER_S, voice events through the gateway's outbox and team
    messages through the tool-worker's, in ticks of 10 ms."""
    events = _realistic_events("backlog-test")
    tick_s, per_tick = 0.01, RATE_PER_S // 100
    start = time.monotonic()
    for tick in range(total // per_tick):
        for _ in range(per_tick):
            from_worker, event = next(events)
            (worker if from_worker else gateway).publish(event)
        # The pace of production (not a wait for anything to be ready).
        await asyncio.sleep(max(0.0, start + (tick + 1) * tick_s - time.monotonic()))


async def test_a_capped_backlog_keeps_redis_under_its_memory_and_counts_what_it_drops(
    small_redis: str, client: Redis
) -> None:
    assert int((await client.config_get("maxmemory"))["maxmemory"]) == MAXMEMORY
    assert (await client.config_get("maxmemory-policy"))["maxmemory-policy"] == "noeviction"
    gateway = Producer.on(client, "gateway", live=False, backlog_max=CAP)
    worker = Producer.on(client, "tool_worker", live=True, backlog_max=CAP)
    total = 4 * CAP  # no event-store: nothing is persisted or trimmed
    async with MemoryWatch(small_redis) as memory:
        await _produce_steadily(gateway, worker, total)

        async def both_see_the_cap() -> bool:
            return gateway.backlog_gauge == CAP and worker.backlog_gauge == CAP

        await async_wait_until(both_see_the_cap, what="both producers' backlog gauges at the cap")

        # The stream is full, yet Redis takes every other write: a ticket, a tool job's wake-up.
        assert await client.set(ticket_key("ab" * 32), b"ticket", ex=30)
        assert await client.lpush(TOOL_WAKE_KEY, b"1") >= 1  # type: ignore[misc]

    assert memory.peak < MAXMEMORY, f"used_memory peaked at {memory.peak}"
    assert await client.xlen(EVENTS_STREAM) == CAP
    assert gateway.published + worker.published == CAP
    for producer in (gateway, worker):
        dropped = producer.dropped()
        assert dropped["backlog_full"] > 0
        assert dropped["redis_unavailable"] == dropped["redis_full"] == 0
        assert producer.outbox.buffered == MAX_BUFFERED
        assert producer.outbox.held_by == "backlog_full"
        assert producer.accounted() == producer.produced  # nothing silent
    assert gateway.produced + worker.produced == total

    # The event-store comes back and persists (trims) the stream: the buffers follow it.
    await client.xtrim(EVENTS_STREAM, maxlen=0)

    async def drained() -> bool:
        return gateway.outbox.buffered == worker.outbox.buffered == 0

    await async_wait_until(drained, timeout_s=15, what="the producers' buffers written")
    assert await client.xlen(EVENTS_STREAM) == 2 * MAX_BUFFERED
    for producer in (gateway, worker):
        assert producer.accounted() == producer.produced
        await producer.outbox.close()


async def test_with_a_cap_too_large_for_the_memory_redis_refuses_loudly_and_drops_are_counted(
    small_redis: str, client: Redis
) -> None:
    ticket = ticket_key("cd" * 32)
    assert await client.set(ticket, b"ticket", ex=300)  # a key an evicting policy could take
    gateway = Producer.on(client, "gateway", live=False, backlog_max=1_000_000)
    worker = Producer.on(client, "tool_worker", live=True, backlog_max=1_000_000)
    async with MemoryWatch(small_redis) as memory:

        async def redis_full() -> bool:
            return gateway.outbox.held_by == worker.outbox.held_by == "redis_full"

        produced = 0
        while not await redis_full():  # fill Redis, a few thousand events at a time
            await _produce_steadily(gateway, worker, 4_000)
            produced += 4_000
            assert produced < 200_000, "Redis never refused"
        await _produce_steadily(gateway, worker, 3 * MAX_BUFFERED)

    # Each script call is refused before its first write once Redis is over the limit; the one
    # call that crossed it (one batch of at most 500 events per producer) is the overshoot.
    assert memory.peak < MAXMEMORY + 512 * 1024, f"used_memory peaked at {memory.peak}"
    # noeviction: a write that would take Redis past its limit fails loudly (the refused
    # batches' arguments count against it too, so a small write may still fit)...
    with pytest.raises(OutOfMemoryError):
        await client.set("av:test:large", b"x" * 1024 * 1024)
    # ...and nothing was evicted to make room: the ticket is still there.
    assert await client.get(ticket) == b"ticket"
    info = await client.info("stats")
    assert int(info["evicted_keys"]) == 0
    assert await client.xlen(EVENTS_STREAM) == gateway.published + worker.published
    for producer in (gateway, worker):
        dropped = producer.dropped()
        assert dropped["redis_full"] > 0
        assert set(dropped) == set(DROP_REASONS)
        assert dropped["redis_unavailable"] == dropped["backlog_full"] == 0
        assert producer.accounted() == producer.produced
        await producer.outbox.close(grace_s=0.1)
