"""A steady producer of controller events through the services' own `EventOutbox` (a thread
with its own event loop): the same cap on the stream, the same buffer and the same counted
drops as the gateway and the tool-worker, at a rate a test chooses.

`EventTap` (fault_stack.py) XADDs directly, retrying until Redis acknowledges; this one shows what
the producers do when the stream is at its cap.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from contracts import ConversationEvent
from service_kit.outbox import EventOutbox, OutboxMetrics


def private_metrics() -> OutboxMetrics:
    """Outbox metrics in a registry of their own (a process may hold several taps)."""
    return OutboxMetrics.named("tap", registry=CollectorRegistry())


@dataclass
class OutboxTap:
    redis_url: str
    conversation_id: str
    backlog_max: int
    rate_per_s: float = 200.0
    max_buffered: int = 10_000
    acked: list[str] = field(default_factory=list)  # every id handed to the outbox
    refused: int = 0  # publish() said no: the buffer was full (counted as dropped)
    backlog_seen: int = 0  # the largest stream length the outbox saw
    buffered_peak: int = 0
    metrics: OutboxMetrics = field(default_factory=private_metrics)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _outbox: EventOutbox | None = None

    @property
    def produced(self) -> int:
        return len(self.acked) + self.refused

    @property
    def buffered(self) -> int:
        return self._outbox.buffered if self._outbox is not None else 0

    @property
    def dropped(self) -> int:
        total = 0.0
        for metric in self.metrics.dropped.collect():
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
        return round(total)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run()), name="outbox-tap", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop producing; what is buffered is written out first (while Redis takes it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    async def _run(self) -> None:
        redis = Redis.from_url(self.redis_url, socket_timeout=2, socket_connect_timeout=2)
        outbox = self._outbox = EventOutbox(
            redis, self.metrics, max_buffered=self.max_buffered, backlog_max=self.backlog_max
        )
        outbox.start()
        interval, n, started = 1 / self.rate_per_s, 0, time.monotonic()
        try:
            while not self._stop.is_set():
                event = ConversationEvent(
                    conversation_id=self.conversation_id,
                    source="controller",
                    type="tick",
                    payload={"n": n},
                )
                if outbox.publish(event):
                    self.acked.append(event.id)
                else:
                    self.refused += 1
                n += 1
                self.backlog_seen = max(self.backlog_seen, outbox.backlog)
                self.buffered_peak = max(self.buffered_peak, outbox.buffered)
                # An absolute schedule: the rate holds however long a publish took.
                await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
            await outbox.close(grace_s=30)
        finally:
            await redis.aclose()
