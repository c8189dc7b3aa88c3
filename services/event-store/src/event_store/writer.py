"""The one write path for events, from the stream or the API: commit, count, fan out live."""

import time
from collections.abc import Sequence

from contracts import ConversationEvent
from event_store import metrics
from event_store.hub import EventHub
from event_store.models import DeadLetter
from event_store.repository import InsertOutcome, Repository, stored_event


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
        metrics.EVENTS_INGESTED.inc(len(outcome.inserted))
        if outcome.duplicates:
            metrics.EVENTS_DUPLICATE.inc(outcome.duplicates)
        now = time.time()
        for _, event in outcome.inserted:
            metrics.PERSISTENCE_LAG_SECONDS.observe(max(0.0, now - event.timestamp.timestamp()))
        # Row models are built only for conversations someone is watching live.
        self._hub.publish(
            [stored_event(row_id, e) for row_id, e in outcome.inserted if self._hub.watched(e)]
        )
        return outcome
