"""SIGKILL one part of the running stack, restart it, and check what the user lives through,
that the stack recovers, and that no event is lost (produced == stored, exactly).

Recovery times are printed (run with -s), not asserted: `bench/faults.py` reports them.
"""

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.fault_runs import (
    TOOL_DEADLINE_S,
    FaultRecord,
    kill_event_store,
    kill_gateway,
    kill_redis,
    kill_tool_worker,
)
from harness.fault_stack import MakeStack


def _report(record: FaultRecord) -> None:
    print(f"\n[fault] {record.summary()}")


def _nothing_lost(record: FaultRecord) -> None:
    events = record.events
    assert events["events_produced"] > 0
    assert events["events_lost"] == 0, events
    assert events["events_stored"] == events["events_produced"], events
    assert record.tap_ids_missing == 0


async def test_redis_killed_and_restarted(
    make_stack: MakeStack, agentic: FakeAgenticBackend
) -> None:
    stack = make_stack(scenario="tool_call")
    record = await kill_redis(stack, agentic)
    _report(record)
    seen = record.seen
    # Speech to speech needs no Redis: both callers kept hearing answers, nobody was dropped.
    assert all(n > 0 for n in seen["audio_bytes_heard_during_outage"]), seen
    assert seen["sessions_dropped"] == 0
    # Events made during the outage (sessions', team runs') waited in the producers' buffers...
    buffered = seen["events_buffered_during_outage"]
    assert buffered["voice-gateway"] > 0, buffered
    assert buffered["tool-worker"] > 0, buffered
    # ...and the stack came back whole.
    assert seen["worker_survived"]
    assert seen["new_session_served"]
    _nothing_lost(record)


async def test_event_store_killed_and_restarted(make_stack: MakeStack) -> None:
    stack = make_stack()
    record = await kill_event_store(stack)
    _report(record)
    assert all(n >= 1 for n in record.seen["answers_heard_since_kill"])
    assert record.seen["sessions_dropped"] == 0
    _nothing_lost(record)


async def test_tool_worker_killed_with_a_tool_call_in_flight(
    make_stack: MakeStack, agentic: FakeAgenticBackend
) -> None:
    stack = make_stack(
        scenario="tool_call",
        gateway_env={"GATEWAY_TOOL_DEADLINE_S": str(TOOL_DEADLINE_S)},
        worker_env={"TOOL_WORKER_CONNECT_TIMEOUT_S": "30"},
    )
    record = await kill_tool_worker(stack, agentic)
    _report(record)
    seen = record.seen
    # The call in flight fails plainly, in a few words (never a hang)...
    assert seen["in_flight_result"] == {
        "ok": False,
        "result": "That took too long, so I couldn't pass it on.",
    }
    # ...the conversation goes on, and the restarted worker takes the next call.
    assert seen["sessions_dropped"] == 0
    # arq does not run the dead worker's job again (max_tries=1, and the caller aborted it).
    assert seen["team_sockets_opened"] == 2
    assert seen["after_restart_result"] == {"ok": True, "result": "I've handed that to the team."}
    _nothing_lost(record)


async def test_voice_gateway_killed_and_restarted(
    make_stack: MakeStack, realtime: FakeRealtimeServer
) -> None:
    stack = make_stack()
    record = await kill_gateway(stack, realtime)
    _report(record)
    # The socket drops without a close frame (1006); the client reconnects and is answered.
    assert record.seen["close_codes_seen"] == [1006, 1006]
    assert record.seen["reconnected"]
    _nothing_lost(record)
