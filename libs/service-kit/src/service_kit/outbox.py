"""Conversation events -> Redis, without ever blocking the producer, and without losing order.

Both producers of events use this: the voice-gateway (from inside the audio path) and the
tool-worker (for the agentic backend's messages). `publish()` only appends to an in-memory
buffer; one background task writes the buffer out in pipelined batches: to the events stream
(which the event-store persists) and, for an outbox made with `live=True`, also to the
conversation's live channel (which the gateway's sessions follow).

While Redis is away, events wait in the buffer, in order, and are written once Redis answers
again: nothing is lost across a Redis restart. A batch cut off half-written is written again
whole; the event-store stores each event id once, so nothing is doubled either. The buffer is
bounded; when it is full, new events are dropped and counted (`*_events_dropped_total`), never
silently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import (
    EVENTS_STREAM,
    EVENTS_STREAM_FIELD,
    EVENTS_STREAM_MAXLEN,
    live_events_channel,
)

log = structlog.get_logger(__name__)

FLUSH_BATCH = 500
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


@dataclass(frozen=True, slots=True)
class OutboxMetrics:
    published: Counter
    dropped: Counter
    buffered: Gauge

    @classmethod
    def named(cls, service: str) -> OutboxMetrics:
        """The service's `{service}_events_published_total`, `..._dropped_total` and
        `..._buffered` (created once per process: Prometheus refuses a second registration)."""
        return cls(
            Counter(f"{service}_events_published_total", "Events written to the events stream"),
            Counter(
                f"{service}_events_dropped_total",
                "Events dropped: the buffer was full while Redis was away",
            ),
            Gauge(f"{service}_events_buffered", "Events waiting for Redis"),
        )


class EventOutbox:
    def __init__(
        self,
        redis: Redis,
        metrics: OutboxMetrics,
        *,
        live: bool = False,
        max_buffered: int = 10_000,
    ) -> None:
        self._redis = redis
        self._metrics = metrics
        self._live = live
        self._max_buffered = max_buffered
        self._buffer: deque[ConversationEvent] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._dropping = False

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def publish(self, event: ConversationEvent) -> bool:
        """Queue `event` for Redis. Never blocks, never raises: False (counted, and logged once
        per episode) when the buffer is full."""
        if len(self._buffer) >= self._max_buffered:
            self._metrics.dropped.inc()
            if not self._dropping:
                self._dropping = True
                log.error(
                    "event_buffer_full",
                    conversation_id=event.conversation_id,
                    max_buffered=self._max_buffered,
                )
            return False
        self._dropping = False
        self._buffer.append(event)
        self._metrics.buffered.set(len(self._buffer))
        self._wakeup.set()
        return True

    def start(self) -> None:
        """Start the writer (in a running event loop)."""
        self._task = asyncio.create_task(self._drain_forever(), name="event-outbox")

    async def close(self, grace_s: float = 5.0) -> None:
        """Write out what is buffered (for at most `grace_s` seconds), then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            log.warning("event_flush_incomplete", still_buffered=len(self._buffer))
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _drain_forever(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            if not self._buffer:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                await self._write_batch()
                delay = RETRY_FIRST_S
            except (RedisError, OSError) as exc:
                log.warning("event_publish_failed", error=str(exc), buffered=len(self._buffer))
                # Back off, but wake at once when closing so shutdown is not delayed.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._sleep_unless_closing(), delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _sleep_unless_closing(self) -> None:
        while not self._closing:
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _write_batch(self) -> None:
        batch = [self._buffer[i] for i in range(min(FLUSH_BATCH, len(self._buffer)))]
        pipe = self._redis.pipeline(transaction=False)
        for event in batch:
            fields = event.to_stream_fields()
            pipe.xadd(EVENTS_STREAM, fields, maxlen=EVENTS_STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
            if self._live:
                pipe.publish(
                    live_events_channel(event.conversation_id), fields[EVENTS_STREAM_FIELD]
                )
        await pipe.execute()
        # Only now are they safe in Redis; a failure above leaves them buffered, in order.
        for _ in batch:
            self._buffer.popleft()
        self._metrics.published.inc(len(batch))
        self._metrics.buffered.set(len(self._buffer))
