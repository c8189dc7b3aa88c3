"""The event-store away long enough for the events stream to reach its cap, events arriving
steadily (a controller at 200 a second through the services' outbox, and two conversations):
the stream stops at the cap, Redis stays under its memory limit, what the stream refused waits
in the producers' buffers in order, and everything is stored once the store is back.

Recovery time is printed (run with -s), not asserted: `bench/faults.py` reports it.
"""

from harness.fault_runs import BACKLOG_CAP, BACKLOG_RATE, REDIS_MAXMEMORY, fill_backlog
from harness.fault_stack import MakeStack
from harness.outbox_tap import OutboxTap


async def test_the_backlog_stops_at_its_cap_and_nothing_is_lost(make_stack: MakeStack) -> None:
    cap = {"EVENTS_BACKLOG_MAX": str(BACKLOG_CAP)}
    stack = make_stack(gateway_env=cap, worker_env=cap, redis_maxmemory=REDIS_MAXMEMORY)
    tap = OutboxTap(stack.redis_url, "fault-backlog-tap", BACKLOG_CAP, rate_per_s=BACKLOG_RATE)
    record = await fill_backlog(stack, tap)
    print(f"\n[fault] {record.summary()}")
    seen = record.seen
    assert seen["backlog_seen"] == BACKLOG_CAP  # reached, never passed
    assert seen["buffered_at_restart"] > 0  # the producers held what the stream refused
    assert seen["dropped_counted"] == 0  # the outage fit in their buffers
    assert 0 < seen["redis_used_memory_peak"] < seen["redis_maxmemory"]
    assert seen["sessions_dropped"] == 0
    events = record.events
    assert events["events_lost"] == 0, events
    assert events["events_stored"] == events["events_produced"], events
    assert record.tap_ids_missing == 0
