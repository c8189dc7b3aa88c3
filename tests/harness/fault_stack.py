"""The whole stack as real processes, for killing parts of it: Redis (append-only, as in
compose), the event-store, the tool-worker and the voice-gateway, each on a port it keeps across
restarts, with the fake Realtime server as the brain and the fake agentic backend behind the
worker (both threads of the caller's process).

Counting events, honestly:
- produced: what each producer says it produced. The gateway and the worker count every event
  written to the stream, plus any still buffered or dropped (`*_events_published_total`,
  `*_events_buffered`, `*_events_dropped_total` on their `/metrics`); a process about to be
  SIGKILLed is read right before the kill, and its successor counts from zero. `EventTap` is a
  third producer (the "controller"), keeping every event id Redis acknowledged.
- stored: distinct event ids in the event-store's SQLite file.
So lost = produced - stored, and it must come to 0.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import redis

from contracts import ConversationEvent
from contracts.keys import EVENTS_STREAM, SESSIONS_KEY, session_key
from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer, Scenario
from harness.waiting import wait_until
from stack import (
    ManagedProcess,
    event_store_spec,
    free_port,
    redis_spec,
    tool_worker_spec,
    voice_gateway_spec,
)

Component = Literal["redis", "event-store", "tool-worker", "voice-gateway"]
COMPONENTS: tuple[Component, ...] = ("redis", "event-store", "tool-worker", "voice-gateway")
PRODUCER_PREFIX: dict[Component, str] = {
    "voice-gateway": "gateway_events",
    "tool-worker": "tool_worker_events",
}


def scrape(url: str) -> dict[str, float]:
    """Unlabelled samples of a Prometheus text page (labelled ones summed by name)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 - local
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        values[name] = values.get(name, 0.0) + float(value)
    return values


def produced_by(values: dict[str, float], prefix: str) -> int:
    return round(
        values.get(f"{prefix}_published_total", 0.0)
        + values.get(f"{prefix}_buffered", 0.0)
        + values.get(f"{prefix}_dropped_total", 0.0)
    )


class Tap(Protocol):
    """A test's own producer of events: how many it produced (handed over or dropped)."""

    @property
    def produced(self) -> int: ...


@dataclass
class EventTap:
    """A steady producer of controller events (a thread): XADD one at a time, retried until
    Redis acknowledges it, as a careful producer does; keeps the acknowledged ids."""

    redis_url: str
    conversation_id: str
    rate_per_s: float = 50.0
    acked: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def produced(self) -> int:
        return len(self.acked)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="event-tap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=1, socket_connect_timeout=1)
        interval = 1 / self.rate_per_s
        n = 0
        try:
            while not self._stop.is_set():
                event = ConversationEvent(
                    conversation_id=self.conversation_id,
                    source="controller",
                    type="tick",
                    payload={"n": n},
                )
                while not self._stop.is_set():
                    try:
                        client.xadd(EVENTS_STREAM, event.to_stream_fields())  # type: ignore[arg-type]
                        self.acked.append(event.id)
                        break
                    except (redis.RedisError, OSError):
                        time.sleep(0.05)  # Redis away: retry the same event (same id)
                n += 1
                self._stop.wait(interval)
        finally:
            client.close()


class FaultStack:
    """Start with `start()`, stop with `stop()`; `kill(name)` and `restart(name)` one part."""

    def __init__(
        self,
        work: Path,
        realtime: FakeRealtimeServer,
        agentic: FakeAgenticBackend,
        *,
        scenario: str | Scenario = "reply",
        gateway_env: dict[str, str] | None = None,
        worker_env: dict[str, str] | None = None,
        store_env: dict[str, str] | None = None,
        db_dir: Path | None = None,
        redis_maxmemory: str | None = None,
    ) -> None:
        self.work = work
        self.db_path = (db_dir or work) / "events.db"
        redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.gateway_port = free_port()
        logs = work / "logs"
        self.processes: dict[Component, ManagedProcess] = {
            "redis": ManagedProcess(
                redis_spec(redis_port, work / "redis", maxmemory=redis_maxmemory), logs
            ),
            "event-store": ManagedProcess(
                event_store_spec(
                    free_port(),
                    self.redis_url,
                    self.db_path,
                    # A killed store's own pending entries are re-read at once on restart.
                    extra_env={"EVENT_STORE_CONSUMER_NAME": "store-1", **(store_env or {})},
                ),
                logs,
            ),
            "tool-worker": ManagedProcess(
                tool_worker_spec(
                    free_port(),
                    self.redis_url,
                    extra_env={
                        "AGENTIC_WS_URL": agentic.url,
                        "TOOL_WORKER_WORKER_ID": "worker-1",
                        **(worker_env or {}),
                    },
                ),
                logs,
            ),
            "voice-gateway": ManagedProcess(
                voice_gateway_spec(
                    self.gateway_port,
                    self.redis_url,
                    extra_env={
                        "OPENAI_API_KEY": "test-key",
                        "OPENAI_REALTIME_URL": realtime.url(scenario),
                        "GATEWAY_REPLICA": "gateway-1",
                        **(gateway_env or {}),
                    },
                ),
                logs,
            ),
        }
        # Events counted from incarnations of producers that were killed.
        self._produced_by_dead: dict[Component, int] = {"voice-gateway": 0, "tool-worker": 0}

    # -- processes ----------------------------------------------------------------------------

    def start(self) -> None:
        for name in COMPONENTS:
            self.processes[name].start(timeout=60)

    def stop(self) -> None:
        for name in reversed(COMPONENTS):
            self.processes[name].stop()

    def url(self, name: Component) -> str:
        return self.processes[name].spec.url

    def voice_url(self, conversation_id: str, query: str = "format=raw") -> str:
        return (
            f"ws://127.0.0.1:{self.gateway_port}/api/realtime/pipecat/ws/{conversation_id}?{query}"
        )

    def kill(self, name: Component) -> float:
        """SIGKILL `name` (a producer's counters are read just before); returns the kill time."""
        prefix = PRODUCER_PREFIX.get(name)
        if prefix is not None:
            self._produced_by_dead[name] += produced_by(scrape(self.url(name)), prefix)
        killed_at = time.monotonic()
        self.processes[name].kill()
        return killed_at

    def restart(self, name: Component) -> None:
        self.processes[name].start(timeout=60)

    def ready(self, name: Component) -> bool:
        return self.processes[name].spec.ready()

    def pid(self, name: Component) -> int:
        return self.processes[name].pid

    # -- events ---------------------------------------------------------------------------------

    def produced(self, tap: Tap | None = None) -> dict[str, int]:
        """Per producer: its dead incarnations' counts plus the live one's."""
        counts: dict[str, int] = {}
        for name, prefix in PRODUCER_PREFIX.items():
            live = produced_by(scrape(self.url(name)), prefix)
            counts[name] = self._produced_by_dead[name] + live
        counts["controller"] = tap.produced if tap is not None else 0
        return counts

    def buffered_by_producer(self) -> dict[str, int]:
        """Events the live producers still hold (waiting for Redis)."""
        return {
            name: round(scrape(self.url(name)).get(f"{prefix}_buffered", 0.0))
            for name, prefix in PRODUCER_PREFIX.items()
        }

    def buffered(self) -> int:
        return sum(self.buffered_by_producer().values())

    def stored_ids(self) -> set[str]:
        if not self.db_path.exists():
            return set()
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT event_id FROM conversation_events").fetchall()
        return {str(row[0]) for row in rows}

    def registered_sessions(self) -> int:
        """Sessions the Redis registry lists (entries not yet expired), on any replica."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            members: Any = client.smembers(SESSIONS_KEY)
            live: Any = client.exists(*(session_key(m.decode()) for m in members)) if members else 0
            return int(live)
        finally:
            client.close()

    def stored_events(self, conversation_id: str) -> list[tuple[str, str]]:
        """(type, payload JSON) of one conversation's stored events, in order."""
        if not self.db_path.exists():
            return []
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT type, payload FROM conversation_events WHERE conversation_id = ? "
                "ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [(str(kind), str(data)) for kind, data in rows]

    def settle(self, tap: Tap | None = None, timeout_s: float = 30.0) -> dict[str, int]:
        """Wait until nothing is buffered and every produced event is stored (or time is up);
        returns the figures: produced (total and by producer), stored, lost."""

        def counts() -> dict[str, int]:
            if self.buffered():
                return {}
            produced = self.produced(tap)
            total = sum(produced.values())
            stored = len(self.stored_ids())
            figures = {
                "events_produced": total,
                "events_stored": stored,
                "events_lost": total - stored,
                **{f"produced_{k.replace('-', '_')}": v for k, v in produced.items()},
            }
            return figures if stored >= total else {}

        try:
            return wait_until(counts, timeout_s=timeout_s, what="every produced event stored")
        except AssertionError:
            produced = self.produced(tap)
            total = sum(produced.values())
            stored = len(self.stored_ids())
            return {
                "events_produced": total,
                "events_stored": stored,
                "events_lost": total - stored,
                **{f"produced_{k.replace('-', '_')}": v for k, v in produced.items()},
            }


# The fixture's type: make_stack(scenario="reply", gateway_env=..., worker_env=...) -> started
MakeStack = Callable[..., FaultStack]
