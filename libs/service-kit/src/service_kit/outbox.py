"""Conversation events -> Redis, without ever blocking the producer, and without losing order.

Both producers of events use this: the voice-gateway (from inside the audio path) and the
tool-worker (for the agentic backend's messages). `publish()` only appends to an in-memory
buffer; one background task writes the buffer out in batches: to the events stream (which the
event-store persists) and, for an outbox made with `live=True`, also to the conversation's live
channel (which the gateway's sessions follow).

While Redis is away, events wait in the buffer, in order, and are written once Redis answers
again: nothing is lost across a Redis restart. A batch cut off half-written is written again
whole; the event-store stores each event id once, so nothing is doubled either.

The backlog is bounded by policy, never trimmed: each batch is one Lua script that appends
events, in order, only while the stream holds fewer than `backlog_max` entries (the cap, env
`EVENTS_BACKLOG_MAX`), and publishes live only what it appended. What the stream refuses (full,
or Redis over its `maxmemory`: an OOM error) stays at the head of the buffer and is retried with
the same backoff. The buffer is bounded too (`max_buffered`); when it is full, new events are
dropped and counted by why the buffer could not drain (`*_events_dropped_total{reason}`:
`redis_unavailable`, `backlog_full`, `redis_full`), never silently. `*_events_backlog` is the
stream's length as last seen by this producer, `*_events_backlog_limit` the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Final, Literal

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError, RedisError

from contracts import ConversationEvent
from contracts.keys import (
    EVENTS_BACKLOG_MAX,
    EVENTS_STREAM,
    EVENTS_STREAM_FIELD,
    live_events_channel,
)

log = structlog.get_logger(__name__)

FLUSH_BATCH = 500
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
# While idle with a non-empty backlog seen, re-read the stream's length this often, so the gauge
# (and the alerts on it) fall once the event-store has caught up, even with no new events.
BACKLOG_REFRESH_S = 15.0

# Why the buffer could not drain, and so why an event was dropped when it was full.
DropReason = Literal["redis_unavailable", "backlog_full", "redis_full"]
DROP_REASONS: Final[tuple[DropReason, ...]] = ("redis_unavailable", "backlog_full", "redis_full")

# One batch, atomically. KEYS[1]: the events stream. ARGV: the cap, the entry's field, "1" to
# also PUBLISH each event on its live channel, then each event's JSON (followed by its channel
# when live). Appends in order while XLEN < cap (no MAXLEN: nothing is ever trimmed here).
# Returns {appended, length} or, when it stopped early, {appended, length, why}: why is
# "backlog_full" or Redis's own error (an OOM refusal comes before any write, so a batch is never
# cut off by it; any other error keeps what was appended before it, counted in `appended`).
_APPEND_SCRIPT = """
local cap = tonumber(ARGV[1])
local field = ARGV[2]
local live = ARGV[3] == '1'
local step = live and 2 or 1
local length = redis.call('XLEN', KEYS[1])
local appended = 0
for i = 4, #ARGV, step do
  if length >= cap then
    return {appended, length, 'backlog_full'}
  end
  local added = redis.pcall('XADD', KEYS[1], '*', field, ARGV[i])
  if type(added) == 'table' and added.err then
    return {appended, length, added.err}
  end
  if live then
    redis.call('PUBLISH', ARGV[i + 1], ARGV[i])
  end
  appended = appended + 1
  length = length + 1
end
return {appended, length}
"""


@dataclass(frozen=True, slots=True)
class OutboxMetrics:
    published: Counter
    dropped: Counter  # labelled `reason` (DROP_REASONS)
    buffered: Gauge
    backlog: Gauge
    backlog_limit: Gauge

    @classmethod
    def named(cls, service: str, registry: CollectorRegistry = REGISTRY) -> OutboxMetrics:
        """The service's `{service}_events_published_total`, `..._dropped_total{reason}`,
        `..._buffered`, `..._backlog` and `..._backlog_limit` (created once per process:
        Prometheus refuses a second registration in one registry; a test passes its own)."""
        return cls(
            Counter(
                f"{service}_events_published_total",
                "Events written to the events stream",
                registry=registry,
            ),
            Counter(
                f"{service}_events_dropped_total",
                "Events dropped because the buffer was full, by why it could not drain: "
                "redis_unavailable, backlog_full (the stream at its cap), redis_full (OOM)",
                ["reason"],
                registry=registry,
            ),
            Gauge(f"{service}_events_buffered", "Events waiting for Redis", registry=registry),
            Gauge(
                f"{service}_events_backlog",
                "Entries in the events stream, as seen at this producer's last write",
                registry=registry,
            ),
            Gauge(
                f"{service}_events_backlog_limit",
                "The events stream's cap (EVENTS_BACKLOG_MAX): producers append only below it",
                registry=registry,
            ),
        )


class _Refused(Exception):
    """Redis answered but refused the rest of a batch: the stream is full, or Redis is."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class EventOutbox:
    def __init__(
        self,
        redis: Redis,
        metrics: OutboxMetrics,
        *,
        live: bool = False,
        max_buffered: int = 10_000,
        backlog_max: int = EVENTS_BACKLOG_MAX,
    ) -> None:
        if backlog_max < 1:
            raise ValueError(f"backlog_max must be at least 1, not {backlog_max}")
        self._redis = redis
        self._metrics = metrics
        self._live = live
        self._max_buffered = max_buffered
        self._backlog_max = backlog_max
        self._append = redis.register_script(_APPEND_SCRIPT)
        self._buffer: deque[ConversationEvent] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._dropping = False
        # Why the last write left events in the buffer (None: it did not).
        self._held_by: DropReason | None = None
        self._backlog = 0
        for reason in DROP_REASONS:  # every series exists (at 0) from the start
            metrics.dropped.labels(reason=reason)
        metrics.backlog_limit.set(backlog_max)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def backlog(self) -> int:
        """The stream's length as last seen by this outbox."""
        return self._backlog

    @property
    def held_by(self) -> DropReason | None:
        """Why the last write left events buffered (None: it wrote all it took)."""
        return self._held_by

    def publish(self, event: ConversationEvent) -> bool:
        """Queue `event` for Redis. Never blocks, never raises: False (counted by reason, and
        logged once per episode) when the buffer is full."""
        if len(self._buffer) >= self._max_buffered:
            reason: DropReason = self._held_by or "redis_unavailable"
            self._metrics.dropped.labels(reason=reason).inc()
            if not self._dropping:
                self._dropping = True
                log.error(
                    "event_buffer_full",
                    conversation_id=event.conversation_id,
                    max_buffered=self._max_buffered,
                    reason=reason,
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
                await self._idle()
                continue
            try:
                await self._write_batch()
            except _Refused as refused:
                self._hold(refused.reason, str(refused))
            except OutOfMemoryError as exc:
                self._hold("redis_full", str(exc))
            except (RedisError, OSError) as exc:
                self._held_by = "redis_unavailable"
                log.warning("event_publish_failed", error=str(exc), buffered=len(self._buffer))
            else:
                self._resume()
                delay = RETRY_FIRST_S
                continue
            await self._back_off(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _idle(self) -> None:
        """Wait for events; meanwhile keep a non-zero backlog gauge current."""
        self._wakeup.clear()
        if not self._backlog:
            await self._wakeup.wait()
            return
        try:
            await asyncio.wait_for(self._wakeup.wait(), BACKLOG_REFRESH_S)
        except TimeoutError:
            with contextlib.suppress(RedisError, OSError):  # the next write reports Redis away
                self._set_backlog(int(await self._redis.xlen(EVENTS_STREAM)))

    async def _back_off(self, delay: float) -> None:
        """Wait `delay`, but wake at once when close() is called so shutdown is not delayed.
        Once closing, a plain sleep: no busy retries against a full stream or an absent Redis
        during the grace period, and a cancel at its end is never lost (3.11's wait_for drops
        one that arrives as its inner task finishes)."""
        if self._closing:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sleep_unless_closing(), delay)

    async def _sleep_unless_closing(self) -> None:
        while not self._closing:
            self._wakeup.clear()
            await self._wakeup.wait()

    def _hold(self, reason: DropReason, detail: str) -> None:
        """The stream or Redis is full: the events stay buffered; said once per episode."""
        if self._held_by != reason:
            log.error(
                "event_backlog_full" if reason == "backlog_full" else "event_redis_full",
                backlog=self._backlog,
                backlog_max=self._backlog_max,
                buffered=len(self._buffer),
                error=detail,
            )
        self._held_by = reason

    def _resume(self) -> None:
        if self._held_by in ("backlog_full", "redis_full"):
            log.info("event_backlog_resumed", after=self._held_by, backlog=self._backlog)
        self._held_by = None

    def _set_backlog(self, length: int) -> None:
        self._backlog = length
        self._metrics.backlog.set(length)

    async def _write_batch(self) -> None:
        """Append the head of the buffer; raise `_Refused` when the stream or Redis refused
        part of it (that part stays buffered, in order)."""
        batch = list(itertools.islice(self._buffer, FLUSH_BATCH))
        args: list[str | int] = [self._backlog_max, EVENTS_STREAM_FIELD, int(self._live)]
        for event in batch:
            args.append(event.to_stream_fields()[EVENTS_STREAM_FIELD])
            if self._live:
                args.append(live_events_channel(event.conversation_id))
        reply: list[Any] = await self._append(keys=[EVENTS_STREAM], args=args)
        appended, length = int(reply[0]), int(reply[1])
        # Only now are they safe in Redis; the rest stays buffered, in order.
        for _ in range(appended):
            self._buffer.popleft()
        if appended:
            self._metrics.published.inc(appended)
        self._metrics.buffered.set(len(self._buffer))
        self._set_backlog(length)
        if len(reply) > 2:
            why = reply[2].decode() if isinstance(reply[2], bytes) else str(reply[2])
            if why == "backlog_full":
                raise _Refused("backlog_full", f"the stream holds {length} of {self._backlog_max}")
            if why.startswith("OOM"):
                raise _Refused("redis_full", why)
            raise RedisError(why)
