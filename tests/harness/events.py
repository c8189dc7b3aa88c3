"""Producing conversation events onto the stream, as the services do."""

from collections.abc import Iterable

import redis

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM


def xadd_events(client: redis.Redis, events: Iterable[ConversationEvent]) -> int:
    """XADD in one pipeline; returns how many were sent."""
    pipe = client.pipeline(transaction=False)
    count = 0
    for event in events:
        pipe.xadd(EVENTS_STREAM, event.to_stream_fields())  # type: ignore[arg-type]
        count += 1
    pipe.execute()
    return count


def transcript_event(conversation_id: str, n: int, role: str = "user") -> ConversationEvent:
    return ConversationEvent(
        conversation_id=conversation_id,
        source="voice",
        type="transcript",
        payload={"role": role, "text": f"utterance {n}", "n": n},
    )


def streamed_events(client: redis.Redis, conversation_id: str) -> list[ConversationEvent]:
    """Every event of one conversation now on the stream, in stream order."""
    entries = client.xrange(EVENTS_STREAM)
    events = (ConversationEvent.from_stream_fields(fields) for _, fields in entries)  # type: ignore[union-attr]
    return [event for event in events if event.conversation_id == conversation_id]
