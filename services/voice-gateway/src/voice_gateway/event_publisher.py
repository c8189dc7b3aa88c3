"""Conversation events -> the Redis events stream, without ever blocking the audio path.

`publish()` only appends to an in-memory buffer; one background task drains it to Redis in
pipelined batches. While Redis is away, events wait in the buffer (bounded: when it is full, new
events are dropped and counted) and are flushed, in order, once Redis answers again.
"""

import asyncio
import contextlib
from collections import deque

import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM, EVENTS_STREAM_MAXLEN

log = structlog.get_logger(__name__)

EVENTS_PUBLISHED = Counter("gateway_events_published_total", "Events written to the stream")
EVENTS_DROPPED = Counter(
    "gateway_events_dropped_total", "Events dropped: buffer full while Redis was away"
)
EVENTS_BUFFERED = Gauge("gateway_events_buffered", "Events waiting for Redis")

FLUSH_BATCH = 500


class EventPublisher:
    def __init__(self, redis: Redis, *, max_buffered: int = 10_000) -> None:
        self._redis = redis
        self._buffer: deque[ConversationEvent] = deque()
        self._max_buffered = max_buffered
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def publish(self, event: ConversationEvent) -> bool:
        """Queue an event; False (and counted) when the buffer is full."""
        if len(self._buffer) >= self._max_buffered:
            EVENTS_DROPPED.inc()
            return False
        self._buffer.append(event)
        EVENTS_BUFFERED.set(len(self._buffer))
        self._wakeup.set()
        return True

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain_forever(), name="event-publisher")

    async def close(self, grace_s: float = 5.0) -> None:
        """Flush what is buffered (for at most `grace_s` seconds), then stop."""
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
        delay = 0.05
        while True:
            if not self._buffer:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                await self._flush_batch()
                delay = 0.05
            except (RedisError, OSError) as exc:
                log.warning("event_publish_failed", error=str(exc), buffered=len(self._buffer))
                # Back off, but wake at once when closing so shutdown is not delayed.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._sleep_unless_closing(), delay)
                delay = min(delay * 2, 2.0)

    async def _sleep_unless_closing(self) -> None:
        while not self._closing:
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _flush_batch(self) -> None:
        batch = [self._buffer[i] for i in range(min(FLUSH_BATCH, len(self._buffer)))]
        pipe = self._redis.pipeline(transaction=False)
        for event in batch:
            pipe.xadd(
                EVENTS_STREAM,
                event.to_stream_fields(),  # type: ignore[arg-type]
                maxlen=EVENTS_STREAM_MAXLEN,
                approximate=True,
            )
        await pipe.execute()
        # Only now are they safe in Redis; a failure above leaves them buffered, in order.
        for _ in batch:
            self._buffer.popleft()
        EVENTS_PUBLISHED.inc(len(batch))
        EVENTS_BUFFERED.set(len(self._buffer))
