"""Fan-out of freshly committed events to live-stream WebSockets in this process."""

import asyncio
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from contracts import ConversationEvent
from event_store.metrics import LIVE_SUBSCRIBERS
from event_store.models import StoredEvent


class Subscription:
    """A bounded queue of one conversation's new events; a reader that falls behind is cut off
    (the client reconnects with `after=<last id>` and misses nothing)."""

    def __init__(self, conversation_id: str, max_queued: int) -> None:
        self.conversation_id = conversation_id
        self.queue: asyncio.Queue[StoredEvent] = asyncio.Queue(max_queued)
        self.overflowed = False

    def offer(self, event: StoredEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class EventHub:
    def __init__(self, max_queued: int = 1000) -> None:
        self._max_queued = max_queued
        self._subscribers: defaultdict[str, set[Subscription]] = defaultdict(set)

    @contextmanager
    def subscribe(self, conversation_id: str) -> Iterator[Subscription]:
        sub = Subscription(conversation_id, self._max_queued)
        self._subscribers[conversation_id].add(sub)
        LIVE_SUBSCRIBERS.inc()
        try:
            yield sub
        finally:
            LIVE_SUBSCRIBERS.dec()
            subs = self._subscribers[conversation_id]
            subs.discard(sub)
            if not subs:
                del self._subscribers[conversation_id]

    def watched(self, event: ConversationEvent) -> bool:
        return event.conversation_id in self._subscribers

    def publish(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            for sub in self._subscribers.get(event.conversation_id, ()):
                sub.offer(event)
