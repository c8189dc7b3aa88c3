"""The one write path for events, from the stream or the API: commit, count, fan out live."""

import time
from collections.abc import Sequence

from contracts import ConversationEvent
from event_store import metrics
from event_store.hub import EventHub
from event_store.models import DeadLetter
from event_store.repository import InsertOutcome, Repository


class EventWriter:
    def __init__(self, repo: Repository, hub: EventHub) -> None:
        self._repo = repo
        self._hub = hub

    async def write(
        self, events: Sequence[ConversationEvent], dead_letters: Sequence[DeadLetter] = ()
    ) -> InsertOutcome:
        started = time.perf_counter()
        outcome = await self._repo.insert_events(events, dead_letters)
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
        metrics.EVENTS_INGESTED.inc(len(outcome.stored))
        if outcome.duplicates:
            metrics.EVENTS_DUPLICATE.inc(outcome.duplicates)
        now = time.time()
        for event in outcome.stored:
            metrics.PERSISTENCE_LAG_SECONDS.observe(max(0.0, now - event.timestamp.timestamp()))
        self._hub.publish(outcome.stored)
        return outcome
