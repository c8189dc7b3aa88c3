"""The event-store's disk fills up mid-conversation (a real 16 MiB filesystem, filled to its
last byte), stays full, then space returns: the store stops acknowledging, says "disk full" on
its readiness, leaves every entry pending in Redis, and stores all of them afterwards. Nothing
lost, nothing half-written, and the conversations never notice.

Recovery time is printed (run with -s), not asserted: `bench/faults.py` reports it.
"""

from pathlib import Path

from harness.fault_runs import fill_disk
from harness.fault_stack import MakeStack
from harness.small_disk import small_disk


async def test_the_event_store_disk_fills_and_space_returns(
    make_stack: MakeStack, tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", size_mb=16) as disk:
        stack = make_stack(db_dir=disk.path, store_env={"EVENT_STORE_MIN_FREE_MB": "1"})
        record = await fill_disk(stack, disk)
        print(f"\n[fault] {record.summary()}")
        seen = record.seen
        assert seen["stored_while_full"] == 0
        assert seen["entries_waiting_in_redis"] > 0
        assert seen["database_intact"]
        assert all(n >= 1 for n in seen["answers_heard_since_full"]), seen
        assert seen["sessions_dropped"] == 0
        events = record.events
        assert events["events_produced"] > 0
        assert events["events_lost"] == 0, events
        assert events["events_stored"] == events["events_produced"], events
        assert record.tap_ids_missing == 0
        stack.stop()  # before the filesystem under its database goes away
