"""Where the worker's events go: the events stream (persisted) and the conversation's live
channel (followed by the voice-gateway).

An event goes out at once when Redis answers. When it does not (Redis restarting), the event
waits in a bounded buffer, in order, and a background task writes the buffer out as soon as
Redis is back: a team run that keeps talking through a Redis restart loses none of its events.
Only a full buffer drops events (counted). While anything is buffered, new events queue behind
it, so the stream keeps the order they were produced in.
"""

import asyncio
import contextlib
from collections import deque

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM, EVENTS_STREAM_MAXLEN, live_events_channel
from tool_worker import metrics

log = structlog.get_logger(__name__)

BUFFER_MAX = 10_000
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


class EventSink:
    def __init__(self, redis: Redis, *, max_buffered: int = BUFFER_MAX) -> None:
        self._redis = redis
        self._max_buffered = max_buffered
        self._buffer: deque[ConversationEvent] = deque()
        self._drainer: asyncio.Task[None] | None = None

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def emit(self, event: ConversationEvent) -> None:
        """Write `event` now, or buffer it for the drainer; never raises, never blocks long."""
        if not self._buffer:
            try:
                await self._write(event)
                return
            except (RedisError, OSError) as exc:
                log.warning(
                    "event_emit_deferred",
                    conversation_id=event.conversation_id,
                    event_type=event.type,
                    error=str(exc),
                )
        if len(self._buffer) >= self._max_buffered:
            metrics.EVENTS_DROPPED.inc()
            log.error("event_dropped", conversation_id=event.conversation_id, event_type=event.type)
            return
        self._buffer.append(event)
        metrics.EVENTS_BUFFERED.set(len(self._buffer))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="event-sink-drain")

    async def close(self, grace_s: float = 5.0) -> None:
        """Give buffered events up to `grace_s` to reach Redis, then stop."""
        if self._drainer is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._drainer), grace_s)
        except TimeoutError:
            log.warning("event_flush_incomplete", still_buffered=len(self._buffer))
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer

    async def _drain(self) -> None:
        delay = RETRY_FIRST_S
        while self._buffer:
            try:
                await self._write(self._buffer[0])
            except (RedisError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._buffer.popleft()  # only once it is safely in Redis
            metrics.EVENTS_BUFFERED.set(len(self._buffer))
            delay = RETRY_FIRST_S
        log.info("event_buffer_flushed")

    async def _write(self, event: ConversationEvent) -> None:
        fields = event.to_stream_fields()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(EVENTS_STREAM, fields, maxlen=EVENTS_STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
            pipe.publish(live_events_channel(event.conversation_id), fields["event"])
            await pipe.execute()
        metrics.EVENTS_PUBLISHED.inc()
