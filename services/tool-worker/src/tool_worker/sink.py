"""Where the worker's events go: the events stream (persisted) and the conversation's live
channel (followed by the voice-gateway)."""

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM, EVENTS_STREAM_MAXLEN, live_events_channel

log = structlog.get_logger(__name__)


class EventSink:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def emit(self, event: ConversationEvent) -> None:
        fields = event.to_stream_fields()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(EVENTS_STREAM, fields, maxlen=EVENTS_STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
                pipe.publish(live_events_channel(event.conversation_id), fields["event"])
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.error(
                "event_emit_failed",
                conversation_id=event.conversation_id,
                event_type=event.type,
                error=str(exc),
            )
