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
