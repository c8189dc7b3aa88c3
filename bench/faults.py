"""Faults: SIGKILL each part of the running stack (Redis, event-store, tool-worker, voice-gateway)
with sessions active and events flowing, restart it, and measure recovery and events lost; and
the faults a small board meets without a kill: the event-store's disk filling up, and the
events stream reaching its cap while the event-store is away.

The same runs as `tests/faults/` (`tests/harness/fault_runs.py`), with real processes on free
ports: Redis with append-only persistence (as in compose), the three services by their real
commands, the fake OpenAI Realtime server as the brain and the fake agentic backend behind the
worker. Per run: two callers stream speech at real time and reconnect when dropped, a controller
producer XADDs 50 events/s (retrying until Redis acknowledges each), then one component is
killed and restarted at once (Redis stays away 3 s, so its outage is felt). Disk full: the
event-store's database sits on a 16 MiB tmpfs (the bench mounts it, so it runs as root), which a
ballast file fills to the last byte for 3 s mid-conversation, then is deleted. Redis limit: the
event-store is away 12 s while a controller writes 200 events/s through the services' outbox,
with the stream capped at 1,000 entries and Redis at 32 MB: the cap fills in 5 s, the rest waits
in the producers' buffers.

Events: produced = each producer's own count (the gateway's and the worker's
`*_events_published_total + *_buffered + *_dropped_total` from /metrics, read right before a kill
for the killed process; the controller's acknowledged ids); stored = distinct event ids in the
event-store's SQLite file once the stack has settled. lost = produced - stored.

Recovery: Redis, from its restart until every service is ready and no producer holds buffered
events; event-store, from the kill until it is ready with consumer lag 0; tool-worker, from the
kill until it is ready again (the next tool call's success is reported too); voice-gateway, from
the kill until every caller has reconnected and hears the assistant (the client's backoff
included); disk full, from the space returning until the store is ready with consumer lag 0;
Redis limit, from the store's restart until it has caught up and the buffers are empty.

`--quick` kills each component once; the full run three times each. Recovery figures are
medians. The machine is shared: startup times (Python imports) dominate and vary with load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from fakes.agentic_backend import FakeAgenticBackend  # noqa: E402
from fakes.openai_realtime import FakeRealtimeServer  # noqa: E402
from harness.fault_runs import (  # noqa: E402
    BACKLOG_CAP,
    BACKLOG_RATE,
    REDIS_MAXMEMORY,
    TOOL_DEADLINE_S,
    FaultRecord,
    fill_backlog,
    fill_disk,
    kill_event_store,
    kill_gateway,
    kill_redis,
    kill_tool_worker,
)
from harness.fault_stack import COMPONENTS, FaultStack  # noqa: E402
from harness.outbox_tap import OutboxTap  # noqa: E402
from harness.small_disk import small_disk  # noqa: E402

SCENARIOS = (*COMPONENTS, "disk-full", "redis-limit")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_one(name: str, work: Path) -> FaultRecord:
    if name == "disk-full":
        return await run_disk_full(work)
    if name == "redis-limit":
        return await run_redis_limit(work)
    with FakeRealtimeServer() as realtime, FakeAgenticBackend() as agentic:
        options: dict[str, Any] = {}
        if name == "redis":
            options = {"scenario": "tool_call"}
        elif name == "tool-worker":
            options = {
                "scenario": "tool_call",
                "gateway_env": {"GATEWAY_TOOL_DEADLINE_S": str(TOOL_DEADLINE_S)},
                "worker_env": {"TOOL_WORKER_CONNECT_TIMEOUT_S": "30"},
            }
        stack = FaultStack(work, realtime, agentic, **options)
        await asyncio.to_thread(stack.start)
        try:
            if name == "redis":
                return await kill_redis(stack, agentic)
            if name == "event-store":
                return await kill_event_store(stack)
            if name == "tool-worker":
                return await kill_tool_worker(stack, agentic)
            return await kill_gateway(stack, realtime)
        finally:
            await asyncio.to_thread(stack.stop)


async def run_disk_full(work: Path) -> FaultRecord:
    with (
        FakeRealtimeServer() as realtime,
        FakeAgenticBackend() as agentic,
        small_disk(work / "disk", size_mb=16) as disk,
    ):
        stack = FaultStack(
            work,
            realtime,
            agentic,
            db_dir=disk.path,
            store_env={"EVENT_STORE_MIN_FREE_MB": "1"},
        )
        await asyncio.to_thread(stack.start)
        try:
            return await fill_disk(stack, disk)
        finally:
            await asyncio.to_thread(stack.stop)


async def run_redis_limit(work: Path) -> FaultRecord:
    cap = {"EVENTS_BACKLOG_MAX": str(BACKLOG_CAP)}
    with FakeRealtimeServer() as realtime, FakeAgenticBackend() as agentic:
        stack = FaultStack(
            work,
            realtime,
            agentic,
            gateway_env=cap,
            worker_env=cap,
            redis_maxmemory=REDIS_MAXMEMORY,
        )
        await asyncio.to_thread(stack.start)
        try:
            tap = OutboxTap(stack.redis_url, "bench-backlog-tap", BACKLOG_CAP, BACKLOG_RATE)
            return await fill_backlog(stack, tap)
        finally:
            await asyncio.to_thread(stack.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="kill each component once")
    parser.add_argument("--repeat", type=int, default=None, help="kills per component (full: 3)")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    started = time.monotonic()
    records: dict[str, list[FaultRecord]] = {name: [] for name in SCENARIOS}
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as scratch:
        for round_ in range(repeat):
            for name in SCENARIOS:
                work = Path(scratch) / f"{name}-{round_}"
                record = asyncio.run(run_one(name, work))
                records[name].append(record)
                log(f"[faults] {json.dumps(record.summary())}")

    all_records = [r for rs in records.values() for r in rs]
    produced = sum(r.events["events_produced"] for r in all_records)
    stored = sum(r.events["events_stored"] for r in all_records)
    per_fault: dict[str, Any] = {}
    print("\nfault            recovery (median)  produced  stored  lost  what the user saw")
    for component, rs in records.items():
        recovery = statistics.median(r.recovery_s for r in rs)
        lost = sum(r.events["events_lost"] for r in rs)
        per_fault[component] = {
            "recovery_s": round(recovery, 2),
            "recovery_runs_s": [round(r.recovery_s, 2) for r in rs],
            "events_produced": sum(r.events["events_produced"] for r in rs),
            "events_stored": sum(r.events["events_stored"] for r in rs),
            "events_lost": lost,
            "seen": rs[-1].seen,
        }
        print(
            f"{component:<16} {recovery:>8.2f} s {per_fault[component]['events_produced']:>15} "
            f"{per_fault[component]['events_stored']:>7} {lost:>5}  {rs[-1].seen}"
        )
    result = {
        "benchmark": "faults",
        "quick": args.quick,
        "kills_per_component": repeat,
        "events_produced": produced,
        "events_stored": stored,
        "events_lost": produced - stored,
        "faults": per_fault,
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
