"""Kill one part of a running stack with SIGKILL, restart it, and record what the people on the
line lived through, how long recovery took, and events produced versus stored.

Shared by `tests/faults/` (which assert on the records) and `bench/faults.py` (which reports
them). Each run: two callers in conversation (the Realtime brain on the fake server), a steady
producer of controller events (`EventTap`), then the fault, then recovery, then every caller
hangs up and the events are counted once the stack has settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.caller import Caller, utterance
from harness.fault_stack import Component, EventTap, FaultStack, scrape
from harness.outbox_tap import OutboxTap
from harness.small_disk import SmallDisk

CALLERS = 2
REDIS_OUTAGE_S = 3.0  # long enough for turns, tool calls and events to happen while it is away
TOOL_DEADLINE_S = 4.0
TEAM_STEP_S = 0.2  # the fake team's slow run: a message every 5 steps (1 s), 30 in all


@dataclass
class FaultRecord:
    fault: str
    recovery_s: float = 0.0
    events: dict[str, int] = field(default_factory=dict)
    tap_ids_missing: int = 0  # the controller's acknowledged ids not in the store
    seen: dict[str, Any] = field(default_factory=dict)  # what the user experienced

    def summary(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "recovery_s": round(self.recovery_s, 2),
            **self.events,
            "tap_ids_missing": self.tap_ids_missing,
            **self.seen,
        }


async def until(
    probe: Callable[[], Any], timeout_s: float, what: str, poll_s: float = 0.02
) -> float:
    """Poll `probe` (it may block briefly: it runs in a thread) until truthy; returns when."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await asyncio.to_thread(probe):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(poll_s)


def conversation(tag: str) -> str:
    return f"fault-{tag}-{uuid.uuid4().hex[:8]}"


async def open_callers(
    stack: FaultStack, tag: str, count: int = CALLERS, *, heard: bool = True
) -> list[Caller]:
    """`count` callers in conversation; with `heard`, once each has heard the assistant."""
    cycle = utterance()
    callers = [Caller(stack.voice_url(conversation(f"{tag}{i}")), cycle) for i in range(count)]
    for caller in callers:
        caller.start()
    if heard:
        await until(lambda: all(c.answers for c in callers), 30, "every caller hears an answer")
    return callers


async def hang_up(stack: FaultStack, callers: list[Caller]) -> None:
    for caller in callers:
        await caller.stop()
    url = stack.url("voice-gateway")
    await until(lambda: scrape(url).get("gateway_sessions_active", 1) == 0, 30, "sessions ended")


async def count_events(stack: FaultStack, tap: EventTap | OutboxTap, record: FaultRecord) -> None:
    tap.stop()
    record.events = await asyncio.to_thread(stack.settle, tap)
    stored = await asyncio.to_thread(stack.stored_ids)
    record.tap_ids_missing = len(set(tap.acked) - stored)


async def serves_a_new_session(stack: FaultStack, tag: str) -> bool:
    """A fresh caller connects and hears the assistant."""
    caller = Caller(stack.voice_url(conversation(tag)), utterance(), reconnect=False)
    caller.start()
    try:
        await until(lambda: caller.answers, 30, "a new session answers")
        return True
    finally:
        await caller.stop()


def mid_utterance(realtime: FakeRealtimeServer) -> bool:
    """Every open upstream is inside a user turn: the gateway has no event to write until the
    turn ends (a quiet moment to read its counters and kill it)."""
    open_conns = [c for c in realtime.connections() if not c.closed]
    if not open_conns:
        return False
    for conn in open_conns:
        turns = conn.user_turns()
        if not turns or turns[-1].stopped_at is not None:
            return False
        if time.monotonic() - turns[-1].started_at > 0.6:  # too close to its end
            return False
    return True


# -- the faults ------------------------------------------------------------------------------


async def kill_redis(
    stack: FaultStack, agentic: FakeAgenticBackend, outage_s: float = REDIS_OUTAGE_S
) -> FaultRecord:
    """The stack runs the `tool_call` scenario: each caller's first words start a team run
    that reports once a second, so the worker has events to write while Redis is away."""
    record = FaultRecord("redis")
    tap = EventTap(stack.redis_url, conversation("tap"))
    tap.start()
    agentic.scenario, agentic.step_s = "slow", TEAM_STEP_S
    callers = await open_callers(stack, "redis")
    worker = stack.url("tool-worker")
    await until(
        lambda: scrape(worker).get("tool_worker_events_published_total", 0) >= 2 * CALLERS,
        30,
        "the team runs report",
    )
    heard_before = [c.audio_bytes for c in callers]
    await asyncio.to_thread(stack.kill, "redis")
    await asyncio.sleep(outage_s)  # the outage itself is the fault being simulated
    heard_during = [c.audio_bytes - before for c, before in zip(callers, heard_before, strict=True)]
    buffered_during = await asyncio.to_thread(stack.buffered_by_producer)
    restarted_at = time.monotonic()
    await asyncio.to_thread(stack.restart, "redis")

    def recovered() -> bool:
        return (
            all(stack.ready(name) for name in ("event-store", "tool-worker", "voice-gateway"))
            and stack.buffered() == 0
        )

    recovered_at = await until(recovered, 60, "the stack ready again, buffers flushed")
    record.recovery_s = recovered_at - restarted_at
    record.seen = {
        "outage_s": outage_s,
        "audio_bytes_heard_during_outage": heard_during,
        "events_buffered_during_outage": buffered_during,
        "sessions_dropped": sum(len(c.connections) - 1 for c in callers),
        "worker_survived": stack.processes["tool-worker"].running(),
        "new_session_served": await serves_a_new_session(stack, "redis-after"),
    }
    await hang_up(stack, callers)
    await count_events(stack, tap, record)
    return record


async def kill_event_store(stack: FaultStack) -> FaultRecord:
    record = FaultRecord("event-store")
    tap = EventTap(stack.redis_url, conversation("tap"))
    tap.start()
    callers = await open_callers(stack, "store")
    url = stack.url("event-store")
    # The kill lands mid-ingest: the store is committing the tap's events when it dies.
    await until(
        lambda: scrape(url).get("event_store_events_ingested_total", 0) >= 10,
        30,
        "events flowing into the store",
    )
    killed_at = await asyncio.to_thread(stack.kill, "event-store")
    await asyncio.to_thread(stack.restart, "event-store")
    recovered_at = await until(
        lambda: stack.ready("event-store") and scrape(url).get("event_store_consumer_lag") == 0,
        60,
        "the event-store caught up",
    )
    record.recovery_s = recovered_at - killed_at
    # The conversations went on: each caller is answered again after the kill.
    await until(lambda: all(c.answers_since(killed_at) for c in callers), 30, "answers go on")
    record.seen = {
        "answers_heard_since_kill": [c.answers_since(killed_at) for c in callers],
        "sessions_dropped": sum(len(c.connections) - 1 for c in callers),
        "duplicates_ignored": round(scrape(url).get("event_store_events_duplicate_total", 0)),
    }
    await hang_up(stack, callers)
    await count_events(stack, tap, record)
    return record


async def kill_tool_worker(stack: FaultStack, agentic: FakeAgenticBackend) -> FaultRecord:
    """A tool call in flight when the worker dies: the team backend accepts the socket and
    never acknowledges the run, so the job is still waiting on it at the kill."""
    record = FaultRecord("tool-worker")
    tap = EventTap(stack.redis_url, conversation("tap"))
    tap.start()
    agentic.scenario = "silent"
    # Its first words ask for the team: the tool call starts before any answer is heard.
    callers = await open_callers(stack, "worker", count=1, heard=False)
    caller = callers[0]
    # The job is in flight on the worker once its socket to the team is open.
    call_started = await until(
        lambda: agentic.opened("MainConversation"), 30, "the worker reaches the team"
    )
    killed_at = await asyncio.to_thread(stack.kill, "tool-worker")
    await asyncio.to_thread(stack.restart, "tool-worker")
    ready_at = time.monotonic()
    await until(lambda: caller.messages("function_result"), 30, "the tool call's answer")
    answered_at = time.monotonic()
    result = caller.messages("function_result")[0]
    agentic.scenario = "quick"
    # Recovered when a new conversation's tool call goes through the restarted worker.
    second = Caller(stack.voice_url(conversation("worker-after")), utterance(), reconnect=False)
    second.start()
    try:
        await until(lambda: second.messages("function_result"), 60, "a tool call after restart")
        recovered_at = time.monotonic()
        after = second.messages("function_result")[0]
    finally:
        await second.stop()
    record.recovery_s = ready_at - killed_at
    await until(lambda: caller.answers_since(killed_at), 30, "the conversation goes on")
    record.seen = {
        "next_call_ok_after_kill_s": round(recovered_at - killed_at, 2),
        # One socket from the killed worker, one for the next conversation: a second one for
        # the first conversation would mean arq ran the dead worker's job again.
        "team_sockets_opened": agentic.opened("MainConversation"),
        "in_flight_result": {"ok": result["ok"], "result": result["result"]},
        "in_flight_answer_s": round(answered_at - call_started, 2),
        "tool_deadline_s": TOOL_DEADLINE_S,
        "after_restart_result": {"ok": after["ok"], "result": after["result"]},
        "sessions_dropped": len(caller.connections) - 1,
        "answers_heard_since_kill": caller.answers_since(killed_at),
    }
    await hang_up(stack, callers)
    await count_events(stack, tap, record)
    return record


async def kill_gateway(stack: FaultStack, realtime: FakeRealtimeServer) -> FaultRecord:
    record = FaultRecord("voice-gateway")
    tap = EventTap(stack.redis_url, conversation("tap"))
    tap.start()
    callers = await open_callers(stack, "gateway")
    await until(lambda: mid_utterance(realtime), 30, "both callers mid-utterance")
    killed_at = await asyncio.to_thread(stack.kill, "voice-gateway")
    await asyncio.to_thread(stack.restart, "voice-gateway")

    def back() -> bool:
        return all(
            len(c.connections) >= 2 and c.current is not None and c.current.first_audio_at
            for c in callers
        )

    recovered_at = await until(back, 60, "every caller reconnected and hears the assistant")
    record.recovery_s = recovered_at - killed_at
    dropped = [c.connections[0] for c in callers]
    registered = await asyncio.to_thread(stack.registered_sessions)
    record.seen = {
        # The dead process's sessions stay listed until their registry entries expire (TTL).
        "registry_entries_after_reconnect": registered,
        "close_codes_seen": [int(conn.close_code or 0) for conn in dropped],
        "reconnected": all(len(c.connections) >= 2 for c in callers),
        "failed_reconnect_attempts": [c.refused for c in callers],
    }
    await hang_up(stack, callers)
    await count_events(stack, tap, record)
    return record


# -- the disk fills --------------------------------------------------------------------------

DISK_FULL_S = 3.0  # long enough for turns and the controller's events to pile up in Redis


def readiness_reason(url: str) -> str:
    """`/readyz`'s answer: "ready", or the reason it gives for not being ready."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:  # noqa: S310
            return str(json.load(response)["status"])
    except urllib.error.HTTPError as refused:
        return str(json.load(refused).get("reason", refused.code))


def database_intact(stack: FaultStack) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True)) as db:
        return bool(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


async def fill_disk(stack: FaultStack, disk: SmallDisk, full_s: float = DISK_FULL_S) -> FaultRecord:
    """The event-store's disk (`disk`, holding its database) fills up mid-conversation, stays
    full for `full_s`, then space returns. The store runs with a 1 MiB free-space floor."""
    record = FaultRecord("disk-full")
    tap = EventTap(stack.redis_url, conversation("tap"))
    tap.start()
    callers = await open_callers(stack, "disk")
    url = stack.url("event-store")
    await until(
        lambda: scrape(url).get("event_store_events_ingested_total", 0) >= 10,
        30,
        "events flowing into the store",
    )
    await asyncio.to_thread(disk.fill)
    filled_at = time.monotonic()
    await until(lambda: readiness_reason(url) == "disk full", 30, "the store reports disk full")
    stored_at_full = len(await asyncio.to_thread(stack.stored_ids))
    await asyncio.sleep(full_s)  # the time the disk stays full is the fault being simulated
    # Events went on arriving: they wait in Redis, none of them stored, none acknowledged.
    waiting = round(scrape(url).get("event_store_consumer_lag", 0))
    stored_while_full = len(await asyncio.to_thread(stack.stored_ids)) - stored_at_full
    freed_at = time.monotonic()
    await asyncio.to_thread(disk.empty)
    recovered_at = await until(
        lambda: (
            readiness_reason(url) == "ready" and scrape(url).get("event_store_consumer_lag") == 0
        ),
        60,
        "the store caught up once space returned",
    )
    record.recovery_s = recovered_at - freed_at
    # The conversations went on: each caller is answered again after the disk filled.
    await until(lambda: all(c.answers_since(filled_at) for c in callers), 30, "answers go on")
    record.seen = {
        "full_s": round(freed_at - filled_at, 2),
        "entries_waiting_in_redis": waiting,
        "stored_while_full": stored_while_full,
        "answers_heard_since_full": [c.answers_since(filled_at) for c in callers],
        "sessions_dropped": sum(len(c.connections) - 1 for c in callers),
        "database_intact": await asyncio.to_thread(database_intact, stack),
    }
    await hang_up(stack, callers)
    await count_events(stack, tap, record)
    return record


# -- Redis's limit --------------------------------------------------------------------------

BACKLOG_CAP = 1_000  # EVENTS_BACKLOG_MAX for every producer in this run
BACKLOG_RATE = 200.0  # the controller's events a second: the cap fills in 5 s
STORE_DOWN_S = 12.0  # then 7 s of events wait in the producers' buffers
REDIS_MAXMEMORY = "32mb"


async def _redis_memory_peak(redis_url: str, stop: asyncio.Event) -> tuple[int, int]:
    """Redis's largest `used_memory` while `stop` is unset, and its `maxmemory`."""
    client = aioredis.Redis.from_url(redis_url)
    peak, limit = 0, 0
    try:
        while not stop.is_set():
            with contextlib.suppress(aioredis.RedisError, OSError):
                memory: Any = await client.info("memory")
                peak, limit = max(peak, int(memory["used_memory"])), int(memory["maxmemory"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    finally:
        await client.aclose()
    return peak, limit


async def fill_backlog(
    stack: FaultStack, tap: OutboxTap, down_s: float = STORE_DOWN_S
) -> FaultRecord:
    """The event-store is away for `down_s` while the controller writes `BACKLOG_RATE` events a
    second through the services' outbox: the stream reaches its cap, Redis stays under its
    `maxmemory`, what the stream refuses waits in the producers' buffers, and all of it is
    stored once the store is back. The stack runs with `BACKLOG_CAP` and `REDIS_MAXMEMORY`."""
    record = FaultRecord("redis-limit")
    tap.start()
    callers = await open_callers(stack, "backlog")
    url = stack.url("event-store")
    await until(
        lambda: scrape(url).get("event_store_events_ingested_total", 0) >= 10,
        30,
        "events flowing into the store",
    )
    stop_sampling = asyncio.Event()
    sampling = asyncio.create_task(_redis_memory_peak(stack.redis_url, stop_sampling))
    killed_at = await asyncio.to_thread(stack.kill, "event-store")
    await until(lambda: tap.backlog_seen >= BACKLOG_CAP, 30, "the stream at its cap")
    await asyncio.sleep(max(0.0, killed_at + down_s - time.monotonic()))  # the outage itself
    buffered_at_restart = tap.buffered
    restarted_at = time.monotonic()
    await asyncio.to_thread(stack.restart, "event-store")
    recovered_at = await until(
        lambda: (
            stack.ready("event-store")
            and tap.buffered == 0
            and scrape(url).get("event_store_consumer_lag") == 0
        ),
        60,
        "the store caught up and the buffers drained",
    )
    stop_sampling.set()
    memory_peak, maxmemory = await sampling
    record.recovery_s = recovered_at - restarted_at
    record.seen = {
        "store_down_s": round(restarted_at - killed_at, 1),
        "backlog_cap": BACKLOG_CAP,
        "backlog_seen": tap.backlog_seen,
        "buffered_at_restart": buffered_at_restart,
        "dropped_counted": tap.dropped,
        "redis_used_memory_peak": memory_peak,
        "redis_maxmemory": maxmemory,
        "sessions_dropped": sum(len(c.connections) - 1 for c in callers),
    }
    await hang_up(stack, callers)
    await count_events(stack, tap, record)
    return record


FaultRun = Callable[[], Awaitable[FaultRecord]]
KILLS: tuple[Component, ...] = ("redis", "event-store", "tool-worker", "voice-gateway")
